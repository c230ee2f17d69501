//! Multi-lang host cost: word count with the split bolt as a pystorm subprocess (and a
//! raw-protocol Node.js one) against the native Rust split, in local mode with acking.
//!
//! `cargo bench --bench multilang [-- FILTER...]`. Each shape runs in a child process of
//! this binary for `SQUALL_BENCH_SECS` (default 10) after `SQUALL_BENCH_WARMUP` (default
//! 3) seconds. Reported per shape: sentences/s through `split` (per subprocess for the
//! shell shapes), and CPU per sentence of the host process (squall: spout, split host or
//! native split, count, acker) and of its split threads alone (the `split` executors and
//! the shell I/O threads) over the measured window, and of the subprocesses (over the
//! whole run). The split threads' CPU per sentence minus the native split's is the
//! multi-lang host's overhead per tuple (the whole process's figure also moves with how
//! much the other executors idle). Needs python3 with pystorm, and node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};
use squall_runtime::local::{LocalOptions, run_local};
use squall_runtime::testing::validate_yaml;
use squall_runtime::{Registry, stats::ComponentReports};

/// (name, split className, split constructorArgs, split parallelism)
const SHAPES: &[(&str, &str, &str, u32)] = &[
    ("native split", "SplitSentenceBolt", "[]", 1),
    (
        "pystorm split",
        "ShellBolt",
        r#"[["python3", "split_sentence.py"], ["word"]]"#,
        1,
    ),
    (
        "pystorm split x2",
        "ShellBolt",
        r#"[["python3", "split_sentence.py"], ["word"]]"#,
        2,
    ),
    (
        "node raw split",
        "ShellBolt",
        r#"[["node", "split_raw.js"], ["word"]]"#,
        1,
    ),
];

fn env_secs(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn yaml(class: &str, args: &str, parallelism: u32) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/multilang");
    format!(
        r#"
name: bench-multilang
config:
  topology.resources.dir: "{}"
  topology.max.spout.pending: 2000
spouts:
  - id: sentences
    className: RandomSentenceSpout
bolts:
  - id: split
    className: {class}
    constructorArgs: {args}
    parallelism: {parallelism}
  - id: count
    className: WordCountBolt
streams:
  - from: sentences
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: [word]}}
"#,
        dir.display()
    )
}

/// CPU seconds of this process's threads that do the split: the `split` executors and,
/// for shell bolts, their `shell-*` I/O threads (from `/proc/self/task`).
fn split_threads_cpu() -> f64 {
    // /proc reports in USER_HZ clock ticks: 100 per second on Linux.
    let tick = 100.0;
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if !(comm.starts_with("split-") || comm.starts_with("shell-")) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<f64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        if f.len() > 12 {
            total += (f[11] + f[12]) / tick;
        }
    }
    total
}

fn cpu_secs(who: UsageWho) -> f64 {
    let u = getrusage(who).expect("getrusage");
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    t(u.user_time()) + t(u.system_time())
}

/// Run one shape; print `rate host_us_per_sentence child_us_per_sentence`.
fn child(index: usize) -> Result<(), String> {
    let (_, class, args, par) = SHAPES[index];
    let mut registry = Registry::new();
    squall_topologies::register(&mut registry);
    let topo = validate_yaml(&registry, &yaml(class, args, par)).map_err(|e| e.to_string())?;
    let warmup = env_secs("SQUALL_BENCH_WARMUP", 3);
    let secs = env_secs("SQUALL_BENCH_SECS", 10);
    let executed = |r: &ComponentReports| r.get("split").map(|c| c.executed).unwrap_or(0);
    let mut samples: Vec<(f64, u64, f64, f64)> = Vec::new();
    let report = run_local(
        &registry,
        &topo,
        LocalOptions {
            duration: Some(Duration::from_secs(warmup + secs) + Duration::from_millis(200)),
            capture: false,
            progress: Some(Box::new(|r, t| {
                samples.push((
                    t.as_secs_f64(),
                    executed(r),
                    cpu_secs(UsageWho::RUSAGE_SELF),
                    split_threads_cpu(),
                ))
            })),
            stop_on_interrupt: false,
        },
    )
    .map_err(|e| e.to_string())?;
    let base = samples
        .iter()
        .find(|(t, ..)| *t >= warmup as f64 - 0.01)
        .ok_or("no sample after warm-up")?;
    let last = samples.last().ok_or("no samples")?;
    let n = (last.1 - base.1).max(1) as f64;
    let rate = n / (last.0 - base.0).max(1e-9);
    let host_us = (last.2 - base.2) / n * 1e6;
    let split_us = (last.3 - base.3) / n * 1e6;
    // Subprocesses are reaped at the end of the run: their CPU over all sentences.
    let total = executed(&report.components).max(1) as f64;
    let child_us = cpu_secs(UsageWho::RUSAGE_CHILDREN) / total * 1e6;
    println!("{rate:.0} {host_us:.3} {child_us:.3} {split_us:.3}");
    Ok(())
}

fn main() {
    if let Ok(i) = std::env::var("SQUALL_BENCH_SHAPE") {
        let i: usize = i.parse().expect("shape index");
        if let Err(e) = child(i) {
            eprintln!("bench child failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let exe = std::env::current_exe().expect("own executable");
    println!(
        "{:<18} {:>12} {:>15} {:>24} {:>24} {:>16}",
        "shape",
        "sentences/s",
        "per subprocess",
        "host CPU us/sentence",
        "split threads us/sent.",
        "subprocess us/s."
    );
    let mut native_host = None;
    let mut native_split = None;
    for (i, (name, _, _, par)) in SHAPES.iter().enumerate() {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let out = Command::new(&exe)
            .env("SQUALL_BENCH_SHAPE", i.to_string())
            .output()
            .expect("spawning a bench child");
        if !out.status.success() {
            println!(
                "{name:<18} FAILED: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            continue;
        }
        let nums: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let (rate, host, child, split) = (nums[0], nums[1], nums[2], nums[3]);
        if i == 0 {
            native_host = Some(host);
            native_split = Some(split);
        }
        let per = if i == 0 { rate } else { rate / f64::from(*par) };
        let versus = |x: f64, native: Option<f64>| match (i, native) {
            (0, _) | (_, None) => format!("{x:.2}"),
            (_, Some(n)) => format!("{x:.2} (+{:.2})", x - n),
        };
        println!(
            "{name:<18} {rate:>12.0} {per:>15.0} {:>24} {:>24} {child:>16.2}",
            versus(host, native_host),
            versus(split, native_split),
        );
    }
}
