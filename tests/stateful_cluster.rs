//! Stateful bolts on a real cluster (`squall nimbus`, `squall supervisor`, worker
//! processes) with the redb provider (an absolute directory) and the Redis provider (a
//! real `redis-server` with a password): a stateful word count
//! (`lines` → `split` → `StatefulWordCounter` fields-grouped on `word` → a file sink,
//! two workers, 100 ms checkpoints) whose workers are killed with SIGKILL.
//!
//! - Without a kill, the committed counts are exact; with the stateful bolt's worker
//!   killed mid-run, a ROLLBACK follows, the tuples behind it are replayed, every line
//!   is acked in the end and every committed count is at least the exact one.
//! - After a supervisor and its workers are killed, the restarted tasks start from the
//!   last committed checkpoint (plus the prepared set a recovery COMMIT applies), seen in
//!   the first count each emits per word.
//! - A COMMIT in another process (a worker restarted after a prepare) finds the values
//!   prepared by the killed one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;
mod stateful_common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cluster_common::*;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use squall_runtime::state::State;
use squall_runtime::state::checkpoint::spout_state::{TxPhase, TxState};
use squall_runtime::state::kv::KeyValueState;
use squall_runtime::state::provider::StateProvider;
use squall_runtime::state::provider::redb::RedbProvider;
use squall_runtime::state::provider::redis::RedisProvider;
use stateful_common::redis_server::RedisServer;
use stateful_common::{Store, committed, peek_redb_phase, recovered, tx_state};

/// Lines of the input (about 4.5 words each): long enough to kill mid-run on a loaded
/// 2-core machine, short enough to end within seconds.
const LINES: usize = 8000;
/// Bound of each wait once the topology runs.
const WAIT: Duration = Duration::from_secs(60);

/// The stateful word count over `input` into `sink`, state in `store`.
fn yaml(name: &str, input: &Path, sink: &Path, store: &Store) -> String {
    format!(
        r#"name: {name}
config:
  topology.workers: 2
  topology.message.timeout.secs: 5
  topology.max.spout.pending: 200
  topology.state.checkpoint.interval.ms: 100
{state}spouts:
  - id: lines
    className: LineFileSpout
    constructorArgs: ["{input}"]
bolts:
  - id: split
    className: SplitSentenceBolt
    parallelism: 2
  - id: count
    className: org.apache.storm.flux.examples.StatefulWordCounter
    parallelism: 2
  - id: sink
    className: FileSinkBolt
    constructorArgs: ["{sink}"]
streams:
  - from: lines
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: ["word"]}}
  - from: count
    to: sink
    grouping: {{type: GLOBAL}}
"#,
        state = store.topology_config(),
        input = input.display(),
        sink = sink.display(),
    )
}

/// One worker of a running topology: its pid and the components it runs.
#[derive(Debug, Clone)]
struct Worker {
    pid: i32,
    components: BTreeSet<String>,
}

/// The running topology `name`: its workers (once every task has reported) and the
/// namespaces of the count tasks and of the checkpoint spout.
struct Running {
    workers: Vec<Worker>,
    count_ns: Vec<String>,
    spout_ns: String,
}

impl Running {
    fn of(&self, component: &str) -> Vec<&Worker> {
        self.workers
            .iter()
            .filter(|w| w.components.contains(component))
            .collect()
    }
}

fn running_topology(url: &str, name: &str) -> Running {
    wait_for(
        WAIT,
        &format!("2 workers of {name} with every task reporting"),
        || {
            let TaskLayout {
                component_of,
                workers,
            } = task_layout(&status(url, name)?, 2)?;
            let workers = workers
                .into_iter()
                .map(|(pid, components)| Worker { pid, components })
                .collect();
            let ns = |component: &str| -> Vec<String> {
                component_of
                    .iter()
                    .filter(|(_, c)| *c == component)
                    .map(|(t, c)| format!("{c}-{t}"))
                    .collect()
            };
            let spout_ns = ns("$checkpointspout").pop()?;
            Some(Running {
                workers,
                count_ns: ns("count"),
                spout_ns,
            })
        },
    )
}

/// A counter of component `component` of topology `name` (0 if not reported).
fn counter(url: &str, name: &str, component: &str, counter: &str) -> u64 {
    status(url, name)
        .and_then(|st| st["components"][component][counter].as_u64())
        .unwrap_or(0)
}

/// Wait until the topology is checkpointing and counting, with lines still to read.
fn wait_mid_run(url: &str, name: &str) {
    wait_for(WAIT, "a few checkpoints and some lines acked", || {
        let st = status(url, name)?;
        let cps = st["components"]["$checkpointspout"]["acked"].as_u64()?;
        let lines = st["components"]["lines"]["acked"].as_u64()?;
        (cps >= 6 && lines > 0).then_some(())
    });
    let acked = counter(url, name, "lines", "acked");
    assert!(
        acked < LINES as u64 / 2,
        "{acked} of {LINES} lines were acked before the kill: make the input longer"
    );
}

/// Wait until the spout `lines` has acked every line of the input, counting from
/// `before` (its acks before the incarnation that reads the input: nimbus's counters
/// add up every incarnation of a task).
fn wait_all_lines_acked(url: &str, name: &str, before: u64) {
    wait_for(
        WAIT,
        &format!("the {LINES} lines acked by the spout"),
        || (counter(url, name, "lines", "acked") >= before + LINES as u64).then_some(()),
    );
}

/// Kill topology `name` and wait until its workers are gone (their redb files free).
fn kill_topology(url: &str, name: &str, pids: &[i32]) {
    let (code, out, err) = cli(url, &["kill", name, "-w", "0"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(WAIT, "the topology's workers to exit", || {
        pids.iter().all(|p| !running(*p)).then_some(())
    });
}

fn as_i64(counts: &BTreeMap<String, u64>) -> BTreeMap<String, i64> {
    counts.iter().map(|(w, n)| (w.clone(), *n as i64)).collect()
}

/// SIGSTOP the workers and wait until every thread of theirs is stopped.
fn freeze(workers: &[Worker]) {
    for w in workers {
        signal(w.pid, Signal::SIGSTOP);
    }
    wait_for(Duration::from_secs(10), "the workers to stop", || {
        workers.iter().all(|w| stopped(w.pid)).then_some(())
    });
}

/// Whether every thread of process `pid` is stopped (or the process is gone).
fn stopped(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.flatten().all(|t| {
        std::fs::read_to_string(t.path().join("stat")).is_ok_and(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next())
                .is_some_and(|state| matches!(state, "T" | "t" | "Z" | "X"))
        })
    })
}

/// Send `sig` to a worker's process group.
fn signal(pid: i32, sig: Signal) {
    let _ = killpg(Pid::from_raw(pid), sig);
}

/// Test 1 and 3 for one store: a run without a kill counts exactly; a run whose
/// stateful worker is killed when a ROLLBACK must follow rolls back, replays and counts
/// every word at least its exact number of times.
fn kill_the_stateful_worker(store: Store) {
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let c = cluster("");
    let (input, expected) = word_file(&c.root, LINES);
    let expected = as_i64(&expected);
    let scratch = c.root.join("scratch");

    // Without a kill: exact.
    let sink = c.root.join("exact.sink");
    submit(&c, &yaml("exact", &input, &sink, &store));
    let run = running_topology(&c.url, "exact");
    wait_all_lines_acked(&c.url, "exact", 0);
    let pids: Vec<i32> = run.workers.iter().map(|w| w.pid).collect();
    kill_topology(&c.url, "exact", &pids);
    let got = committed(&*store.snapshot(&scratch), &run.count_ns);
    assert_eq!(
        got, expected,
        "the committed counts of a run without a kill"
    );
    assert_eq!(counter(&c.url, "exact", "lines", "failed"), 0);

    // The worker of a count task (not the spout's) killed mid-run. Catching the phase
    // wanted below is timing: when it does not show within 5 s (a loaded machine), the
    // attempt's topology is killed and a fresh one tried, at most 3 times.
    let mut store = store;
    let mut attempt = 0;
    let (name, store, run, victim, cp_on_victim, tx) = loop {
        attempt += 1;
        let name = format!("kill{attempt}");
        store = store.next(&c.root.join(format!("state-{name}")));
        let sink = c.root.join(format!("{name}.sink"));
        submit(&c, &yaml(&name, &input, &sink, &store));
        let run = running_topology(&c.url, &name);
        let spout = run.of("lines")[0].clone();
        let victim = run
            .workers
            .iter()
            .find(|w| w.components.contains("count") && w.pid != spout.pid)
            .expect("a worker with a count task but not the spout (count has 2 tasks)")
            .clone();
        let cp_on_victim = victim.components.contains("$checkpointspout");
        wait_mid_run(&c.url, &name);
        // Kill at a moment a ROLLBACK must follow: if the checkpoint spout survives,
        // between checkpoints (COMMITTED: its next PREPARE reaches the dead task and
        // fails); if it dies with the victim, PREPARING (its restart recovers with a
        // ROLLBACK). Both workers are frozen and the saved transaction read from a
        // snapshot; Redis is watched live first, as its PREPARING phase lasts a few
        // milliseconds only.
        let want = if cp_on_victim {
            TxPhase::Preparing
        } else {
            TxPhase::Committed
        };
        let mut live = store.live();
        let deadline = Instant::now() + Duration::from_secs(5);
        let caught = loop {
            if Instant::now() >= deadline {
                break None;
            }
            // Poll without stopping anything until the phase shows (Redis live, redb by
            // a copy of the spout's file), then freeze and confirm on a snapshot.
            let seen = match (live.as_mut(), store.redb_dir()) {
                (Some(live), _) => live.tx(&run.spout_ns).map(|t| t.phase),
                (None, Some(dir)) => peek_redb_phase(&dir, &scratch, &run.spout_ns),
                (None, None) => None,
            };
            if seen != Some(want) {
                continue;
            }
            freeze(&run.workers);
            if let Some(live) = live.as_mut() {
                // Two round trips: what the workers sent before they stopped is executed.
                live.ping();
                live.ping();
            }
            let tx = tx_state(&*store.snapshot(&scratch), &run.spout_ns).unwrap();
            if tx.phase == want {
                signal(victim.pid, Signal::SIGKILL);
                signal(spout.pid, Signal::SIGCONT);
                break Some(tx);
            }
            for w in &run.workers {
                signal(w.pid, Signal::SIGCONT);
            }
        };
        match caught {
            Some(tx) => break (name, store, run, victim, cp_on_victim, tx),
            None if attempt < 3 => {
                println!("attempt {attempt}: no {want:?} phase caught within 5 s; again");
                let pids: Vec<i32> = run.workers.iter().map(|w| w.pid).collect();
                kill_topology(&c.url, &name, &pids);
            }
            None => panic!("no {want:?} phase caught within 5 s in {attempt} attempts"),
        }
    };
    println!("killed {victim:?} at {tx:?} (checkpoint spout on the victim: {cp_on_victim})");
    wait_for(WAIT, "the killed worker's restart", || {
        let st = status(&c.url, &name)?;
        let pids = worker_pids(&st);
        (pids.len() == 2 && !pids.contains(&victim.pid)).then_some(())
    });
    wait_all_lines_acked(&c.url, &name, 0);
    let failed = counter(&c.url, &name, "lines", "failed");
    assert!(
        failed > 0,
        "the killed worker's tuples failed and were replayed"
    );
    if !cp_on_victim {
        let cp_failed = counter(&c.url, &name, "$checkpointspout", "failed");
        assert!(cp_failed > 0, "the PREPARE to the dead task failed");
    }
    let logs = worker_logs(&c.root);
    let rollbacks: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("state rolled back to its last committed checkpoint"))
        .collect();
    assert!(
        rollbacks.iter().any(|l| l.contains("namespace=\"count-")),
        "a count task rolled back after the kill; worker logs:\n{logs}"
    );
    let pids = worker_pids(&status(&c.url, &name).unwrap());
    kill_topology(&c.url, &name, &pids);
    let got = committed(&*store.snapshot(&scratch), &run.count_ns);
    for (w, n) in &expected {
        let g = got.get(w).copied().unwrap_or(0);
        assert!(g >= *n, "{w}: committed {g} < exact {n}; all: {got:?}");
    }
    println!("lines failed and replayed: {failed}; committed {got:?}, exact {expected:?}");
    drop(c);
    drop(serial);
}

#[test]
fn redb_a_killed_stateful_worker_rolls_back_and_replays_to_at_least_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    open_to_workers(dir.path());
    kill_the_stateful_worker(Store::redb(&dir.path().join("state")));
}

#[test]
fn redis_a_killed_stateful_worker_rolls_back_and_replays_to_at_least_exact_counts() {
    kill_the_stateful_worker(Store::redis());
}

/// Nimbus and one supervisor with two slots (a long orphan grace), run like the
/// orphan tests: the supervisor is killed and restarted on its data directory.
struct OneSupervisor {
    root: PathBuf,
    url: String,
    sup_dir: PathBuf,
    ports: Vec<u16>,
    sup_config: String,
    sup: Daemon,
    nimbus: Daemon,
    _reaper: Reaper,
    _dir: tempfile::TempDir,
}

fn one_supervisor() -> OneSupervisor {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let ports = free_ports(3);
    let (nimbus, url) = start_nimbus(&root.join("nimbus"), ports[0], &[]);
    let sup_dir = root.join("sup");
    let sup_config = "supervisor.worker.orphan.grace.secs: 60\n".to_string();
    let sup = start_supervisor_with(&url, &sup_dir, &ports[1..], &sup_config);
    wait_supervisors(&url, 1);
    OneSupervisor {
        _reaper: Reaper(root.clone()),
        _dir: dir,
        root,
        url,
        sup_dir,
        ports: ports[1..].to_vec(),
        sup_config,
        sup,
        nimbus,
    }
}

/// The first count the sink recorded for each word after byte `from` of `sink`.
fn first_counts_after(sink: &Path, from: usize) -> BTreeMap<String, i64> {
    let text = std::fs::read(sink).unwrap_or_default();
    let mut first = BTreeMap::new();
    for line in String::from_utf8_lossy(&text[from.min(text.len())..]).lines() {
        if let Ok(serde_json::Value::Array(v)) = serde_json::from_str(line)
            && let (Some(w), Some(n)) = (v[0].as_str(), v[1].as_i64())
        {
            first.entry(w.to_string()).or_insert(n);
        }
    }
    first
}

/// Test 2 (and 4 on the cluster) for one store: the supervisor is killed (its workers
/// run on as orphans), then both workers — for Redis at a moment the checkpoint spout
/// is COMMITTING, so the COMMIT reaches restarted workers; the committed state is read
/// from the store; the supervisor restarted on its data directory relaunches the
/// workers, which start from that state (each word's first count after the restart is
/// its recovered count + 1), replay the input and count at least every word on top.
fn restart_from_the_last_commit(store: impl FnOnce(&Path) -> Store) {
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut c = one_supervisor();
    let store = store(&c.sup_dir);
    let (input, expected) = word_file(&c.root, LINES);
    let expected = as_i64(&expected);
    let sink = c.root.join("restart.sink");
    let scratch = c.root.join("scratch");
    submit_to(&c.url, &c.root, &yaml("restart", &input, &sink, &store));
    let run = running_topology(&c.url, "restart");
    wait_mid_run(&c.url, "restart");
    c.sup.kill9();
    assert!(run.workers.iter().all(|w| running(w.pid)), "orphans run on");
    if let Some(mut live) = store.live() {
        // Freeze the workers while the checkpoint spout is COMMITTING a txid some count
        // task has prepared but not committed yet: its COMMIT reaches a restarted task.
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "no COMMITTING phase caught");
            let Some(tx) = live
                .tx(&run.spout_ns)
                .filter(|t| t.phase == TxPhase::Committing)
            else {
                continue;
            };
            freeze(&run.workers);
            // Two round trips: what the workers sent before they stopped is executed.
            live.ping();
            live.ping();
            let still = live.tx(&run.spout_ns) == Some(tx);
            let pending = run.count_ns.iter().any(|ns| {
                let (commit, prepare) = live.txids(ns);
                prepare == Some(tx.txid as u64)
                    && commit.is_none_or(|c| c < tx.txid as u64)
                    && live.prepared_len(ns) > 0
            });
            if still && pending {
                break;
            }
            for w in &run.workers {
                signal(w.pid, Signal::SIGCONT);
            }
        }
    } else {
        freeze(&run.workers);
    }
    for w in &run.workers {
        signal(w.pid, Signal::SIGKILL);
    }
    wait_for(WAIT, "the killed workers to be gone", || {
        run.workers.iter().all(|w| !running(w.pid)).then_some(())
    });
    store.wait_workers_disconnected();
    // Nothing can commit now: what the restarted tasks must start from.
    let tx: TxState = tx_state(&*store.snapshot(&scratch), &run.spout_ns).unwrap();
    let last_commit = committed(&*store.snapshot(&scratch), &run.count_ns);
    let start = recovered(&*store.snapshot(&scratch), &run.count_ns, tx);
    let commit_after_restart = start != last_commit;
    println!(
        "killed at {tx:?}; a prepared set committed after the restart: {commit_after_restart}\n\
         last commit {last_commit:?}\nrecovered {start:?}"
    );
    assert!(!start.is_empty(), "something was committed before the kill");
    if store.live().is_some() {
        assert!(
            tx.phase == TxPhase::Committing && commit_after_restart,
            "killed while COMMITTING a txid a task had only prepared"
        );
    }
    let acked_before = counter(&c.url, "restart", "lines", "acked");
    let sink_len = std::fs::metadata(&sink).map(|m| m.len()).unwrap_or(0) as usize;

    c.sup = start_supervisor_with(&c.url, &c.sup_dir, &c.ports, &c.sup_config);
    wait_for(WAIT, "the relaunched workers", || {
        let pids = worker_pids(&status(&c.url, "restart")?);
        (pids.len() == 2 && pids.iter().all(|p| run.workers.iter().all(|w| w.pid != *p)))
            .then_some(())
    });
    let first = wait_for(WAIT, "a count of every word after the restart", || {
        let first = first_counts_after(&sink, sink_len);
        expected
            .keys()
            .all(|w| first.contains_key(w))
            .then_some(first)
    });
    for w in expected.keys() {
        let from = start.get(w).copied().unwrap_or(0);
        assert_eq!(
            first[w],
            from + 1,
            "{w}: the restarted task started from {} instead of its recovered count {from}",
            first[w] - 1
        );
    }
    // INITSTATE carries the last committed txid once the recovery is done: a ROLLBACK
    // of a PREPARING txid goes back to the one before.
    let init_txid = match tx.phase {
        TxPhase::Preparing => tx.txid - 1,
        TxPhase::Committing | TxPhase::Committed => tx.txid,
    };
    let logs = worker_logs(&c.sup_dir);
    assert!(
        logs.lines().any(
            |l| l.contains("state initialised from its last committed checkpoint")
                && l.trim_end().ends_with(&format!(" txid={init_txid}"))
        ),
        "the restarted tasks initialised from txid {init_txid}; logs:\n{logs}"
    );
    // The spout restarted from the first line: every line is counted again on top of
    // the recovered state, replays included.
    wait_all_lines_acked(&c.url, "restart", acked_before);
    let pids = worker_pids(&status(&c.url, "restart").unwrap());
    kill_topology(&c.url, "restart", &pids);
    let got = committed(&*store.snapshot(&scratch), &run.count_ns);
    for (w, n) in &expected {
        let floor = start.get(w).copied().unwrap_or(0) + n;
        let g = got.get(w).copied().unwrap_or(0);
        assert!(
            g >= floor,
            "{w}: committed {g} < recovered + exact = {floor}"
        );
    }
    c.sup.stop();
    c.nimbus.stop();
    assert_no_processes_under(&c.root, WAIT);
    drop(serial);
}

/// One cluster at a time in this file's own clusters.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Submit `yaml` to nimbus at `url` (the file written under `dir`).
fn submit_to(url: &str, dir: &Path, yaml: &str) {
    let file = dir.join("topology.yaml");
    std::fs::write(&file, yaml).unwrap();
    let (code, out, err) = cli(url, &["submit", file.to_str().unwrap()]);
    assert_eq!(code, 0, "submit failed: {out}{err}");
}

/// redb without a `path`: the files are in the state directory the supervisor gives the
/// topology (`<data dir>/state/<topology id>/`), where the restarted workers find them.
#[test]
fn redb_restarted_workers_start_from_the_last_committed_checkpoint() {
    restart_from_the_last_commit(|sup_dir| Store::supervisor_redb(sup_dir, "restart"));
}

#[test]
fn redis_restarted_workers_start_from_the_last_committed_checkpoint_and_commit_what_was_prepared() {
    restart_from_the_last_commit(|_| Store::redis());
}

/// The child process of the tests below: set, it prepares and waits to be killed.
const CHILD_ENV: &str = "SQUALL_TEST_PREPARE_CHILD";
/// The namespace the child prepares.
const CHILD_NS: &str = "count-7";

/// The provider a child's spec names: `redb <dir>` or `redis <port> <password>`.
fn child_provider(spec: &str) -> Box<dyn StateProvider> {
    let parts: Vec<&str> = spec.splitn(3, ' ').collect();
    match parts.as_slice() {
        ["redb", dir] => Box::new(RedbProvider::new(dir)),
        ["redis", port, password] => {
            let mut config = squall_runtime::state::provider::redis::RedisConfig {
                host: "127.0.0.1".into(),
                port: port.parse().unwrap(),
                ..Default::default()
            };
            config.password = Some(squall_runtime::state::provider::redis::Password::new(
                *password,
            ));
            Box::new(RedisProvider::new(config).unwrap())
        }
        _ => panic!("bad child spec {spec}"),
    }
}

/// Not a test on its own: run by [`prepare_in_a_killed_process_commit_in_another`] with
/// [`CHILD_ENV`] set, it commits txid 1, prepares txid 2, writes one more value it
/// never prepares, says `PREPARED` and waits for its SIGKILL.
#[test]
fn child_process_that_prepares_and_is_killed() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let p = child_provider(&spec);
    let mut s: KeyValueState<String, i64> = KeyValueState::new(p.open(CHILD_NS).unwrap());
    s.put(&"kept".into(), &1).unwrap();
    s.put(&"gone".into(), &1).unwrap();
    s.prepare_commit(1).unwrap();
    s.commit(1).unwrap();
    s.put(&"storm".into(), &10).unwrap();
    s.put(&"kept".into(), &2).unwrap();
    s.delete(&"gone".into()).unwrap();
    s.prepare_commit(2).unwrap();
    s.put(&"lost".into(), &99).unwrap();
    println!("PREPARED");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::park();
    }
}

/// Run the child with `spec`, wait for its `PREPARED`, SIGKILL it.
fn prepare_in_a_child_and_kill_it(spec: &str) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_process_that_prepares_and_is_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, spec)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains("PREPARED") => break,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the child did not prepare within 30 s");
            }
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the child was SIGKILLed: {status:?}"
    );
}

/// Test 4 at the provider level, across a real process boundary: what a killed process
/// prepared is seen and committed by a new process's provider (a restarted worker
/// receiving the recovery COMMIT); the write it never prepared is gone.
fn prepare_in_a_killed_process_commit_in_another(
    spec: &str,
    fresh: impl Fn() -> Box<dyn StateProvider>,
) {
    prepare_in_a_child_and_kill_it(spec);
    let p = fresh();
    let mut s: KeyValueState<String, i64> = KeyValueState::new(p.open(CHILD_NS).unwrap());
    assert_eq!(
        s.get(&"storm".into()).unwrap(),
        Some(10),
        "prepared value seen"
    );
    assert_eq!(s.get(&"kept".into()).unwrap(), Some(2));
    assert_eq!(s.get(&"gone".into()).unwrap(), None, "prepared delete seen");
    assert_eq!(
        s.get(&"lost".into()).unwrap(),
        None,
        "an unprepared write is not durable"
    );
    s.commit(2).unwrap();
    drop(s);
    drop(p);
    let p = fresh();
    let mut s: KeyValueState<String, i64> = KeyValueState::new(p.open(CHILD_NS).unwrap());
    // Nothing prepared is left: a rollback keeps the committed txid 2.
    s.rollback().unwrap();
    let all: BTreeMap<String, i64> = s.iter().unwrap().map(|e| e.unwrap()).collect();
    assert_eq!(
        all,
        BTreeMap::from([("kept".to_string(), 2), ("storm".to_string(), 10)]),
        "the committed state after the commit in another process"
    );
    // A replayed COMMIT of txid 2 changes nothing.
    s.commit(2).unwrap();
}

#[test]
fn redb_a_commit_in_another_process_finds_the_prepared_values() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    prepare_in_a_killed_process_commit_in_another(&format!("redb {}", state.display()), || {
        Box::new(RedbProvider::new(&state))
    });
}

#[test]
fn redis_a_commit_in_another_process_finds_the_prepared_values() {
    let server = RedisServer::start();
    let config = server.config();
    prepare_in_a_killed_process_commit_in_another(
        &format!("redis {} {}", server.port, server.password),
        || Box::new(RedisProvider::new(config.clone()).unwrap()),
    );
}
