//! The roll-up on a cluster with a manual clock: two worker incarnations, windows rolling,
//! capacity, backpressure, errors and user metrics.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use squall_runtime::cluster::protocol::{
    Counters, ErrorRecord, Heartbeat, Histogram, InputStreamStats, OutputStreamStats, QueueStats,
    TaskStats, UserMetric, UserMetricValue, Window, WorkerAssignment, WorkerStats,
};
use squall_runtime::engine::clock::ManualClock;

use crate::artifacts::ArtifactStore;
use crate::cluster::{Cluster, Submission};
use crate::plan::parse_yaml;
use crate::store::Store;
use squall_runtime::cluster::protocol::ArtifactHash;

const YAML: &str = "name: wc
config:
  topology.workers: 1
  topology.acker.executors: 0
spouts:
  - id: s
    className: S
    parallelism: 1
bolts:
  - id: b
    className: B
    parallelism: 1
streams:
  - from: s
    to: b
    grouping:
      type: SHUFFLE
";
/// On a 30 s boundary, so the windows' buckets are easy to reason about.
const T0: u64 = 1_700_000_010_000;
const MIN: u64 = 60_000;

fn open(dir: &Path) -> (Cluster, Arc<ManualClock>) {
    let clock = ManualClock::shared(T0);
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
    let c = Cluster::load(store, artifacts, Duration::from_secs(3600), clock.clone()).unwrap();
    let hb = Heartbeat {
        id: "a".into(),
        host: "a.local".into(),
        slots: vec![6700],
        workers: Vec::new(),
        assignment_version: None,
    };
    c.heartbeat(hb).unwrap();
    let submission = Submission {
        def: parse_yaml(YAML).unwrap(),
        yaml: YAML.to_string(),
        resolved_yaml: None,
        resources: None,
        artifact,
        owner: None,
    };
    c.submit("wc", submission, T0).unwrap();
    (c, clock)
}

/// A histogram of `n` values of `us` microseconds.
fn hist(n: u64, us: u64) -> Histogram {
    let mut h = Histogram::new();
    h.record_n(us, n);
    h
}

/// Totals of the spout (task 1) and the bolt (task 2) since the worker started.
fn report(
    c: &Cluster,
    w: &WorkerAssignment,
    started_at_ms: u64,
    executed: u64,
    blocked_ms: u64,
    errors: &[(u64, &str)],
) -> WorkerStats {
    let id = c.status("wc", T0).unwrap().summary.id;
    let spout = TaskStats {
        task: 1,
        component: "s".into(),
        counters: Counters {
            emitted: executed,
            transferred: executed,
            acked: executed,
            ..Counters::default()
        },
        outputs: vec![OutputStreamStats {
            stream: "default".into(),
            emitted: executed,
            transferred: executed,
            acked: executed,
            failed: 0,
            complete_latency_us: hist(executed / 20, 30_000),
        }],
        queue: QueueStats {
            send_blocked_ns: blocked_ms * 1_000_000,
            ..QueueStats::default()
        },
        ..TaskStats::default()
    };
    let bolt = TaskStats {
        task: 2,
        component: "b".into(),
        counters: Counters {
            executed,
            acked: executed,
            errors: errors.len() as u64,
            ..Counters::default()
        },
        inputs: vec![InputStreamStats {
            component: "s".into(),
            stream: "default".into(),
            executed,
            acked: executed,
            failed: 0,
            // Every sampled tuple took 10 ms.
            execute_latency_us: hist(executed / 20, 10_000),
            process_latency_us: hist(executed / 20, 11_000),
        }],
        queue: QueueStats {
            depth: 900,
            capacity: 1024,
            upstream_blocked_ns: blocked_ms * 1_000_000,
            send_blocked_ns: 0,
        },
        errors: errors
            .iter()
            .map(|(t, e)| ErrorRecord {
                time_ms: *t,
                error: (*e).to_string(),
            })
            .collect(),
        metrics: vec![UserMetric {
            name: "words".into(),
            value: UserMetricValue::Counter(executed),
        }],
        ..TaskStats::default()
    };
    WorkerStats {
        topology_id: id,
        supervisor: w.supervisor.clone(),
        port: w.port,
        tasks: vec![spout, bolt],
        started_at_ms,
    }
}

#[test]
fn two_incarnations_roll_up_exactly_and_windows_roll() {
    let dir = tempfile::tempdir().unwrap();
    let (c, clock) = open(dir.path());
    let w = c.status("wc", T0).unwrap().assignment[0].clone();
    let now = || c.wall_millis();

    // Incarnation 1: 60 s at a capacity of 1 (6000 tuples × 10 ms = 60 s of executing).
    clock.advance(Duration::from_secs(1));
    c.record_stats("wc", report(&c, &w, T0, 100, 0, &[(T0 + 500, "boom")]))
        .unwrap();
    clock.advance(Duration::from_secs(59));
    c.record_stats(
        "wc",
        report(
            &c,
            &w,
            T0,
            6000,
            30_000,
            &[(T0 + 500, "boom"), (T0 + 50_000, "bang")],
        ),
    )
    .unwrap();
    let m = c.metrics("wc", Window::TenMinutes, now()).unwrap();
    let b = &m.components["b"];
    assert_eq!(b.figures.executed, 6000);
    assert!(
        (0.9..=1.1).contains(&b.figures.capacity),
        "capacity of a bolt busy all the time: {}",
        b.figures.capacity
    );
    assert_eq!(b.figures.execute_latency.samples, 300);
    assert!(
        (b.figures.execute_latency.p99_ms - 10.0).abs() < 0.4,
        "{:?}",
        b.figures.execute_latency
    );
    assert_eq!(b.figures.backpressure.queue_depth, 900);
    assert_eq!(b.figures.backpressure.queue_capacity, 1024);
    assert_eq!(b.figures.backpressure.upstream_blocked_ms, 30_000.0);
    assert_eq!(b.figures.inputs[0].executed, 6000);
    let errors: Vec<&str> = b.errors.iter().map(|e| e.error.error.as_str()).collect();
    assert_eq!(errors, ["boom", "bang"], "deduplicated, oldest first");
    assert_eq!(b.errors[0].host, "a.local");
    assert_eq!(b.errors[0].port, w.port);
    let s = &m.components["s"];
    assert_eq!(s.figures.capacity, 0.0, "a spout executes nothing");
    assert_eq!(m.topology.emitted, 6000, "topology figures are the spouts'");
    assert_eq!(m.topology.executed, 0);
    assert!((m.topology.complete_latency.mean_ms - 30.0).abs() < 1.0);
    assert_eq!(m.user_metrics.len(), 1);
    let task = m.tasks.iter().find(|t| t.task == 2).unwrap();
    assert_eq!(
        (task.host.as_str(), task.port, task.uptime_secs),
        ("a.local", w.port, 60)
    );
    // What clients read is what nimbus computed (one key per figure).
    let json = serde_json::to_string(&m).unwrap();
    let back: squall_runtime::cluster::protocol::TopologyMetrics =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(back, m);
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(v["components"]["b"]["error_count"], 2, "the count: {v}");
    assert_eq!(
        v["components"]["b"]["errors"][1]["error"], "bang",
        "the list: {v}"
    );

    // The worker restarts: its totals start again. All-time stays exact.
    clock.advance(Duration::from_secs(10));
    let restarted = now() - 2_000;
    c.record_stats("wc", report(&c, &w, restarted, 400, 0, &[]))
        .unwrap();
    let all = c.metrics("wc", Window::AllTime, now()).unwrap();
    assert_eq!(all.components["b"].figures.executed, 6400);
    assert_eq!(
        c.status("wc", now()).unwrap().components["b"]
            .counters
            .executed,
        6400
    );
    let task = all.tasks.iter().find(|t| t.task == 2).unwrap();
    assert_eq!(task.uptime_secs, 2, "uptime of the new incarnation");

    // 11 minutes later the first incarnation has left the 10-min window only.
    clock.advance(Duration::from_secs(11 * 60));
    c.record_stats("wc", report(&c, &w, restarted, 500, 0, &[]))
        .unwrap();
    let ten = c.metrics("wc", Window::TenMinutes, now()).unwrap();
    assert_eq!(ten.components["b"].figures.executed, 100);
    assert_eq!(
        ten.components["b"].figures.backpressure.upstream_blocked_ms,
        0.0
    );
    let three = c.metrics("wc", Window::ThreeHours, now()).unwrap();
    assert_eq!(three.components["b"].figures.executed, 6500);
    assert!(
        three.components["b"].figures.capacity < 0.2,
        "{}",
        three.components["b"].figures.capacity
    );
    let all = c.metrics("wc", Window::AllTime, now()).unwrap();
    assert_eq!(all.components["b"].figures.executed, 6500);
    assert_eq!(all.components["b"].errors.len(), 2, "errors are kept");

    // 3 h later, only the day and all time remember.
    clock.advance(Duration::from_secs(3 * 3600 + 60));
    let three = c.metrics("wc", Window::ThreeHours, now()).unwrap();
    assert_eq!(three.components["b"].figures.executed, 0);
    let day = c.metrics("wc", Window::OneDay, now()).unwrap();
    assert_eq!(day.components["b"].figures.executed, 6500);
    let _ = MIN;

    // A worker that reports only its last error (no records): kept once, as of now.
    let mut old = report(&c, &w, restarted, 600, 0, &[]);
    old.tasks[1].last_error = Some("legacy".into());
    c.record_stats("wc", old.clone()).unwrap();
    c.record_stats("wc", old).unwrap();
    let all = c.metrics("wc", Window::AllTime, now()).unwrap();
    let texts: Vec<&str> = all.components["b"]
        .errors
        .iter()
        .map(|e| e.error.error.as_str())
        .collect();
    assert_eq!(texts, ["boom", "bang", "legacy"]);
    assert_eq!(all.components["b"].errors[2].error.time_ms, now());

    // Killed and removed: its series go with it.
    c.kill("wc", Some(0), now()).unwrap();
    c.tick().unwrap();
    assert!(c.metrics("wc", Window::AllTime, now()).is_err());
}
