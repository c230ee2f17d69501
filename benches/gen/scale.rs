//! Generated shapes for how cost grows with topology size (issue 18): a wide topology of
//! 200 components and 1,000 tasks, idle (start-up time, resident memory, idle CPU and
//! wake-ups) and busy (peak memory), and const → null with 2 to 128 executors
//! (throughput against the number of executors on this machine's cores).
//!
//! The YAML is generated here, written to a temp file and run by a child process of the
//! bench binary like the other shapes.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use squall_runtime::local::{LocalOptions, run_local};
use squall_runtime::{ComponentError, OutputDeclarer, Registry, Spout, SpoutCollector, cli};

/// Pipelines in the wide topology: each a spout and `STAGES - 1` bolts.
pub const PIPELINES: usize = 20;
/// Components per pipeline.
pub const STAGES: usize = 10;
/// Tasks (and executors) per component.
pub const PARALLELISM: usize = 5;
/// Executor counts of the `executors-N` rows.
pub const EXECUTORS: &[usize] = &[2, 8, 32, 128];

/// A spout with nothing to emit: a source with no data (a quiet Kafka topic).
#[derive(Debug, Default)]
pub struct IdleSpout;

impl Spout for IdleSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["payload"]);
    }

    fn next_tuple(&mut self, _out: &mut SpoutCollector) -> Result<(), ComponentError> {
        Ok(())
    }
}

/// Register the components only these shapes use.
pub fn register(registry: &mut Registry) {
    registry.spout("IdleSpout", |_| Ok(IdleSpout));
}

/// The wide topology: `PIPELINES` chains spout → id → … → null of `STAGES` components
/// with `PARALLELISM` tasks each, shuffle-grouped, acking on (one acker). `spout` names
/// the spouts' class (`IdleSpout` or `ConstSpout`).
pub fn wide_yaml(spout: &str) -> String {
    let mut y = String::from(
        "name: scale-wide\nconfig:\n  topology.acker.executors: 1\n  topology.max.spout.pending: 1000\n",
    );
    let mut spouts = String::from("spouts:\n");
    let mut bolts = String::from("bolts:\n");
    let mut streams = String::from("streams:\n");
    for p in 0..PIPELINES {
        let _ = writeln!(
            spouts,
            "  - id: p{p}s0\n    className: {spout}\n    parallelism: {PARALLELISM}"
        );
        for s in 1..STAGES {
            let class = if s + 1 == STAGES {
                "NullBolt"
            } else {
                "IdBolt"
            };
            let _ = writeln!(
                bolts,
                "  - id: p{p}s{s}\n    className: {class}\n    parallelism: {PARALLELISM}"
            );
            let _ = writeln!(
                streams,
                "  - from: p{p}s{}\n    to: p{p}s{s}\n    grouping: {{type: SHUFFLE}}",
                s - 1
            );
        }
    }
    y.push_str(&spouts);
    y.push_str(&bolts);
    y.push_str(&streams);
    y
}

/// const → null, shuffle, acking off, `executors / 2` tasks of each.
pub fn executors_yaml(executors: usize) -> String {
    let p = (executors / 2).max(1);
    format!(
        "name: executors-{executors}\nconfig:\n  topology.acker.executors: 0\n\
         spouts:\n  - id: spout\n    className: ConstSpout\n    parallelism: {p}\n\
         bolts:\n  - id: sink\n    className: NullBolt\n    parallelism: {p}\n\
         streams:\n  - from: spout\n    to: sink\n    grouping: {{type: SHUFFLE}}\n"
    )
}

/// CPU time (user + system) and context switches (voluntary, involuntary) of this
/// process so far.
fn usage() -> Result<(Duration, i64, i64), String> {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF).map_err(|e| e.to_string())?;
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    Ok((
        tv(u.user_time()) + tv(u.system_time()),
        u.voluntary_context_switches(),
        u.involuntary_context_switches(),
    ))
}

/// A `kB` field of `/proc/self/status` (or a count, for `Threads`).
fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Run the idle wide topology in this process and print `start_s rss_kib cpu_pct
/// wakeups_per_s threads hwm_kib`: the time from the call to every executor running,
/// the resident set and CPU (% of one core) and context switches per second over the
/// measured window (after the warm-up), the threads, and the peak resident set.
pub fn child_idle(file: &Path) -> Result<(), String> {
    let mut registry = Registry::new();
    squall_topologies::register(&mut registry);
    register(&mut registry);
    let (topo, registry) = cli::load(file, &registry).map_err(|e| e.to_string())?;
    let warmup = super::env_secs("SQUALL_BENCH_WARMUP", 3);
    let secs = super::env_secs("SQUALL_BENCH_SECS", 10);
    let called = Instant::now();
    let mut started: Option<Duration> = None;
    let mut first: Option<(Instant, Duration, i64, i64)> = None;
    let mut last: Option<(Instant, Duration, i64, i64)> = None;
    let mut rss = 0;
    let mut threads = 0;
    let mut failure = None;
    run_local(
        &registry,
        &topo,
        LocalOptions {
            duration: Some(Duration::from_secs(warmup + secs) + Duration::from_millis(200)),
            capture: false,
            progress: Some(Box::new(|_, t| {
                let now = Instant::now();
                started.get_or_insert_with(|| (now - t).duration_since(called));
                if t.as_secs_f64() < warmup as f64 - 0.01 {
                    return;
                }
                match usage() {
                    Ok((cpu, vol, invol)) => {
                        let sample = (now, cpu, vol, invol);
                        if first.is_none() {
                            first = Some(sample);
                        }
                        last = Some(sample);
                    }
                    Err(e) => failure = Some(e),
                }
                rss = status_field("VmRSS").unwrap_or(0);
                threads = status_field("Threads").unwrap_or(0);
            })),
            stop_on_interrupt: false,
        },
    )
    .map_err(|e| e.to_string())?;
    if let Some(e) = failure {
        return Err(e);
    }
    let (Some(a), Some(b)) = (first, last) else {
        return Err("no samples after the warm-up".into());
    };
    let window = b.0.duration_since(a.0).as_secs_f64().max(1e-9);
    let cpu_pct = 100.0 * (b.1 - a.1).as_secs_f64() / window;
    let wakeups = ((b.2 - a.2) + (b.3 - a.3)) as f64 / window;
    println!(
        "{:.3} {rss} {cpu_pct:.2} {wakeups:.0} {threads} {}",
        started.unwrap_or_default().as_secs_f64(),
        status_field("VmHWM").unwrap_or(0)
    );
    Ok(())
}

/// Write `yaml` to a temp file named `name.yaml`; returns the dir (delete it after).
pub fn write_temp(
    name: &str,
    yaml: &str,
) -> Result<(tempfile::TempDir, std::path::PathBuf), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("no temp dir: {e}"))?;
    let path = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((dir, path))
}
