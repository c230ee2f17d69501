//! A topology's log configuration through the cluster: by id or name, in every stats
//! answer, expired, kept across a nimbus restart, gone with the topology.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use squall_runtime::cluster::protocol::logconfig::LogConfigBody;
use squall_runtime::cluster::protocol::{Heartbeat, TaskStats, WorkerStats};
use squall_runtime::engine::clock::{Clock, ManualClock};

use super::super::{Cluster, Submission};
use crate::artifacts::ArtifactStore;
use crate::plan::parse_yaml;
use crate::store::Store;
use squall_runtime::cluster::protocol::ArtifactHash;

const T0: u64 = 1_700_000_000_000;
const YAML: &str = "name: lg\nconfig:\n  topology.acker.executors: 0\nspouts:\n  - id: s\n    \
                    className: S\nbolts: []\nstreams: []\n";

fn open(dir: &Path, clock: Arc<ManualClock>) -> Cluster {
    let store = Store::open(&dir.join("nimbus.redb")).unwrap();
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    let artifact = ArtifactHash::of_bytes(b"artifact");
    std::fs::write(
        dir.join("artifacts").join(artifact.to_string()),
        b"artifact",
    )
    .unwrap();
    let artifacts = ArtifactStore::open(
        &dir.join("artifacts"),
        clock.clone(),
        Duration::from_secs(3600),
    )
    .unwrap();
    Cluster::load(store, artifacts, Duration::from_secs(10), clock).unwrap()
}

fn submit(c: &Cluster) -> String {
    let sub = Submission {
        def: parse_yaml(YAML).unwrap(),
        yaml: YAML.to_string(),
        resolved_yaml: None,
        resources: None,
        artifact: ArtifactHash::of_bytes(b"artifact"),
        owner: None,
    };
    c.submit("lg", sub, T0).unwrap().id
}

/// The log filter the worker of `lg` gets in its stats answer.
fn ack_filter(c: &Cluster) -> Option<String> {
    let info = c.status("lg", T0).unwrap();
    let w = &info.assignment[0];
    let report = WorkerStats {
        topology_id: info.summary.id.clone(),
        supervisor: w.supervisor.clone(),
        port: w.port,
        tasks: vec![TaskStats {
            task: 1,
            component: "s".into(),
            ..TaskStats::default()
        }],
        started_at_ms: 0,
    };
    c.record_stats("lg", report)
        .unwrap()
        .log_filter
        .map(|f| format!("{}@{:?}", f.directives, f.expires_at_ms))
}

fn body(json: serde_json::Value) -> LogConfigBody {
    serde_json::from_value(json).unwrap()
}

#[test]
fn a_log_filter_reaches_every_stats_answer_expires_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(T0);
    let c = open(dir.path(), clock.clone());
    c.heartbeat(Heartbeat {
        id: "a".into(),
        host: "a.local".into(),
        slots: vec![6700],
        workers: Vec::new(),
        assignment_version: None,
    })
    .unwrap();
    let id = submit(&c);
    assert_eq!(ack_filter(&c), None);
    // By id, as Storm's paths have it: a 3 s DEBUG root and a lasting target.
    let set = body(serde_json::json!({"namedLoggerLevels": {
        "ROOT": {"target_level": "DEBUG", "timeout": 3},
        "my_bolt": {"target_level": "TRACE"}}}));
    let view = c.set_log_config(&id, &set, clock.wall_millis()).unwrap();
    assert_eq!(view.named_logger_levels.len(), 2);
    assert_eq!(
        ack_filter(&c).as_deref(),
        Some(format!("debug,my_bolt=trace@Some({})", T0 + 3_000).as_str())
    );
    // A restarted nimbus keeps it.
    drop(c);
    let c = open(dir.path(), clock.clone());
    assert_eq!(c.log_config("lg", clock.wall_millis()).unwrap(), view);
    // Past the timeout the root level is dropped; the rest stays.
    clock.advance(Duration::from_secs(3));
    assert_eq!(ack_filter(&c).as_deref(), Some("my_bolt=trace@None"));
    assert_eq!(
        c.log_config(&id, clock.wall_millis())
            .unwrap()
            .named_logger_levels
            .keys()
            .collect::<Vec<_>>(),
        ["my_bolt"]
    );
    // Reset (`squall set-log-level --reset`): nothing left, nothing stored.
    let reset = body(serde_json::json!({"namedLoggerLevels": {}, "replace": true}));
    c.set_log_config("lg", &reset, clock.wall_millis()).unwrap();
    assert_eq!(ack_filter(&c), None);
    // Refused: unknown topology, bad level.
    assert_eq!(
        c.set_log_config("nope", &set, T0).unwrap_err().status(),
        404
    );
    let bad = body(serde_json::json!({"namedLoggerLevels": {"ROOT": {"target_level": "LOUD"}}}));
    assert_eq!(c.set_log_config("lg", &bad, T0).unwrap_err().status(), 400);
}
