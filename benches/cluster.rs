//! The cluster on loopback: word count over 2 worker processes with acking, and the
//! time from a worker's death to its replacement processing tuples, and from a
//! supervisor's death to the reassignment of its worker.
//!
//! `cargo bench --bench cluster` (release build of the `squall` binary; about a minute).
//!
//! `cargo bench --bench cluster -- submit` measures only the time from `squall submit`
//! to the first tuple processed on a running cluster (nimbus and two supervisors on
//! loopback): `SQUALL_BENCH_SUBMIT_ROUNDS` topologies (default 4) one after the other,
//! the first with the artifact not yet in the supervisors' caches.
//!
//! `cargo bench --bench cluster -- const-null wordcount-workers xlatency` runs issue 18's
//! cross-process rows instead (any of the three; see `gen/xproc.rs`): const → null
//! across 2 workers with acking off, `topologies/wordcount.yaml` on 1 and on 2 workers,
//! and the complete latency at half the maximum rate across 2 workers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/cluster_common/mod.rs"]
mod cluster_common;
#[path = "gen/xproc.rs"]
mod xproc;

use std::time::{Duration, Instant};

use cluster_common::*;

const WORDCOUNT: &str = "name: bench
config:
  topology.workers: 2
  topology.acker.executors: 2
  topology.max.spout.pending: 2000
spouts:
  - id: sentences
    className: RandomSentenceSpout
    parallelism: 2
bolts:
  - id: split
    className: SplitSentenceBolt
    parallelism: 2
  - id: count
    className: WordCountBolt
    parallelism: 2
streams:
  - from: sentences
    to: split
    grouping: {type: LOCAL_OR_SHUFFLE}
  - from: split
    to: count
    grouping: {type: FIELDS, args: [word]}
";

fn executed(url: &str) -> Option<(Instant, f64)> {
    let st = status(url, "bench")?;
    Some((
        Instant::now(),
        st["components"]["count"]["executed"].as_f64()?,
    ))
}

/// The word count's rate (words/s over 10 s after a 5 s warm-up) on a cluster of its
/// own, whose workers seal data frames with MACs or (`frame_mac` false, through the
/// benchmark-only switch) do not, and whose nimbus serves HTTPS (`tls`: supervisors and
/// workers talk to it over TLS) or plain HTTP.
fn wordcount_rate(frame_mac: bool, tls: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ports = free_ports(5);
    let tls_mode = if tls { "on" } else { "off" };
    let (_nimbus, url) = start_nimbus(&root.join("nimbus"), ports[0], &["--tls", tls_mode]);
    let env: &[(&str, &str)] = if frame_mac {
        &[]
    } else {
        &[(
            squall_runtime::cluster::auth::frame_mac::BENCH_NO_FRAME_MAC_ENV,
            "1",
        )]
    };
    let _sup1 = start_supervisor_env(&url, &root.join("sup1"), &ports[1..3], "", env);
    let _sup2 = start_supervisor_env(&url, &root.join("sup2"), &ports[3..5], "", env);
    wait_supervisors(&url, 2);
    let file = root.join("bench.yaml");
    std::fs::write(&file, WORDCOUNT).unwrap();
    let (code, out, err) = cli(&url, &["submit", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(Duration::from_secs(60), "2 running workers", || {
        (worker_pids(&status(&url, "bench")?).len() == 2).then_some(())
    });
    std::thread::sleep(Duration::from_secs(5));
    let (t0, c0) = wait_for(Duration::from_secs(10), "stats", || executed(&url));
    std::thread::sleep(Duration::from_secs(10));
    let (t1, c1) = wait_for(Duration::from_secs(10), "stats", || executed(&url));
    (c1 - c0) / t1.duration_since(t0).as_secs_f64()
}

/// The word count's rate with a feature and without it, alternating, in this run
/// (`rounds_env` rounds, default 2); prints each pair and the mean ratio.
fn compare(what: &str, rounds_env: &str, with: impl Fn() -> f64, without: impl Fn() -> f64) {
    let rounds: usize = std::env::var(rounds_env)
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        on.push(with());
        off.push(without());
        println!(
            "wordcount, 2 workers, acking: {what} on {:.2}M words/s, off {:.2}M words/s",
            on[on.len() - 1] / 1e6,
            off[off.len() - 1] / 1e6
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "{what}: {:.2}M vs {:.2}M words/s (mean of {rounds}): {:.1}% of the rate without",
        mean(&on) / 1e6,
        mean(&off) / 1e6,
        100.0 * mean(&on) / mean(&off)
    );
}

/// Submit → first tuple processed, on a cluster of its own; prints each round.
fn submit_latency() {
    let rounds: usize = std::env::var("SQUALL_BENCH_SUBMIT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ports = free_ports(5);
    let (_nimbus, url) = start_nimbus(&root.join("nimbus"), ports[0], &[]);
    let _sup1 = start_supervisor(&url, &root.join("sup1"), &ports[1..3]);
    let _sup2 = start_supervisor(&url, &root.join("sup2"), &ports[3..5]);
    wait_supervisors(&url, 2);
    let mut cached = Vec::new();
    for round in 0..rounds {
        let name = format!("first{round}");
        let sink = root.join(format!("{name}.sink"));
        // 10,000 tuples: the sink flushes its file at once after that many.
        let yaml = format!(
            "name: {name}\nconfig:\n  topology.workers: 1\n  topology.acker.executors: 0\n\
             spouts:\n  - id: spout\n    className: ConstSpout\n    constructorArgs: [10000, 0]\n\
             bolts:\n  - id: sink\n    className: FileSinkBolt\n    constructorArgs: [\"{}\"]\n\
             streams:\n  - from: spout\n    to: sink\n    grouping: {{type: SHUFFLE}}\n",
            sink.display()
        );
        let file = root.join(format!("{name}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        let start = Instant::now();
        let (code, out, err) = cli(&url, &["submit", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}{err}");
        let submitted = start.elapsed();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::metadata(&sink).map_or(0, |m| m.len()) == 0 {
            assert!(Instant::now() < deadline, "no tuple processed in 60 s");
            std::thread::sleep(Duration::from_millis(2));
        }
        let first = start.elapsed();
        println!(
            "submit -> first tuple processed, round {round}{}: {:.3} s (submit command {:.3} s)",
            if round == 0 {
                " (artifact not cached)"
            } else {
                ""
            },
            first.as_secs_f64(),
            submitted.as_secs_f64()
        );
        if round > 0 {
            cached.push(first.as_secs_f64());
        }
        let (code, out, err) = cli(&url, &["kill", &name, "--wait", "0"]);
        assert_eq!(code, 0, "{out}{err}");
        wait_for(
            Duration::from_secs(30),
            "the killed topology's worker to go",
            || status(&url, &name).is_none().then_some(()),
        );
    }
    if !cached.is_empty() {
        cached.sort_by(f64::total_cmp);
        println!(
            "submit -> first tuple processed, artifact cached: median {:.3} s, max {:.3} s ({} rounds)",
            cached[cached.len() / 2],
            cached[cached.len() - 1],
            cached.len()
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let modes: Vec<&str> = ["const-null", "wordcount-workers", "xlatency"]
        .into_iter()
        .filter(|m| args.iter().any(|a| a == m))
        .collect();
    if !modes.is_empty() {
        xproc::run(&modes);
        return;
    }
    if std::env::args().skip(1).any(|a| a == "submit") {
        submit_latency();
        return;
    }
    // The cost of per-frame MACs on the worker links (`SQUALL_BENCH_MAC_ROUNDS`).
    compare(
        "frame MACs",
        "SQUALL_BENCH_MAC_ROUNDS",
        || wordcount_rate(true, false),
        || wordcount_rate(false, false),
    );
    // The cost of TLS to nimbus (`nimbus.tls: on`: heartbeats and the workers' reports
    // over HTTPS; the worker links are the same, MACs on) (`SQUALL_BENCH_TLS_ROUNDS`).
    compare(
        "nimbus over HTTPS",
        "SQUALL_BENCH_TLS_ROUNDS",
        || wordcount_rate(true, true),
        || wordcount_rate(true, false),
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ports = free_ports(5);
    let cfg = root.join("nimbus.yaml");
    std::fs::write(
        &cfg,
        "nimbus.supervisor.timeout.secs: 3\nnimbus.monitor.freq.secs: 0.5\n",
    )
    .unwrap();
    let (_nimbus, url) = start_nimbus(
        &root.join("nimbus"),
        ports[0],
        &["--config", cfg.to_str().unwrap()],
    );
    let _sup1 = start_supervisor(&url, &root.join("sup1"), &ports[1..3]);
    let mut sup2 = start_supervisor(&url, &root.join("sup2"), &ports[3..5]);
    wait_supervisors(&url, 2);
    let file = root.join("bench.yaml");
    std::fs::write(&file, WORDCOUNT).unwrap();
    let (code, out, err) = cli(&url, &["submit", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(Duration::from_secs(60), "2 running workers", || {
        (worker_pids(&status(&url, "bench")?).len() == 2).then_some(())
    });

    // Throughput: words counted over 10 s after a 5 s warm-up.
    std::thread::sleep(Duration::from_secs(5));
    let (t0, c0) = wait_for(Duration::from_secs(10), "stats", || executed(&url));
    std::thread::sleep(Duration::from_secs(10));
    let (t1, c1) = wait_for(Duration::from_secs(10), "stats", || executed(&url));
    let rate = (c1 - c0) / t1.duration_since(t0).as_secs_f64();
    println!("wordcount, 2 workers, acking: {:.2}M words/s", rate / 1e6);

    // Worker death -> replacement processing tuples.
    let st = status(&url, "bench").unwrap();
    let victim = &st["workers"][0];
    let (sup, port) = (
        victim["supervisor"].as_str().unwrap().to_string(),
        victim["port"].as_u64().unwrap(),
    );
    // The victim's tasks: the executors nimbus assigned to its slot.
    let ranges: Vec<(u64, u64)> = st["assignment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["supervisor"] == sup.as_str() && w["port"] == port)
        .unwrap()["executors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e[0].as_u64().unwrap(), e[1].as_u64().unwrap()))
        .collect();
    // A worker's counters restart from zero: the replacement is processing once its
    // tasks' reported total is above zero and below what the killed worker had reached.
    let total = |st: &serde_json::Value| -> Option<f64> {
        let tasks = st["tasks"].as_array()?;
        Some(
            tasks
                .iter()
                .filter(|t| {
                    let id = t["task"].as_u64().unwrap_or(0);
                    ranges.iter().any(|(f, l)| (*f..=*l).contains(&id))
                })
                .map(|t| {
                    let c = &t["counters"];
                    c["executed"].as_f64().unwrap_or(0.0) + c["emitted"].as_f64().unwrap_or(0.0)
                })
                .sum(),
        )
    };
    let before = total(&st).unwrap_or(f64::MAX);
    kill_worker(victim["pid"].as_i64().unwrap() as i32);
    let killed = Instant::now();
    let restarted = wait_for(Duration::from_secs(30), "the replacement worker", || {
        let st = status(&url, "bench")?;
        let w = st["workers"]
            .as_array()?
            .iter()
            .find(|w| w["supervisor"] == sup.as_str() && w["port"] == port && w["restarts"] == 1)?;
        (w["state"] == "running").then_some(killed.elapsed())
    });
    let processing = wait_for(
        Duration::from_secs(60),
        "the replacement processing tuples",
        || {
            let st = status(&url, "bench")?;
            let now = total(&st)?;
            (now > 0.0 && now < before).then_some(killed.elapsed())
        },
    );
    println!(
        "worker killed -> replacement running: {:.2} s, processing tuples: {:.2} s (stats are reported every second)",
        restarted.as_secs_f64(),
        processing.as_secs_f64()
    );

    // Supervisor death -> reassignment of its worker to the other supervisor.
    let sup2_id = std::fs::read_to_string(root.join("sup2/supervisor-id")).unwrap();
    let st = status(&url, "bench").unwrap();
    let doomed = worker_pids_of(&st, sup2_id.trim());
    sup2.kill9();
    for p in &doomed {
        kill_worker(*p);
    }
    let died = Instant::now();
    let moved = wait_for(Duration::from_secs(60), "the reassignment", || {
        let st = status(&url, "bench")?;
        let running = st["workers"]
            .as_array()?
            .iter()
            .filter(|w| w["state"] == "running" && w["supervisor"] != sup2_id.trim())
            .count();
        (running == 2).then_some(died.elapsed())
    });
    println!(
        "supervisor killed -> its worker running on the other supervisor: {:.2} s (supervisor timeout 3 s)",
        moved.as_secs_f64()
    );
}
