//! `squall status NAME [--json]` and `squall watch NAME`: a topology's workers and
//! components, one row each, with the figures of the last 10 minutes (executed, emitted,
//! latency percentiles, capacity, input queue and blocked time, from nimbus's metrics
//! view) and the all-time acked and failed counts.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use crate::cluster::client::{ClientError, Nimbus};
use crate::cluster::protocol::{
    ComponentRole, ComponentWindowStats, LatencyStats, TopologyInfo, TopologyMetrics, Window,
};

/// The window `status` and `watch` show.
pub const STATUS_WINDOW: Window = Window::TenMinutes;

/// `squall status NAME`: the text screen, or (`json`) today's status object with a
/// `metrics` key holding the [`TopologyMetrics`] of the last 10 minutes (left out, with
/// a warning, when nimbus has no metrics view).
pub async fn show(n: &Nimbus, name: &str, json: bool) -> Result<(), ClientError> {
    let info = n.status(name).await?;
    let metrics = match n.metrics(name, STATUS_WINDOW).await {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("warning: no metrics for {name}: {e}");
            None
        }
    };
    if json {
        println!("{}", status_json(&info, metrics.as_ref())?);
    } else {
        print!("{}", render_status(&info, metrics.as_ref()));
    }
    Ok(())
}

/// The `status` screen: one row per worker (state, uptime, restarts, memory, CPU, last
/// exit), then one row per component (the acker included; see [`render_metrics`]); with
/// no metrics view (an older nimbus), the all-time counts only.
pub fn render_status(st: &TopologyInfo, metrics: Option<&TopologyMetrics>) -> String {
    let mut out = format!(
        "topology {} ({})  status {}  uptime {}s\n\nworkers:\n",
        st.summary.name, st.summary.id, st.summary.status, st.summary.uptime_secs
    );
    let _ = writeln!(
        out,
        "  {:<28} {:>6} {:>8} {:<11} {:>8} {:>8} {:>8} {:>8}  last exit",
        "supervisor", "port", "pid", "state", "uptime", "restarts", "rss MB", "cpu s"
    );
    for w in &st.workers {
        let r = &w.report;
        let _ = writeln!(
            out,
            "  {:<28} {:>6} {:>8} {:<11} {:>7}s {:>8} {:>8} {:>8}  {}",
            w.supervisor,
            r.port,
            r.pid.map_or_else(|| "-".into(), |p| p.to_string()),
            r.state.to_string(),
            r.uptime_secs,
            r.restarts,
            r.rss_bytes
                .map_or_else(|| "-".into(), |b| format!("{:.1}", b as f64 / 1048576.0)),
            r.cpu_ms
                .map_or_else(|| "-".into(), |c| format!("{:.1}", c as f64 / 1000.0)),
            r.last_exit.as_deref().unwrap_or("")
        );
    }
    out.push_str("\ncomponents:\n");
    match metrics {
        Some(m) => out.push_str(&render_metrics_with(m, Some(st))),
        None => {
            let _ = writeln!(
                out,
                "  {:<20} {:<6} {:>5} {:>12} {:>12} {:>12} {:>10}",
                "component", "kind", "tasks", "emitted", "executed", "acked", "failed"
            );
            for (id, c) in &st.components {
                let _ = writeln!(
                    out,
                    "  {:<20} {:<6} {:>5} {:>12} {:>12} {:>12} {:>10}",
                    id,
                    role(c.kind),
                    c.tasks,
                    c.counters.emitted,
                    c.counters.executed,
                    c.counters.acked,
                    c.counters.failed
                );
            }
        }
    }
    out
}

/// `squall watch NAME`: the compact table, redrawn every second until interrupted.
pub async fn watch(n: &Nimbus, name: &str) -> Result<(), ClientError> {
    loop {
        let screen = match n.metrics(name, STATUS_WINDOW).await {
            Ok(m) => format!(
                "topology {} ({})  status {}\n\n{}",
                m.name,
                m.id,
                m.status,
                render_metrics(&m)
            ),
            Err(e) => format!("{e}\n"),
        };
        let mut out = std::io::stdout();
        let _ = write!(out, "\x1b[2J\x1b[H{screen}");
        let _ = out.flush();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Today's `status --json` object with `metrics` added.
pub fn status_json(
    info: &TopologyInfo,
    metrics: Option<&TopologyMetrics>,
) -> Result<String, ClientError> {
    let encode = |e: serde_json::Error| ClientError::Other(format!("encoding the answer: {e}"));
    let mut v = serde_json::to_value(info).map_err(encode)?;
    if let (Some(m), Some(obj)) = (metrics, v.as_object_mut()) {
        obj.insert("metrics".into(), serde_json::to_value(m).map_err(encode)?);
    }
    serde_json::to_string(&v).map_err(encode)
}

/// A latency as `p50/p99` milliseconds (`-` without samples).
fn percentiles(l: &LatencyStats) -> String {
    if l.samples == 0 {
        return "-".into();
    }
    format!("{}/{}", ms(l.p50_ms), ms(l.p99_ms))
}

/// Milliseconds with the precision that matters at their size.
fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn role(kind: ComponentRole) -> &'static str {
    match kind {
        ComponentRole::Spout => "spout",
        ComponentRole::Bolt => "bolt",
        ComponentRole::Acker => "acker",
    }
}

fn kind(c: &ComponentWindowStats) -> &'static str {
    role(c.kind)
}

/// The per-component table of a window: executed and emitted, latency p50/p99 in ms
/// (bolts: execute; spouts: complete), capacity, input queue depth/capacity and the
/// seconds senders were blocked on it.
pub fn render_metrics(m: &TopologyMetrics) -> String {
    render_metrics_with(m, None)
}

/// [`render_metrics`], with the all-time acked and failed counts of `status` when given.
fn render_metrics_with(m: &TopologyMetrics, all_time: Option<&TopologyInfo>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "last {} (window covers {} s):",
        m.window.pretty(),
        m.window_secs
    );
    let _ = write!(
        out,
        "  {:<20} {:<5} {:>10} {:>10} {:>15} {:>15} {:>8} {:>13} {:>10}",
        "component",
        "kind",
        "executed",
        "emitted",
        "execute p50/99",
        "complete p50/99",
        "capacity",
        "queue",
        "blocked s"
    );
    if all_time.is_some() {
        let _ = write!(out, " {:>12} {:>10}", "acked (all)", "failed");
    }
    out.push('\n');
    for (id, c) in &m.components {
        let f = &c.figures;
        let bp = &f.backpressure;
        let queue = if bp.queue_capacity > 0 {
            format!("{}/{}", bp.queue_depth, bp.queue_capacity)
        } else {
            "-".into()
        };
        let _ = write!(
            out,
            "  {:<20} {:<5} {:>10} {:>10} {:>15} {:>15} {:>8.3} {:>13} {:>10.1}",
            id,
            kind(c),
            f.executed,
            f.emitted,
            percentiles(&f.execute_latency),
            percentiles(&f.complete_latency),
            f.capacity,
            queue,
            bp.upstream_blocked_ms / 1000.0
        );
        if let Some(info) = all_time {
            let c = info
                .components
                .get(id)
                .map(|c| c.counters)
                .unwrap_or_default();
            let _ = write!(out, " {:>12} {:>10}", c.acked, c.failed);
        }
        out.push('\n');
    }
    for (id, c) in &m.components {
        for e in &c.errors {
            let _ = writeln!(
                out,
                "  error {id} task {} on {}:{} at {}: {}",
                e.task, e.host, e.port, e.error.time_ms, e.error.error
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cluster::protocol::{BackpressureStats, TopologyStatus, WindowFigures};

    fn metrics() -> TopologyMetrics {
        let bolt = ComponentWindowStats {
            kind: ComponentRole::Bolt,
            tasks: 2,
            executors: 2,
            figures: WindowFigures {
                executed: 1200,
                emitted: 1100,
                execute_latency: LatencyStats {
                    samples: 60,
                    mean_ms: 9.0,
                    p50_ms: 8.5,
                    p99_ms: 120.0,
                    max_ms: 130.0,
                },
                capacity: 0.9312,
                backpressure: BackpressureStats {
                    queue_depth: 1000,
                    queue_capacity: 1024,
                    upstream_blocked_ms: 4500.0,
                    send_blocked_ms: 0.0,
                },
                ..WindowFigures::default()
            },
            errors: Vec::new(),
        };
        TopologyMetrics {
            name: "wc".into(),
            id: "wc-1-2".into(),
            status: TopologyStatus::Active,
            window: Window::TenMinutes,
            window_secs: 600,
            topology: WindowFigures::default(),
            components: BTreeMap::from([("slow".to_string(), bolt)]),
            tasks: Vec::new(),
            user_metrics: Vec::new(),
        }
    }

    fn info() -> TopologyInfo {
        let json = serde_json::json!({
            "name": "wc", "id": "wc-1-2", "status": "ACTIVE", "num_workers": 1,
            "assigned_workers": 1, "num_tasks": 2, "num_executors": 2, "uptime_secs": 60,
            "artifact": "0".repeat(64), "submitted_at": 1, "parallelism": {},
            "kill_deadline_ms": null, "rebalance_deadline_ms": null,
            "components": { "slow": { "kind": "bolt", "tasks": 2, "executors": 2,
                "reporting_tasks": 2, "emitted": 5000, "transferred": 5000, "executed": 5000,
                "acked": 4999, "failed": 1, "errors": 0, "replayed": 0 } },
            "assignment": [],
            "workers": [{ "supervisor": "s1", "port": 6700, "topology": "wc", "pid": 7,
                "state": "running", "uptime_secs": 60, "restarts": 1,
                "rss_bytes": 52_428_800, "cpu_ms": 1500 }],
            "tasks": []
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn status_lists_each_component_once_with_both_windows() {
        let text = render_status(&info(), Some(&metrics()));
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.split_whitespace().next() == Some("slow"))
            .collect();
        assert_eq!(rows.len(), 1, "{text}");
        for want in ["1200", "8.5/120", "0.931", "4999", " 1"] {
            assert!(rows[0].contains(want), "{want} in {}", rows[0]);
        }
        let worker = text.lines().find(|l| l.contains("s1")).unwrap();
        assert!(
            worker.contains("50.0") && worker.contains("1.5"),
            "{worker}"
        );
        let old = render_status(&info(), None);
        assert!(old.contains("4999") && !old.contains("capacity"), "{old}");
        let json: serde_json::Value =
            serde_json::from_str(&status_json(&info(), Some(&metrics())).unwrap()).unwrap();
        assert_eq!(
            json["components"]["slow"]["acked"], 4999,
            "today's keys: {json}"
        );
        assert_eq!(
            json["metrics"]["components"]["slow"]["executed"], 1200,
            "{json}"
        );
    }

    #[test]
    fn the_table_shows_latency_capacity_and_backpressure() {
        let text = render_metrics(&metrics());
        assert!(text.contains("last 10m 0s (window covers 600 s)"), "{text}");
        let row = text.lines().find(|l| l.contains("slow")).unwrap();
        for want in [
            "bolt",
            "1200",
            "1100",
            "8.5/120",
            "0.931",
            "1000/1024",
            "4.5",
        ] {
            assert!(row.contains(want), "{want} in {row}");
        }
        assert!(row.contains(" - "), "no complete latency for a bolt: {row}");
    }
}
