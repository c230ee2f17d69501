//! Seeded fault injection on a real cluster: `squall nimbus`, two `squall supervisor`s
//! and their worker processes on loopback, with processes killed, stopped and cut off
//! while a finite topology runs; each scenario then checks what the fault model in the
//! README promises (at least once: no acked word missing; Trident: exact counts).
//!
//! Every scenario draws its fault schedule from a seed it prints. The CI tier is short;
//! `SQUALL_CHAOS_LONG=1` runs the long tier (more faults, longer inputs) and
//! `SQUALL_CHAOS_SEED=N` replays a schedule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use cluster_common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The fault schedule of one scenario: its random source and its tier.
struct Chaos {
    rng: StdRng,
    long: bool,
}

impl Chaos {
    /// The schedule of `scenario`: seeded from `SQUALL_CHAOS_SEED` (or a fixed seed) and
    /// the scenario's name, so each scenario draws its own faults; the seed is printed.
    fn new(scenario: &str) -> Chaos {
        let long = std::env::var("SQUALL_CHAOS_LONG").is_ok_and(|v| v == "1");
        let seed = std::env::var("SQUALL_CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0x5eed_c4a0);
        let mixed = scenario.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        println!(
            "chaos scenario {scenario}: seed {seed} ({} tier; rerun with SQUALL_CHAOS_SEED={seed})",
            if long { "long" } else { "CI" }
        );
        Chaos {
            rng: StdRng::seed_from_u64(mixed),
            long,
        }
    }

    /// `ci` faults in the CI tier, `long` in the long one.
    fn rounds(&self, ci: usize, long: usize) -> usize {
        if self.long { long } else { ci }
    }

    /// How long to wait for a run to finish after its faults: the long tier's inputs
    /// take minutes in a debug build.
    fn patience(&self) -> Duration {
        if self.long {
            Duration::from_secs(900)
        } else {
            LONG
        }
    }

    /// A random pause of `lo..hi` milliseconds.
    fn pause(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.rng.random_range(lo..hi))
    }

    /// One of `items`, at random.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }
}

/// Lines of input: enough that the faults land while words flow.
fn input_lines(chaos: &Chaos) -> usize {
    if chaos.long { 200_000 } else { 30_000 }
}

/// The split-and-sink topology (every word written to `sink`, acked once flushed) with
/// a short message timeout, so replays of lost trees come quickly.
fn acked_split_yaml(name: &str, input: &Path, sink: &Path) -> String {
    split_sink_yaml(name, input, sink, 2).replace(
        "topology.message.timeout.secs: 5",
        "topology.message.timeout.secs: 3",
    )
}

/// Wait until every word reached the sink at least as often as it is in the input.
fn wait_at_least_once(chaos: &Chaos, sink: &Path, expected: &BTreeMap<String, u64>) {
    let t = Instant::now();
    wait_for(
        chaos.patience(),
        "every word in the sink at least its number of times in the input",
        || {
            let got = sink_word_totals(sink);
            expected
                .iter()
                .all(|(w, n)| got.get(w).is_some_and(|g| g >= n))
                .then_some(())
        },
    );
    println!("at least once after {:?}", t.elapsed());
}

/// How many words the sink holds.
fn sink_len(sink: &Path) -> u64 {
    sink_word_totals(sink).values().sum()
}

/// Wait until `name`'s spout has acked at least `lines` tuples: every line's tree
/// completed (failed trees were replayed until they did).
fn wait_spout_acked(chaos: &Chaos, c: &Cluster, name: &str, spout: &str, lines: usize) {
    wait_for(chaos.patience(), "the spout to ack every line", || {
        let st = status(&c.url, name)?;
        (st["components"][spout]["acked"].as_f64()? >= lines as f64).then_some(())
    });
}

/// Sleep `d`: the chaos schedule's own timing (when the next fault strikes), never a
/// wait for the system under test.
fn strike_after(d: Duration) {
    std::thread::sleep(d);
}

#[test]
fn workers_killed_at_random_lose_no_acked_word() {
    let mut chaos = Chaos::new("workers_killed_at_random");
    let c = cluster("");
    let lines = input_lines(&chaos);
    let (input, expected) = word_file(&c.root, lines);
    let total: u64 = expected.values().sum();
    let sink = c.root.join("sink.txt");
    submit(&c, &acked_split_yaml("wc", &input, &sink));
    wait_running(&c, "wc", 2);
    wait_for(LONG, "words flowing", || {
        (sink_len(&sink) > 0).then_some(())
    });
    let mut kills = 0;
    for round in 0..chaos.rounds(3, 20) {
        strike_after(chaos.pause(100, 1200));
        let st = wait_running(&c, "wc", 2);
        let victim = chaos.pick(&worker_pids(&st));
        if round == 0 {
            assert!(
                sink_len(&sink) < total,
                "the run ended before the first kill; make the input longer"
            );
        }
        kill_worker(victim);
        kills += 1;
        wait_for(LONG, "the killed worker's replacement", || {
            let st = status(&c.url, "wc")?;
            let pids = worker_pids(&st);
            (pids.len() == 2 && !pids.contains(&victim)).then_some(())
        });
    }
    println!("{kills} workers killed");
    wait_at_least_once(&chaos, &sink, &expected);
    wait_spout_acked(&chaos, &c, "wc", "lines", lines);
}

#[test]
fn trident_workers_killed_at_random_count_exactly() {
    let mut chaos = Chaos::new("trident_workers_killed_at_random");
    let c = cluster("");
    let (input, expected) = word_file(&c.root, if chaos.long { 100_000 } else { 20_000 });
    let input_len = std::fs::metadata(&input).unwrap().len();
    let store = c.root.join("counts.redb");
    submit(&c, &trident_yaml(&input, &store, "transactional"));
    wait_running(&c, "tw", 2);
    let mut last = trident_progress(&c.url, "tw", input_len);
    for _ in 0..chaos.rounds(2, 12) {
        // Strike once a batch more has committed: mid-run, whatever the machine's speed.
        let at = last.committed;
        last = wait_for(LONG, "a batch more committed", || {
            let p = trident_progress(&c.url, "tw", input_len);
            (p.committed > at).then_some(p)
        });
        assert!(
            !last.done,
            "the run ended before the kills; make the input longer"
        );
        strike_after(chaos.pause(0, 400));
        let st = wait_running(&c, "tw", 2);
        let pids = worker_pids(&st);
        // One worker or both: the coordinator, the spout and the state move around.
        let victims: Vec<i32> = if chaos.rng.random_bool(0.5) {
            pids
        } else {
            vec![chaos.pick(&pids)]
        };
        for v in &victims {
            kill_worker(*v);
        }
    }
    wait_for(
        chaos.patience(),
        "every line committed after the kills",
        || {
            let p = trident_progress(&c.url, "tw", input_len);
            assert!(
                p.committed >= last.committed,
                "the committed txid went back from {last:?} to {p:?}"
            );
            p.done.then_some(())
        },
    );
    let got = kill_and_dump(&c, "tw", &store);
    assert_eq!(
        got, expected,
        "exact counts after random kill -9 of workers"
    );
}

#[test]
fn nimbus_killed_workers_keep_processing_and_it_returns_with_every_topology() {
    let mut chaos = Chaos::new("nimbus_killed");
    let mut c = cluster("");
    let lines = input_lines(&chaos);
    let (input, expected) = word_file(&c.root, lines);
    let total: u64 = expected.values().sum();
    let sink = c.root.join("sink.txt");
    submit(&c, &acked_split_yaml("wc", &input, &sink));
    let endless = "name: endless\nconfig:\n  topology.workers: 2\nspouts:\n  - id: words\n    className: WordSpout\nbolts:\n  - id: exclaim\n    className: ExclamationBolt\nstreams:\n  - from: words\n    to: exclaim\n    grouping: {type: SHUFFLE}\n";
    submit(&c, endless);
    let pids = worker_pids(&wait_running(&c, "wc", 2));
    let endless_pids = worker_pids(&wait_running(&c, "endless", 2));
    let port = c.nimbus_port();
    for _ in 0..chaos.rounds(1, 5) {
        wait_for(LONG, "words flowing", || {
            (sink_len(&sink) > 0).then_some(())
        });
        strike_after(chaos.pause(0, 800));
        let before = sink_len(&sink);
        c.nimbus.kill9();
        if before < total {
            // Workers do not need nimbus to process: the sink grows while it is dead.
            wait_for(LONG, "words to keep flowing without nimbus", || {
                let now = sink_len(&sink);
                (now > before || now >= total).then_some(())
            });
        }
        strike_after(chaos.pause(200, 1500));
        c.nimbus = start_nimbus(&c.root.join("nimbus"), port, &[]).0;
        for name in ["wc", "endless"] {
            wait_for(
                LONG,
                &format!("{name} listed by the restarted nimbus"),
                || {
                    let st = status(&c.url, name)?;
                    (st["status"] == "ACTIVE" && worker_pids(&st).len() == 2).then_some(())
                },
            );
        }
    }
    assert!(
        pids.iter().chain(&endless_pids).all(|p| alive(*p)),
        "no worker was restarted because nimbus died"
    );
    wait_at_least_once(&chaos, &sink, &expected);
    let st = status(&c.url, "wc").unwrap();
    assert_eq!(worker_pids(&st), pids, "the same workers run wc: {st}");
}

#[test]
fn workers_stopped_and_continued_lose_no_acked_word() {
    let mut chaos = Chaos::new("workers_stopped_and_continued");
    let c = cluster("");
    let lines = input_lines(&chaos);
    let (input, expected) = word_file(&c.root, lines);
    let sink = c.root.join("sink.txt");
    submit(&c, &acked_split_yaml("wc", &input, &sink));
    let pids = worker_pids(&wait_running(&c, "wc", 2));
    wait_for(LONG, "words flowing", || {
        (sink_len(&sink) > 0).then_some(())
    });
    for _ in 0..chaos.rounds(2, 10) {
        strike_after(chaos.pause(100, 800));
        let victim = chaos.pick(&pids);
        kill(Pid::from_raw(victim), Signal::SIGSTOP).unwrap();
        // Stopped for up to twice the message timeout (trees time out and replay), and
        // well under the supervisor's worker timeout (the worker is not replaced).
        strike_after(chaos.pause(500, 6000));
        kill(Pid::from_raw(victim), Signal::SIGCONT).unwrap();
    }
    wait_at_least_once(&chaos, &sink, &expected);
    wait_spout_acked(&chaos, &c, "wc", "lines", lines);
    let st = status(&c.url, "wc").unwrap();
    assert_eq!(
        worker_pids(&st),
        pids,
        "a stopped-then-continued worker goes on: {st}"
    );
}

/// Cut every established TCP connection to or from `port` on loopback (`ss -K`, the
/// kernel's SOCK_DESTROY): both ends see the connection reset mid-stream. Returns how
/// many were cut.
fn cut_connections(port: u16) -> usize {
    let out = std::process::Command::new("ss")
        .args(["-K", "-t", "-n", "state", "established"])
        .arg(format!("( sport = :{port} or dport = :{port} )"))
        .output()
        .expect("ss (iproute2) is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "ss -K failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("127.0.0.1"))
        .count()
}

#[test]
fn peer_connections_cut_mid_stream_lose_no_acked_word() {
    let mut chaos = Chaos::new("peer_connections_cut");
    let c = cluster("");
    let lines = input_lines(&chaos);
    let (input, expected) = word_file(&c.root, lines);
    let sink = c.root.join("sink.txt");
    submit(&c, &acked_split_yaml("wc", &input, &sink));
    let t0 = Instant::now();
    let st = wait_running(&c, "wc", 2);
    println!("running after {:?}", t0.elapsed());
    let ports: Vec<u16> = st["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["port"].as_u64())
        .map(|p| p as u16)
        .collect();
    wait_for(LONG, "words flowing", || {
        (sink_len(&sink) > 0).then_some(())
    });
    let mut cut = 0;
    let started = Instant::now();
    for _ in 0..chaos.rounds(4, 30) {
        strike_after(chaos.pause(50, 700));
        cut += cut_connections(chaos.pick(&ports));
    }
    println!(
        "{cut} connections cut in {:?}; sink {} words",
        started.elapsed(),
        sink_len(&sink)
    );
    assert!(cut > 0, "no connection between the workers was cut");
    wait_at_least_once(&chaos, &sink, &expected);
    wait_spout_acked(&chaos, &c, "wc", "lines", lines);
    // The writers reconnected: no worker had to be restarted.
    let after = status(&c.url, "wc").unwrap();
    assert_eq!(worker_pids(&after), worker_pids(&st), "{after}");
}

#[test]
fn trident_store_write_errors_replay_batches_and_commit_each_once() {
    let mut chaos = Chaos::new("trident_store_write_errors");
    let c = cluster("");
    let (input, expected) = word_file(&c.root, if chaos.long { 100_000 } else { 10_000 });
    let input_len = std::fs::metadata(&input).unwrap().len();
    let store = c.root.join("counts.redb");
    // A fifth of the state's writes fail at the store boundary, half before the write
    // and half after it (the write landed, the commit did not): each failed batch is
    // replayed with its txid, and the state applies no txid twice.
    let fault_seed: u64 = chaos.rng.random();
    let yaml = format!(
        "{}  squall.trident.wordcount.store.fail.fraction: 0.2\n  squall.trident.wordcount.store.fail.seed: {fault_seed}\n",
        // No failures of the split: every failed batch is the store's doing.
        trident_yaml(&input, &store, "transactional").replace(", 0.1, ", ", 0.0, ")
    );
    assert!(yaml.contains(", 0.0, "), "{yaml}");
    submit(&c, &yaml);
    wait_running(&c, "tw", 2);
    let mut last = trident_progress(&c.url, "tw", input_len);
    wait_for(
        LONG,
        "every line committed despite the store errors",
        || {
            let p = trident_progress(&c.url, "tw", input_len);
            assert!(
                p.committed >= last.committed,
                "the committed txid went back from {last:?} to {p:?}"
            );
            last = p;
            p.done.then_some(())
        },
    );
    let st = status(&c.url, "tw").unwrap();
    let failed: f64 = st["components"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|c| c["failed"].as_f64())
        .sum();
    assert!(failed > 0.0, "the store errors failed some batches: {st}");
    let got = kill_and_dump(&c, "tw", &store);
    assert_eq!(got, expected, "exact counts despite store write errors");
}

#[test]
fn a_killed_supervisor_leaves_no_worker_emitting_and_loses_nothing() {
    let mut chaos = Chaos::new("supervisor_killed");
    let mut c = cluster_with(
        "nimbus.supervisor.timeout.secs: 3\nnimbus.monitor.freq.secs: 0.5\n",
        "supervisor.worker.orphan.grace.secs: 2\n",
    );
    let lines = input_lines(&chaos);
    let (input, expected) = word_file(&c.root, lines);
    let sink = c.root.join("sink.txt");
    submit(&c, &acked_split_yaml("wc", &input, &sink));
    let st = wait_running(&c, "wc", 2);
    wait_for(LONG, "words flowing", || {
        (sink_len(&sink) > 0).then_some(())
    });
    strike_after(chaos.pause(0, 800));
    // A supervisor that runs a worker (both do, unless nimbus put both on one).
    let ids = c.supervisor_ids();
    let running_on: Vec<usize> = (0..2)
        .filter(|i| !worker_pids_of(&st, &ids[*i]).is_empty())
        .collect();
    let victim = chaos.pick(&running_on);
    let victim_dir = c.root.join(["sup1", "sup2"][victim]);
    let orphans: Vec<i32> = processes_under(&victim_dir)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert!(!orphans.is_empty(), "the victim runs a worker: {st}");
    let killed_at = Instant::now();
    c.sups[victim].kill9();
    // The orphans outlive their supervisor for the grace (2 s), then exit by themselves:
    // no worker of a dead supervisor keeps emitting beside its replacement.
    assert_no_processes_under(&victim_dir, Duration::from_secs(15));
    println!(
        "the dead supervisor's {} workers exited {:?} after it",
        orphans.len(),
        killed_at.elapsed()
    );
    // Nimbus moved the slots to the survivor, and every word still arrives.
    wait_for(LONG, "both workers on the surviving supervisor", || {
        let st = status(&c.url, "wc")?;
        (worker_pids_of(&st, &ids[1 - victim]).len() == 2 && worker_pids(&st).len() == 2)
            .then_some(())
    });
    wait_at_least_once(&chaos, &sink, &expected);
}
