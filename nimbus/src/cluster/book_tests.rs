//! Versioned assignments: "unchanged" answers, versions that move only for the
//! supervisors a change touches, and a new nimbus incarnation never matching an old
//! version.

use super::*;
use squall_runtime::cluster::protocol::AssignmentVersion;

/// A heartbeat of `id` (2 slots) holding `held`.
fn hb(id: &str, held: Option<AssignmentVersion>) -> Heartbeat {
    Heartbeat {
        id: id.to_string(),
        host: format!("{id}.local"),
        slots: vec![6700, 6701],
        workers: Vec::new(),
        assignment_version: held,
    }
}

/// The current version of `id` and its whole answer (as a fresh supervisor gets it).
fn whole(c: &Cluster, id: &str) -> (AssignmentVersion, HeartbeatResponse) {
    let answer = c.heartbeat(hb(id, None)).unwrap();
    assert!(
        answer.assignments.is_some(),
        "no version held: a whole answer"
    );
    (answer.version, answer)
}

const ONE_WORKER: &str = "name: one
config:
  topology.workers: 1
  topology.acker.executors: 0
spouts:
  - id: s
    className: S
bolts:
  - id: b
    className: B
streams:
  - from: s
    to: b
    grouping:
      type: SHUFFLE
";

#[test]
fn a_current_version_is_answered_unchanged_and_changes_move_only_the_touched_supervisors() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    let (a0, _) = whole(&c, "a");
    let (b0, _) = whole(&c, "b");
    // Holding the current version: "unchanged", a few bytes.
    let same = c.heartbeat(hb("a", Some(a0))).unwrap();
    assert_eq!((same.version, same.assignments.is_none()), (a0, true));
    assert!(serde_json::to_vec(&same).unwrap().len() < 64);
    // A version of another nimbus incarnation never matches.
    let stranger = AssignmentVersion {
        epoch: a0.epoch.wrapping_add(1),
        seq: a0.seq,
    };
    assert!(
        c.heartbeat(hb("a", Some(stranger)))
            .unwrap()
            .assignments
            .is_some()
    );

    // wc (2 workers) spreads over a and b: both move; the answer holds the topology
    // once with both workers, and the slot's tasks are located.
    submit(&c, "wc", T0);
    let (a1, answer) = whole(&c, "a");
    let (b1, _) = whole(&c, "b");
    assert!(a1 != a0 && b1 != b0);
    let mine = answer.assignments.clone().unwrap();
    assert_eq!((mine.slots.len(), mine.topologies.len()), (1, 1));
    assert_eq!(mine.topologies[0].workers.len(), 2);
    let located = slots(answer);
    assert_eq!(located[0].task_locations.len(), 6, "2 spout + 4 bolt tasks");
    assert_eq!(located[0].workers_total, 2);
    assert!(
        c.heartbeat(hb("a", Some(a1)))
            .unwrap()
            .assignments
            .is_none()
    );

    // A 1-worker topology lands on one supervisor: only that one moves.
    c.submit("one", submission(ONE_WORKER, None), T0).unwrap();
    let on = supervisors_of(&c, "one");
    assert_eq!(on.len(), 1);
    let (moved, kept) = if on[0] == "a" { ("a", "b") } else { ("b", "a") };
    let kept_at = if kept == "a" { a1 } else { b1 };
    assert!(
        c.heartbeat(hb(kept, Some(kept_at)))
            .unwrap()
            .assignments
            .is_none()
    );
    let moved_at = if moved == "a" { a1 } else { b1 };
    let answer = c.heartbeat(hb(moved, Some(moved_at))).unwrap();
    let mine = answer.assignments.clone().expect("moved: a whole answer");
    assert_eq!((mine.slots.len(), mine.topologies.len()), (2, 2));

    // A status change, a secret rotation and a kill each move wc's supervisors.
    let mut held = whole(&c, "a").0;
    let mut changes: Vec<Box<dyn Fn()>> = vec![
        Box::new(|| {
            c.set_active("wc", false).unwrap();
        }),
        Box::new(|| {
            c.rotate_topology_secret("wc").unwrap();
        }),
        Box::new(|| {
            c.kill("wc", Some(0), T0).unwrap();
        }),
    ];
    for (i, change) in changes.drain(..).enumerate() {
        change();
        let answer = c.heartbeat(hb("a", Some(held))).unwrap();
        assert_ne!(answer.version, held, "change {i} did not move a's version");
        assert!(answer.assignments.is_some());
        held = answer.version;
    }
    let gone = slots(c.heartbeat(hb("a", None)).unwrap());
    assert!(gone.iter().all(|s| s.topology != "wc"), "{gone:?}");
    // Nothing changed since: a monitor pass publishes nothing new.
    c.tick().unwrap();
    assert!(
        c.heartbeat(hb("a", Some(held)))
            .unwrap()
            .assignments
            .is_none()
    );
}

#[test]
fn the_board_follows_the_book_and_forgets_evicted_supervisors() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path(), T0);
    let board = c.board();
    let (a0, _) = whole(&c, "a");
    whole(&c, "b");
    assert_eq!(board.get("a"), Some(a0));
    submit(&c, "wc", T0);
    let (a1, _) = whole(&c, "a");
    assert_eq!(board.get("a"), Some(a1));
    c.evict_supervisor("b").unwrap();
    assert_eq!(board.get("b"), None);
    assert_eq!(board.len(), 1);
    // wc moved wholly onto a: a's version moved with it.
    assert_ne!(board.get("a"), Some(a1));
}
