//! A test cluster of real daemons (nimbus and two supervisors with two slots each) and
//! the helpers the cluster and chaos suites drive it with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use squall_runtime::cluster::protocol::trident::{TridentMetaValue, meta_path};

use super::*;

/// How long a cluster test waits for something that should happen.
pub const LONG: Duration = Duration::from_secs(90);

/// Nimbus plus two supervisors with two slots each.
/// Fields drop in order: the supervisors stop their workers, then nimbus stops, then
/// the reaper looks for leftovers, and only then is the directory deleted.
pub struct Cluster {
    /// The cluster's temp dir: `nimbus/`, `sup1/`, `sup2/`, inputs and sinks.
    pub root: PathBuf,
    /// Nimbus's base URL.
    pub url: String,
    /// The supervisors (`sup1`, `sup2`).
    pub sups: Vec<Daemon>,
    /// The nimbus process.
    pub nimbus: Daemon,
    /// After the daemons: kills any worker they left behind.
    _reaper: Reaper,
    /// After the daemons and the reaper: nothing runs from it any more.
    _dir: tempfile::TempDir,
    /// Last: released after the daemons above are stopped.
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// Cluster tests run one at a time: each starts a dozen processes on a 2-core machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A cluster whose nimbus reads `nimbus_config` (YAML, none if empty).
pub fn cluster(nimbus_config: &str) -> Cluster {
    cluster_with(nimbus_config, "")
}

/// A cluster whose nimbus reads `nimbus_config` and whose supervisors read
/// `supervisor_config` (YAML, none if empty).
pub fn cluster_with(nimbus_config: &str, supervisor_config: &str) -> Cluster {
    let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let ports = free_ports(5);
    let mut extra = Vec::new();
    if !nimbus_config.is_empty() {
        let cfg = root.join("nimbus.yaml");
        std::fs::write(&cfg, nimbus_config).unwrap();
        extra = vec!["--config".to_string(), cfg.display().to_string()];
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (nimbus, url) = start_nimbus(&root.join("nimbus"), ports[0], &extra);
    let sups = vec![
        start_supervisor_with(&url, &root.join("sup1"), &ports[1..3], supervisor_config),
        start_supervisor_with(&url, &root.join("sup2"), &ports[3..5], supervisor_config),
    ];
    // Workers are spread over the supervisors nimbus knows when it schedules.
    wait_supervisors(&url, 2);
    Cluster {
        _serial: serial,
        _dir: dir,
        _reaper: Reaper(root.clone()),
        root,
        url,
        nimbus,
        sups,
    }
}

impl Cluster {
    /// Nimbus's port.
    pub fn nimbus_port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("nimbus URL ends with its port")
    }

    /// The supervisor ids of `sup1` and `sup2`, in that order.
    pub fn supervisor_ids(&self) -> Vec<String> {
        ["sup1", "sup2"]
            .iter()
            .map(|d| {
                std::fs::read_to_string(self.root.join(d).join("supervisor-id"))
                    .unwrap()
                    .trim()
                    .to_string()
            })
            .collect()
    }
}

/// Submit `yaml` through the CLI; panics with the CLI's output if it fails.
pub fn submit(c: &Cluster, yaml: &str) {
    let file = c.root.join("topology.yaml");
    std::fs::write(&file, yaml).unwrap();
    let (code, out, err) = cli(&c.url, &["submit", file.to_str().unwrap()]);
    assert_eq!(code, 0, "submit failed: {out}{err}");
}

/// Wait until the topology runs `n` workers; returns the status.
pub fn wait_running(c: &Cluster, name: &str, n: usize) -> serde_json::Value {
    wait_for(LONG, &format!("{n} running workers of {name}"), || {
        let st = status(&c.url, name)?;
        (worker_pids(&st).len() == n).then_some(st)
    })
}

/// A Trident metadata record of topology `name`, as its workers stored it at nimbus
/// (`None`: nothing stored yet, or nimbus unreachable).
pub fn trident_meta(url: &str, name: &str, key: &str) -> Option<serde_json::Value> {
    let body = http_get(url, &meta_path(name, key));
    let answer: TridentMetaValue = serde_json::from_str(&body).ok()?;
    serde_json::from_str(&answer.value?).ok()
}

/// Where a Trident word count is, from its metadata at nimbus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The last committed txid.
    pub committed: u64,
    /// How many times the master coordinator started before the current one.
    pub epoch: u64,
    /// Whether the committed batch ends at the end of the input (everything counted).
    pub done: bool,
}

/// The progress of the Trident word count `name` over an input of `input_len` bytes.
pub fn trident_progress(url: &str, name: &str, input_len: u64) -> Progress {
    let coord = trident_meta(url, name, "coordinator").unwrap_or_default();
    let committed = coord["committed"].as_u64().unwrap_or(0);
    let offsets = trident_meta(url, name, "spouts/lines/offsets").unwrap_or_default();
    let end = offsets["ranges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["txid"].as_u64() == Some(committed))
        .filter_map(|r| r["end"].as_u64())
        .next_back();
    Progress {
        committed,
        epoch: coord["epoch"].as_u64().unwrap_or(0),
        done: end == Some(input_len),
    }
}

/// Kill the topology, wait for its workers to exit, and read its redb store.
pub fn kill_and_dump(c: &Cluster, name: &str, store: &Path) -> BTreeMap<String, u64> {
    let pids = worker_pids(&wait_running(c, name, 2));
    let (code, out, err) = cli(&c.url, &["kill", name, "-w", "0"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(Duration::from_secs(20), "the workers to exit", || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    });
    let dump = std::process::Command::new(SQUALL)
        .args([
            "state",
            "dump",
            "--store",
            store.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    serde_json::from_str(&out).unwrap()
}

/// The Trident word count's YAML (topology `tw`, 2 workers) over `input` into the redb
/// store `store`; `mode` is `transactional` or `opaque`.
pub fn trident_yaml(input: &Path, store: &Path, mode: &str) -> String {
    format!(
        "name: tw\ntopologySource:\n  className: TridentWordCount\n  constructorArgs: [{:?}, {:?}, 0.1, {mode}]\n\
         config:\n  topology.workers: 2\n  topology.max.spout.pending: 2\n  topology.message.timeout.secs: 5\n  \
         topology.trident.batch.emit.interval.millis: 100\n  squall.trident.file.batch.lines: 400\n",
        input.display().to_string(),
        store.display().to_string()
    )
}
