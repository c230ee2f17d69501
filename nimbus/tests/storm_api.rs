//! Storm's UI REST API against a real nimbus on loopback (in this process, with
//! heartbeating fake supervisors; the workspace's `tests/storm_api.rs` runs it on a
//! real cluster with workers): every endpoint's shape against Storm's golden fixtures,
//! who may read and act, and Storm's error shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod storm_api_compare;

use common::*;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use storm_api_compare::assert_matches;

async fn call(
    n: &TestNimbus,
    client: &Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client.request(method, n.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    into_json(req.send().await.unwrap()).await
}

/// Topology `name` submitted by `client`; its id.
async fn submit_as(n: &TestNimbus, client: &Client, name: &str, hash: &str) -> String {
    let body = json!({ "name": name, "yaml": YAML, "artifact": hash });
    let (status, body) = call(n, client, Method::POST, "/api/v1/topologies", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The status Storm's topology page shows for `id`.
async fn storm_status(n: &TestNimbus, id: &str) -> String {
    let (status, page) = n.get(&format!("/api/v1/topology/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["status"].as_str().unwrap().to_string()
}

/// Every action path of Storm's API for topology `id`, with a body where it takes one.
fn actions(id: &str) -> Vec<(String, Option<Value>)> {
    vec![
        (format!("/api/v1/topology/{id}/activate"), None),
        (format!("/api/v1/topology/{id}/deactivate"), None),
        (
            format!("/api/v1/topology/{id}/rebalance/0"),
            Some(json!({"rebalanceOptions": {"numWorkers": 1}})),
        ),
        (format!("/api/v1/topology/{id}/kill/0"), None),
    ]
}

#[tokio::test]
async fn a_viewer_reads_every_storm_endpoint_in_storm_s_shape_and_may_not_act() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let hash = n.upload(VALID_ARTIFACT).await;
    let _s1 = FakeSupervisor::start(&n, "s1");
    let _s2 = FakeSupervisor::start(&n, "s2");
    n.heartbeat("s1").await;
    n.heartbeat("s2").await;
    let id = submit_as(&n, &n.http, "wc", &hash).await;
    let text = n.create_token("ann", "viewer").await;
    let viewer = client_for(&text);
    let reads = [
        (
            "/api/v1/cluster/summary".to_string(),
            "cluster-summary.json",
        ),
        (
            "/api/v1/supervisor/summary".into(),
            "supervisor-summary.json",
        ),
        ("/api/v1/nimbus/summary".into(), "nimbus-summary.json"),
        ("/api/v1/topology/summary".into(), "topology-summary.json"),
        (format!("/api/v1/topology/{id}"), "topology.json"),
        (
            "/api/v1/topology/wc?window=600&sys=1".to_string(),
            "topology.json",
        ),
        (
            format!("/api/v1/topology/{id}/component/sentences"),
            "component-spout.json",
        ),
        (
            format!("/api/v1/topology/{id}/component/count?window=10800"),
            "component-bolt.json",
        ),
        (format!("/api/v1/topology/{id}/lag"), "topology-lag.json"),
    ];
    for (path, fixture) in &reads {
        let (status, body) = call(&n, &viewer, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_matches(fixture, &body);
    }
    // A script with nothing but a bearer header (no protocol version header) reads.
    let plain = Client::builder().build().unwrap();
    let r = plain
        .get(n.url("/api/v1/cluster/summary"))
        .header("Authorization", format!("Bearer {text}"))
        .send()
        .await
        .unwrap();
    let (status, body) = into_json(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["supervisors"], 2, "{body}");
    assert_eq!(body["slotsTotal"], 4, "{body}");
    assert_eq!(body["topologies"], 1, "{body}");
    // Without a token: 401.
    let r = plain
        .get(n.url("/api/v1/topology/summary"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Every action: 403, and nothing changes.
    for (path, body) in actions(&id) {
        let (status, answer) = call(&n, &viewer, Method::POST, &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("ann"),
            "{answer}"
        );
    }
    assert_eq!(storm_status(&n, &id).await, "ACTIVE");
    let (_, page) = n.get(&format!("/api/v1/topology/{id}")).await;
    assert_eq!(page["workersTotal"], 2, "{page}");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn deployers_act_through_storm_s_paths_on_their_own_topologies_only() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let hash = n.upload(VALID_ARTIFACT).await;
    let _s1 = FakeSupervisor::start(&n, "s1");
    let _s2 = FakeSupervisor::start(&n, "s2");
    n.heartbeat("s1").await;
    n.heartbeat("s2").await;
    let alice = client_for(&n.create_token("alice", "deployer").await);
    let bob = client_for(&n.create_token("bob", "deployer").await);
    let a1 = submit_as(&n, &alice, "a1", &hash).await;
    let b1 = submit_as(&n, &bob, "b1", &hash).await;
    // bob on alice's, by id and by name: refused, naming the owner.
    for target in [a1.as_str(), "a1"] {
        for (path, body) in actions(target) {
            let (status, answer) = call(&n, &bob, Method::POST, &path, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
            assert!(
                answer["error"]
                    .as_str()
                    .unwrap()
                    .contains("belongs to 'alice'"),
                "{answer}"
            );
        }
    }
    assert_eq!(storm_status(&n, &a1).await, "ACTIVE");
    // alice on hers: each action answers Storm's shape and changes the status.
    let (status, answer) = call(
        &n,
        &alice,
        Method::POST,
        &format!("/api/v1/topology/{a1}/deactivate"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_matches("topology-deactivate.json", &answer);
    assert_eq!(
        answer,
        json!({"topologyOperation": "deactivate", "topologyId": a1, "status": "success"})
    );
    assert_eq!(storm_status(&n, &a1).await, "INACTIVE");
    let (status, answer) = call(
        &n,
        &alice,
        Method::POST,
        "/api/v1/topology/a1/activate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_matches("topology-activate.json", &answer);
    assert_eq!(storm_status(&n, &a1).await, "ACTIVE");
    // Rebalance with Storm UI's body (a count as a string too): new worker and
    // executor counts; with a wait it is REBALANCING meanwhile.
    let (status, answer) = call(
        &n,
        &alice,
        Method::POST,
        &format!("/api/v1/topology/{a1}/rebalance/0"),
        Some(json!({"rebalanceOptions": {"numWorkers": 1, "executors": {"count": "1"}}, "callback": "foo"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_matches("topology-rebalance.json", &answer);
    let (_, info) = n.get("/api/v1/topologies/a1").await;
    assert_eq!(info["num_workers"], 1, "{info}");
    assert_eq!(info["parallelism"]["count"], 1, "{info}");
    let (status, answer) = call(
        &n,
        &alice,
        Method::POST,
        &format!("/api/v1/topology/{a1}/rebalance/60"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(storm_status(&n, &a1).await, "REBALANCING");
    let (status, answer) = call(
        &n,
        &alice,
        Method::POST,
        &format!("/api/v1/topology/{a1}/kill/30"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_matches("topology-kill.json", &answer);
    assert_eq!(storm_status(&n, &a1).await, "KILLED");
    // alice on bob's: refused; the admin may.
    let (status, _) = call(
        &n,
        &alice,
        Method::POST,
        &format!("/api/v1/topology/{b1}/deactivate"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = n
        .post(&format!("/api/v1/topology/{b1}/deactivate"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(storm_status(&n, &b1).await, "INACTIVE");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_topologies_are_404_and_bad_parameters_400_in_storm_s_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let hash = n.upload(VALID_ARTIFACT).await;
    n.heartbeat("s1").await;
    let id = submit_as(&n, &n.http, "wc", &hash).await;
    let cases = [
        (
            Method::GET,
            "/api/v1/topology/nope-1-2".to_string(),
            404,
            "nope-1-2",
        ),
        (
            Method::GET,
            "/api/v1/topology/nope-1-2/lag".into(),
            404,
            "nope-1-2",
        ),
        (
            Method::GET,
            "/api/v1/topology/nope-1-2/component/count".into(),
            404,
            "nope-1-2",
        ),
        (
            Method::GET,
            format!("/api/v1/topology/{id}/component/nope"),
            404,
            "no component 'nope'",
        ),
        (
            Method::POST,
            "/api/v1/topology/nope-1-2/kill/0".into(),
            404,
            "nope-1-2",
        ),
        (
            Method::POST,
            "/api/v1/topology/nope-1-2/activate".into(),
            404,
            "nope-1-2",
        ),
        (
            Method::GET,
            format!("/api/v1/topology/{id}?window=601"),
            400,
            "unknown window '601'",
        ),
        (
            Method::GET,
            format!("/api/v1/topology/{id}/component/count?window=all"),
            200,
            "",
        ),
        (
            Method::GET,
            format!("/api/v1/topology/{id}/component/count?window=7d"),
            400,
            "unknown window '7d'",
        ),
        (
            Method::GET,
            format!("/api/v1/topology/{id}?sys=yes"),
            400,
            "sys",
        ),
        (
            Method::POST,
            format!("/api/v1/topology/{id}/kill/soon"),
            400,
            "wait-time",
        ),
    ];
    for (method, path, code, says) in cases {
        let (status, body) = call(&n, &n.http, method.clone(), &path, None).await;
        assert_eq!(status.as_u16(), code, "{method} {path}: {body}");
        if code != 200 {
            assert_matches("error.json", &body);
            let reason = status.canonical_reason().unwrap();
            assert_eq!(body["error"], format!("{code} {reason}"), "{body}");
            let message = body["errorMessage"].as_str().unwrap();
            assert!(message.contains(says), "{path}: {message}");
        }
    }
    assert_eq!(storm_status(&n, &id).await, "ACTIVE");
    n.handle.shutdown().await.unwrap();
}
