//! Authentication, authorization, audit and rate limits against a real nimbus on
//! loopback: every request is a real HTTP request with (or without) a bearer token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// A request with `client`; status, JSON body and the `Retry-After` header.
async fn call(
    n: &TestNimbus,
    client: &Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = client.request(method, n.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = into_json(r).await;
    (status, body, retry)
}

/// A client with a bearer header of arbitrary text (a wrong token).
fn client_with_header(value: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, value.parse().unwrap());
    headers.insert(
        squall_runtime::cluster::protocol::VERSION_HEADER,
        squall_runtime::cluster::protocol::PROTOCOL_VERSION.into(),
    );
    Client::builder().default_headers(headers).build().unwrap()
}

/// Every file under `dir` with its size (what "nothing changed on disk" compares).
fn files(dir: &Path) -> BTreeSet<(String, u64)> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap()) {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.insert((p.display().to_string(), e.metadata().unwrap().len()));
        }
    }
    out
}

fn heartbeat_body(id: &str) -> Value {
    json!({ "id": id, "host": format!("{id}.test"), "slots": [6700, 6701], "workers": [] })
}

/// A topology `name` submitted by the admin (with two supervisors heartbeating).
async fn with_topology(n: &TestNimbus, name: &str) -> String {
    let hash = n.upload(VALID_ARTIFACT).await;
    n.heartbeat("s1").await;
    let (status, body) = n.submit(name, YAML, &hash).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    hash
}

#[tokio::test]
async fn requests_without_or_with_a_wrong_token_get_401_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let hash = with_topology(&n, "wc").await;
    let (_, before_list) = n.get("/api/v1/topologies").await;
    let (_, before_sups) = n.get("/api/v1/supervisors").await;

    let anonymous = client_with(None);
    let wrong_secret = {
        let admin = n.admin.clone().unwrap();
        let forged = squall_runtime::cluster::auth::token::Token {
            id: admin.id.clone(),
            ..squall_runtime::cluster::auth::token::Token::generate().unwrap()
        };
        client_with(Some(&forged))
    };
    let unknown = client_with(Some(
        &squall_runtime::cluster::auth::token::Token::generate().unwrap(),
    ));
    let garbage = client_with_header("Bearer not-a-token");
    let new_bytes = b"#!/bin/sh\nexit 0\n# another artifact\n".to_vec();
    let new_hash = sha256_hex(&new_bytes);
    let on_disk = files(dir.path());
    let submit = json!({ "name": "evil", "yaml": YAML, "artifact": hash });
    let stats = json!({ "topology_id": "wc-1-0", "supervisor": "s1", "port": 6700, "tasks": [] });
    for (who, client) in [
        ("no token", &anonymous),
        ("a wrong secret", &wrong_secret),
        ("an unknown token", &unknown),
        ("a malformed token", &garbage),
    ] {
        let requests: Vec<(Method, String, Option<Value>)> = vec![
            (
                Method::POST,
                "/api/v1/topologies".into(),
                Some(submit.clone()),
            ),
            (
                Method::POST,
                "/api/v1/topologies/wc/kill".into(),
                Some(json!({})),
            ),
            (
                Method::POST,
                "/api/v1/supervisors/heartbeat".into(),
                Some(heartbeat_body("fake")),
            ),
            (Method::GET, "/api/v1/topologies".into(), None),
            (Method::GET, "/api/v1/tokens".into(), None),
        ];
        for (method, path, body) in requests {
            let (status, body, _) = call(&n, client, method.clone(), &path, body).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{who}: {method} {path}: {body}"
            );
            let msg = body["error"].as_str().unwrap();
            for needle in [
                "--token-file",
                "SQUALL_TOKEN_FILE",
                "SQUALL_TOKEN=",
                "admin.token",
            ] {
                assert!(msg.contains(needle), "{who}: {msg}");
            }
        }
        // An upload.
        let r = client
            .put(n.url(&format!("/api/v1/artifacts/{new_hash}")))
            .body(new_bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{who}: upload");
        // Stats: a worker route, open only to the topology's worker credential.
        let (status, body, _) = call(
            &n,
            client,
            Method::POST,
            "/api/v1/topologies/wc/stats",
            Some(stats.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{who}: stats: {body}");
        let r = client
            .post(n.url("/api/v1/topologies/wc/stats"))
            .header("authorization", "Bearer squall-worker.wc-1-0.00ff")
            .json(&stats)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "a forged worker credential"
        );
    }
    // Health stays open.
    let (status, _, _) = call(&n, &anonymous, Method::GET, "/api/v1/health", None).await;
    assert_eq!(status, StatusCode::OK);
    // Nothing changed: the same files (the audit log aside), topologies and supervisors.
    let audit = dir.path().join("audit.log").display().to_string();
    let strip = |s: BTreeSet<(String, u64)>| -> BTreeSet<(String, u64)> {
        s.into_iter().filter(|(p, _)| *p != audit).collect()
    };
    assert_eq!(strip(files(dir.path())), strip(on_disk));
    let summary = |v: &Value| -> Vec<(Value, Value, Value)> {
        v["topologies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].clone(), t["id"].clone(), t["status"].clone()))
            .collect()
    };
    assert_eq!(
        summary(&n.get("/api/v1/topologies").await.1),
        summary(&before_list)
    );
    let (_, after_sups) = n.get("/api/v1/supervisors").await;
    let ids = |v: &Value| -> Vec<String> {
        v["supervisors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&after_sups), ids(&before_sups));
    // The refusals are audited, without any token text.
    let log = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert!(log.lines().any(|l| l.contains("\"status\":401")), "{log}");
    assert!(!log.contains("squall1."), "{log}");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_viewer_gets_403_on_every_mutation_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let hash = with_topology(&n, "wc").await;
    let viewer = client_for(&n.create_token("ann", "viewer").await);
    let (_, info) = n.get("/api/v1/topologies/wc").await;
    let id = info["id"].as_str().unwrap().to_string();
    let mutations: Vec<(Method, &str, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/v1/topologies",
            Some(json!({ "name": "v", "yaml": YAML, "artifact": hash })),
        ),
        (Method::POST, "/api/v1/topologies/wc/kill", Some(json!({}))),
        (Method::POST, "/api/v1/topologies/wc/activate", None),
        (Method::POST, "/api/v1/topologies/wc/deactivate", None),
        (
            Method::POST,
            "/api/v1/topologies/wc/rebalance",
            Some(json!({ "workers": 1 })),
        ),
        (
            Method::POST,
            "/api/v1/topologies/wc/stats",
            Some(json!({ "topology_id": id, "supervisor": "s1", "port": 6700, "tasks": [] })),
        ),
        (
            Method::PUT,
            "/api/v1/topologies/wc/trident/k",
            Some(json!({ "topology_id": id, "value": "v" })),
        ),
        (
            Method::POST,
            "/api/v1/supervisors/heartbeat",
            Some(heartbeat_body("v1")),
        ),
        (
            Method::POST,
            "/api/v1/tokens",
            Some(json!({ "name": "mine", "role": "admin" })),
        ),
        (Method::DELETE, "/api/v1/tokens/admin", None),
    ];
    for (method, path, body) in mutations {
        let (status, body, _) = call(&n, &viewer, method.clone(), path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert!(body["error"].as_str().unwrap().contains("ann"), "{body}");
    }
    let r = viewer
        .put(n.url(&format!("/api/v1/artifacts/{}", sha256_hex(b"x"))))
        .body(b"x".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "upload");
    // Reads work.
    for path in [
        "/api/v1/topologies",
        "/api/v1/topologies/wc",
        "/api/v1/supervisors",
    ] {
        let (status, body, _) = call(&n, &viewer, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, info) = n.get("/api/v1/topologies/wc").await;
    assert_eq!(info["status"], json!("ACTIVE"), "untouched: {info}");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn deployers_act_on_their_own_topologies_and_those_whose_users_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let hash = n.upload(VALID_ARTIFACT).await;
    n.heartbeat("s1").await;
    n.heartbeat("s2").await;
    let alice = client_for(&n.create_token("alice", "deployer").await);
    let bob = client_for(&n.create_token("bob", "deployer").await);
    let carol = client_for(&n.create_token("carol", "deployer").await);
    let shared = YAML.replace("config:\n", "config:\n  topology.users: [carol]\n");
    let (status, body, _) = call(
        &n,
        &alice,
        Method::POST,
        "/api/v1/topologies",
        Some(json!({ "name": "a1", "yaml": shared, "artifact": hash })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body, _) = call(
        &n,
        &bob,
        Method::POST,
        "/api/v1/topologies",
        Some(json!({ "name": "b1", "yaml": YAML, "artifact": hash })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // bob on alice's: 403 naming the owner; nothing changes.
    for action in ["kill", "deactivate", "rebalance"] {
        let (status, body, _) = call(
            &n,
            &bob,
            Method::POST,
            &format!("/api/v1/topologies/a1/{action}"),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {body}");
        let msg = body["error"].as_str().unwrap();
        assert!(
            msg.contains("belongs to 'alice'") && msg.contains("'bob'"),
            "{msg}"
        );
    }
    let (_, info) = n.get("/api/v1/topologies/a1").await;
    assert_eq!(info["status"], json!("ACTIVE"), "{info}");
    // carol is in a1's topology.users; alice owns it.
    let (status, body, _) = call(
        &n,
        &carol,
        Method::POST,
        "/api/v1/topologies/a1/deactivate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) = call(
        &n,
        &alice,
        Method::POST,
        "/api/v1/topologies/a1/activate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // alice and carol on bob's: refused; bob and the admin: allowed.
    for (who, c) in [("alice", &alice), ("carol", &carol)] {
        let (status, body, _) = call(
            &n,
            c,
            Method::POST,
            "/api/v1/topologies/b1/deactivate",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("belongs to 'bob'"),
            "{body}"
        );
    }
    let (status, _, _) = call(
        &n,
        &bob,
        Method::POST,
        "/api/v1/topologies/b1/deactivate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = n.post("/api/v1/topologies/a1/kill", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "the admin acts on anyone's");
    // Each action is in the audit log, with who did it and the answer.
    let log = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let records: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records.iter().any(|r| r["who"] == "bob"
        && r["path"] == "/api/v1/topologies/a1/kill"
        && r["status"] == 403));
    assert!(records.iter().any(|r| r["who"] == "carol"
        && r["path"] == "/api/v1/topologies/a1/deactivate"
        && r["status"] == 200
        && r["ts_ms"].as_u64().unwrap() > 0));
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_supervisor_token_serves_one_id_and_a_stolen_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let hash = n.upload(VALID_ARTIFACT).await;
    let a = client_for(&n.create_token("sup-a", "supervisor").await);
    let b = client_for(&n.create_token("sup-b", "supervisor").await);
    let hb = "/api/v1/supervisors/heartbeat";
    let (status, body, _) = call(&n, &a, Method::POST, hb, Some(heartbeat_body("x"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another supervisor token taking over x, with fake slots: refused.
    let fake = json!({ "id": "x", "host": "evil", "slots": [1, 2, 3], "workers": [] });
    let (status, body, _) = call(&n, &b, Method::POST, hb, Some(fake)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().unwrap().contains("sup-a"), "{body}");
    // sup-a's token cannot register a second supervisor either.
    let (status, body, _) = call(&n, &a, Method::POST, hb, Some(heartbeat_body("y"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // A deployer is no supervisor.
    let d = client_for(&n.create_token("dep", "deployer").await);
    let (status, _, _) = call(&n, &d, Method::POST, hb, Some(heartbeat_body("z"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // x is registered once, with its real slots; y, z and the fake slots are not.
    let (_, sups) = n.get("/api/v1/supervisors").await;
    let list = sups["supervisors"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{sups}");
    assert_eq!(list[0]["id"], json!("x"));
    assert_eq!(list[0]["host"], json!("x.test"), "{sups}");
    // The binding survives a restart of nimbus.
    n.handle.shutdown().await.unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let fake = json!({ "id": "x", "host": "evil", "slots": [1], "workers": [] });
    let (status, _, _) = call(&n, &b, Method::POST, hb, Some(fake)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A supervisor token downloads artifacts, and does nothing else.
    let r = a
        .get(n.url(&format!("/api/v1/artifacts/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _, _) = call(&n, &a, Method::GET, "/api/v1/topologies", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = client_with(None)
        .get(n.url(&format!("/api/v1/artifacts/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "downloads need a credential"
    );
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn revoking_a_supervisor_token_evicts_it_and_moves_its_workers_now() {
    let dir = tempfile::tempdir().unwrap();
    // A long supervisor timeout: the eviction must not wait for it.
    let n = TestNimbus::start_with(dir.path(), |o| {
        o.supervisor_timeout = Duration::from_secs(600)
    })
    .await;
    let hash = n.upload(VALID_ARTIFACT).await;
    let a = client_for(&n.create_token("sup-a", "supervisor").await);
    let b = client_for(&n.create_token("sup-b", "supervisor").await);
    let hb = "/api/v1/supervisors/heartbeat";
    for (c, id) in [(&a, "sa"), (&b, "sb")] {
        let (status, body, _) = call(&n, c, Method::POST, hb, Some(heartbeat_body(id))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = n.submit("wc", YAML, &hash).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(n.worker_supervisors("wc").await, ["sa", "sb"]);

    let r = n
        .http
        .delete(n.url("/api/v1/tokens/sup-a"))
        .send()
        .await
        .unwrap();
    let (status, body) = into_json(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["supervisor_id"], json!("sa"));
    // At once: sa is gone and both workers run on sb.
    assert_eq!(n.worker_supervisors("wc").await, ["sb", "sb"]);
    let (_, sups) = n.get("/api/v1/supervisors").await;
    let ids: Vec<&str> = sups["supervisors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sb"], "{sups}");
    // sa's next heartbeat is refused and registers nothing.
    let (status, _, _) = call(&n, &a, Method::POST, hb, Some(heartbeat_body("sa"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(n.worker_supervisors("wc").await, ["sb", "sb"]);
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn tokens_are_managed_by_admins_and_secrets_stay_in_0600_files() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    for f in ["admin.token", "cluster.secret", "tokens.json"] {
        let mode = std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let text = n.create_token("d1", "deployer").await;
    let mode = std::fs::metadata(dir.path().join("audit.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "audit.log");
    let secret = text.split('.').nth(2).unwrap().to_string(); // (a join token ends with the CA pin)
    let (status, list) = n.get("/api/v1/tokens").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "d1"]);
    assert!(!list.to_string().contains(&secret), "{list}");
    // Stored hashed: no secret in any file but admin.token.
    for f in ["tokens.json", "audit.log", "nimbus.redb"] {
        let bytes = std::fs::read(dir.path().join(f)).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(&secret), "{f}");
    }
    // Duplicate names and bad roles are refused.
    let (status, _) = n
        .post("/api/v1/tokens", &json!({ "name": "d1", "role": "viewer" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = n
        .post("/api/v1/tokens", &json!({ "name": "r", "role": "root" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A deployer may not manage tokens.
    let d = client_for(&text);
    let (status, _, _) = call(&n, &d, Method::GET, "/api/v1/tokens", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Revoked: refused from then on, also after a restart.
    let r = n
        .http
        .delete(n.url("/api/v1/tokens/d1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _, _) = call(&n, &d, Method::GET, "/api/v1/topologies", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = n
        .http
        .delete(n.url("/api/v1/tokens/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "the last admin token stays"
    );
    n.handle.shutdown().await.unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let (status, _, _) = call(&n, &d, Method::GET, "/api/v1/topologies", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = n.get("/api/v1/topologies").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same admin token after a restart"
    );
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn mutations_past_a_token_s_rate_get_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start_with(dir.path(), |o| {
        o.auth.rate_burst = 3.0;
        o.auth.rate_per_sec = 0.2;
    })
    .await;
    let d = client_for(&n.create_token("busy", "deployer").await);
    let e = client_for(&n.create_token("other", "deployer").await);
    // Mutations of a topology that does not exist: cheap, and counted all the same.
    for i in 0..3 {
        let (status, body, _) = call(
            &n,
            &d,
            Method::POST,
            "/api/v1/topologies/none/activate",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{i}: {body}");
    }
    let (status, body, retry) = call(
        &n,
        &d,
        Method::POST,
        "/api/v1/topologies/none/activate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=5).contains(&secs), "{secs}");
    assert!(body["error"].as_str().unwrap().contains("busy"), "{body}");
    // Reads are not limited; another token has its own bucket.
    let (status, _, _) = call(&n, &d, Method::GET, "/api/v1/topologies", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(
        &n,
        &e,
        Method::POST,
        "/api/v1/topologies/none/activate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let log = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert!(log.contains("\"status\":429"), "{log}");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn failed_authentications_are_slowed_per_source_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start_with(dir.path(), |o| {
        o.auth.failure_delay_step = Duration::from_millis(300);
        o.auth.failure_delay_max = Duration::from_millis(900);
    })
    .await;
    let wrong = client_with(Some(
        &squall_runtime::cluster::auth::token::Token::generate().unwrap(),
    ));
    let mut took = Vec::new();
    for _ in 0..4 {
        let start = Instant::now();
        let (status, _, _) = call(&n, &wrong, Method::GET, "/api/v1/topologies", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        took.push(start.elapsed());
    }
    assert!(took[0] >= Duration::from_millis(300), "{took:?}");
    assert!(took[2] >= Duration::from_millis(900), "{took:?}");
    assert!(took[3] < Duration::from_secs(3), "bounded: {took:?}");
    // A valid token is not slowed by its address's failures.
    let start = Instant::now();
    let (status, _) = n.get("/api/v1/topologies").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_open_nimbus_needs_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start_with(dir.path(), |o| {
        o.auth.mode = squall_runtime::daemon::Authentication::None;
    })
    .await;
    assert!(n.admin.is_none());
    assert!(!dir.path().join("admin.token").exists());
    let hash = n.upload(VALID_ARTIFACT).await;
    n.heartbeat("s1").await;
    let (status, body) = n.submit("wc", YAML, &hash).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = n.post("/api/v1/topologies/wc/kill", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    n.handle.shutdown().await.unwrap();
}
