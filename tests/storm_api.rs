//! Storm's UI REST API on a real cluster (nimbus, two supervisors, a topology on two
//! worker processes), called as a script would: `reqwest` with nothing but an
//! `Authorization: Bearer` header. Every endpoint against its golden fixture
//! (`nimbus/tests/fixtures/storm-api`), with the rows real workers report; Storm's
//! actions change the topology's status; `squall errors` prints a bolt's errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;
#[path = "../nimbus/tests/storm_api_compare/mod.rs"]
mod storm_api_compare;

use std::time::Duration;

use cluster_common::*;
use serde_json::{Value, json};
use storm_api_compare::assert_matches;

/// A topology on two workers: a rate-limited spout feeding a healthy bolt and a bolt
/// that fails every tuple with an error (`WordCountBolt` wants a field `word`).
fn yaml() -> String {
    r#"name: sapi
config:
  topology.workers: 2
  topology.message.timeout.secs: 5
  topology.max.spout.pending: 50
spouts:
  - id: payloads
    className: ConstSpout
    constructorArgs: [0, 50]
bolts:
  - id: exclaim
    className: ExclamationBolt
    parallelism: 2
  - id: broken
    className: WordCountBolt
streams:
  - from: payloads
    to: exclaim
    grouping: {type: SHUFFLE}
  - from: payloads
    to: broken
    grouping: {type: SHUFFLE}
"#
    .to_string()
}

/// A script's HTTP client: no protocol version header, only the bearer token.
struct Script {
    url: String,
    token: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Script {
    fn new(c: &Cluster) -> Script {
        squall_runtime::cluster::auth::tls::provider();
        let token = std::fs::read_to_string(token_file(&c.url).expect("an admin token"))
            .unwrap()
            .trim()
            .to_string();
        Script {
            url: c.url.clone(),
            token,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.rt.block_on(async {
            let mut req = self
                .http
                .request(method, format!("{}{path}", self.url))
                .header("Authorization", format!("Bearer {}", self.token));
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn post(&self, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.send(reqwest::Method::POST, path, body);
        assert_eq!(status, 200, "POST {path}: {answer}");
        answer
    }
}

fn rows<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array: {v}"))
}

/// The ids of a page's rows (`key` = `spouts`, `bolts`; `id` = `spoutId`, `boltId`).
fn ids(v: &Value, key: &str, id: &str) -> Vec<String> {
    rows(v, key)
        .iter()
        .map(|r| r[id].as_str().unwrap().to_string())
        .collect()
}

/// Storm's `outputStats`/`inputStats` of component `cid` hold a row for every stream the
/// metrics view has (system streams only with sys=1).
fn streams_consistent(page: &Value, metrics: &Value, cid: &str) {
    let c = &metrics["components"][cid];
    let user = |s: &Value| !s.as_str().unwrap_or("").starts_with("__");
    let outputs = c["outputs"]
        .as_array()
        .map_or(0, |o| o.iter().filter(|o| user(&o["stream"])).count());
    assert_eq!(rows(page, "outputStats").len(), outputs, "{cid}: {page}");
    if page["componentType"] == "bolt" {
        let inputs = c["inputs"].as_array().map_or(0, |i| {
            i.iter()
                .filter(|i| user(&i["stream"]) && user(&i["component"]))
                .count()
        });
        assert_eq!(rows(page, "inputStats").len(), inputs, "{cid}: {page}");
    }
}

#[test]
fn storm_s_rest_api_on_a_two_worker_cluster_matches_storm_s_shapes_and_acts() {
    let c = cluster("");
    submit(&c, &yaml());
    let st = wait_running(&c, "sapi", 2);
    let id = st["id"].as_str().unwrap().to_string();
    let s = Script::new(&c);
    // Wait for the workers' reports: tuples flowing, the broken bolt's errors in.
    let broken = wait_for(
        LONG,
        "the broken bolt's errors in its component page",
        || {
            let page = s.get(&format!("/api/v1/topology/{id}/component/broken"));
            (!rows(&page, "componentErrors").is_empty()).then_some(page)
        },
    );
    let topo = wait_for(LONG, "emitted tuples on the topology page", || {
        let page = s.get(&format!("/api/v1/topology/{id}"));
        (page["spouts"][0]["emitted"].as_u64().unwrap_or(0) > 0).then_some(page)
    });

    // Every read endpoint, in Storm's shape, with the figures of this cluster.
    let cluster_summary = s.get("/api/v1/cluster/summary");
    assert_matches("cluster-summary.json", &cluster_summary);
    assert_eq!(cluster_summary["supervisors"], 2);
    assert_eq!(cluster_summary["slotsTotal"], 4);
    assert_eq!(cluster_summary["slotsUsed"], 2);
    assert_eq!(cluster_summary["slotsFree"], 2);
    assert_eq!(cluster_summary["topologies"], 1);
    let sups = s.get("/api/v1/supervisor/summary");
    assert_matches("supervisor-summary.json", &sups);
    let mut sup_ids: Vec<String> = rows(&sups, "supervisors")
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    sup_ids.sort();
    let mut expected = c.supervisor_ids();
    expected.sort();
    assert_eq!(sup_ids, expected);
    for sup in rows(&sups, "supervisors") {
        assert_eq!(sup["slotsUsed"], 1, "one worker each: {sup}");
    }
    let nimbus = s.get("/api/v1/nimbus/summary");
    assert_matches("nimbus-summary.json", &nimbus);
    assert_eq!(nimbus["nimbuses"][0]["status"], "Leader");
    assert_eq!(nimbus["nimbuses"][0]["port"], c.nimbus_port());
    let summary = s.get("/api/v1/topology/summary");
    assert_matches("topology-summary.json", &summary);
    assert_eq!(summary["topologies"][0]["id"], id.as_str());
    assert_eq!(summary["topologies"][0]["workersTotal"], 2);

    assert_matches("topology.json", &topo);
    assert_eq!(topo["status"], "ACTIVE");
    assert_eq!(topo["window"], ":all-time", "Storm's default window");
    assert_eq!(rows(&topo, "topologyStats").len(), 4);
    assert_eq!(rows(&topo, "workers").len(), 2);
    assert_eq!(ids(&topo, "spouts", "spoutId"), ["payloads"]);
    assert_eq!(ids(&topo, "bolts", "boltId"), ["broken", "exclaim"]);
    let b = &rows(&topo, "bolts")[0];
    assert!(b["lastError"].as_str().unwrap().contains("word"), "{b}");
    assert!(b["errorPort"].as_u64().is_some(), "{b}");
    let with_sys = s.get("/api/v1/topology/sapi?window=600&sys=1");
    assert_matches("topology.json", &with_sys);
    assert_eq!(with_sys["window"], "600");
    assert_eq!(
        ids(&with_sys, "bolts", "boltId"),
        ["__acker", "broken", "exclaim"],
        "sys=1 shows the acker; the name works as the id"
    );

    let metrics = s.get("/api/v1/topologies/sapi/metrics?window=:all-time");
    let spout = s.get(&format!("/api/v1/topology/{id}/component/payloads"));
    assert_matches("component-spout.json", &spout);
    assert_eq!(rows(&spout, "spoutSummary").len(), 4);
    assert_eq!(rows(&spout, "executorStats").len(), 1);
    streams_consistent(&spout, &metrics, "payloads");
    let exclaim = s.get(&format!(
        "/api/v1/topology/{id}/component/exclaim?window=600"
    ));
    assert_matches("component-bolt.json", &exclaim);
    assert_eq!(rows(&exclaim, "boltStats").len(), 4);
    assert_eq!(rows(&exclaim, "executorStats").len(), 2);
    streams_consistent(&exclaim, &metrics, "exclaim");
    assert_matches("component-bolt.json", &broken);
    let ports: Vec<u64> = rows(&topo, "workers")
        .iter()
        .map(|w| w["port"].as_u64().unwrap())
        .collect();
    let e = &rows(&broken, "componentErrors")[0];
    assert!(e["error"].as_str().unwrap().contains("word"), "{e}");
    assert!(
        ports.contains(&e["errorPort"].as_u64().unwrap()),
        "{e} {ports:?}"
    );
    assert_eq!(e["errorHost"], "127.0.0.1", "{e}");
    let lag = s.get(&format!("/api/v1/topology/{id}/lag"));
    assert_matches("topology-lag.json", &lag);
    assert_eq!(lag, json!({}));

    // `squall errors` prints the bolt's errors: time, task, worker, text.
    let (code, out, err) = cli(&c.url, &["errors", "sapi"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("broken ("), "{out}");
    let line = out.lines().nth(1).unwrap_or_default();
    assert!(
        line.contains("task ") && line.contains("127.0.0.1:"),
        "{out}"
    );
    assert!(line.contains("word"), "{out}");

    // Errors in Storm's shape.
    let (status, body) = s.send(reqwest::Method::GET, "/api/v1/topology/nope-9-9", None);
    assert_eq!(status, 404, "{body}");
    assert_matches("error.json", &body);
    assert_eq!(body["error"], "404 Not Found");
    let (status, body) = s.send(
        reqwest::Method::GET,
        &format!("/api/v1/topology/{id}?window=1"),
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert_matches("error.json", &body);

    // Actions: each answers Storm's shape and the status follows.
    let page_status = || s.get(&format!("/api/v1/topology/{id}"))["status"].clone();
    let a = s.post(&format!("/api/v1/topology/{id}/deactivate"), None);
    assert_matches("topology-deactivate.json", &a);
    assert_eq!(a["topologyId"], id.as_str());
    assert_eq!(page_status(), "INACTIVE");
    assert_eq!(
        cluster_common::status(&c.url, "sapi").unwrap()["status"],
        "INACTIVE"
    );
    let a = s.post(&format!("/api/v1/topology/{id}/activate"), None);
    assert_matches("topology-activate.json", &a);
    assert_eq!(page_status(), "ACTIVE");
    let a = s.post(
        &format!("/api/v1/topology/{id}/rebalance/0"),
        Some(json!({"rebalanceOptions": {"numWorkers": 1}})),
    );
    assert_matches("topology-rebalance.json", &a);
    wait_for(LONG, "one worker after the rebalance", || {
        let page = s.get(&format!("/api/v1/topology/{id}"));
        (rows(&page, "workers").len() == 1 && page["workersTotal"] == 1).then_some(())
    });
    let a = s.post(&format!("/api/v1/topology/{id}/kill/0"), None);
    assert_matches("topology-kill.json", &a);
    let (code, body) = s.send(
        reqwest::Method::GET,
        &format!("/api/v1/topology/{id}"),
        None,
    );
    assert_eq!(code, 404, "killed with wait 0: removed: {body}");
}
