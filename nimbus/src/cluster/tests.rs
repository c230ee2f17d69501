//! Unit tests of the cluster state machine, with injected time (a manual clock).

use std::ops::Deref;
use std::path::Path;

use squall_runtime::engine::clock::ManualClock;

use super::*;
use squall_runtime::cluster::protocol::{
    ArtifactHash, ComponentRole, Counters, ErrorCode, Heartbeat, HeartbeatResponse,
    RebalanceRequest, TaskStats, TopologyStatus, WorkerAssignment, WorkerStats,
};

const YAML: &str = "name: wc
config:
  topology.workers: 2
  topology.acker.executors: 0
spouts:
  - id: s
    className: S
    parallelism: 2
bolts:
  - id: b
    className: B
    parallelism: 2
    numTasks: 4
streams:
  - from: s
    to: b
    grouping:
      type: SHUFFLE
";
const T0: u64 = 1_700_000_000_000;
const TIMEOUT: Duration = Duration::from_secs(10);

/// A cluster on a manual clock.
struct TestCluster {
    cluster: Cluster,
    clock: Arc<ManualClock>,
}

impl Deref for TestCluster {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

impl TestCluster {
    /// Move the clock (both readings) to wall time `now_ms`.
    fn at(&self, now_ms: u64) -> &Cluster {
        let wall = self.clock.wall_millis();
        match now_ms.checked_sub(wall) {
            Some(ahead) => self.clock.advance(Duration::from_millis(ahead)),
            None => panic!("time goes forward in these tests: {now_ms} < {wall}"),
        }
        &self.cluster
    }

    /// A monitor pass at `now_ms`.
    fn tick_at(&self, now_ms: u64) -> Option<Duration> {
        self.at(now_ms).tick().unwrap()
    }
}

fn open(dir: &Path, now: u64) -> TestCluster {
    open_with(dir, ManualClock::shared(now))
}

/// Grace period of unreferenced artifacts in these tests.
const GC_GRACE: Duration = Duration::from_secs(3600);

fn open_with(dir: &Path, clock: Arc<ManualClock>) -> TestCluster {
    let store = Store::open(&dir.join("nimbus.redb")).unwrap();
    // The artifact the test submissions name.
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(
        dir.join("artifacts").join(artifact().to_string()),
        b"artifact",
    )
    .unwrap();
    let artifacts = ArtifactStore::open(&dir.join("artifacts"), clock.clone(), GC_GRACE).unwrap();
    let cluster = Cluster::load(store, artifacts, TIMEOUT, clock.clone()).unwrap();
    TestCluster { cluster, clock }
}

fn submission(yaml: &str, resolved_yaml: Option<&str>) -> Submission {
    Submission {
        def: parse_yaml(resolved_yaml.unwrap_or(yaml)).unwrap(),
        yaml: yaml.to_string(),
        resolved_yaml: resolved_yaml.map(str::to_string),
        resources: None,
        artifact: artifact(),
        owner: None,
    }
}

/// The artifact of the test submissions (stored by [`open_with`]).
fn artifact() -> ArtifactHash {
    ArtifactHash::of_bytes(b"artifact")
}

fn submit(c: &Cluster, name: &str, now: u64) {
    c.submit(name, submission(YAML, None), now).unwrap();
}

/// The slots of a whole answer (heartbeats without a version get one).
fn slots(answer: HeartbeatResponse) -> Vec<squall_runtime::cluster::protocol::SlotAssignment> {
    answer
        .into_slots()
        .expect("a well-formed answer")
        .expect("a heartbeat without a version gets the whole assignments")
}

fn beat(c: &TestCluster, id: &str, now: u64) -> usize {
    let hb = Heartbeat {
        id: id.to_string(),
        host: format!("{id}.local"),
        slots: vec![6700, 6701],
        workers: Vec::new(),
        assignment_version: None,
    };
    slots(c.at(now).heartbeat(hb).unwrap()).len()
}

fn supervisors_of(c: &Cluster, name: &str) -> Vec<String> {
    let info = c.status(name, T0).unwrap();
    info.assignment
        .iter()
        .map(|w| w.supervisor.clone())
        .collect()
}

#[test]
fn workers_spread_then_move_off_a_dead_supervisor() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    submit(&c, "wc", T0);
    assert!(supervisors_of(&c, "wc").is_empty(), "no supervisor yet");
    beat(&c, "a", T0);
    assert_eq!(
        supervisors_of(&c, "wc"),
        vec!["a", "a"],
        "both workers on the only supervisor"
    );
    beat(&c, "b", T0);
    // A running topology is not moved to a new supervisor just because it appeared.
    assert_eq!(supervisors_of(&c, "wc"), vec!["a", "a"]);

    let dir2 = tempfile::tempdir().unwrap();
    let c2 = open(dir2.path(), T0);
    beat(&c2, "a", T0);
    beat(&c2, "b", T0);
    submit(&c2, "wc", T0);
    assert_eq!(supervisors_of(&c2, "wc"), vec!["a", "b"]);
    assert_eq!(beat(&c2, "a", T0 + 1000), 1);
    // b stops heartbeating; a keeps going.
    c2.tick_at(T0 + 5000);
    assert_eq!(
        supervisors_of(&c2, "wc"),
        vec!["a", "b"],
        "not dead before the timeout"
    );
    beat(&c2, "a", T0 + 10_000);
    c2.tick_at(T0 + 10_001);
    assert_eq!(supervisors_of(&c2, "wc"), vec!["a", "a"]);
    assert_eq!(beat(&c2, "a", T0 + 10_002), 2);
    let sups = c2.supervisors();
    assert!(!sups.supervisors[1].alive);
    assert_eq!(sups.supervisors[0].free_slots, Vec::<u16>::new());
}

#[test]
fn kill_waits_then_removes() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    beat(&c, "a", T0);
    submit(&c, "wc", T0);
    let r = c.kill("wc", Some(5), T0).unwrap();
    assert_eq!(r.status, TopologyStatus::Killed);
    assert_eq!(c.tick_at(T0 + 1000), Some(Duration::from_secs(4)));
    assert_eq!(supervisors_of(&c, "wc").len(), 2, "kept during the wait");
    beat(&c, "a", T0 + 4000);
    c.tick_at(T0 + 5000);
    assert!(matches!(
        c.status("wc", T0),
        Err(ClusterError::TopologyNotFound(_))
    ));
    assert_eq!(beat(&c, "a", T0 + 5001), 0);
    // The name is free again.
    submit(&c, "wc", T0 + 6000);
    assert!(c.status("wc", T0).unwrap().summary.id.starts_with("wc-2-"));
}

#[test]
fn status_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    submit(&c, "wc", T0);
    let err = |r: Result<_, ClusterError>| r.map(|_| ()).unwrap_err().status();
    assert_eq!(
        c.set_active("wc", true).unwrap().status,
        TopologyStatus::Active
    );
    assert_eq!(
        c.set_active("wc", false).unwrap().status,
        TopologyStatus::Inactive
    );
    assert_eq!(
        c.set_active("wc", false).unwrap().status,
        TopologyStatus::Inactive
    );
    assert_eq!(
        c.set_active("wc", true).unwrap().status,
        TopologyStatus::Active
    );
    assert_eq!(err(c.set_active("nope", true)), 404);
    assert_eq!(err(c.submit("wc", submission(YAML, None), T0)), 409);
    c.kill("wc", Some(30), T0).unwrap();
    assert_eq!(err(c.set_active("wc", true)), 409);
    assert_eq!(
        err(c.rebalance("wc", &RebalanceRequest::default(), T0)),
        409
    );
}

#[test]
fn rebalance_checks_and_applies() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    beat(&c, "a", T0);
    beat(&c, "b", T0);
    submit(&c, "wc", T0);
    let bad = RebalanceRequest {
        workers: Some(0),
        parallelism: BTreeMap::from([("b".into(), 5), ("zz".into(), 1)]),
        wait_secs: None,
    };
    let e = c.rebalance("wc", &bad, T0).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("workers must be at least 1"), "{text}");
    assert!(text.contains("'b' cannot be 5: it has 4 tasks"), "{text}");
    assert!(text.contains("unknown component 'zz'"), "{text}");
    let ok = RebalanceRequest {
        workers: Some(1),
        parallelism: BTreeMap::from([("b".into(), 4)]),
        wait_secs: Some(3),
    };
    let r = c.rebalance("wc", &ok, T0).unwrap();
    assert_eq!(r.status, TopologyStatus::Rebalancing);
    assert_eq!(
        c.status("wc", T0).unwrap().assignment.len(),
        2,
        "frozen while waiting"
    );
    beat(&c, "a", T0 + 2000);
    beat(&c, "b", T0 + 2000);
    c.tick_at(T0 + 3000);
    let info = c.status("wc", T0 + 3000).unwrap();
    assert_eq!(info.summary.status, TopologyStatus::Active);
    assert_eq!(info.assignment.len(), 1);
    assert_eq!(info.components["b"].executors, 4);
    assert_eq!(info.summary.num_executors, 6);
}

#[test]
fn reload_keeps_topologies_assignments_and_supervisors() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let c = open(dir.path(), T0);
        beat(&c, "a", T0);
        beat(&c, "b", T0);
        submit(&c, "wc", T0);
        c.set_active("wc", false).unwrap();
        c.status("wc", T0).unwrap()
    };
    let c = open(dir.path(), T0 + 60_000);
    // Supervisors get a fresh timeout after a restart: nothing moves at once.
    c.tick_at(T0 + 60_001);
    let after = c.status("wc", T0).unwrap();
    assert_eq!(after.summary, before.summary);
    assert_eq!(after.assignment, before.assignment);
    assert_eq!(c.supervisors().supervisors.len(), 2);
}

fn report(c: &Cluster, w: &WorkerAssignment, executed: u64) -> WorkerStats {
    let info = c.status("wc", T0).unwrap();
    let tasks = w
        .executors
        .iter()
        .flat_map(|[f, l]| *f..=*l)
        .map(|task| TaskStats {
            task,
            component: if task <= 2 { "s" } else { "b" }.to_string(),
            counters: Counters {
                executed,
                ..Default::default()
            },
            ..TaskStats::default()
        })
        .collect();
    WorkerStats {
        topology_id: info.summary.id.clone(),
        supervisor: w.supervisor.clone(),
        port: w.port,
        tasks,
        started_at_ms: 0,
    }
}

#[test]
fn stats_come_only_from_assigned_workers_and_count_each_task_once() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    beat(&c, "a", T0);
    submit(&c, "wc", T0);
    let workers = c.status("wc", T0).unwrap().assignment;
    assert_eq!(workers.len(), 2);
    for w in &workers {
        let ack = c.record_stats("wc", report(&c, w, 3)).unwrap();
        assert_eq!(ack.status, TopologyStatus::Active);
    }
    // The same worker reporting again (later figures) replaces, never adds.
    c.record_stats("wc", report(&c, &workers[0], 5)).unwrap();
    let info = c.status("wc", T0).unwrap();
    let b = &info.components["b"];
    let b_tasks_on_0: u64 = info
        .tasks
        .iter()
        .filter(|t| t.component == "b" && workers[0].runs_task(t.task))
        .count() as u64;
    assert_eq!(b.tasks, 4);
    assert_eq!(b.reporting_tasks, 4);
    assert_eq!(
        b.counters.executed,
        5 * b_tasks_on_0 + 3 * (4 - b_tasks_on_0)
    );
    assert_eq!(info.components["s"].kind, ComponentRole::Spout);
    assert_eq!(b.kind, ComponentRole::Bolt);
    assert_eq!(info.tasks.len(), 6, "one row per task: {:?}", info.tasks);

    // A made-up worker, a task of another worker, an old submission: refused.
    let mut fake = report(&c, &workers[0], 1);
    fake.port = 1;
    let e = c.record_stats("wc", fake).unwrap_err();
    assert_eq!(e.status(), 409);
    assert_eq!(e.code(), Some(ErrorCode::NotAssigned), "{e}");
    let mut foreign = report(&c, &workers[0], 1);
    foreign.tasks = report(&c, &workers[1], 1).tasks;
    let e = c.record_stats("wc", foreign).unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    assert_eq!(e.code(), None, "a moved task is no reason to exit: {e}");
    assert!(e.to_string().contains("does not run on worker"), "{e}");
    let mut stale = report(&c, &workers[0], 1);
    stale.topology_id = "wc-0-0".into();
    let e = c.record_stats("wc", stale).unwrap_err();
    assert_eq!(e.status(), 409);
    assert_eq!(e.code(), Some(ErrorCode::NotAssigned), "{e}");
    let e = c
        .record_stats("gone", report(&c, &workers[0], 1))
        .unwrap_err();
    assert_eq!(e.status(), 409, "{e}");
    assert_eq!(
        e.code(),
        Some(ErrorCode::NotAssigned),
        "a killed topology: {e}"
    );
    let mut unknown = report(&c, &workers[0], 1);
    unknown.tasks[0].component = "nope".into();
    assert_eq!(c.record_stats("wc", unknown).unwrap_err().status(), 400);
    assert_eq!(
        c.status("wc", T0).unwrap().components["b"],
        *b,
        "refusals change nothing"
    );

    // Rebalanced to one worker: counters of tasks that moved are forgotten.
    let one = RebalanceRequest {
        workers: Some(1),
        ..Default::default()
    };
    c.rebalance("wc", &one, T0).unwrap();
    let info = c.status("wc", T0).unwrap();
    assert_eq!(info.assignment.len(), 1);
    let w = &info.assignment[0];
    assert!(
        info.tasks.iter().all(|t| w.runs_task(t.task)),
        "{:?}",
        info.tasks
    );
    assert!(info.tasks.len() < 6, "{:?}", info.tasks);
}

#[test]
fn a_topology_source_is_planned_from_its_resolved_declaration_and_workers_get_the_yaml() {
    const SOURCED: &str = "name: wc\ntopologySource:\n  className: WcBuilder\n";
    let dir = tempfile::tempdir().unwrap();
    let assigned = |c: &Cluster| {
        let hb = Heartbeat {
            id: "a".to_string(),
            host: "a.local".to_string(),
            slots: vec![6700, 6701],
            workers: Vec::new(),
            assignment_version: None,
        };
        let mut got: Vec<(String, Vec<squall_runtime::cluster::protocol::Executor>)> = c
            .heartbeat(hb)
            .map(slots)
            .unwrap()
            .into_iter()
            .map(|a| (a.yaml, a.executors))
            .collect();
        got.sort();
        got
    };
    // b: tasks 1-4 (2 executors), s: tasks 5-6 (2 executors); 2 workers, no ackers.
    let expected = vec![
        (SOURCED.to_string(), vec![[1, 2], [5, 5]]),
        (SOURCED.to_string(), vec![[3, 4], [6, 6]]),
    ];
    {
        let c = open(dir.path(), T0);
        c.submit("wc", submission(SOURCED, Some(YAML)), T0).unwrap();
        assert_eq!(assigned(&c), expected);
    }
    // A restarted nimbus plans it from the stored resolved declaration again.
    let c = open(dir.path(), T0);
    assert_eq!(assigned(&c), expected);
}

#[test]
fn a_wall_clock_step_does_not_kill_supervisors_only_silence_does() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(T0);
    let c = open_with(dir.path(), clock.clone());
    c.heartbeat(heartbeat_of("a")).unwrap();
    c.heartbeat(heartbeat_of("b")).unwrap();
    submit(&c, "wc", T0);
    assert_eq!(supervisors_of(&c, "wc"), vec!["a", "b"]);
    // NTP (or an operator) steps the wall clock an hour ahead, then an hour back:
    // monotonic time did not move, so nobody is dead.
    clock.step_wall(3_600_000);
    assert!(c.tick().unwrap().is_some());
    clock.step_wall(-7_200_000);
    c.tick().unwrap();
    let sups = c.supervisors();
    assert!(sups.supervisors.iter().all(|s| s.alive), "{sups:?}");
    assert_eq!(supervisors_of(&c, "wc"), vec!["a", "b"]);
    // Real silence does: b stops heartbeating for longer than the timeout.
    clock.advance(TIMEOUT / 2);
    c.heartbeat(heartbeat_of("a")).unwrap();
    assert_eq!(
        c.tick().unwrap(),
        Some(TIMEOUT / 2 + Duration::from_millis(1))
    );
    clock.advance(TIMEOUT / 2 + Duration::from_millis(1));
    c.tick().unwrap();
    let alive: Vec<bool> = c
        .supervisors()
        .supervisors
        .iter()
        .map(|s| s.alive)
        .collect();
    assert_eq!(alive, [true, false]);
    assert_eq!(supervisors_of(&c, "wc"), vec!["a", "a"]);
}

#[test]
fn refused_transitions_change_nothing_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    beat(&c, "a", T0);
    submit(&c, "wc", T0);
    let wait = RebalanceRequest {
        wait_secs: Some(30),
        ..Default::default()
    };
    c.rebalance("wc", &wait, T0).unwrap();
    let e = c.set_active("wc", true).unwrap_err();
    assert_eq!(e.status(), 409);
    assert!(
        e.to_string()
            .contains("cannot activate topology 'wc': it is REBALANCING"),
        "{e}"
    );
    assert_eq!(
        c.status("wc", T0).unwrap().summary.status,
        TopologyStatus::Rebalancing
    );
    // Kill is allowed from REBALANCING; a second kill restarts the wait.
    c.kill("wc", Some(30), T0).unwrap();
    let r = c.kill("wc", Some(5), T0 + 1000).unwrap();
    assert_eq!(r.status, TopologyStatus::Killed);
    assert_eq!(c.tick_at(T0 + 2000), Some(Duration::from_secs(4)));
    let e = c.set_active("wc", false).unwrap_err();
    assert!(
        e.to_string().contains("it is KILLED (it is being removed)"),
        "{e}"
    );
}

fn heartbeat_of(id: &str) -> Heartbeat {
    Heartbeat {
        id: id.to_string(),
        host: format!("{id}.local"),
        slots: vec![6700, 6701],
        workers: Vec::new(),
        assignment_version: None,
    }
}

#[test]
fn dead_supervisors_are_forgotten_and_the_table_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = open(dir.path(), T0);
    c.cluster.set_max_supervisors(2);
    beat(&c, "a", T0);
    beat(&c, "b", T0);
    submit(&c, "wc", T0);
    // A third id is refused while the table is full, and changes nothing.
    let hb = Heartbeat {
        id: "c".into(),
        host: "c.local".into(),
        slots: vec![6700],
        workers: Vec::new(),
        assignment_version: None,
    };
    let e = c.at(T0).heartbeat(hb.clone()).unwrap_err();
    assert_eq!(e.status(), 409, "{e}");
    assert!(e.to_string().contains("tracks 2 supervisors"), "{e}");
    // "a" goes silent: dead after the timeout (its workers move to "b"), still listed…
    let timeout_ms = TIMEOUT.as_millis() as u64;
    let mut t = T0;
    while t < T0 + timeout_ms + 1_000 {
        t += 1_000;
        beat(&c, "b", t);
        c.tick_at(t);
    }
    let ids = |c: &Cluster| -> Vec<(String, bool)> {
        c.supervisors()
            .supervisors
            .into_iter()
            .map(|s| (s.id, s.alive))
            .collect()
    };
    assert_eq!(ids(&c), vec![("a".into(), false), ("b".into(), true)]);
    assert_eq!(supervisors_of(&c, "wc"), vec!["b", "b"]);
    // …and forgotten after 10 timeouts of silence, in memory and in the store.
    while t < T0 + 10 * timeout_ms + 2_000 {
        t += 1_000;
        beat(&c, "b", t);
        c.tick_at(t);
    }
    assert_eq!(ids(&c), vec![("b".into(), true)]);
    // Room again for a new supervisor.
    assert!(c.at(t).heartbeat(hb).is_ok());
    drop(c);
    let reopened = open(dir.path(), t);
    assert_eq!(
        ids(&reopened),
        vec![("b".into(), true), ("c".into(), true)],
        "the store forgot 'a' too"
    );
}

#[test]
fn artifacts_no_topology_references_are_deleted_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let stored = |h: &ArtifactHash| dir.path().join("artifacts").join(h.to_string()).exists();
    // `old` is there from an earlier run; nothing references it.
    let old = ArtifactHash::of_bytes(b"old");
    std::fs::create_dir_all(dir.path().join("artifacts")).unwrap();
    std::fs::write(dir.path().join("artifacts").join(old.to_string()), b"old").unwrap();
    let c = open(dir.path(), T0);
    submit(&c, "wc", T0);
    // `new` is uploaded half an hour later, not submitted (yet).
    let new = ArtifactHash::of_bytes(b"new");
    c.at(T0 + 1_800_000);
    std::fs::write(dir.path().join("artifacts").join(new.to_string()), b"new").unwrap();
    c.artifacts().touch(&new);
    c.tick_at(T0 + 3_599_000);
    assert!(
        stored(&old) && stored(&new),
        "nothing goes before the grace"
    );
    c.tick_at(T0 + 3_600_000);
    assert!(!stored(&old), "unreferenced for the grace period: deleted");
    assert!(stored(&new), "uploaded 30 min ago: kept");
    assert!(stored(&artifact()), "referenced by a topology: kept");
    // A client asks about `new` (HEAD) before submitting: its grace starts again.
    c.at(T0 + 5_000_000);
    c.artifacts().touch(&new);
    c.tick_at(T0 + 5_400_000);
    assert!(stored(&new));
    c.tick_at(T0 + 8_600_000);
    assert!(!stored(&new));
    // A submission naming a deleted artifact is refused, saying why.
    let mut s = submission(YAML, None);
    s.artifact = new;
    let e = c.submit("wc2", s, T0 + 8_600_000).unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    assert!(e.to_string().contains("PUT it to"), "{e}");
    // Once its topology is gone, the submitted artifact goes too (its grace is over).
    c.kill("wc", Some(1), T0 + 8_600_000).unwrap();
    c.tick_at(T0 + 8_601_000);
    assert!(!stored(&artifact()));
}

// --- Topology secrets (issue 12, data plane) ---

/// The assignments `id` gets for topology `name` at `now`.
fn assignments_of(
    c: &TestCluster,
    id: &str,
    name: &str,
    now: u64,
) -> Vec<squall_runtime::cluster::protocol::SlotAssignment> {
    let hb = Heartbeat {
        id: id.to_string(),
        host: format!("{id}.local"),
        slots: vec![6700, 6701],
        workers: Vec::new(),
        assignment_version: None,
    };
    let answer = c.at(now).heartbeat(hb).unwrap();
    slots(answer)
        .into_iter()
        .filter(|a| a.topology == name)
        .collect()
}

fn secret_of(a: &squall_runtime::cluster::protocol::SlotAssignment) -> TopologySecret {
    a.topology_secret
        .clone()
        .expect("an assignment carries its topology's secret")
}

#[test]
fn each_topology_has_its_own_durable_secret_sent_only_in_assignments() {
    let dir = tempfile::tempdir().unwrap();
    let secret = {
        let c = open(dir.path(), T0);
        submit(&c, "wc", T0);
        submit(&c, "wc2", T0);
        let a = assignments_of(&c, "a", "wc", T0);
        let b = assignments_of(&c, "b", "wc2", T0);
        assert!(!a.is_empty() && !b.is_empty(), "{a:?} {b:?}");
        let secret = secret_of(&a[0]);
        assert!(
            a.iter().all(|x| secret_of(x) == secret),
            "one secret per topology"
        );
        assert_ne!(secret, secret_of(&b[0]), "each topology its own");
        // Never in a view, nor in an assignment's Debug.
        let hex = hex::encode(secret.expose());
        let views = format!(
            "{} {} {}",
            serde_json::to_string(&c.list(T0)).unwrap(),
            serde_json::to_string(&c.status("wc", T0).unwrap()).unwrap(),
            serde_json::to_string(&c.supervisors()).unwrap()
        );
        assert!(!views.contains(&hex), "the secret shows in a view");
        assert!(!format!("{a:?}").contains(&hex));
        assert!(format!("{a:?}").contains("<redacted>"));
        secret
    };
    // A restarted nimbus sends the same secret (workers keep running).
    let c = open(dir.path(), T0);
    assert_eq!(secret_of(&assignments_of(&c, "a", "wc", T0)[0]), secret);
}

#[test]
fn rotation_gives_a_new_secret_that_restarts_workers_and_voids_old_credentials() {
    use squall_runtime::cluster::auth::worker_credential::WorkerCredential;
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    submit(&c, "wc", T0);
    let before = assignments_of(&c, "a", "wc", T0);
    let id = before[0].topology_id.clone();
    let old = WorkerCredential::derive(&id, &secret_of(&before[0]));
    assert_eq!(c.worker_credential_topology(old.expose()), Some(id.clone()));

    c.rotate_topology_secret("wc").unwrap();
    let after = assignments_of(&c, "a", "wc", T0);
    assert_ne!(secret_of(&after[0]), secret_of(&before[0]));
    assert!(
        before[0].needs_restart_for(&after[0]),
        "a new secret restarts the worker"
    );
    assert_eq!(
        c.worker_credential_topology(old.expose()),
        None,
        "stale credential"
    );
    let new = WorkerCredential::derive(&id, &secret_of(&after[0]));
    assert_eq!(c.worker_credential_topology(new.expose()), Some(id.clone()));
    // Not a worker credential, or one of a topology nimbus does not run.
    assert_eq!(
        c.worker_credential_topology("squall1.0123456789abcdef.x"),
        None
    );
    let other = WorkerCredential::derive("nope-1-0", &secret_of(&after[0]));
    assert_eq!(c.worker_credential_topology(other.expose()), None);
    assert_eq!(c.rotate_topology_secret("nope").unwrap_err().status(), 404);
    // Durable: a restarted nimbus has the rotated secret.
    drop(c);
    let c = open(dir.path(), T0);
    assert_eq!(c.worker_credential_topology(new.expose()), Some(id));
}

#[test]
fn storm_paths_resolve_ids_and_names_alike_for_handlers_and_the_acl() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    submit(&c, "wc", T0);
    let id = c.status("wc", T0).unwrap().summary.id;
    assert_eq!(c.resolve("wc").unwrap(), "wc");
    assert_eq!(c.resolve(&id).unwrap(), "wc");
    assert!(matches!(
        c.resolve("nope-1-2"),
        Err(ClusterError::TopologyNotFound(n)) if n == "nope-1-2"
    ));
    assert_eq!(c.topology_acl(&id), c.topology_acl("wc"));
    assert!(c.topology_acl(&id).is_some());
    // A name is looked up before the ids: a topology named like another's id is the
    // one a path naming it acts on, for the ACL as for the handler.
    let shape = c.shape(&c.resolve(&id).unwrap()).unwrap();
    assert_eq!(shape.id, id);
    assert_eq!(shape.message_timeout_secs, 30);
    submit(&c, &id, T0);
    assert_eq!(c.resolve(&id).unwrap(), id);
    let twin = c.status(&id, T0).unwrap().summary.id;
    assert_eq!(c.topology_acl(&id).unwrap().id, twin);
    assert_eq!(
        shape.task_components.values().filter(|c| *c == "b").count(),
        4
    );
}

#[test]
fn nimbus_and_supervisor_uptimes_count_from_start_and_from_the_last_revival() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    beat(&c, "s1", T0);
    c.at(T0 + 5_000);
    assert_eq!(c.uptime_secs(), 5);
    beat(&c, "s1", T0 + 8_000);
    assert_eq!(c.supervisor_uptimes().get("s1"), Some(&8));
    // Silent past the timeout: dead, no uptime; back: counted afresh.
    c.tick_at(T0 + 8_000 + TIMEOUT.as_millis() as u64 + 1_000);
    assert_eq!(c.supervisor_uptimes().get("s1"), None);
    let back = T0 + 30_000;
    beat(&c, "s1", back);
    c.at(back + 2_000);
    assert_eq!(c.supervisor_uptimes().get("s1"), Some(&2));
}

#[test]
fn a_log_request_goes_to_the_named_worker_of_the_topology_by_name_or_id() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    beat(&c, "a", T0);
    beat(&c, "b", T0);
    submit(&c, "wc", T0);
    let info = c.status("wc", T0).unwrap();
    let w = &info.assignment[0];
    let by_host = c
        .log_target("wc", Some(&format!("{}:{}", w.host, w.port)))
        .unwrap();
    assert_eq!(
        (by_host.supervisor.as_str(), by_host.port, by_host.alive),
        (w.supervisor.as_str(), w.port, true)
    );
    assert_eq!(by_host.topology_id, info.summary.id);
    assert_eq!(by_host.worker, format!("{}:{}", w.host, w.port));
    // By the topology's id, and the worker by its supervisor id.
    let by_id = c
        .log_target(
            &info.summary.id,
            Some(&format!("{}:{}", w.supervisor, w.port)),
        )
        .unwrap();
    assert_eq!(by_id, by_host);
    // Two workers: one must be named; a wrong one is listed against the real ones.
    let e = c.log_target("wc", None).unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    assert!(
        e.to_string().contains("a.local:") && e.to_string().contains("b.local:"),
        "{e}"
    );
    let e = c.log_target("wc", Some("a.local:1")).unwrap_err();
    assert_eq!(e.status(), 404, "{e}");
    assert!(e.to_string().contains("no worker at a.local:1"), "{e}");
    assert_eq!(c.log_target("nope", None).unwrap_err().status(), 404);
    assert_eq!(
        c.log_target("wc", Some("a.local")).unwrap_err().status(),
        400
    );
}

#[path = "book_tests.rs"]
mod book_tests;
