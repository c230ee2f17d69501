//! HTTP API: artifacts, submission and validation, topology actions, bad inputs.

mod common;
use common::sha256_hex;

use common::{INVALID_ARTIFACT, TestNimbus, VALID_ARTIFACT, YAML};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn artifact_upload_download_and_hash_check() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let bytes = b"#!/bin/sh\nexit 0\n".to_vec();
    let hash = sha256_hex(&bytes);

    let (status, body) = n.put_artifact(&sha256_hex(b"other"), bytes.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("hash mismatch"),
        "{body}"
    );

    let (status, body) = n.put_artifact("not-a-hash", bytes.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("64 hex digits"),
        "{body}"
    );

    let url = n.url(&format!("/api/v1/artifacts/{hash}"));
    let head = n.http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    let (status, body) = n.get(&format!("/api/v1/artifacts/{hash}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains(&hash), "{body}");

    let (status, body) = n.put_artifact(&hash, bytes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({ "sha256": hash, "size": bytes.len(), "created": true })
    );
    let (status, body) = n.put_artifact(&hash, bytes.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["created"], json!(false));

    let head = n.http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    // (reqwest's content_length() reads the empty HEAD body; the header is what counts.)
    let length = head
        .headers()
        .get("content-length")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(length, bytes.len().to_string());
    let got = n.http.get(&url).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().to_vec(), bytes);

    let big = vec![b'x'; 2 * 1024 * 1024];
    let (status, body) = n.put_artifact(&sha256_hex(&big), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn submit_validates_with_the_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let valid = n.upload(VALID_ARTIFACT).await;
    let invalid = n.upload(INVALID_ARTIFACT).await;
    let corrupt = n.upload(&[0u8, 1, 2, 3, 4, 5, 6, 7, 0xff]).await;
    let no_interpreter = n.upload(b"#!/nonexistent/interpreter\n").await;

    let (status, body) = n.submit("wc", YAML, &invalid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("topology.yaml:10:16"), "{body}");
    assert!(error.contains("unknown bolt 'WordCountBolt'"), "{body}");
    assert_eq!(body["details"].as_array().unwrap().len(), 1, "{body}");

    for bad in [&corrupt, &no_interpreter] {
        let (status, body) = n.submit("wc", YAML, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("artifact {bad} cannot run")),
            "{body}"
        );
    }

    let missing = sha256_hex(b"never uploaded");
    let (status, body) = n.submit("wc", YAML, &missing).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not uploaded"),
        "{body}"
    );

    let (status, body) = n.submit("wc", YAML, &valid).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], json!("ACTIVE"));
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("wc-1-"), "{id}");

    // The name defaults to the YAML's.
    let body = json!({ "yaml": YAML, "artifact": valid });
    let (status, created) = n.post("/api/v1/topologies", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], json!("wordcount"));

    let (status, list) = n.get("/api/v1/topologies").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["topologies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["wc", "wordcount"]);
    let wc = &list["topologies"][0];
    assert_eq!(wc["num_workers"], json!(2));
    assert_eq!(wc["assigned_workers"], json!(0), "no supervisor yet");
    assert_eq!(
        wc["num_tasks"],
        json!(8),
        "2 spout + 4 bolt + 2 acker tasks"
    );
    assert_eq!(wc["num_executors"], json!(6));

    let (status, info) = n.get("/api/v1/topologies/wc").await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["id"], json!(id));
    assert_eq!(info["artifact"], json!(valid));
    assert_eq!(
        (
            &info["components"]["count"]["tasks"],
            &info["components"]["count"]["executors"]
        ),
        (&json!(4), &json!(2))
    );
    assert_eq!(
        (
            &info["components"]["__acker"]["tasks"],
            &info["components"]["__acker"]["executors"]
        ),
        (&json!(2), &json!(2))
    );
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let valid = n.upload(VALID_ARTIFACT).await;

    let (status, body) = n
        .post_raw("/api/v1/topologies", b"{\"name\": \"x\",".to_vec())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("malformed JSON"),
        "{body}"
    );

    let (status, body) = n.post("/api/v1/topologies", &json!({ "name": "x" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("missing field `yaml`"),
        "{body}"
    );

    let bad_yaml = "name: x\nspouts:\n  - id: s\n    className: S\n    parallelism: many\n";
    let (status, body) = n.submit("x", bad_yaml, &valid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains(":5:"), "the error names line 5: {body}");
    assert!(error.contains("parallelism"), "{body}");

    let (status, body) = n.submit("bad name!", YAML, &valid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, body) = n.submit("wc", YAML, &valid).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = n.submit("wc", YAML, &valid).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("already exists"),
        "{body}"
    );

    for path in [
        "/api/v1/topologies/nope",
        "/api/v1/topologies/nope/kill",
        "/api/v1/topologies/nope/activate",
        "/api/v1/topologies/nope/rebalance",
    ] {
        let (status, body) = if path.ends_with("nope") {
            n.get(path).await
        } else {
            n.post(path, &json!({})).await
        };
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"], json!("topology 'nope' not found"), "{path}");
    }

    let huge = json!({ "name": "big", "yaml": "#".repeat(100 * 1024), "artifact": valid });
    let (status, body) = n.post("/api/v1/topologies", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("65536 bytes"),
        "{body}"
    );

    let (status, body) = n.get("/api/v2/whatever").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"].as_str().unwrap().contains("no such endpoint"),
        "{body}"
    );
    let r = n
        .http
        .delete(n.url("/api/v1/topologies"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);

    let (status, body) = n
        .post(
            "/api/v1/supervisors/heartbeat",
            &json!({ "id": "", "host": "h", "slots": [0] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"].as_array().unwrap().len(), 2, "{body}");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn actions_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let valid = n.upload(VALID_ARTIFACT).await;
    n.heartbeat("s1").await;
    n.heartbeat("s2").await;
    let (status, body) = n.submit("wc", YAML, &valid).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = n
        .post("/api/v1/topologies/wc/deactivate", &json!(null))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], json!("INACTIVE"));
    let assignments = n.heartbeat("s1").await;
    assert_eq!(assignments[0]["status"], json!("INACTIVE"));
    let (_, body) = n.post("/api/v1/topologies/wc/activate", &json!({})).await;
    assert_eq!(body["status"], json!("ACTIVE"));

    let too_many = json!({ "parallelism": { "count": 5 } });
    let (status, body) = n.post("/api/v1/topologies/wc/rebalance", &too_many).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("'count' cannot be 5: it has 4 tasks"),
        "{body}"
    );

    let (status, body) = n
        .post(
            "/api/v1/topologies/wc/rebalance",
            &json!({ "workers": 1, "parallelism": { "count": 4 } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, info) = n.get("/api/v1/topologies/wc").await;
    assert_eq!(info["assignment"].as_array().unwrap().len(), 1, "{info}");
    assert_eq!(info["components"]["count"]["executors"], json!(4));
    assert_eq!(
        info["assignment"][0]["executors"].as_array().unwrap().len(),
        8
    );

    // Stats: only the assigned worker, for its own tasks; each task counted once.
    let w = &info["assignment"][0];
    let (sup, port) = (
        w["supervisor"].as_str().unwrap(),
        w["port"].as_u64().unwrap(),
    );
    let count_tasks: Vec<u64> = w["executors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e[0].as_u64().unwrap()..=e[1].as_u64().unwrap())
        .filter(|t| (3..=6).contains(t)) // sentences are tasks 1-2, count 3-6
        .collect();
    let id = info["id"].as_str().unwrap().to_string();
    let report = |port: u64, executed: u64| {
        let tasks: Vec<Value> = count_tasks
            .iter()
            .map(|t| {
                json!({ "task": t, "component": "count", "counters": {
                "emitted": 0, "transferred": 0, "executed": executed, "acked": 0, "failed": 0,
                "errors": 0, "replayed": 0 } })
            })
            .collect();
        json!({ "topology_id": id, "supervisor": sup, "port": port, "tasks": tasks })
    };
    for k in [5, 10] {
        let (status, body) = n
            .post("/api/v1/topologies/wc/stats", &report(port, k))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "status": "ACTIVE" }));
    }
    let (status, body) = n.post("/api/v1/topologies/wc/stats", &report(1, 99)).await;
    assert_eq!(status, StatusCode::CONFLICT, "a made-up worker: {body}");
    assert_eq!(body["code"], json!("not_assigned"), "{body}");
    let (_, info) = n.get("/api/v1/topologies/wc").await;
    let count = &info["components"]["count"];
    assert_eq!(
        count["executed"],
        json!(10 * count_tasks.len() as u64),
        "{info}"
    );
    assert_eq!(count["tasks"], json!(4));
    assert_eq!(count["kind"], json!("bolt"));

    let hb = json!({ "id": "s1", "host": "s1.test", "slots": [6700, 6701], "workers": [
        { "port": 6700, "topology": "wc", "pid": 42, "state": "running", "uptime_secs": 3,
          "restarts": 1, "last_exit": "exit status 1" } ] });
    let (status, _) = n.post("/api/v1/supervisors/heartbeat", &hb).await;
    assert_eq!(status, StatusCode::OK);
    let (_, info) = n.get("/api/v1/topologies/wc").await;
    assert_eq!(info["workers"][0]["supervisor"], json!("s1"));
    assert_eq!(info["workers"][0]["pid"], json!(42));
    assert_eq!(info["workers"][0]["restarts"], json!(1));

    let (status, sups) = n.get("/api/v1/supervisors").await;
    assert_eq!(status, StatusCode::OK);
    let list = sups["supervisors"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let used: usize = list
        .iter()
        .map(|s| s["used_slots"].as_array().unwrap().len())
        .sum();
    assert_eq!(used, 1);
    assert!(list.iter().all(|s| s["alive"] == json!(true)));
    n.handle.shutdown().await.unwrap();
}

/// A fake topology binary that resolves any `topologySource` into a two-component
/// topology named `built` when asked with `--write-resolved`.
const RESOLVING_ARTIFACT: &[u8] = b"#!/bin/sh
if [ \"$1\" = validate ] && [ \"$3\" = --write-resolved ]; then
cat > \"$4\" <<'END'
name: built
config:
  topology.workers: 2
spouts:
  - id: numbers
    className: Numbers
    parallelism: 2
bolts:
  - id: sum
    className: Sum
    numTasks: 3
streams:
  - from: numbers
    to: sum
    grouping: {type: SHUFFLE}
END
exit 0
fi
echo \"unexpected arguments: $*\" >&2
exit 2
";

#[tokio::test]
async fn a_topology_source_is_planned_from_the_declaration_its_artifact_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let resolving = n.upload(RESOLVING_ARTIFACT).await;
    let plain = n.upload(VALID_ARTIFACT).await;
    let sourced = "topologySource:\n  className: Summing\n  constructorArgs: [10]\n";

    // An artifact that validates but writes no declaration is refused clearly.
    let body = json!({ "yaml": sourced, "artifact": plain });
    let (status, body) = n.post("/api/v1/topologies", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("--write-resolved"),
        "{body}"
    );

    // No name in the YAML nor the request: the builder's name.
    let body = json!({ "yaml": sourced, "artifact": resolving });
    let (status, created) = n.post("/api/v1/topologies", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], json!("built"));
    let (status, info) = n.get("/api/v1/topologies/built").await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["num_workers"], json!(2), "{info}");
    assert_eq!(
        (
            &info["components"]["numbers"]["tasks"],
            &info["components"]["numbers"]["executors"]
        ),
        (&json!(2), &json!(2))
    );
    assert_eq!(
        (
            &info["components"]["sum"]["tasks"],
            &info["components"]["sum"]["executors"]
        ),
        (&json!(3), &json!(1))
    );
    assert_eq!(
        (
            &info["components"]["__acker"]["tasks"],
            &info["components"]["__acker"]["executors"]
        ),
        (&json!(2), &json!(2))
    );
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_answer_carries_the_protocol_version_and_incompatible_peers_are_refused() {
    use squall_runtime::cluster::protocol::{PROTOCOL_VERSION, VERSION_HEADER};
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    // rustls's provider is chosen by the caller (ring).
    let tls = squall_runtime::cluster::auth::tls::ClientTrust::System
        .rustls_config()
        .unwrap();
    // A person's curl: no version header, the admin token.
    let admin = n.admin.as_ref().unwrap().to_text().expose().clone();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {admin}").parse().unwrap(),
    );
    let plain = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .default_headers(headers)
        .build()
        .unwrap();

    // A person's curl (no version) reads the API; the answer names nimbus's version.
    let r = plain.get(n.url("/api/v1/topologies")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[VERSION_HEADER].to_str().unwrap(),
        PROTOCOL_VERSION.to_string()
    );
    let (_, health) = n.get("/api/v1/health").await;
    assert_eq!(health["protocol"], json!(PROTOCOL_VERSION));

    // A peer from the future is refused with both versions named.
    let r = plain
        .get(n.url("/api/v1/topologies"))
        .header(VERSION_HEADER, "99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("protocol 99") && msg.contains(&format!("speaks {PROTOCOL_VERSION}")),
        "{msg}"
    );

    // Daemon endpoints need a version: a heartbeat without one registers nothing.
    let hb = json!({ "id": "s9", "host": "h", "slots": [6700], "workers": [] });
    let r = plain
        .post(n.url("/api/v1/supervisors/heartbeat"))
        .json(&hb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no Squall cluster protocol version"),
        "{body}"
    );
    let (_, sups) = n.get("/api/v1/supervisors").await;
    assert_eq!(sups["supervisors"], json!([]));
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_second_nimbus_on_the_same_data_directory_is_refused_before_touching_it() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    // Validation scratch of an older nimbus, which a starting nimbus wipes: a second
    // nimbus used to wipe it before finding the directory in use.
    let scratch = dir.path().join("tmp").join("in-use");
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    std::fs::write(&scratch, b"x").unwrap();
    let Err(e) = squall_nimbus::start(common::opts(dir.path())).await else {
        panic!("a second nimbus on the same directory must be refused");
    };
    let msg = e.to_string();
    assert!(
        msg.contains("in use by another nimbus")
            && msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(scratch.exists(), "the refused nimbus touched the directory");
    let (status, _) = n.get("/api/v1/health").await;
    assert_eq!(status, StatusCode::OK, "the first nimbus keeps serving");
    n.handle.shutdown().await.unwrap();
    // Released with its holder: the directory can be served again.
    let again = squall_nimbus::start(common::opts(dir.path()))
        .await
        .unwrap();
    again.shutdown().await.unwrap();
}
