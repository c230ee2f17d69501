use std::sync::Arc;

use super::*;
use crate::cluster::protocol::trident::MAX_META_VALUE_BYTES;

#[test]
fn a_file_store_round_trips_records_below_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileMetaStore::new(dir.path().join("meta"));
    let key = MetaKey::spout("lines", "offsets").unwrap();
    assert_eq!(store.get(&key).unwrap(), None);
    store.put(&key, "{\"a\":1}").unwrap();
    store.put(&key, "{\"a\":2}").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("{\"a\":2}"));
    let file = dir.path().join("meta/spouts/lines/offsets");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"a\":2}");
    assert!(store.describe(&key).ends_with("spouts/lines/offsets"));
    assert!(
        !file.with_file_name("offsets.tmp").exists(),
        "no temporary file left"
    );
}

#[test]
fn values_past_the_cluster_limit_are_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(MAX_META_VALUE_BYTES + 1);
    let key = MetaKey::coordinator();
    let stores: Vec<Box<dyn MetaStore>> = vec![
        Box::new(FileMetaStore::new(dir.path())),
        Box::new(MemoryMetaStore::new()),
    ];
    for store in stores {
        let e = store.put(&key, &big).unwrap_err();
        assert!(matches!(e, MetaError::TooLarge { .. }), "{e}");
        assert_eq!(store.get(&key).unwrap(), None);
    }
}

#[test]
fn slots_read_back_json_and_name_the_place_of_a_corrupt_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coord");
    let slot = MetaSlot::file(&path).unwrap();
    slot.put_json(&vec![1, 2]).unwrap();
    assert_eq!(slot.get_json::<Vec<u32>>().unwrap(), Some(vec![1, 2]));
    std::fs::write(&path, "garbage").unwrap();
    let e = slot.get_json::<Vec<u32>>().unwrap_err();
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
}

#[test]
fn a_memory_store_is_shared_by_its_clones() {
    let a = MemoryMetaStore::new();
    let b: Arc<dyn MetaStore> = Arc::new(a.clone());
    b.put(&MetaKey::coordinator(), "1").unwrap();
    assert_eq!(
        a.get(&MetaKey::coordinator()).unwrap().as_deref(),
        Some("1")
    );
    assert_eq!(a.keys(), vec![MetaKey::coordinator()]);
}

#[test]
fn spout_keys_refuse_names_that_would_escape_their_place() {
    assert!(MetaKey::spout("..", "offsets").is_err());
    assert!(
        MetaKey::spout("a/b", "offsets").is_ok(),
        "nested, still below spouts/"
    );
    assert_eq!(
        MetaKey::spout("lines", "offsets").unwrap().as_str(),
        "spouts/lines/offsets"
    );
}

#[test]
fn a_nimbus_store_that_cannot_reach_nimbus_fails_within_its_bounds() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = NimbusMetaStore::new(&format!("http://127.0.0.1:{port}"), "t", "t-1-0")
        .with_policy(RetryPolicy {
            attempts: 2,
            timeout: std::time::Duration::from_secs(2),
            backoff: std::time::Duration::from_millis(10),
        });
    let t0 = std::time::Instant::now();
    let e = store.put(&MetaKey::coordinator(), "{}").unwrap_err();
    assert!(
        matches!(e, MetaError::Unreachable { attempts: 2, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("/api/v1/topologies/t/trident/coordinator"),
        "{e}"
    );
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
}
