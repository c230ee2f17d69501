//! storm-perf shapes in local mode: throughput, peak RSS, and complete latency.
//!
//! `cargo bench --bench topology [-- FILTER...]`. Each shape runs in a child process of
//! this binary (so its peak RSS is its own) for `SQUALL_BENCH_SECS` (default 10) after a
//! `SQUALL_BENCH_WARMUP` (default 3) second warm-up; the rate is the measured
//! component's count over the measured window only. Shapes with acking also report the
//! spout's complete latency. The `latency` row reruns const → id → null with acking at
//! half the rate measured for it, with a rate-limited spout.
//!
//! The stateful shapes take `SQUALL_BENCH_CHECKPOINT_MS` and `SQUALL_BENCH_PENDING`
//! (overriding their `topology.state.checkpoint.interval.ms` and
//! `topology.max.spout.pending`). `wordcount-stateful-redis` starts its own
//! `redis-server` (on a free loopback port, with a random password, no persistence;
//! `SQUALL_REDIS_SERVER` names another binary), reports what the server did (commands,
//! CPU, checkpoints committed) and stops it; without a server binary it fails. A shape
//! that fails makes the bench exit with status 1, after the other shapes.
//!
//! Generated shapes (see `gen/scale.rs`): `scale-idle` starts a topology of 200
//! components and 1,000 tasks whose spouts have nothing to emit and reports its start-up
//! time, resident memory, idle CPU and wake-ups; `scale-busy` runs the same shape with
//! unlimited spouts (peak memory under load); `executors-N` runs const → null with N
//! executors (N = 2, 8, 32, 128) and prints each rate as a fraction of the best.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[path = "../runtime/tests/state_common/redis_server.rs"]
mod redis_server;
#[path = "gen/scale.rs"]
mod scale;

use squall_runtime::local::{LocalOptions, run_local};
use squall_runtime::state::checkpoint::CHECKPOINT_COMPONENT;
use squall_runtime::stats::ComponentReports;
use squall_runtime::{Registry, cli};

use redis_server::RedisServer;

/// The `squall` binary's allocator, so that local mode here is local mode there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    (
        "wordcount-stateful-redis",
        "bench-wordcount-stateful-redis.yaml",
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
    (
        "window-persistent",
        "bench-window-persistent.yaml",
        "window",
        "tuples/s",
    ),
];

/// Where `window-persistent` pages its window (emptied before it runs: a window left by
/// an earlier run would be restored).
const PWINDOW_DIR: &str = "/tmp/squall-bench-pwindow";

/// Environment variables overriding a config key of the stateful shapes.
const STATEFUL_OVERRIDES: &[(&str, &str)] = &[
    (
        "SQUALL_BENCH_CHECKPOINT_MS",
        "topology.state.checkpoint.interval.ms",
    ),
    ("SQUALL_BENCH_PENDING", "topology.max.spout.pending"),
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
    // The topology's own spout: not the checkpoint spout of a stateful shape, whose
    // latency is that of its checkpoint tuples.
    if let Some(l) = report
        .components
        .iter()
        .filter(|(id, _)| id.as_str() != CHECKPOINT_COMPONENT)
        .find_map(|(_, c)| c.complete_latency_ms)
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
    /// Lines printed under the row (what the Redis server did).
    notes: Vec<String>,
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
        notes: Vec::new(),
    })
}

/// `yaml` with the value of `key` in its `config:` section (a line `  key: value`)
/// replaced by `value`.
fn set_config(yaml: &str, key: &str, value: &str) -> Result<String, String> {
    let prefix = format!("  {key}:");
    let mut found = false;
    let mut out = String::with_capacity(yaml.len());
    for line in yaml.lines() {
        if line.starts_with(&prefix) {
            found = true;
            out.push_str(&format!("{prefix} {value}"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    found
        .then_some(out)
        .ok_or_else(|| format!("no `{key}` line to override"))
}

/// Run a stateful shape: its file with the overrides of the environment, against a
/// Redis server of its own for the Redis shape.
fn spawn_stateful(exe: &Path, name: &str, file: &Path, component: &str) -> Result<Outcome, String> {
    let mut yaml = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    for (var, key) in STATEFUL_OVERRIDES {
        if let Ok(v) = std::env::var(var) {
            let n: u64 = v
                .parse()
                .map_err(|_| format!("{var}={v}: expected a whole number"))?;
            yaml = set_config(&yaml, key, &n.to_string())?;
        }
    }
    let server = if name.ends_with("-redis") {
        Some(RedisServer::try_start()?)
    } else {
        None
    };
    // The copy names the server's password: it lives in the server's own temp dir.
    let tmp;
    let dir = match &server {
        Some(s) => s.dir(),
        None => {
            tmp = tempfile::tempdir().map_err(|e| format!("no temp dir: {e}"))?;
            tmp.path()
        }
    };
    if let Some(s) = &server {
        let config = serde_json::json!({"jedisPoolConfig": {
            "host": "127.0.0.1", "port": s.port, "password": s.password}});
        yaml = set_config(
            &yaml,
            "topology.state.provider.config",
            &format!("'{config}'"),
        )?;
    }
    let copy = dir.join(file.file_name().unwrap_or_default());
    std::fs::write(&copy, yaml).map_err(|e| format!("cannot write {}: {e}", copy.display()))?;
    let mut outcome = spawn(exe, &copy, component)?;
    if let Some(s) = &server {
        outcome.notes = redis_notes(s).unwrap_or_else(|e| vec![format!("redis: {e}")]);
    }
    Ok(outcome)
}

/// What the Redis server did over a run: its commands (top-level ones and those its
/// scripts and transactions ran), its CPU time and the last txid each task committed.
fn redis_notes(server: &RedisServer) -> redis::RedisResult<Vec<String>> {
    let mut conn = server.connect()?;
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut conn)?;
    let cpu: String = redis::cmd("INFO").arg("cpu").query(&mut conn)?;
    let mut commands = Vec::new();
    for line in stats.lines() {
        let Some((cmd, rest)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let field = |f: &str| {
            rest.split(',')
                .find_map(|kv| kv.strip_prefix(f)?.strip_prefix('='))
                .unwrap_or("?")
                .to_string()
        };
        commands.push(format!(
            "{cmd} {} ({} µs each)",
            field("calls"),
            field("usec_per_call")
        ));
    }
    let cpu_secs = |f: &str| {
        cpu.lines()
            .find_map(|l| {
                l.strip_prefix(f)?
                    .strip_prefix(':')?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or(0.0)
    };
    let keys: Vec<String> = redis::cmd("KEYS").arg("*$txid").query(&mut conn)?;
    let mut txids = Vec::new();
    for key in keys {
        let commit: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg("commit")
            .query(&mut conn)?;
        txids.push(format!(
            "{} {}",
            key.trim_end_matches("$txid"),
            commit.as_deref().unwrap_or("none")
        ));
    }
    txids.sort();
    Ok(vec![
        format!("  redis commands: {}", commands.join(", ")),
        format!(
            "  redis CPU: {:.2} s user, {:.2} s sys; last committed txid: {}",
            cpu_secs("used_cpu_user"),
            cpu_secs("used_cpu_sys"),
            txids.join(", ")
        ),
    ])
}

fn print_row(name: &str, unit: &str, r: &Result<Outcome, String>) {
    match r {
        Ok(o) => {
            let lat = o
                .latency
                .map(|(a, b, c)| format!("{a:.3} / {b:.3} / {c:.3}"))
                .unwrap_or_default();
            println!(
                "{name:<24} {:>10} {unit:<9} {:>12.1} {lat:>28}",
                format!("{:.2}M", o.rate / 1e6),
                o.rss_mib
            );
            for note in &o.notes {
                println!("{note}");
            }
        }
        Err(e) => println!("{name:<24} FAILED: {e}"),
    }
}

fn main() {
    if let (Ok(file), Ok("idle")) = (
        std::env::var("SQUALL_BENCH_FILE"),
        std::env::var("SQUALL_BENCH_MODE").as_deref(),
    ) {
        if let Err(e) = scale::child_idle(Path::new(&file)) {
            eprintln!("bench child failed: {e}");
            std::process::exit(1);
        }
        return;
    }
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
        "{:<24} {:>10} {:<9} {:>12} {:>28}",
        "shape", "rate", "unit", "peak RSS MiB", "complete latency p50/p99/max ms"
    );
    let mut acking_rate = None;
    let mut failed = false;
    for (name, file, component, unit) in SHAPES {
        if !wanted(name) {
            continue;
        }
        let file = topologies_dir().join(file);
        if *name == "window-persistent" {
            let _ = std::fs::remove_dir_all(PWINDOW_DIR);
        }
        let r = if name.contains("stateful") {
            spawn_stateful(&exe, name, &file, component)
        } else {
            spawn(&exe, &file, component)
        };
        if *name == "const-id-null-acking"
            && let Ok(o) = &r
        {
            acking_rate = Some(o.rate);
        }
        failed |= r.is_err();
        print_row(name, unit, &r);
    }
    if wanted("latency") {
        failed |= latency_row(&exe, acking_rate).is_some_and(|r| r.is_err());
    }
    failed |= scale_rows(&exe, &wanted);
    if failed {
        std::process::exit(1);
    }
}

/// The `latency` row: const → id → null with acking at half the rate measured for it
/// (`None`: not measured, that shape did not run).
fn latency_row(exe: &Path, acking_rate: Option<f64>) -> Option<Result<Outcome, String>> {
    let Some(max) = acking_rate else {
        println!("latency: run with const-id-null-acking to measure at half its rate");
        return None;
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
            let r = spawn(exe, &path, "sink");
            let _ = std::fs::remove_file(&path);
            r
        });
    print_row(
        &format!("latency @ {:.2}M/s", half as f64 / 1e6),
        "tuples/s",
        &result,
    );
    Some(result)
}

/// The generated shapes of `gen/scale.rs` that `wanted` selects; returns whether one
/// failed.
fn scale_rows(exe: &Path, wanted: &dyn Fn(&str) -> bool) -> bool {
    let mut failed = false;
    if wanted("scale-idle") {
        let r = scale::write_temp("scale-idle", &scale::wide_yaml("IdleSpout")).and_then(
            |(_dir, file)| {
                let o = Command::new(exe)
                    .env("SQUALL_BENCH_FILE", &file)
                    .env("SQUALL_BENCH_MODE", "idle")
                    .output()
                    .map_err(|e| format!("cannot start: {e}"))?;
                if !o.status.success() {
                    return Err(String::from_utf8_lossy(&o.stderr).trim().to_string());
                }
                Ok(String::from_utf8_lossy(&o.stdout).to_string())
            },
        );
        let tasks = scale::PIPELINES * scale::STAGES * scale::PARALLELISM;
        let components = scale::PIPELINES * scale::STAGES;
        match r {
            Ok(text) => {
                let n: Vec<f64> = text
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                let at = |i: usize| n.get(i).copied().unwrap_or(f64::NAN);
                println!(
                    "scale-idle ({components} components, {tasks} tasks, idle spouts): \
                     start {:.2} s, RSS {:.1} MiB (peak {:.1}), idle CPU {:.2}% of a core, \
                     {:.0} context switches/s, {} threads",
                    at(0),
                    at(1) / 1024.0,
                    at(5) / 1024.0,
                    at(2),
                    at(3),
                    at(4)
                );
            }
            Err(e) => {
                failed = true;
                println!("scale-idle FAILED: {e}");
            }
        }
    }
    if wanted("scale-busy") {
        let r = scale::write_temp("scale-busy", &scale::wide_yaml("ConstSpout"))
            .and_then(|(_dir, file)| spawn(exe, &file, "p0s9"));
        failed |= r.is_err();
        print_row("scale-busy (1 of 20)", "tuples/s", &r);
    }
    let mut rates = Vec::new();
    for &n in scale::EXECUTORS {
        let name = format!("executors-{n}");
        if !wanted(&name) {
            continue;
        }
        let r = scale::write_temp(&name, &scale::executors_yaml(n))
            .and_then(|(_dir, file)| spawn(exe, &file, "sink"));
        failed |= r.is_err();
        print_row(&name, "tuples/s", &r);
        if let Ok(o) = r {
            rates.push((n, o.rate));
        }
    }
    let best = rates.iter().map(|(_, r)| *r).fold(0.0, f64::max);
    if rates.len() > 1 && best > 0.0 {
        let ratios: Vec<String> = rates
            .iter()
            .map(|(n, r)| format!("{n}: {:.2}", r / best))
            .collect();
        println!("executors, rate / best: {}", ratios.join(", "));
    }
    failed
}
