//! Unit tests of the Trident metadata operations: per topology id, capped, removed with
//! the topology.

use std::path::Path;
use std::time::Duration;

use squall_runtime::cluster::protocol::trident::{MAX_META_KEYS, TridentMetaPut};

use super::*;
use crate::artifacts::ArtifactStore;
use crate::cluster::Submission;
use crate::plan::parse_yaml;
use crate::store::Store;

const YAML: &str = "name: wc
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
const T0: u64 = 1_700_000_000_000;

fn open(dir: &Path) -> Cluster {
    let store = Store::open(&dir.join("nimbus.redb")).unwrap();
    let clock = squall_runtime::engine::clock::ManualClock::shared(T0);
    // The artifact the test submissions name.
    let hash = squall_runtime::cluster::protocol::ArtifactHash::of_bytes(b"artifact");
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(dir.join("artifacts").join(hash.to_string()), b"artifact").unwrap();
    let artifacts = ArtifactStore::open(
        &dir.join("artifacts"),
        clock.clone(),
        Duration::from_secs(3600),
    )
    .unwrap();
    Cluster::load(store, artifacts, Duration::from_secs(10), clock).unwrap()
}

/// Submit `name`; returns its id.
fn submit(c: &Cluster, name: &str) -> String {
    let s = Submission {
        def: parse_yaml(YAML).unwrap(),
        yaml: YAML.to_string(),
        resolved_yaml: None,
        resources: None,
        artifact: squall_runtime::cluster::protocol::ArtifactHash::of_bytes(b"artifact"),
        owner: None,
    };
    c.submit(name, s, T0).unwrap().id
}

fn put(id: &str, value: &str) -> TridentMetaPut {
    TridentMetaPut {
        topology_id: id.to_string(),
        value: value.to_string(),
    }
}

#[test]
fn metadata_is_per_topology_id_and_removed_with_the_topology() {
    let dir = tempfile::tempdir().unwrap();
    let c = open(dir.path());
    let wc = submit(&c, "wc");
    // A name that extends the other's: its keys sort right after them.
    let wc2 = submit(&c, "wc2");
    c.put_trident_meta("wc", "coordinator", &put(&wc, "1"))
        .unwrap();
    c.put_trident_meta("wc", "spouts/lines/offsets", &put(&wc, "2"))
        .unwrap();
    c.put_trident_meta("wc2", "coordinator", &put(&wc2, "3"))
        .unwrap();
    assert_eq!(
        c.trident_meta_keys("wc").unwrap(),
        ["coordinator", "spouts/lines/offsets"]
    );
    let e = c
        .put_trident_meta("wc", "coordinator", &put(&wc2, "x"))
        .unwrap_err();
    assert_eq!(e.status(), 409, "{e}");

    c.kill("wc", Some(0), T0).unwrap();
    assert!(c.store.trident_meta_keys(&wc).unwrap().is_empty());
    assert_eq!(c.trident_meta_keys("wc2").unwrap(), ["coordinator"]);
    // Resubmitted: a new id, nothing stored.
    submit(&c, "wc");
    assert!(c.trident_meta_keys("wc").unwrap().is_empty());
    assert_eq!(
        c.trident_meta("wc", "coordinator", None).unwrap().value,
        None
    );
}

#[test]
fn keys_are_capped_per_topology_and_kept_over_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let c = open(dir.path());
        let id = submit(&c, "wc");
        for i in 0..MAX_META_KEYS {
            c.put_trident_meta("wc", &format!("k/{i}"), &put(&id, "v"))
                .unwrap();
        }
        let e = c
            .put_trident_meta("wc", "one/more", &put(&id, "v"))
            .unwrap_err();
        assert_eq!(e.status(), 409, "{e}");
        // Replacing a held key is still fine.
        c.put_trident_meta("wc", "k/0", &put(&id, "w")).unwrap();
        id
    };
    let c = open(dir.path());
    let got = c.trident_meta("wc", "k/0", Some(&id)).unwrap();
    assert_eq!(got.value.as_deref(), Some("w"));
    assert_eq!(c.trident_meta_keys("wc").unwrap().len(), MAX_META_KEYS);
}
