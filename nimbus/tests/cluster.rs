//! Scheduling over HTTP with fake supervisors: spreading, failover, restart, kill.

mod common;

use std::time::{Duration, Instant};

use common::{FakeSupervisor, TestNimbus, VALID_ARTIFACT, YAML, wait_for};
use reqwest::StatusCode;
use serde_json::json;

/// Generous bound for things that must happen within ~1 s (slow CI machines).
const LIMIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn two_supervisors_get_one_worker_each_and_failover_moves_them() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start_with(dir.path(), |o| {
        o.supervisor_timeout = Duration::from_secs(1);
    })
    .await;
    let hash = n.upload(VALID_ARTIFACT).await;
    n.heartbeat("sup-a").await;
    n.heartbeat("sup-b").await;
    let _a = FakeSupervisor::start(&n, "sup-a");
    let b = FakeSupervisor::start(&n, "sup-b");
    let (status, body) = n.submit("wc", YAML, &hash).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(n.worker_supervisors("wc").await, vec!["sup-a", "sup-b"]);

    // Each supervisor's heartbeat answer holds its one worker, with every task located.
    let a = n.heartbeat("sup-a").await;
    let b_assignments = n.heartbeat("sup-b").await;
    assert_eq!((a.len(), b_assignments.len()), (1, 1));
    let w = &a[0];
    assert_eq!(w["topology"], json!("wc"));
    assert!(
        w["topology_id"].as_str().unwrap().starts_with("wc-1-"),
        "{w}"
    );
    assert_eq!(w["status"], json!("ACTIVE"));
    assert_eq!(w["port"], json!(6700));
    assert_eq!(w["artifact"], json!(hash));
    assert_eq!(w["yaml"], json!(YAML));
    assert_eq!(w["workers_total"], json!(2));
    assert_eq!(w["task_locations"].as_object().unwrap().len(), 8);
    assert_eq!(w["task_locations"]["1"], json!("sup-a.test:6700"));
    assert_eq!(w["task_locations"]["2"], json!("sup-b.test:6700"));
    // The topology's secret, to these supervisors only, and in no view.
    let secret = w["topology_secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 64, "{w}");
    assert_eq!(b_assignments[0]["topology_secret"], json!(secret));
    for path in [
        "/api/v1/topologies",
        "/api/v1/topologies/wc",
        "/api/v1/supervisors",
    ] {
        let (_, view) = n.get(path).await;
        assert!(
            !view.to_string().contains(&secret),
            "{path} shows the secret"
        );
    }
    let execs_a = w["executors"].as_array().unwrap().len();
    let execs_b = b_assignments[0]["executors"].as_array().unwrap().len();
    assert_eq!((execs_a, execs_b), (3, 3));

    // sup-b goes silent; sup-a keeps heartbeating. Once the 1 s timeout is over (and a
    // monitor period) sup-b's worker moves to sup-a's free slot.
    drop(b);
    let silent_since = Instant::now();
    wait_for("sup-b's worker to move to sup-a", LIMIT, || async {
        let s = n.worker_supervisors("wc").await;
        if s == ["sup-a", "sup-a"] {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    assert!(
        silent_since.elapsed() >= Duration::from_millis(800),
        "moved before the timeout"
    );
    let (_, sups) = n.get("/api/v1/supervisors").await;
    let b_view = &sups["supervisors"][1];
    assert_eq!(b_view["id"], json!("sup-b"));
    assert_eq!(b_view["alive"], json!(false));
    assert_eq!(n.heartbeat("sup-a").await.len(), 2);

    // sup-b comes back: it is alive again, but the topology stays where it is.
    assert!(n.heartbeat("sup-b").await.is_empty());
    assert_eq!(n.worker_supervisors("wc").await, vec!["sup-a", "sup-a"]);
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn restart_keeps_topologies_status_and_assignments() {
    let dir = tempfile::tempdir().unwrap();
    let (before, list_before) = {
        let n = TestNimbus::start(dir.path()).await;
        let hash = n.upload(VALID_ARTIFACT).await;
        n.heartbeat("sup-a").await;
        n.heartbeat("sup-b").await;
        assert_eq!(n.submit("wc", YAML, &hash).await.0, StatusCode::CREATED);
        assert_eq!(n.submit("other", YAML, &hash).await.0, StatusCode::CREATED);
        let (status, _) = n
            .post("/api/v1/topologies/other/deactivate", &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, info) = n.get("/api/v1/topologies/wc").await;
        let (_, list) = n.get("/api/v1/topologies").await;
        n.handle.shutdown().await.unwrap();
        (info, list)
    };
    let n = TestNimbus::start(dir.path()).await;
    let (status, after) = n.get("/api/v1/topologies/wc").await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["status"], json!("ACTIVE"));
    assert_eq!(after["assignment"], before["assignment"]);
    let (_, list) = n.get("/api/v1/topologies").await;
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        for t in v["topologies"].as_array_mut().unwrap() {
            t.as_object_mut().unwrap().remove("uptime_secs");
        }
        v
    };
    assert_eq!(strip(&list), strip(&list_before));
    assert_eq!(list["topologies"][0]["name"], json!("other"));
    assert_eq!(list["topologies"][0]["status"], json!("INACTIVE"));
    // The artifact is still served, and supervisors get their assignments back.
    let hash = before["artifact"].as_str().unwrap();
    let head = n
        .http
        .head(n.url(&format!("/api/v1/artifacts/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(n.heartbeat("sup-a").await.len(), 2);
    // A new submission gets the next counter value.
    let (_, body) = n.submit("third", YAML, hash).await;
    assert!(
        body["id"].as_str().unwrap().starts_with("third-3-"),
        "{body}"
    );
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn kill_with_wait_removes_the_assignment_after_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let hash = n.upload(VALID_ARTIFACT).await;
    n.heartbeat("sup-a").await;
    assert_eq!(n.submit("wc", YAML, &hash).await.0, StatusCode::CREATED);
    let killed_at = Instant::now();
    let (status, body) = n
        .post("/api/v1/topologies/wc/kill", &json!({ "wait_secs": 1 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], json!("KILLED"));
    // During the wait the workers keep their assignment, marked KILLED (spouts stop).
    let during = n.heartbeat("sup-a").await;
    assert_eq!(during.len(), 2);
    assert!(during.iter().all(|a| a["status"] == json!("KILLED")));
    let (status, body) = n.post("/api/v1/topologies/wc/activate", &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    wait_for("the killed topology to be removed", LIMIT, || async {
        let (status, body) = n.get("/api/v1/topologies/wc").await;
        if status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await;
    assert!(
        killed_at.elapsed() >= Duration::from_millis(900),
        "removed before the wait"
    );
    assert!(n.heartbeat("sup-a").await.is_empty());
    let (_, list) = n.get("/api/v1/topologies").await;
    assert_eq!(list["topologies"], json!([]));
    // Kill without a body uses the message timeout (30 s): still listed as KILLED.
    assert_eq!(n.submit("wc", YAML, &hash).await.0, StatusCode::CREATED);
    let r = n
        .http
        .post(n.url("/api/v1/topologies/wc/kill"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, info) = n.get("/api/v1/topologies/wc").await;
    assert_eq!(info["status"], json!("KILLED"));
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_topology_short_of_slots_grows_when_a_supervisor_joins() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let hash = n.upload(VALID_ARTIFACT).await;
    let one_slot = json!({ "id": "small", "host": "small.test", "slots": [6700] });
    n.post("/api/v1/supervisors/heartbeat", &one_slot).await;
    assert_eq!(n.submit("wc", YAML, &hash).await.0, StatusCode::CREATED);
    assert_eq!(n.worker_supervisors("wc").await, vec!["small"]);
    n.post("/api/v1/supervisors/heartbeat", &one_slot).await;
    n.heartbeat("big").await;
    assert_eq!(n.worker_supervisors("wc").await, vec!["big", "small"]);
    n.handle.shutdown().await.unwrap();
}
