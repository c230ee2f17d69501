//! Unit tests of the store.

use super::*;
use squall_runtime::cluster::protocol::{TopologyStatus, WorkerAssignment};

fn record(name: &str, seq: u64) -> TopologyRecord {
    TopologyRecord {
        name: name.to_string(),
        id: format!("{name}-{seq}-1700000000"),
        seq,
        yaml: "name: t\n".to_string(),
        resolved_yaml: None,
        resources: None,
        artifact: squall_runtime::cluster::protocol::ArtifactHash::of_bytes(b"artifact"),
        status: TopologyStatus::Active,
        num_workers: 2,
        parallelism: BTreeMap::from([("b".to_string(), 3)]),
        submitted_at: 1_700_000_000,
        kill_deadline_ms: None,
        rebalance: None,
        owner: Some("alice".to_string()),
    }
}

fn assignment() -> Assignment {
    Assignment {
        workers: vec![WorkerAssignment {
            supervisor: "s1".to_string(),
            host: "h1".to_string(),
            port: 6700,
            executors: vec![[1, 2], [3, 3]],
        }],
    }
}

#[test]
fn state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nimbus.redb");
    {
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), Snapshot::default());
        store
            .write(|w| {
                assert_eq!(w.next_seq()?, 1);
                assert_eq!(w.next_seq()?, 2);
                w.put_topology(&record("a", 1))?;
                w.put_topology(&record("b", 2))?;
                w.put_assignment("a", &assignment())?;
                w.put_supervisor(&SupervisorInfo {
                    id: "s1".into(),
                    host: "h1".into(),
                    slots: vec![6700, 6701],
                })
            })
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let snap = store.load().unwrap();
    assert_eq!(snap.topologies.len(), 2);
    assert_eq!(snap.topologies["a"], record("a", 1));
    assert_eq!(snap.assignments["a"], assignment());
    assert_eq!(snap.supervisors["s1"].slots, vec![6700, 6701]);
    // The counter continues.
    assert_eq!(store.write(|w| w.next_seq()).unwrap(), 3);
    store.write(|w| w.delete_topology("a")).unwrap();
    let snap = store.load().unwrap();
    assert!(!snap.topologies.contains_key("a"));
    assert!(!snap.assignments.contains_key("a"));
}

#[test]
fn a_failed_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("nimbus.redb")).unwrap();
    let res: Result<(), StoreError> = store.write(|w| {
        w.put_topology(&record("a", 1))?;
        Err(StoreError::Io {
            path: "x".into(),
            source: std::io::Error::other("boom"),
        })
    });
    assert!(res.is_err());
    assert!(store.load().unwrap().topologies.is_empty());
}

#[test]
fn unreadable_record_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("nimbus.redb")).unwrap();
    store
        .write(|w| w.put(TOPOLOGIES, "bad", &"not a record", "topology"))
        .unwrap();
    let err = store.load().unwrap_err();
    assert!(err.to_string().contains("topology 'bad'"), "{err}");
}
