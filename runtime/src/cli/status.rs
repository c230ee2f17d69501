//! `squall status NAME [--json]` and `squall watch NAME`: a topology's workers and
//! components with the figures of the last 10 minutes (executed, emitted, latency
//! percentiles, capacity, input queue and blocked time), from nimbus's metrics view.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use crate::cluster::client::{ClientError, Nimbus, render_status};
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
        print!("{}", render_status(&info));
        if let Some(m) = &metrics {
            print!("\n{}", render_metrics(m));
        }
    }
    Ok(())
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

fn kind(c: &ComponentWindowStats) -> &'static str {
    match c.kind {
        ComponentRole::Spout => "spout",
        ComponentRole::Bolt => "bolt",
        ComponentRole::Acker => "acker",
    }
}

/// The per-component table of a window: executed and emitted, latency p50/p99 in ms
/// (bolts: execute; spouts: complete), capacity, input queue depth/capacity and the
/// seconds senders were blocked on it.
pub fn render_metrics(m: &TopologyMetrics) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "last {} (window covers {} s):",
        m.window.pretty(),
        m.window_secs
    );
    let _ = writeln!(
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
    for (id, c) in &m.components {
        let f = &c.figures;
        let bp = &f.backpressure;
        let queue = if bp.queue_capacity > 0 {
            format!("{}/{}", bp.queue_depth, bp.queue_capacity)
        } else {
            "-".into()
        };
        let _ = writeln!(
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
