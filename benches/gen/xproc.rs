//! Issue 18's cross-process rows, on one cluster of real processes (nimbus and two
//! supervisors with two slots each, on loopback), each measurement on a topology of its
//! own submitted to it and killed after:
//!
//! * `const-null`: ConstSpout → NullBolt, one task each, acking off,
//!   `topology.workers: 2`: the spout and the sink land in different workers, so every
//!   tuple crosses a worker link. Twice: with storm-perf's payload ("some data") and
//!   with a 100-byte one.
//! * `wordcount-workers`: `topologies/wordcount.yaml` (acking on) with
//!   `topology.workers: 1` and `2` alternated on the same cluster; the ratio of the means.
//! * `xlatency`: const → id → null with acking (`bench-const-id-null-acking.yaml`) on 2
//!   workers, first at full speed, then with the spout limited to half that rate; the
//!   spout's complete latency (p50/p99/max of the sampled trees, nimbus's 10-minute
//!   window: the whole run, warm-up included, as the local `latency` row).
//!
//! `SQUALL_BENCH_WARMUP` (default 5) and `SQUALL_BENCH_SECS` (default 10) set each
//! measurement's warm-up and window, `SQUALL_BENCH_ROUNDS` (default 2) the rounds.
//! `SQUALL_BENCH_BASELINE=/path/to/squall` runs every measurement a second time, right
//! after, with that binary as the topology's artifact (its workers run it): a before /
//! after pair in one run, on the same daemons. For `xlatency`, `SQUALL_BENCH_RATE` sets
//! the limited run's rate (tuples/s) instead of half the maximum, and
//! `SQUALL_BENCH_PENDING` the topology's `topology.max.spout.pending` (2000 in the file).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cluster_common::*;

/// A number from an environment variable, if set.
fn env_opt(key: &str) -> Option<u64> {
    std::env::var(key).ok().and_then(|v| v.parse().ok())
}

/// A number from an environment variable, or `default`.
fn env_u64(key: &str, default: u64) -> u64 {
    env_opt(key).unwrap_or(default)
}

/// A nimbus and two supervisors (two slots each) on loopback.
pub struct Cluster {
    _dir: tempfile::TempDir,
    root: PathBuf,
    _daemons: Vec<Daemon>,
    url: String,
    submitted: usize,
}

/// What one measurement saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    /// The measured component's executed rate over the window, per second.
    pub rate: f64,
    /// The spouts' complete latency p50 / p99 / max in ms (acking on only).
    pub latency: Option<(f64, f64, f64)>,
    /// CPU time of the topology's worker processes (user + system, all threads) over
    /// the window per tuple of the measured component, in ns: what a tuple costs,
    /// whatever share of the cores the workers got on a busy machine.
    pub cpu_ns: f64,
}

/// CPU time (user + system, every thread) process `pid` has used, in ns
/// (`/proc/PID/stat`, clock ticks of 10 ms).
fn process_cpu_ns(pid: i32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which may hold spaces): state is field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15: 11 and 12 after the state.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks * 10_000_000
}

impl Cluster {
    /// Start the daemons and wait for both supervisors.
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let ports = free_ports(5);
        let (nimbus, url) = start_nimbus(&root.join("nimbus"), ports[0], &[]);
        let sup1 = start_supervisor(&url, &root.join("sup1"), &ports[1..3]);
        let sup2 = start_supervisor(&url, &root.join("sup2"), &ports[3..5]);
        wait_supervisors(&url, 2);
        Cluster {
            _dir: dir,
            root,
            _daemons: vec![nimbus, sup1, sup2],
            url,
            submitted: 0,
        }
    }

    /// Submit `yaml` (its `name:` replaced by a fresh one) with `artifact` (None: the
    /// stock binary), wait for `workers` running workers, measure `component` after the
    /// warm-up, print where the components run, kill the topology and wait for it to go.
    pub fn measure(
        &mut self,
        yaml: &str,
        workers: usize,
        component: &str,
        artifact: Option<&Path>,
    ) -> Measured {
        self.submitted += 1;
        let name = format!("xproc{}", self.submitted);
        let yaml = with_name(yaml, &name);
        let file = self.root.join(format!("{name}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        let mut args = vec!["submit".to_string(), file.display().to_string()];
        if let Some(a) = artifact {
            args.extend(["--artifact".to_string(), a.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = cli(&self.url, &args);
        assert_eq!(code, 0, "{out}{err}");
        let url = self.url.clone();
        wait_for(Duration::from_secs(120), "running workers", || {
            (worker_pids(&status(&url, &name)?).len() == workers).then_some(())
        });
        let warmup = env_u64("SQUALL_BENCH_WARMUP", 5);
        let secs = env_u64("SQUALL_BENCH_SECS", 10);
        std::thread::sleep(Duration::from_secs(warmup));
        let executed = || {
            let st = status(&url, &name)?;
            let cpu: u64 = worker_pids(&st).into_iter().map(process_cpu_ns).sum();
            Some((
                Instant::now(),
                st["components"][component]["executed"].as_f64()?,
                cpu,
            ))
        };
        let (t0, c0, cpu0) = wait_for(Duration::from_secs(10), "stats", executed);
        std::thread::sleep(Duration::from_secs(secs));
        let (t1, c1, cpu1) = wait_for(Duration::from_secs(10), "stats", executed);
        let rate = (c1 - c0) / t1.duration_since(t0).as_secs_f64();
        let cpu_ns = cpu1.saturating_sub(cpu0) as f64 / (c1 - c0).max(1.0);
        let metrics: serde_json::Value = serde_json::from_str(&http_get(
            &url,
            &format!("/api/v1/topologies/{name}/metrics?window=600"),
        ))
        .unwrap_or_default();
        let l = &metrics["topology"]["complete_latency"];
        let latency = (l["samples"].as_u64().unwrap_or(0) > 0).then(|| {
            let f = |k: &str| l[k].as_f64().unwrap_or(f64::NAN);
            (f("p50_ms"), f("p99_ms"), f("max_ms"))
        });
        if self.submitted <= 3 {
            println!("  placement ({name}): {}", placement(&status(&url, &name)));
        }
        let (code, out, err) = cli(&url, &["kill", &name, "--wait", "0"]);
        assert_eq!(code, 0, "{out}{err}");
        wait_for(Duration::from_secs(60), "the killed topology to go", || {
            status(&url, &name).is_none().then_some(())
        });
        Measured {
            rate,
            latency,
            cpu_ns,
        }
    }
}

/// `yaml` with its top-level `name:` line set to `name`.
fn with_name(yaml: &str, name: &str) -> String {
    yaml.lines()
        .map(|l| {
            if l.starts_with("name:") {
                format!("name: {name}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// `yaml` with `key: value` in its `config:` section (replaced if there, added if not).
pub fn set_config(yaml: &str, key: &str, value: &str) -> String {
    let line = format!("  {key}: {value}");
    let prefix = format!("{key}:");
    let present = yaml.lines().any(|l| l.trim_start().starts_with(&prefix));
    let mut out: Vec<String> = Vec::new();
    for l in yaml.lines() {
        if present && l.trim_start().starts_with(&prefix) {
            out.push(line.clone());
            continue;
        }
        out.push(l.to_string());
        if !present && l == "config:" {
            out.push(line.clone());
        }
    }
    assert!(out.contains(&line), "no config section for {key}");
    out.join("\n") + "\n"
}

/// Which components each worker runs, from a status.
fn placement(st: &Option<serde_json::Value>) -> String {
    let Some(st) = st else {
        return "?".into();
    };
    let component_of = |task: u64| -> String {
        st["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["task"].as_u64() == Some(task))
            .and_then(|t| t["component"].as_str())
            .unwrap_or("?")
            .to_string()
    };
    st["assignment"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            let comps: Vec<String> = w["executors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e[0].as_u64())
                .map(component_of)
                .collect();
            format!("[{}]", comps.join(" "))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn topology_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("topologies")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// const → null across 2 workers, acking off, the spout's default 100-byte payload (see
/// [`const_null_payloads`] for the payloads measured).
pub const CONST_NULL: &str = "name: const-null-2w
config:
  topology.workers: 2
  topology.acker.executors: 0
spouts:
  - id: spout
    className: ConstSpout
bolts:
  - id: sink
    className: NullBolt
streams:
  - from: spout
    to: sink
    grouping: {type: SHUFFLE}
";

/// The const → null shapes measured: storm-perf's payload (its `ConstSpoutNullBoltTopo`
/// emits the 9-byte string "some data", stored inline in a tuple) and the default
/// 100-byte one (a heap string the receiving worker allocates).
fn const_null_payloads() -> [(&'static str, String); 2] {
    let storm = CONST_NULL.replace(
        "className: ConstSpout",
        "className: ConstSpout\n    constructorArgs: [0, 0, \"some data\"]",
    );
    [
        ("'some data'", storm),
        ("100-byte payload", CONST_NULL.to_string()),
    ]
}

/// The binaries each measurement runs with: the stock one, then the baseline if set.
fn variants() -> Vec<(&'static str, Option<PathBuf>)> {
    let mut v = vec![("after", None)];
    if let Some(b) = std::env::var_os("SQUALL_BENCH_BASELINE") {
        v.push(("before", Some(PathBuf::from(b))));
    }
    v
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Run the modes in `modes` (`const-null`, `wordcount-workers`, `xlatency`).
pub fn run(modes: &[&str]) {
    let rounds = env_u64("SQUALL_BENCH_ROUNDS", 2) as usize;
    let mut cluster = Cluster::start();
    let variants = variants();
    if modes.contains(&"const-null") {
        for (payload, yaml) in const_null_payloads() {
            let mut rates: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
            for round in 0..rounds {
                for (i, (label, artifact)) in variants.iter().enumerate() {
                    let m = cluster.measure(&yaml, 2, "sink", artifact.as_deref());
                    rates[i].push(m.rate);
                    println!(
                        "const -> null ({payload}), 2 workers, acking off, round {round} ({label}): \
                         {:.2}M tuples/s, workers' CPU {:.0} ns/tuple",
                        m.rate / 1e6,
                        m.cpu_ns
                    );
                }
            }
            for (i, (label, _)) in variants.iter().enumerate() {
                println!(
                    "const -> null ({payload}), 2 workers ({label}): median {:.2}M tuples/s",
                    median(&mut rates[i]) / 1e6
                );
            }
        }
    }
    if modes.contains(&"wordcount-workers") {
        let yaml = topology_file("wordcount.yaml");
        let one = set_config(&yaml, "topology.workers", "1");
        let two = set_config(&yaml, "topology.workers", "2");
        for (label, artifact) in &variants {
            let (mut r1, mut r2) = (Vec::new(), Vec::new());
            let (mut c1, mut c2) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                let a = cluster.measure(&one, 1, "count", artifact.as_deref());
                let b = cluster.measure(&two, 2, "count", artifact.as_deref());
                println!(
                    "wordcount.yaml, acking, round {round} ({label}): 1 worker {:.2}M, 2 workers {:.2}M words/s ({:.2}); \
                     workers' CPU {:.0} / {:.0} ns/word ({:.2})",
                    a.rate / 1e6,
                    b.rate / 1e6,
                    b.rate / a.rate,
                    a.cpu_ns,
                    b.cpu_ns,
                    a.cpu_ns / b.cpu_ns
                );
                r1.push(a.rate);
                r2.push(b.rate);
                c1.push(a.cpu_ns);
                c2.push(b.cpu_ns);
            }
            println!(
                "wordcount.yaml, acking ({label}): CPU per word, 1 worker / 2 workers = {:.2} \
                 (medians {:.0} / {:.0} ns/word: the rate ratio on 2 saturated cores)",
                median(&mut c1) / median(&mut c2),
                median(&mut c1),
                median(&mut c2)
            );
            let (m1, m2) = (
                r1.iter().sum::<f64>() / rounds as f64,
                r2.iter().sum::<f64>() / rounds as f64,
            );
            println!(
                "wordcount.yaml, acking ({label}): 2 workers / 1 worker = {:.2} (means {:.2}M / {:.2}M words/s)",
                m2 / m1,
                m2 / 1e6,
                m1 / 1e6
            );
        }
    }
    if modes.contains(&"xlatency") {
        let mut yaml = set_config(
            &topology_file("bench-const-id-null-acking.yaml"),
            "topology.workers",
            "2",
        );
        if let Some(p) = env_opt("SQUALL_BENCH_PENDING") {
            yaml = set_config(&yaml, "topology.max.spout.pending", &p.to_string());
        }
        for (label, artifact) in &variants {
            for round in 0..rounds {
                let max = cluster.measure(&yaml, 2, "sink", artifact.as_deref());
                let half = env_opt("SQUALL_BENCH_RATE").unwrap_or((max.rate / 2.0) as u64);
                let limited = yaml.replace(
                    "className: ConstSpout",
                    &format!("className: ConstSpout\n    constructorArgs: [0, {half}]"),
                );
                let m = cluster.measure(&limited, 2, "sink", artifact.as_deref());
                let fmt = |l: Option<(f64, f64, f64)>| {
                    l.map(|(a, b, c)| format!("p50 {a:.3} / p99 {b:.3} / max {c:.3} ms"))
                        .unwrap_or_else(|| "no samples".into())
                };
                println!(
                    "const -> id -> null, acking, 2 workers, round {round} ({label}): max {:.2}M tuples/s ({}); at {:.2}M/s: {:.2}M tuples/s, complete latency {}, workers' CPU {:.0} ns/tuple",
                    max.rate / 1e6,
                    fmt(max.latency),
                    half as f64 / 1e6,
                    m.rate / 1e6,
                    fmt(m.latency),
                    m.cpu_ns
                );
            }
        }
    }
}
