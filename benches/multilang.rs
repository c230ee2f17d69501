//! Multi-lang host cost: word count with the split bolt as a pystorm subprocess (and a
//! raw-protocol Node.js one) against the native Rust split, in local mode with acking.
//!
//! `cargo bench --bench multilang [-- FILTER...]`. Each shape runs in a child process of
//! this binary for `SQUALL_BENCH_SECS` (default 10) after `SQUALL_BENCH_WARMUP` (default
//! 3) seconds. Reported per shape: sentences/s through `split` (per subprocess for the
//! shell shapes), and CPU per sentence of the host process (squall: spout, split host or
//! native split, count, acker) over the measured window and of the subprocesses (over
//! the whole run). Host CPU per sentence minus the native shape's is the multi-lang
//! host's overhead per tuple. Needs python3 with pystorm, and node.
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
    let mut samples: Vec<(f64, u64, f64)> = Vec::new();
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
                ))
            })),
            stop_on_interrupt: false,
        },
    )
    .map_err(|e| e.to_string())?;
    let base = samples
        .iter()
        .find(|(t, _, _)| *t >= warmup as f64 - 0.01)
        .ok_or("no sample after warm-up")?;
    let last = samples.last().ok_or("no samples")?;
    let n = (last.1 - base.1).max(1) as f64;
    let rate = n / (last.0 - base.0).max(1e-9);
    let host_us = (last.2 - base.2) / n * 1e6;
    // Subprocesses are reaped at the end of the run: their CPU over all sentences.
    let total = executed(&report.components).max(1) as f64;
    let child_us = cpu_secs(UsageWho::RUSAGE_CHILDREN) / total * 1e6;
    println!("{rate:.0} {host_us:.3} {child_us:.3}");
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
        "{:<18} {:>14} {:>16} {:>20} {:>20}",
        "shape", "sentences/s", "per subprocess", "host CPU us/sentence", "subprocess us/sent."
    );
    let mut native_host = None;
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
        let (rate, host, child) = (nums[0], nums[1], nums[2]);
        if i == 0 {
            native_host = Some(host);
        }
        let per = if i == 0 { rate } else { rate / f64::from(*par) };
        let overhead = match (i, native_host) {
            (0, _) | (_, None) => String::new(),
            (_, Some(n)) => format!(" (+{:.2} vs native)", host - n),
        };
        println!(
            "{name:<18} {rate:>14.0} {per:>16.0} {:>20} {child:>20.2}",
            format!("{host:.2}{overhead}")
        );
    }
}
