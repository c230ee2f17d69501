//! `topology.worker.max.memory.mb` on a real cluster (`squall nimbus`, `squall
//! supervisor` and worker processes on loopback): a worker whose bolt, or whose
//! multi-lang subprocess, grows past its topology's limit is killed by its supervisor
//! and restarted, with the cause in `squall status`; a worker under its limit is left
//! alone; a worker adopted after a supervisor restart is held to its limit too.
//!
//! On a machine without a delegated cgroup v2 memory controller (this one, CI) the
//! supervisor polls the workers' resident memory; where cgroups are delegated the kernel
//! enforces the limit and the cause reads "out of memory at the limit of ...".
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cluster_common::*;

/// Bound of each wait (a submission is validated by running the artifact, and a killed
/// worker restarts after its backoff: slow on a loaded machine).
const WAIT: Duration = Duration::from_secs(60);
/// The key, as it must show in the cause.
const KEY: &str = "topology.worker.max.memory.mb";

/// These tests run one at a time: each starts several processes on a small machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The fixture scripts (shipped to the workers as the topology's resources).
fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/multilang")
}

fn require_python() {
    if std::process::Command::new("python3")
        .arg("--version")
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        panic!("python3 is needed for the multi-lang fixture (.ci/run installs it)");
    }
}

/// Nimbus and one supervisor with `slots` slots (all workers on one supervisor, so one
/// memory poll measures them all).
struct Cluster {
    root: PathBuf,
    url: String,
    ports: Vec<u16>,
    sup_dir: PathBuf,
    sup_config: String,
    sup: Daemon,
    _nimbus: Daemon,
    _reaper: Reaper,
    _dir: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

fn cluster(slots: usize) -> Cluster {
    let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let ports = free_ports(slots + 1);
    let (nimbus, url) = start_nimbus(&root.join("nimbus"), ports[0], &[]);
    let sup_dir = root.join("sup");
    // Its multi-lang hog runs python3: see `python_workers_config`.
    let sup_config = format!(
        "supervisor.worker.orphan.grace.secs: 60\n{}",
        python_workers_config()
    );
    let sup = start_supervisor_with(&url, &sup_dir, &ports[1..], &sup_config);
    wait_supervisors(&url, 1);
    Cluster {
        _reaper: Reaper(root.clone()),
        _dir: dir,
        _serial: serial,
        _nimbus: nimbus,
        root,
        url,
        ports: ports[1..].to_vec(),
        sup_dir,
        sup_config,
        sup,
    }
}

/// The bolt of a test topology.
enum Hog {
    /// `MemoryHogBolt` in the worker, allocating this many MiB on its first tuple.
    InWorker(u64),
    /// `memory_hog.py` as a multi-lang subprocess, allocating this many MiB once the
    /// trigger file exists (at once if none).
    Subprocess(u64, Option<PathBuf>),
}

/// Submit topology `name`: lines of `input` through the hog into a sink file
/// `ROOT/NAME.sink`, with the worker memory limit `limit_mb`; returns the sink path.
fn submit(c: &Cluster, name: &str, input: &Path, limit_mb: u64, hog: Hog) -> PathBuf {
    let sink = c.root.join(format!("{name}.sink"));
    let (bolt, extra) = match hog {
        Hog::InWorker(mb) => (
            format!("className: MemoryHogBolt\n    constructorArgs: [{mb}, [\"line\"]]"),
            String::new(),
        ),
        Hog::Subprocess(mb, trigger) => (
            "className: ShellBolt\n    constructorArgs: [[\"python3\", \"memory_hog.py\"], [\"line\"]]"
                .to_string(),
            format!(
                "  test.hog.mb: {mb}\n  test.hog.trigger: \"{}\"\n",
                trigger.map(|t| t.display().to_string()).unwrap_or_default()
            ),
        ),
    };
    let yaml = format!(
        r#"name: {name}
config:
  topology.workers: 1
  topology.worker.max.memory.mb: {limit_mb}
{extra}spouts:
  - id: lines
    className: LineFileSpout
    constructorArgs: ["{input}"]
bolts:
  - id: hog
    {bolt}
  - id: sink
    className: FileSinkBolt
    constructorArgs: ["{sink}"]
streams:
  - from: lines
    to: hog
    grouping: {{type: SHUFFLE}}
  - from: hog
    to: sink
    grouping: {{type: SHUFFLE}}
"#,
        input = input.display(),
        sink = sink.display()
    );
    let file = c.root.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let (code, out, err) = cli(
        &c.url,
        &[
            "submit",
            file.to_str().unwrap(),
            "--resources",
            scripts().to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "submit {name} failed: {out}{err}");
    sink
}

/// The only worker of topology `name` in its status.
fn worker(url: &str, name: &str) -> Option<serde_json::Value> {
    let st = status(url, name)?;
    let workers = st["workers"].as_array()?;
    (workers.len() == 1).then(|| workers[0].clone())
}

/// Wait until topology `name`'s worker was killed over its limit of `limit_mb`;
/// returns the MiB it had when the poll killed it (`None`: its cgroup's OOM killer did,
/// on a machine that delegates the memory controller).
fn wait_killed_over(url: &str, name: &str, limit_mb: u64) -> Option<u64> {
    let tail = format!(" MiB over the limit of {limit_mb} MiB ({KEY})");
    let oom =
        format!("killed: out of memory at the limit of {limit_mb} MiB ({KEY}; cgroup OOM kill)");
    let w = wait_for(
        WAIT,
        &format!("{name}'s worker killed over its limit"),
        || {
            let w = worker(url, name)?;
            let exit = w["last_exit"].as_str()?;
            (exit.starts_with("killed: memory ") && exit.ends_with(&tail) || exit == oom)
                .then_some(w)
        },
    );
    assert!(w["restarts"].as_u64().unwrap() >= 1, "restarted: {w}");
    let exit = w["last_exit"].as_str().unwrap();
    if exit == oom {
        return None;
    }
    let mib = exit["killed: memory ".len()..exit.len() - tail.len()]
        .parse()
        .unwrap_or_else(|_| panic!("no size in {exit:?}"));
    assert!(mib > limit_mb, "{exit}");
    Some(mib)
}

/// The resident memory of process `pid` and its descendants, in MiB (as the test sees
/// it, for a sanity check of what the supervisor measures).
fn tree_rss_mib(pid: i32) -> u64 {
    let mut total_kib = 0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        total_kib += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        let children =
            std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        stack.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok()),
        );
    }
    total_kib / 1024
}

#[test]
fn workers_over_their_memory_limit_are_killed_with_the_cause_in_status_and_one_under_is_left_alone()
{
    require_python();
    let c = cluster(3);
    let (input, _) = word_file(&c.root, 50);

    // Under its limit: 64 MiB allocated in the worker, limit 256 MiB.
    let calm_sink = submit(&c, "calm", &input, 256, Hog::InWorker(64));
    wait_for(WAIT, "every line through calm's hog", || {
        (sink_word_totals(&calm_sink).values().sum::<u64>() >= 50).then_some(())
    });
    let calm = worker(&c.url, "calm").unwrap();
    let calm_pid = calm["pid"].as_i64().unwrap() as i32;
    let calm_rss = tree_rss_mib(calm_pid);
    // A worker holding 64 MiB stays under 128 MiB: so a worker of its own (without the
    // 64 MiB) is far under 128 MiB, and one killed over 128 MiB was killed for its
    // subprocess's memory.
    assert!(
        (64..128).contains(&calm_rss),
        "calm's worker holds its 64 MiB and is under 128 MiB: {calm_rss} MiB"
    );

    // Over: 256 MiB in the worker's own bolt, and 256 MiB in a multi-lang subprocess of
    // a worker that is itself far under the limit of 128 MiB.
    submit(&c, "fat", &input, 128, Hog::InWorker(256));
    submit(&c, "pyhog", &input, 128, Hog::Subprocess(256, None));
    wait_killed_over(&c.url, "fat", 128);
    // Killed while its subprocess's memory grew past the limit: that memory counts.
    wait_killed_over(&c.url, "pyhog", 128);

    // The cause is in the human status and the supervisor's log.
    let (code, out, err) = cli(&c.url, &["status", "pyhog"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("limit of 128 MiB ({KEY}")), "{out}");
    let log = std::fs::read_to_string(c.sup_dir.join("supervisor.log")).unwrap();
    assert!(log.contains(&format!("limit of 128 MiB ({KEY}")), "{log}");

    // The polls that killed them measured calm too, holding its 64 MiB: left alone.
    let calm = worker(&c.url, "calm").unwrap();
    assert_eq!(calm["pid"].as_i64(), Some(i64::from(calm_pid)), "{calm}");
    assert_eq!(calm["state"], "running", "{calm}");
    assert_eq!(calm["restarts"], 0, "{calm}");
    assert!(calm["last_exit"].is_null(), "{calm}");
}

#[test]
fn a_worker_adopted_after_a_supervisor_restart_is_held_to_its_memory_limit() {
    require_python();
    let mut c = cluster(1);
    let (input, _) = word_file(&c.root, 20);
    let trigger = c.root.join("grow-now");
    let sink = submit(
        &c,
        "late",
        &input,
        128,
        Hog::Subprocess(256, Some(trigger.clone())),
    );
    wait_for(WAIT, "every line through late's subprocess", || {
        (sink_word_totals(&sink).values().sum::<u64>() >= 20).then_some(())
    });
    let pid = worker(&c.url, "late").unwrap()["pid"].as_i64().unwrap();

    c.sup.kill9();
    c.sup = start_supervisor_with(&c.url, &c.sup_dir, &c.ports, &c.sup_config);
    wait_for(WAIT, "the restarted supervisor to adopt the worker", || {
        let log = std::fs::read_to_string(c.sup_dir.join("supervisor.log")).ok()?;
        log.contains("adopting the worker a previous run left running")
            .then_some(())
    });
    // Now the subprocess grows.
    std::fs::write(&trigger, "").unwrap();
    wait_killed_over(&c.url, "late", 128);
    let w = worker(&c.url, "late").unwrap();
    assert_ne!(w["pid"].as_i64(), Some(pid), "a new worker: {w}");
}
