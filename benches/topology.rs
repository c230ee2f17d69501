//! storm-perf shapes in local mode: throughput and peak RSS.
//!
//! `cargo bench --bench topology [-- FILTER...]`. Each shape runs in a child process of
//! this binary (so its peak RSS is its own) for `SQUALL_BENCH_SECS` (default 10) after a
//! `SQUALL_BENCH_WARMUP` (default 3) second warm-up; the rate is the measured
//! component's count over the measured window only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use squall_runtime::local::{LocalOptions, run_local};
use squall_runtime::stats::ComponentReports;
use squall_runtime::{Registry, cli};

/// (name, topology file, measured component, unit)
const SHAPES: &[(&str, &str, &str, &str)] = &[
    (
        "const-null-shuffle",
        "bench-const-null-shuffle.yaml",
        "sink",
        "tuples/s",
    ),
    (
        "const-null-local",
        "bench-const-null-local.yaml",
        "sink",
        "tuples/s",
    ),
    (
        "const-id-null",
        "bench-const-id-null.yaml",
        "sink",
        "tuples/s",
    ),
    ("wordcount", "bench-wordcount.yaml", "count", "words/s"),
];

fn env_secs(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn topologies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies")
}

/// Run one shape in this process and print `rate peak_rss_kib` on stdout.
fn child(file: &str, component: &str) -> Result<(), String> {
    let mut registry = Registry::new();
    squall_topologies::register(&mut registry);
    let topo = cli::load(&topologies_dir().join(file), &registry).map_err(|e| e.to_string())?;
    let warmup = env_secs("SQUALL_BENCH_WARMUP", 3);
    let secs = env_secs("SQUALL_BENCH_SECS", 10);
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let count = |r: &ComponentReports| r.get(component).map(|c| c.executed).unwrap_or(0);
    run_local(
        &registry,
        &topo,
        LocalOptions {
            duration: Some(Duration::from_secs(warmup + secs) + Duration::from_millis(200)),
            capture: false,
            progress: Some(Box::new(|r, t| samples.push((t.as_secs_f64(), count(r))))),
            stop_on_interrupt: false,
        },
    )
    .map_err(|e| e.to_string())?;
    let base = samples
        .iter()
        .find(|(t, _)| *t >= warmup as f64 - 0.01)
        .ok_or("no sample after warm-up")?;
    let last = samples.last().ok_or("no samples")?;
    let rate = (last.1 - base.1) as f64 / (last.0 - base.0).max(1e-9);
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map_err(|e| e.to_string())?;
    println!("{rate:.0} {}", usage.max_rss());
    Ok(())
}

fn main() {
    if let (Ok(file), Ok(component)) = (
        std::env::var("SQUALL_BENCH_FILE"),
        std::env::var("SQUALL_BENCH_COMPONENT"),
    ) {
        if let Err(e) = child(&file, &component) {
            eprintln!("bench child failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find own executable: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "{:<20} {:>14} {:<9} {:>14}",
        "shape", "rate", "unit", "peak RSS MiB"
    );
    for (name, file, component, unit) in SHAPES {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let out = Command::new(&exe)
            .env("SQUALL_BENCH_FILE", file)
            .env("SQUALL_BENCH_COMPONENT", component)
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                let mut parts = text.split_whitespace();
                let rate: f64 = parts.next().and_then(|r| r.parse().ok()).unwrap_or(0.0);
                let rss_kib: f64 = parts.next().and_then(|r| r.parse().ok()).unwrap_or(0.0);
                println!(
                    "{name:<20} {:>14} {unit:<9} {:>14.1}",
                    format!("{:.2}M", rate / 1e6),
                    rss_kib / 1024.0
                );
            }
            Ok(o) => println!(
                "{name:<20} FAILED: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => println!("{name:<20} FAILED to start: {e}"),
        }
    }
}
