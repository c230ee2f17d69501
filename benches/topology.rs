//! storm-perf shapes in local mode: throughput, peak RSS, and complete latency.
//!
//! `cargo bench --bench topology [-- FILTER...]`. Each shape runs in a child process of
//! this binary (so its peak RSS is its own) for `SQUALL_BENCH_SECS` (default 10) after a
//! `SQUALL_BENCH_WARMUP` (default 3) second warm-up; the rate is the measured
//! component's count over the measured window only. Shapes with acking also report the
//! spout's complete latency. The `latency` row reruns const → id → null with acking at
//! half the rate measured for it, with a rate-limited spout.

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
    (
        "const-id-null-acking",
        "bench-const-id-null-acking.yaml",
        "sink",
        "tuples/s",
    ),
    ("wordcount", "bench-wordcount.yaml", "count", "words/s"),
    (
        "wordcount-acking",
        "bench-wordcount-acking.yaml",
        "count",
        "words/s",
    ),
    (
        "wordcount-stateful",
        "bench-wordcount-stateful.yaml",
        "count",
        "words/s",
    ),
    ("window-sum", "bench-window-sum.yaml", "sum", "tuples/s"),
    (
        "window-sum-acking",
        "bench-window-sum-acking.yaml",
        "sum",
        "tuples/s",
    ),
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

/// Run one shape in this process and print `rate peak_rss_kib [p50 p99 max]`.
fn child(file: &Path, component: &str) -> Result<(), String> {
    let mut registry = Registry::new();
    squall_topologies::register(&mut registry);
    let (topo, registry) = cli::load(file, &registry).map_err(|e| e.to_string())?;
    let warmup = env_secs("SQUALL_BENCH_WARMUP", 3);
    let secs = env_secs("SQUALL_BENCH_SECS", 10);
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let count = |r: &ComponentReports| r.get(component).map(|c| c.executed).unwrap_or(0);
    let report = run_local(
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
    print!("{rate:.0} {}", usage.max_rss());
    if let Some(l) = report
        .components
        .values()
        .find_map(|c| c.complete_latency_ms)
    {
        print!(" {} {} {}", l.p50, l.p99, l.max);
    }
    println!();
    Ok(())
}

/// What a child reported.
struct Outcome {
    rate: f64,
    rss_mib: f64,
    latency: Option<(f64, f64, f64)>,
}

fn spawn(exe: &Path, file: &Path, component: &str) -> Result<Outcome, String> {
    let o = Command::new(exe)
        .env("SQUALL_BENCH_FILE", file)
        .env("SQUALL_BENCH_COMPONENT", component)
        .output()
        .map_err(|e| format!("cannot start: {e}"))?;
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).trim().to_string());
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let nums: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    Ok(Outcome {
        rate: nums.first().copied().unwrap_or(0.0),
        rss_mib: nums.get(1).copied().unwrap_or(0.0) / 1024.0,
        latency: (nums.len() >= 5).then(|| (nums[2], nums[3], nums[4])),
    })
}

fn print_row(name: &str, unit: &str, r: &Result<Outcome, String>) {
    match r {
        Ok(o) => {
            let lat = o
                .latency
                .map(|(a, b, c)| format!("{a:.3} / {b:.3} / {c:.3}"))
                .unwrap_or_default();
            println!(
                "{name:<22} {:>10} {unit:<9} {:>12.1} {lat:>28}",
                format!("{:.2}M", o.rate / 1e6),
                o.rss_mib
            );
        }
        Err(e) => println!("{name:<22} FAILED: {e}"),
    }
}

fn main() {
    if let (Ok(file), Ok(component)) = (
        std::env::var("SQUALL_BENCH_FILE"),
        std::env::var("SQUALL_BENCH_COMPONENT"),
    ) {
        if let Err(e) = child(Path::new(&file), &component) {
            eprintln!("bench child failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find own executable: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "{:<22} {:>10} {:<9} {:>12} {:>28}",
        "shape", "rate", "unit", "peak RSS MiB", "complete latency p50/p99/max ms"
    );
    let mut acking_rate = None;
    for (name, file, component, unit) in SHAPES {
        if !wanted(name) {
            continue;
        }
        let r = spawn(&exe, &topologies_dir().join(file), component);
        if *name == "const-id-null-acking"
            && let Ok(o) = &r
        {
            acking_rate = Some(o.rate);
        }
        print_row(name, unit, &r);
    }
    if !wanted("latency") {
        return;
    }
    let Some(max) = acking_rate else {
        println!("latency: run with const-id-null-acking to measure at half its rate");
        return;
    };
    let half = (max / 2.0) as u64;
    let result = std::fs::read_to_string(topologies_dir().join("bench-const-id-null-acking.yaml"))
        .map_err(|e| e.to_string())
        .and_then(|yaml| {
            let yaml = yaml.replace(
                "className: ConstSpout",
                &format!("className: ConstSpout\n    constructorArgs: [0, {half}]"),
            );
            let path =
                std::env::temp_dir().join(format!("squall-bench-half-{}.yaml", std::process::id()));
            std::fs::write(&path, yaml).map_err(|e| e.to_string())?;
            let r = spawn(&exe, &path, "sink");
            let _ = std::fs::remove_file(&path);
            r
        });
    print_row(
        &format!("latency @ {:.2}M/s", half as f64 / 1e6),
        "tuples/s",
        &result,
    );
}
