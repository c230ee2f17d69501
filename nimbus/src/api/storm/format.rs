//! How Storm writes values: uptimes (`1d 2h 3m 4s`), latencies and capacity as strings
//! with three decimals, URL-encoded ids, error fields, worker summaries.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use squall_runtime::cluster::protocol::{ComponentError, LatencyStats, WorkerAssignment};

/// The version nimbus reports as `stormVersion`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Storm's error texts in `lastError` are cut to this many characters.
const LAST_ERROR_CHARS: usize = 200;

/// Storm's `prettyUptimeSec`: `1d 2h 3m 4s`, leading zero units left out (`5m 0s`);
/// 0 is the empty string, as in Storm.
pub fn pretty_secs(secs: u64) -> String {
    let mut parts = Vec::new();
    let mut rest = secs;
    for (unit, div) in [
        ("s", Some(60)),
        ("m", Some(60)),
        ("h", Some(24)),
        ("d", None),
    ] {
        if rest == 0 {
            break;
        }
        match div {
            Some(d) => {
                parts.push(format!("{}{unit}", rest % d));
                rest /= d;
            }
            None => {
                parts.push(format!("{rest}{unit}"));
                rest = 0;
            }
        }
    }
    parts.reverse();
    parts.join(" ")
}

/// Storm's `floatStr`: three decimals.
pub fn float_str(x: f64) -> String {
    format!("{x:.3}")
}

/// A mean latency as Storm writes it (`"0.123"`, milliseconds).
pub fn mean(l: &LatencyStats) -> String {
    float_str(l.mean_ms)
}

/// A 99th percentile latency, written as the mean is (our extra `...P99` fields).
pub fn p99(l: &LatencyStats) -> String {
    float_str(l.p99_ms)
}

/// Java's `URLEncoder.encode(s, "UTF-8")`, as Storm's `encodedId` fields.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Where a worker's log is read: nimbus's log proxy (Storm links its logviewer).
pub fn worker_log_link(topology_id: &str, host: &str, port: u16) -> String {
    format!(
        "/api/v1/topology/{}/logs?worker={}",
        encode(topology_id),
        encode(&format!("{host}:{port}"))
    )
}

/// Storm's last-error fields of a component on the topology page: empty/null without
/// an error, else its latest one.
pub fn last_error_fields(
    out: &mut Map<String, Value>,
    topology_id: &str,
    errors: &[ComponentError],
    now_secs: u64,
) {
    let latest = errors.iter().max_by_key(|e| e.error.time_ms);
    match latest {
        None => {
            out.insert("lastError".into(), json!(""));
            out.insert("errorHost".into(), json!(""));
            out.insert("errorPort".into(), Value::Null);
            out.insert("errorWorkerLogLink".into(), json!(""));
            out.insert("errorTime".into(), Value::Null);
            out.insert("errorLapsedSecs".into(), Value::Null);
        }
        Some(e) => {
            out.extend(error_fields(topology_id, e, now_secs));
            let text: String = e.error.error.chars().take(LAST_ERROR_CHARS).collect();
            out.insert("lastError".into(), json!(text));
        }
    }
}

/// One of Storm's `componentErrors`: when (unix seconds), where, and what.
pub fn component_error(topology_id: &str, e: &ComponentError, now_secs: u64) -> Value {
    let mut m = error_fields(topology_id, e, now_secs);
    m.insert("error".into(), json!(e.error.error));
    Value::Object(m)
}

fn error_fields(topology_id: &str, e: &ComponentError, now_secs: u64) -> Map<String, Value> {
    let secs = e.error.time_ms / 1000;
    let mut m = Map::new();
    m.insert("errorTime".into(), json!(secs));
    m.insert("errorHost".into(), json!(e.host));
    m.insert("errorPort".into(), json!(e.port));
    m.insert(
        "errorWorkerLogLink".into(),
        json!(worker_log_link(topology_id, &e.host, e.port)),
    );
    m.insert(
        "errorLapsedSecs".into(),
        json!(now_secs.saturating_sub(secs)),
    );
    m
}

/// Storm's worker summary (topology page `workers[]`): a worker of the assignment,
/// its uptime from its supervisor's report (0 before the first one) and the tasks it
/// runs per component.
pub fn worker_summary(
    w: &WorkerAssignment,
    topology: (&str, &str),
    owner: Option<&str>,
    uptime_secs: u64,
    task_components: &BTreeMap<u32, String>,
) -> Value {
    let (name, id) = topology;
    let mut per_component: BTreeMap<&str, u64> = BTreeMap::new();
    for [first, last] in &w.executors {
        for task in *first..=*last {
            if let Some(c) = task_components.get(&task) {
                *per_component.entry(c.as_str()).or_default() += 1;
            }
        }
    }
    json!({
        "supervisorId": w.supervisor,
        "host": w.host,
        "port": w.port,
        "topologyId": id,
        "topologyName": name,
        "executorsTotal": w.executors.len(),
        "assignedMemOnHeap": 0.0,
        "assignedMemOffHeap": 0.0,
        "assignedCpu": 0.0,
        "componentNumTasks": per_component,
        "uptime": pretty_secs(uptime_secs),
        "uptimeSeconds": uptime_secs,
        "workerLogLink": worker_log_link(id, &w.host, w.port),
        "owner": owner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptimes_are_written_as_storm_writes_them() {
        assert_eq!(pretty_secs(0), "");
        assert_eq!(pretty_secs(4), "4s");
        assert_eq!(pretty_secs(600), "10m 0s");
        assert_eq!(pretty_secs(10_800), "3h 0m 0s");
        assert_eq!(pretty_secs(86_400), "1d 0h 0m 0s");
        assert_eq!(pretty_secs(93_784), "1d 2h 3m 4s");
        assert_eq!(pretty_secs(1759), "29m 19s");
    }

    #[test]
    fn floats_ids_and_links_are_written_as_storm_writes_them() {
        assert_eq!(float_str(0.0), "0.000");
        assert_eq!(float_str(2.1124), "2.112");
        assert_eq!(encode("wc-1-17 a/b"), "wc-1-17+a%2Fb");
        assert_eq!(
            worker_log_link("wc-1-2", "10.0.0.1", 6700),
            "/api/v1/topology/wc-1-2/logs?worker=10.0.0.1%3A6700"
        );
    }
}
