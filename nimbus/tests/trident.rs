//! Trident coordination metadata at nimbus: the worker's client against a real nimbus
//! (in-process), the caps on values and keys, and a resubmitted topology starting fresh.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{TestNimbus, VALID_ARTIFACT, YAML};
use reqwest::StatusCode;
use serde_json::json;
use squall_runtime::cluster::auth::topology_secret::TopologySecret;
use squall_runtime::cluster::auth::worker_credential::WorkerCredential;
use squall_runtime::cluster::protocol::trident::{
    MAX_META_BODY_BYTES, MAX_META_KEYS, MAX_META_VALUE_BYTES, meta_path,
};
use squall_runtime::trident::meta::{MetaError, MetaKey, MetaStore, NimbusMetaStore};

/// Submit `YAML` as `name`; returns its topology id.
async fn submit(n: &TestNimbus, name: &str) -> String {
    let hash = n.upload(VALID_ARTIFACT).await;
    let (status, body) = n.submit(name, YAML, &hash).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The Trident metadata client of a worker of topology `id`: with the worker credential
/// derived from the topology's secret, which a (fake) supervisor's heartbeat answer
/// carries once the topology is assigned to it.
async fn worker_store(n: &TestNimbus, name: &str, id: &str) -> Arc<NimbusMetaStore> {
    let secret = common::wait_for("an assignment carrying the secret", LIMIT, || async {
        n.heartbeat("s1")
            .await
            .iter()
            .find(|a| a["topology_id"] == id)
            .and_then(|a| a["topology_secret"].as_str().map(str::to_string))
            .ok_or_else(|| format!("no assignment of {id} yet"))
    })
    .await;
    let secret = TopologySecret::from_hex(&secret, "the heartbeat answer").unwrap();
    let credential = WorkerCredential::derive(id, &secret);
    Arc::new(NimbusMetaStore::new(&n.handle.url(), name, id).with_credential(credential))
}

/// How long the monitor may take to assign a topology.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Run a store call on a blocking thread (it blocks; nimbus runs on this runtime).
async fn call<T: Send + 'static>(
    store: &Arc<NimbusMetaStore>,
    f: impl FnOnce(&NimbusMetaStore) -> T + Send + 'static,
) -> T {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_round_trip_and_a_resubmitted_topology_starts_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let id = submit(&n, "tw").await;
    let store = worker_store(&n, "tw", &id).await;
    let key = MetaKey::coordinator();
    let offsets = MetaKey::spout("my lines", "offsets").unwrap();
    assert_eq!(call(&store, move |s| s.get(&key)).await.unwrap(), None);
    let key = MetaKey::coordinator();
    call(&store, move |s| {
        s.put(&key, "{\"committed\":3,\"epoch\":0}")
    })
    .await
    .unwrap();
    let o = offsets.clone();
    call(&store, move |s| s.put(&o, "{\"ranges\":[]}"))
        .await
        .unwrap();
    let key = MetaKey::coordinator();
    assert_eq!(
        call(&store, move |s| s.get(&key)).await.unwrap().as_deref(),
        Some("{\"committed\":3,\"epoch\":0}")
    );
    // Readable by anyone who knows the topology's name (the key percent-encoded).
    let (status, body) = n.get(&meta_path("tw", "spouts/my lines/offsets")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"topology_id": id, "key": "spouts/my lines/offsets", "value": "{\"ranges\":[]}"})
    );

    // Killed and resubmitted under the same name: a new id, no metadata.
    let (status, body) = n
        .post("/api/v1/topologies/tw/kill", &json!({"wait_secs": 0}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = MetaKey::coordinator();
    // Its workers' credential died with it.
    let e = call(&store, move |s| s.get(&key)).await.unwrap_err();
    assert!(matches!(e, MetaError::Refused { status: 401, .. }), "{e}");
    let id2 = submit(&n, "tw").await;
    assert_ne!(id, id2);
    let fresh = worker_store(&n, "tw", &id2).await;
    let key = MetaKey::coordinator();
    assert_eq!(call(&fresh, move |s| s.get(&key)).await.unwrap(), None);
    // A worker of the killed topology can neither write nor read the new one's records.
    let key = MetaKey::coordinator();
    let e = call(&store, move |s| s.put(&key, "{}")).await.unwrap_err();
    assert!(matches!(e, MetaError::Refused { status: 401, .. }), "{e}");
    let key = MetaKey::coordinator();
    let e = call(&store, move |s| s.get(&key)).await.unwrap_err();
    assert!(matches!(e, MetaError::Refused { status: 401, .. }), "{e}");
    let key = MetaKey::coordinator();
    assert_eq!(call(&fresh, move |s| s.get(&key)).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_keys_and_bodies_are_capped_with_clear_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let id = submit(&n, "tw").await;
    let url = |key: &str| n.url(&meta_path("tw", key));
    let put = |key: &str, body: serde_json::Value| n.http.put(url(key)).json(&body).send();

    // A value over the limit: 413 with a message (the worker's client refuses it first).
    let big = "x".repeat(MAX_META_VALUE_BYTES + 1);
    let r = put("big", json!({"topology_id": id, "value": big}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let text = r.text().await.unwrap();
    assert!(text.contains("the limit is 65536"), "{text}");
    let store = worker_store(&n, "tw", &id).await;
    let e = call(&store, move |s| s.put(&MetaKey::coordinator(), &big))
        .await
        .unwrap_err();
    assert!(matches!(e, MetaError::TooLarge { .. }), "{e}");

    // A body over the limit is refused before it is read.
    let huge = vec![b' '; MAX_META_BODY_BYTES + 1];
    let r = n
        .http
        .put(url("huge"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Malformed bodies and keys.
    let r = put("k", json!({"value": "v"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = n
        .http
        .put(n.url("/api/v1/topologies/tw/trident/a/b%0Ac"))
        .json(&json!({"topology_id": id, "value": "v"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("control character"));

    // At most MAX_META_KEYS keys per topology; existing keys can still be replaced.
    for i in 0..MAX_META_KEYS {
        let r = put(&format!("k/{i}"), json!({"topology_id": id, "value": "v"}))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "key {i}");
    }
    let r = put("one/more", json!({"topology_id": id, "value": "v"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let text = r.text().await.unwrap();
    assert!(
        text.contains(&format!("already holds {MAX_META_KEYS}")),
        "{text}"
    );
    let r = put("k/0", json!({"topology_id": id, "value": "w"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // Unknown topologies are 404s.
    let (status, body) = n.get(&meta_path("nope", "coordinator")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_survives_a_nimbus_restart() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let id = submit(&n, "tw").await;
    let store = worker_store(&n, "tw", &id).await;
    call(&store, |s| {
        s.put(&MetaKey::coordinator(), "{\"committed\":9}")
    })
    .await
    .unwrap();
    n.handle.shutdown().await.unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let store = worker_store(&n, "tw", &id).await;
    assert_eq!(
        call(&store, |s| s.get(&MetaKey::coordinator()))
            .await
            .unwrap()
            .as_deref(),
        Some("{\"committed\":9}")
    );
}

#[tokio::test]
async fn a_bad_query_is_refused_in_the_api_s_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    submit(&n, "tw").await;
    let (status, body) = n
        .get("/api/v1/topologies/tw/trident/coordinator?bogus=1")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("bogus"), "{body}");
}
