//! Test helpers: nimbus in-process on 127.0.0.1:0 with a temporary data dir, an HTTP
//! client, fake artifacts (shell scripts) and bounded polling.

// Helpers of tests: a failed unwrap is a failed test, and not every suite uses every helper.
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use squall_nimbus::{NimbusHandle, NimbusOpts};

/// A topology with 2 workers, 4 executors of its own and 2 ackers (one per worker).
pub const YAML: &str = "name: wordcount
config:
  topology.workers: 2
spouts:
  - id: sentences
    className: RandomSentenceSpout
    parallelism: 2
bolts:
  - id: count
    className: WordCountBolt
    parallelism: 2
    numTasks: 4
streams:
  - from: sentences
    to: count
    grouping:
      type: FIELDS
      args: [word]
";

/// A fake topology binary whose `validate` accepts everything.
pub const VALID_ARTIFACT: &[u8] = b"#!/bin/sh
if [ \"$1\" = validate ] && [ -f \"$2\" ]; then exit 0; fi
echo \"unexpected arguments: $*\" >&2
exit 2
";

/// A fake topology binary whose `validate` refuses with a located message.
pub const INVALID_ARTIFACT: &[u8] = b"#!/bin/sh
echo \"$2:10:16: bolts[0].className: unknown bolt 'WordCountBolt' (registered bolts: SplitBolt)\" >&2
exit 1
";

/// Initialise logging once (RUST_LOG-style filter in `SQUALL_LOG`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SQUALL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Test options: 30 s supervisor timeout (tests of failover shorten it), 50 ms monitor,
/// 64 KiB JSON bodies, 1 MiB artifacts.
pub fn opts(dir: &Path) -> NimbusOpts {
    let mut o = NimbusOpts::new(dir.to_path_buf());
    o.listen = "127.0.0.1:0".parse().unwrap();
    o.supervisor_timeout = Duration::from_secs(30);
    o.monitor_interval = Duration::from_millis(50);
    o.max_request_bytes = 64 * 1024;
    o.max_artifact_bytes = 1024 * 1024;
    o.validate_timeout = Duration::from_secs(20);
    // The admin stands in for workers (stats, Trident metadata) in these tests: its
    // mutations are not rate limited here (the rate-limit test sets its own).
    o.auth.rate_burst = 1e9;
    o.auth.rate_per_sec = 1e9;
    // Failed authentications are slowed a little only (the slowing test sets its own).
    o.auth.failure_delay_step = Duration::from_millis(10);
    o.auth.failure_delay_max = Duration::from_millis(50);
    o
}

/// A running nimbus and a client for it.
pub struct TestNimbus {
    /// The nimbus.
    pub handle: NimbusHandle,
    /// Its data dir (kept alive by the caller's `TempDir`).
    pub dir: PathBuf,
    /// HTTP client, with the admin token.
    pub http: Client,
    /// The admin token (`None` with `nimbus.authentication: none`).
    pub admin: Option<squall_runtime::cluster::auth::token::Token>,
}

impl TestNimbus {
    /// Start nimbus on `dir` with the test options.
    pub async fn start(dir: &Path) -> TestNimbus {
        TestNimbus::start_with(dir, |_| {}).await
    }

    /// Start nimbus on `dir` with the test options changed by `change`.
    pub async fn start_with(dir: &Path, change: impl FnOnce(&mut NimbusOpts)) -> TestNimbus {
        init_tracing();
        let mut o = opts(dir);
        change(&mut o);
        let handle = squall_nimbus::start(o).await.unwrap();
        let admin = admin_token(dir);
        TestNimbus {
            handle,
            dir: dir.to_path_buf(),
            http: client_with(admin.as_ref()),
            admin,
        }
    }

    /// Make a token of `role` named `name` (as the admin); its text.
    pub async fn create_token(&self, name: &str, role: &str) -> String {
        let (status, body) = self
            .post("/api/v1/tokens", &json!({ "name": name, "role": role }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "token create: {body}");
        body["text"].as_str().unwrap().to_string()
    }

    /// Absolute URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.url())
    }

    /// GET a path; status and JSON body (`Null` when the body is not JSON).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        into_json(r).await
    }

    /// POST JSON to a path.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        into_json(r).await
    }

    /// POST raw bytes as JSON content to a path.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        into_json(r).await
    }

    /// Upload an artifact under its real hash; returns the hash.
    pub async fn upload(&self, bytes: &[u8]) -> String {
        let hash = sha256_hex(bytes);
        let (status, body) = self.put_artifact(&hash, bytes.to_vec()).await;
        assert!(status.is_success(), "upload failed: {status} {body}");
        hash
    }

    /// PUT bytes to `/api/v1/artifacts/{hash}`.
    pub async fn put_artifact(&self, hash: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let r = self
            .http
            .put(self.url(&format!("/api/v1/artifacts/{hash}")))
            .body(bytes)
            .send()
            .await
            .unwrap();
        into_json(r).await
    }

    /// Submit `yaml` under `name` with artifact `hash`.
    pub async fn submit(&self, name: &str, yaml: &str, hash: &str) -> (StatusCode, Value) {
        let body = json!({ "name": name, "yaml": yaml, "artifact": hash });
        self.post("/api/v1/topologies", &body).await
    }

    /// Heartbeat as supervisor `id` with slots 6700 and 6701; returns the assignments.
    pub async fn heartbeat(&self, id: &str) -> Vec<Value> {
        let body =
            json!({ "id": id, "host": format!("{id}.test"), "slots": [6700, 6701], "workers": [] });
        let (status, resp) = self.post("/api/v1/supervisors/heartbeat", &body).await;
        assert_eq!(status, StatusCode::OK, "heartbeat refused: {resp}");
        // Without a version, the answer holds the whole assignments: each slot's, as the
        // supervisor builds them.
        let answer: squall_runtime::cluster::protocol::HeartbeatResponse =
            serde_json::from_value(resp).unwrap();
        // Well-formed, and whole (no version held).
        let slots = answer.into_slots().unwrap().unwrap();
        slots
            .iter()
            .map(|a| serde_json::to_value(a).unwrap())
            .collect()
    }

    /// The supervisors of a topology's workers, sorted.
    pub async fn worker_supervisors(&self, name: &str) -> Vec<String> {
        let (status, info) = self.get(&format!("/api/v1/topologies/{name}")).await;
        assert_eq!(status, StatusCode::OK, "status of {name}: {info}");
        let mut out: Vec<String> = info["assignment"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["supervisor"].as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    }
}

/// The admin token nimbus wrote to `dir/admin.token`, if it did.
pub fn admin_token(dir: &Path) -> Option<squall_runtime::cluster::auth::token::Token> {
    let path = dir.join("admin.token");
    path.exists()
        .then(|| squall_runtime::cluster::auth::credentials::read_file(&path, "test").unwrap())
}

/// An HTTP client sending `token` (none: no `Authorization` header).
pub fn client_with(token: Option<&squall_runtime::cluster::auth::token::Token>) -> Client {
    squall_runtime::cluster::http::client(
        Duration::from_secs(30),
        token,
        &squall_runtime::cluster::auth::tls::ClientTrust::System,
    )
    .unwrap()
}

/// An HTTP client sending the token of this text.
pub fn client_for(text: &str) -> Client {
    let token = squall_runtime::cluster::auth::token::Token::parse(text).unwrap();
    client_with(Some(&token))
}

/// Status and JSON body of a response.
pub async fn into_json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Poll `probe` every 25 ms until it returns `Some`, failing after `limit` with `what`
/// and the last value it saw.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(last) if start.elapsed() > limit => {
                panic!("timed out after {limit:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// A fake supervisor heartbeating every 100 ms until dropped.
pub struct FakeSupervisor {
    task: tokio::task::JoinHandle<()>,
}

impl FakeSupervisor {
    /// Start heartbeating as `id` (slots 6700, 6701) to `n`.
    pub fn start(n: &TestNimbus, id: &str) -> FakeSupervisor {
        let (http, url) = (n.http.clone(), n.url("/api/v1/supervisors/heartbeat"));
        let body = json!({ "id": id, "host": format!("{id}.test"), "slots": [6700, 6701] });
        let task = tokio::spawn(async move {
            loop {
                let _ = http.post(&url).json(&body).send().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        FakeSupervisor { task }
    }
}

impl Drop for FakeSupervisor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The name nimbus stores `bytes` under.
pub fn sha256_hex(bytes: &[u8]) -> String {
    squall_runtime::cluster::protocol::ArtifactHash::of_bytes(bytes).to_string()
}
