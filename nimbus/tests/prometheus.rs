//! `GET /metrics` on a real nimbus: a viewer token scrapes it, no token gets 401, and
//! the text parses with Python's `prometheus_client` (installed by `.ci/run`) into the
//! families, labels and values of the posted worker stats and supervisor reports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Parse exposition text with `text_string_to_metric_families` of Python's
/// `prometheus_client.<module>` (`parser`: the classic Prometheus text parser,
/// `openmetrics.parser`: the OpenMetrics one, which also knows the counters' `_total`):
/// `[[family, type, sample name, labels, value], ...]`.
fn parse_with_python(module: &str, text: &str) -> Vec<(String, String, String, Value, f64)> {
    let script = format!(
        r#"
import json, sys
from prometheus_client.{module} import text_string_to_metric_families
"#
    ) + SCRIPT;
    const SCRIPT: &str = r#"
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append([fam.name, fam.type, s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "python3 runs (with prometheus_client: `python3 -m pip install prometheus_client`)",
        );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the text: {}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.into_iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
                r[2].as_str().unwrap().to_string(),
                r[3].clone(),
                r[4].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The value of sample `name` whose labels include every pair of `want`.
fn value(rows: &[(String, String, String, Value, f64)], name: &str, want: &[(&str, &str)]) -> f64 {
    let hits: Vec<f64> = rows
        .iter()
        .filter(|r| r.2 == name && want.iter().all(|(k, v)| r.3[*k] == json!(v)))
        .map(|r| r.4)
        .collect();
    assert_eq!(hits.len(), 1, "one sample {name} {want:?}, got {hits:?}");
    hits[0]
}

#[tokio::test]
async fn metrics_scraped_with_a_viewer_token_parse_with_prometheus_client() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    let valid = n.upload(VALID_ARTIFACT).await;
    n.heartbeat("s1").await;
    n.heartbeat("s2").await;
    let (status, body) = n.submit("wc", YAML, &valid).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, info) = n.get("/api/v1/topologies/wc").await;
    let id = info["id"].as_str().unwrap().to_string();
    let workers = info["assignment"].as_array().unwrap().clone();
    assert_eq!(workers.len(), 2, "{info}");

    // s1 reports its worker's process figures.
    let w1 = workers.iter().find(|w| w["supervisor"] == "s1").unwrap();
    let port1 = w1["port"].as_u64().unwrap();
    let hb = json!({ "id": "s1", "host": "s1.test", "slots": [6700, 6701], "workers": [
        { "port": port1, "topology": "wc", "pid": 42, "state": "running", "uptime_secs": 30,
          "restarts": 2, "rss_bytes": 12_345_678, "cpu_ms": 4_500 } ] });
    let (status, body) = n.post("/api/v1/supervisors/heartbeat", &hb).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Every worker reports totals for its tasks (the admin stands in for the workers).
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for w in &workers {
        let tasks: Vec<Value> = w["executors"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e[0].as_u64().unwrap()..=e[1].as_u64().unwrap())
            .filter(|t| *t <= 6) // sentences 1-2, count 3-6; the ackers stay silent
            .map(|t| {
                let (component, bolt) = if t <= 2 { ("sentences", false) } else { ("count", true) };
                let hist = json!({ "count": 5, "sum": 50_000, "max": 10_000,
                                   "buckets": [[index_of_10ms(), 5]] });
                let mut row = json!({ "task": t, "component": component, "counters": {
                    "emitted": 100 * t, "transferred": 100 * t, "executed": if bolt { 10 * t } else { 0 },
                    "acked": 10 * t, "failed": 0, "errors": 0, "replayed": 0 },
                    "queue": { "depth": t, "capacity": 1024, "upstream_blocked_ns": 2_000_000_000u64,
                               "send_blocked_ns": 0 } });
                if bolt {
                    row["inputs"] = json!([{ "component": "sentences", "stream": "default",
                        "executed": 10 * t, "acked": 10 * t, "failed": 0,
                        "execute_latency_us": hist, "process_latency_us": hist }]);
                } else {
                    row["outputs"] = json!([{ "stream": "default", "emitted": 100 * t,
                        "transferred": 100 * t, "acked": 10 * t, "failed": 0 }]);
                }
                row
            })
            .collect();
        let report = json!({ "topology_id": id, "supervisor": w["supervisor"], "port": w["port"],
                             "tasks": tasks, "started_at_ms": now_ms - 10_000 });
        let (status, body) = n.post("/api/v1/topologies/wc/stats", &report).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // No token: 401. A viewer token: the text.
    let anonymous = client_with(None)
        .get(n.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let viewer = client_for(&n.create_token("grafana", "viewer").await);
    let r = viewer.get(n.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ctype = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let text = r.text().await.unwrap();
    let rows = parse_with_python("parser", &text);
    let typed = parse_with_python("openmetrics.parser", &text);
    let samples = |rows: &[(String, String, String, Value, f64)]| {
        let mut v: Vec<String> = rows
            .iter()
            .map(|r| format!("{} {} {}", r.2, r.3, r.4))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        samples(&rows),
        samples(&typed),
        "both parsers read the same samples"
    );

    let task3 = [("topology", "wc"), ("component", "count"), ("task", "3")];
    assert_eq!(value(&rows, "squall_task_executed_total", &task3), 30.0);
    assert_eq!(value(&rows, "squall_task_emitted_total", &task3), 300.0);
    assert_eq!(value(&rows, "squall_task_queue_depth", &task3), 3.0);
    assert_eq!(value(&rows, "squall_task_queue_capacity", &task3), 1024.0);
    assert_eq!(
        value(&rows, "squall_task_upstream_blocked_seconds_total", &task3),
        2.0
    );
    let worker_label = rows
        .iter()
        .find(|r| r.2 == "squall_task_executed_total" && r.3["task"] == "3")
        .map(|r| r.3["worker"].as_str().unwrap().to_string())
        .unwrap();
    assert!(
        worker_label.ends_with(".test:6700") || worker_label.ends_with(".test:6701"),
        "{worker_label}"
    );
    let count = [("topology", "wc"), ("component", "count")];
    let executed: f64 = rows
        .iter()
        .filter(|r| r.2 == "squall_task_executed_total" && r.3["component"] == "count")
        .map(|r| r.4)
        .sum();
    assert_eq!(executed, 10.0 * (3 + 4 + 5 + 6) as f64);
    assert_eq!(
        value(
            &rows,
            "squall_input_executed_total",
            &[("component", "count"), ("source", "sentences")]
        ),
        executed
    );
    let p99 = value(
        &rows,
        "squall_component_latency_ms",
        &[
            ("component", "count"),
            ("kind", "execute"),
            ("quantile", "0.99"),
        ],
    );
    assert!((p99 - 10.0).abs() < 0.4, "p99 {p99}");
    assert_eq!(
        value(
            &rows,
            "squall_component_latency_mean_ms",
            &[("component", "count"), ("kind", "execute")]
        ),
        10.0
    );
    let capacity = value(&rows, "squall_component_capacity", &count);
    assert!(capacity > 0.0 && capacity < 1.0, "capacity {capacity}");
    assert_eq!(
        value(
            &rows,
            "squall_stream_emitted_total",
            &[("component", "sentences"), ("stream", "default")]
        ),
        300.0
    );
    assert_eq!(
        value(&rows, "squall_topologies", &[("status", "ACTIVE")]),
        1.0
    );
    assert_eq!(
        value(
            &rows,
            "squall_supervisor_slots",
            &[("supervisor", "s1"), ("state", "used")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &rows,
            "squall_supervisor_slots",
            &[("supervisor", "s1"), ("state", "free")]
        ),
        1.0
    );
    let w1_label = format!("s1.test:{port1}");
    let w1 = [("worker", w1_label.as_str()), ("topology", "wc")];
    assert_eq!(value(&rows, "squall_worker_rss_bytes", &w1), 12_345_678.0);
    assert_eq!(value(&rows, "squall_worker_cpu_seconds_total", &w1), 4.5);
    assert_eq!(value(&rows, "squall_worker_uptime_seconds", &w1), 30.0);
    assert_eq!(value(&rows, "squall_worker_restarts_total", &w1), 2.0);
    assert_eq!(
        value(&rows, "squall_metrics_dropped_series_total", &[]),
        0.0
    );
    let families: std::collections::BTreeSet<(&str, &str)> =
        typed.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert!(
        families.contains(&("squall_task_executed", "counter")),
        "{families:?}"
    );
    assert!(
        families.contains(&("squall_component_capacity", "gauge")),
        "{families:?}"
    );
    assert!(
        families.contains(&("squall_worker_cpu_seconds", "counter")),
        "{families:?}"
    );
    assert!(
        families
            .iter()
            .all(|(_, t)| *t == "counter" || *t == "gauge"),
        "{families:?}"
    );

    // The JSON view the same figures come from: a read, with Storm's window names.
    let r = viewer
        .get(n.url("/api/v1/topologies/wc/metrics?window=:all-time"))
        .send()
        .await
        .unwrap();
    let (status, m) = into_json(r).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["window"], "all_time", "{m}");
    assert_eq!(
        m["components"]["count"]["executed"],
        json!(executed as u64),
        "{m}"
    );
    assert_eq!(m["components"]["count"]["errors"], json!([]), "{m}");
    let r = viewer
        .get(n.url("/api/v1/topologies/wc/metrics?window=7"))
        .send()
        .await
        .unwrap();
    let (status, body) = into_json(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    n.handle.shutdown().await.unwrap();
}

/// The histogram bucket of 10 000 µs (16 log-linear buckets per power of two).
fn index_of_10ms() -> u64 {
    // 10 000 = 2^13 × 1.22: bucket 16 + (13 - 4) × 16 + (10_000 >> 9) % 16 = 16 + 144 + 3.
    let e = 63 - 10_000u64.leading_zeros() as u64;
    16 + (e - 4) * 16 + ((10_000 >> (e - 4)) & 15)
}
