//! Metrics on a real cluster: a bolt that sleeps per tuple, fed faster than it can
//! process, shows a capacity near 1 and senders blocked on its input queue; the sink
//! after it, near 0. Read through `squall status --json` (its `metrics` key) and the
//! text screen of `squall status`.

mod cluster_common;

use cluster_common::*;
use serde_json::Value;

/// A spout as fast as it can go, a bolt of 2 ms per tuple, a sink doing nothing; one
/// worker, acking off (the spout is held back only by the full queue), every tuple's
/// latency sampled.
const YAML: &str = "name: slowpipe
config:
  topology.workers: 1
  topology.acker.executors: 0
  topology.stats.sample.rate: 1.0
  topology.executor.receive.buffer.size: 1024
spouts:
  - id: src
    className: ConstSpout
bolts:
  - id: slow
    className: SlowBolt
    constructorArgs: [2000, [payload]]
  - id: sink
    className: NullBolt
streams:
  - from: src
    to: slow
    grouping: {type: SHUFFLE}
  - from: slow
    to: sink
    grouping: {type: SHUFFLE}
";

fn figure(m: &Value, component: &str, path: &[&str]) -> f64 {
    let mut v = &m["components"][component];
    for p in path {
        v = &v[*p];
    }
    v.as_f64().unwrap_or(0.0)
}

#[test]
fn a_slow_bolt_shows_capacity_near_one_and_blocked_senders_the_sink_near_zero() {
    let c = cluster("");
    submit(&c, YAML);
    wait_running(&c, "slowpipe", 1);
    // The 10-minute window fills as the worker reports every second: wait for enough
    // tuples for the figures to settle (a few seconds of running).
    let start = std::time::Instant::now();
    let mut last = Value::Null;
    let m = loop {
        let (_, out, stderr) = cli(&c.url, &["status", "slowpipe", "--json"]);
        let st: Option<Value> = serde_json::from_str(&out).ok();
        if let Some(m) = st.and_then(|st| st.get("metrics").cloned()) {
            let ok = figure(&m, "slow", &["executed"]) >= 1500.0
                && figure(&m, "slow", &["capacity"]) > 0.7
                && figure(&m, "slow", &["backpressure", "upstream_blocked_ms"]) > 0.0;
            if ok {
                break m;
            }
            last = m;
        }
        assert!(
            start.elapsed() < LONG,
            "timed out after {LONG:?} waiting for slow's capacity above 0.7 and blocked \
             senders; last components seen: slow {} sink {}; status stderr: {stderr}; \
             metrics: {}",
            last["components"]["slow"],
            last["components"]["sink"],
            http_get(&c.url, "/api/v1/topologies/slowpipe/metrics")
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let slow_capacity = figure(&m, "slow", &["capacity"]);
    assert!(slow_capacity <= 1.3, "capacity {slow_capacity}: {m}");
    let p50 = figure(&m, "slow", &["execute_latency", "p50_ms"]);
    assert!(
        (1.5..20.0).contains(&p50),
        "execute p50 of a 2 ms sleep: {p50}: {m}"
    );
    assert!(
        figure(&m, "slow", &["backpressure", "queue_capacity"]) > 0.0,
        "{m}"
    );
    let sink_capacity = figure(&m, "sink", &["capacity"]);
    assert!(
        sink_capacity < 0.2,
        "the sink is idle most of the time: {sink_capacity}: {m}"
    );
    assert!(figure(&m, "sink", &["executed"]) > 0.0, "{m}");
    assert_eq!(m["window"], "ten_minutes", "{m}");

    // The text screen shows the same table.
    let (code, out, err) = cli(&c.url, &["status", "slowpipe"]);
    assert_eq!(code, 0, "{out}{err}");
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("slow "))
        .unwrap_or_else(|| panic!("no row for slow in:\n{out}"));
    assert!(row.contains("bolt"), "{row}");
    assert!(
        out.contains("capacity") && out.contains("blocked s"),
        "{out}"
    );
}
