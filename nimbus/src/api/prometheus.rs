//! `GET /metrics`: the cluster's figures in the Prometheus/OpenMetrics text format (the
//! `prometheus-client` crate), for a scraper holding any reading token (`viewer` is
//! enough).
//!
//! Counters are all-time totals (exact across worker restarts); capacity and latencies
//! are over the last 10 minutes, as gauges computed by nimbus from the merged sampled
//! histograms (`quantile` 0.5, 0.99 and 1 for the maximum, and a `_mean` family): the
//! histograms have 592 log-linear buckets, which no fixed Prometheus `le` layout
//! matches without losing precision and multiplying the series.
//!
//! Cardinality is bounded: series are written coarse first (cluster, supervisors,
//! workers, components, then tasks, then streams) and at most [`MAX_SERIES`] per scrape;
//! the rest are left out and counted in `squall_metrics_dropped_series_total`.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use squall_runtime::cluster::addr::host_port;
use squall_runtime::cluster::protocol::lag::spout_lags;
use squall_runtime::cluster::protocol::{LatencyStats, TopologyStatus};

use super::{ApiError, AppState, blocking};
use crate::cluster::MetricsSnapshot;
use crate::error::ClusterError;

/// The most series one scrape exports.
pub const MAX_SERIES: usize = 50_000;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Series left out by the cap since nimbus started (one nimbus per process).
static DROPPED: AtomicU64 = AtomicU64::new(0);

type Labels = Vec<(String, String)>;
type IntCounter = Family<Labels, Counter<u64>>;
type FloatCounter = Family<Labels, Counter<f64, AtomicU64>>;
type FloatGauge = Family<Labels, Gauge<f64, AtomicU64>>;

/// The series budget of one scrape.
struct Budget {
    left: usize,
    dropped: u64,
}

impl Budget {
    fn take(&mut self) -> bool {
        if self.left == 0 {
            self.dropped += 1;
            return false;
        }
        self.left -= 1;
        true
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// Every family `/metrics` writes.
struct Families {
    topologies: FloatGauge,
    supervisor_alive: FloatGauge,
    supervisor_slots: FloatGauge,
    worker_rss: FloatGauge,
    worker_cpu: FloatCounter,
    worker_uptime: FloatGauge,
    worker_restarts: IntCounter,
    component_capacity: FloatGauge,
    component_latency: FloatGauge,
    component_latency_mean: FloatGauge,
    component_queue_depth: FloatGauge,
    component_upstream_blocked: FloatCounter,
    task_counts: [(&'static str, IntCounter); 6],
    task_capacity: FloatGauge,
    task_queue_depth: FloatGauge,
    task_queue_capacity: FloatGauge,
    task_upstream_blocked: FloatCounter,
    task_send_blocked: FloatCounter,
    stream_emitted: IntCounter,
    stream_transferred: IntCounter,
    input_executed: IntCounter,
    kafka_lag: FloatGauge,
    dropped: IntCounter,
}

impl Families {
    fn register(r: &mut Registry) -> Families {
        fn reg<M: prometheus_client::registry::Metric + Clone + Default>(
            r: &mut Registry,
            name: &str,
            help: &str,
        ) -> M {
            let m = M::default();
            r.register(name, help, m.clone());
            m
        }
        Families {
            topologies: reg(r, "squall_topologies", "Topologies by status"),
            supervisor_alive: reg(
                r,
                "squall_supervisor_alive",
                "1 if the supervisor heartbeats within its timeout",
            ),
            supervisor_slots: reg(
                r,
                "squall_supervisor_slots",
                "Worker slots by state (used, free)",
            ),
            worker_rss: reg(
                r,
                "squall_worker_rss_bytes",
                "Resident memory of a worker process",
            ),
            worker_cpu: reg(
                r,
                "squall_worker_cpu_seconds",
                "CPU time a worker process used",
            ),
            worker_uptime: reg(
                r,
                "squall_worker_uptime_seconds",
                "Seconds since the worker process started",
            ),
            worker_restarts: reg(
                r,
                "squall_worker_restarts",
                "Restarts of the slot since it got its assignment",
            ),
            component_capacity: reg(
                r,
                "squall_component_capacity",
                "Storm's capacity over 10 minutes: the largest of the component's executors",
            ),
            component_latency: reg(
                r,
                "squall_component_latency_ms",
                "Sampled latency over 10 minutes (kind: execute, process, complete; quantile 1 is the maximum)",
            ),
            component_latency_mean: reg(
                r,
                "squall_component_latency_mean_ms",
                "Mean sampled latency over 10 minutes",
            ),
            component_queue_depth: reg(
                r,
                "squall_component_queue_depth",
                "Tuples waiting in the component's executor input queues",
            ),
            component_upstream_blocked: reg(
                r,
                "squall_component_upstream_blocked_seconds",
                "Time senders spent blocked on the component's full input queues",
            ),
            task_counts: [
                ("emitted", reg(r, "squall_task_emitted", "Emit calls")),
                (
                    "transferred",
                    reg(r, "squall_task_transferred", "Tuple copies sent"),
                ),
                (
                    "executed",
                    reg(r, "squall_task_executed", "Tuples executed"),
                ),
                (
                    "acked",
                    reg(
                        r,
                        "squall_task_acked",
                        "Tuples acked (spouts: trees completed)",
                    ),
                ),
                (
                    "failed",
                    reg(
                        r,
                        "squall_task_failed",
                        "Tuples failed (spouts: trees failed)",
                    ),
                ),
                ("errors", reg(r, "squall_task_errors", "Errors reported")),
            ],
            task_capacity: reg(
                r,
                "squall_task_capacity",
                "Storm's capacity of the task over 10 minutes",
            ),
            task_queue_depth: reg(
                r,
                "squall_task_queue_depth",
                "Tuples waiting in the task's executor input queue",
            ),
            task_queue_capacity: reg(
                r,
                "squall_task_queue_capacity",
                "Capacity of the task's executor input queue",
            ),
            task_upstream_blocked: reg(
                r,
                "squall_task_upstream_blocked_seconds",
                "Time senders spent blocked on the task's full input queue",
            ),
            task_send_blocked: reg(
                r,
                "squall_task_send_blocked_seconds",
                "Time the task spent blocked sending to full queues",
            ),
            stream_emitted: reg(r, "squall_stream_emitted", "Emit calls per output stream"),
            stream_transferred: reg(
                r,
                "squall_stream_transferred",
                "Tuple copies sent per output stream",
            ),
            input_executed: reg(
                r,
                "squall_input_executed",
                "Tuples executed per input (source component and stream)",
            ),
            kafka_lag: reg(
                r,
                "squall_kafka_spout_lag",
                "Kafka spout lag per partition: log end minus the group's committed offset",
            ),
            dropped: reg(
                r,
                "squall_metrics_dropped_series",
                "Series left out of /metrics by its cardinality cap",
            ),
        }
    }
}

fn set_gauge(b: &mut Budget, f: &FloatGauge, l: &Labels, v: f64) {
    if b.take() {
        f.get_or_create(l).set(v);
    }
}

fn set_counter(b: &mut Budget, f: &IntCounter, l: &Labels, v: u64) {
    if b.take() {
        f.get_or_create(l).inc_by(v);
    }
}

fn set_fcounter(b: &mut Budget, f: &FloatCounter, l: &Labels, v: f64) {
    if b.take() {
        f.get_or_create(l).inc_by(v.max(0.0));
    }
}

fn latency(b: &mut Budget, fam: &Families, base: &Labels, kind: &str, l: &LatencyStats) {
    if l.samples == 0 {
        return;
    }
    for (q, v) in [("0.5", l.p50_ms), ("0.99", l.p99_ms), ("1", l.max_ms)] {
        let mut labels = base.clone();
        labels.push(("kind".into(), kind.into()));
        labels.push(("quantile".into(), q.into()));
        set_gauge(b, &fam.component_latency, &labels, v);
    }
    let mut labels = base.clone();
    labels.push(("kind".into(), kind.into()));
    set_gauge(b, &fam.component_latency_mean, &labels, l.mean_ms);
}

/// The text exposition of `snap`, at most `max_series` series; how many were left out.
pub fn render(snap: &MetricsSnapshot, max_series: usize) -> Result<(String, u64), ClusterError> {
    let mut registry = Registry::default();
    let fam = Families::register(&mut registry);
    let mut b = Budget {
        left: max_series,
        dropped: 0,
    };
    // Cluster level.
    for status in [
        TopologyStatus::Active,
        TopologyStatus::Inactive,
        TopologyStatus::Killed,
        TopologyStatus::Rebalancing,
    ] {
        let n = snap
            .topologies
            .iter()
            .filter(|t| t.all_time.status == status)
            .count();
        let s = status.to_string();
        set_gauge(
            &mut b,
            &fam.topologies,
            &labels(&[("status", &s)]),
            n as f64,
        );
    }
    for s in &snap.supervisors.supervisors {
        let l = labels(&[("supervisor", &s.id), ("host", &s.host)]);
        set_gauge(
            &mut b,
            &fam.supervisor_alive,
            &l,
            if s.alive { 1.0 } else { 0.0 },
        );
        for (state, n) in [("used", s.used_slots.len()), ("free", s.free_slots.len())] {
            let l = labels(&[("supervisor", &s.id), ("state", state)]);
            set_gauge(&mut b, &fam.supervisor_slots, &l, n as f64);
        }
        if !s.alive {
            continue;
        }
        for w in &s.workers {
            let worker = host_port(&s.host, w.port);
            let l = labels(&[
                ("supervisor", &s.id),
                ("worker", &worker),
                ("topology", &w.topology),
            ]);
            if let Some(rss) = w.rss_bytes {
                set_gauge(&mut b, &fam.worker_rss, &l, rss as f64);
            }
            if let Some(cpu) = w.cpu_ms {
                set_fcounter(&mut b, &fam.worker_cpu, &l, cpu as f64 / 1000.0);
            }
            set_gauge(&mut b, &fam.worker_uptime, &l, w.uptime_secs as f64);
            set_counter(&mut b, &fam.worker_restarts, &l, u64::from(w.restarts));
        }
    }
    // Components, then tasks, then streams: the finest go first when the cap is hit.
    for t in &snap.topologies {
        for (id, c) in &t.ten_minutes.components {
            let base = labels(&[("topology", &t.all_time.name), ("component", id)]);
            let f = &c.figures;
            set_gauge(&mut b, &fam.component_capacity, &base, f.capacity);
            latency(&mut b, &fam, &base, "execute", &f.execute_latency);
            latency(&mut b, &fam, &base, "process", &f.process_latency);
            latency(&mut b, &fam, &base, "complete", &f.complete_latency);
            set_gauge(
                &mut b,
                &fam.component_queue_depth,
                &base,
                f.backpressure.queue_depth as f64,
            );
        }
        for (id, c) in &t.all_time.components {
            let base = labels(&[("topology", &t.all_time.name), ("component", id)]);
            set_fcounter(
                &mut b,
                &fam.component_upstream_blocked,
                &base,
                c.figures.backpressure.upstream_blocked_ms / 1000.0,
            );
        }
    }
    for t in &snap.topologies {
        let ten: std::collections::BTreeMap<
            u32,
            &squall_runtime::cluster::protocol::TaskWindowStats,
        > = t.ten_minutes.tasks.iter().map(|k| (k.task, k)).collect();
        for task in &t.all_time.tasks {
            let worker = if task.host.is_empty() {
                String::new()
            } else {
                host_port(&task.host, task.port)
            };
            let id = task.task.to_string();
            let l = labels(&[
                ("topology", &t.all_time.name),
                ("component", &task.component),
                ("task", &id),
                ("worker", &worker),
            ]);
            let f = &task.figures;
            for (name, fam_c) in &fam.task_counts {
                let v = match *name {
                    "emitted" => f.emitted,
                    "transferred" => f.transferred,
                    "executed" => f.executed,
                    "acked" => f.acked,
                    "failed" => f.failed,
                    _ => f.errors,
                };
                set_counter(&mut b, fam_c, &l, v);
            }
            let capacity = ten.get(&task.task).map_or(0.0, |k| k.figures.capacity);
            set_gauge(&mut b, &fam.task_capacity, &l, capacity);
            let bp = &f.backpressure;
            set_gauge(&mut b, &fam.task_queue_depth, &l, bp.queue_depth as f64);
            set_gauge(
                &mut b,
                &fam.task_queue_capacity,
                &l,
                bp.queue_capacity as f64,
            );
            set_fcounter(
                &mut b,
                &fam.task_upstream_blocked,
                &l,
                bp.upstream_blocked_ms / 1000.0,
            );
            set_fcounter(
                &mut b,
                &fam.task_send_blocked,
                &l,
                bp.send_blocked_ms / 1000.0,
            );
        }
    }
    for t in &snap.topologies {
        for (id, c) in &t.all_time.components {
            for o in &c.figures.outputs {
                let l = labels(&[
                    ("topology", &t.all_time.name),
                    ("component", id),
                    ("stream", &o.stream),
                ]);
                set_counter(&mut b, &fam.stream_emitted, &l, o.emitted);
                set_counter(&mut b, &fam.stream_transferred, &l, o.transferred);
            }
            for i in &c.figures.inputs {
                let l = labels(&[
                    ("topology", &t.all_time.name),
                    ("component", id),
                    ("source", &i.component),
                    ("stream", &i.stream),
                ]);
                set_counter(&mut b, &fam.input_executed, &l, i.executed);
            }
        }
    }
    for t in &snap.topologies {
        for (spout, lag) in spout_lags(&t.all_time.user_metrics) {
            for (topic, parts) in &lag.spout_lag_result {
                for (partition, p) in parts {
                    let l = labels(&[
                        ("topology", &t.all_time.name),
                        ("component", &spout),
                        ("topic", topic),
                        ("partition", partition),
                    ]);
                    set_gauge(&mut b, &fam.kafka_lag, &l, p.lag as f64);
                }
            }
        }
    }
    let total = DROPPED.fetch_add(b.dropped, Ordering::Relaxed) + b.dropped;
    fam.dropped.get_or_create(&Vec::new()).inc_by(total);
    let mut text = String::new();
    encode(&mut text, &registry)
        .map_err(|e| ClusterError::Internal(format!("encoding /metrics: {e}")))?;
    Ok((text, b.dropped))
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let text = blocking(&state, |c| {
        let snap = c.metrics_snapshot(c.wall_millis());
        let (text, dropped) = render(&snap, MAX_SERIES)?;
        if dropped > 0 {
            tracing::warn!(
                dropped,
                max = MAX_SERIES,
                "/metrics left series out (cardinality cap)"
            );
        }
        Ok(text)
    })
    .await?;
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use squall_runtime::cluster::protocol::{SupervisorList, SupervisorView};

    #[test]
    fn series_beyond_the_cap_are_left_out_and_counted() {
        let sup = |id: &str| SupervisorView {
            id: id.to_string(),
            host: format!("{id}.test"),
            alive: true,
            last_heartbeat_secs_ago: 0.0,
            slots: vec![6700, 6701],
            used_slots: vec![6700],
            free_slots: vec![6701],
            workers: Vec::new(),
        };
        let snap = MetricsSnapshot {
            topologies: Vec::new(),
            supervisors: SupervisorList {
                supervisors: vec![sup("a"), sup("b")],
            },
        };
        let (full, dropped) = render(&snap, MAX_SERIES).unwrap();
        assert_eq!(dropped, 0);
        assert!(
            full.contains("squall_supervisor_slots{supervisor=\"b\",state=\"free\"} 1"),
            "{full}"
        );
        // 4 topology-status series, then 3 per supervisor: a cap of 6 drops 4.
        let (capped, dropped) = render(&snap, 6).unwrap();
        assert_eq!(dropped, 4);
        assert!(!capped.contains("supervisor=\"b\""), "{capped}");
        assert!(
            capped.contains("squall_metrics_dropped_series_total"),
            "{capped}"
        );
        assert!(capped.ends_with("# EOF\n"), "{capped}");
    }
}
