//! The metrics view of a topology over a window ([`TopologyMetrics`]), computed from its
//! tasks' rolling windows ([`crate::metrics::rollup`]): counts summed, latencies from the
//! merged sampled histograms, Storm's capacity per executor (the largest for a
//! component), backpressure per task and executor.

use std::collections::BTreeMap;

use squall_runtime::cluster::protocol::{
    BackpressureStats, ComponentRole, ComponentWindowStats, Histogram, InputWindowStats,
    LatencyStats, OutputWindowStats, TaskWindowStats, TopologyMetrics, UserMetricView, Window,
    WindowFigures,
};
use squall_runtime::engine::metrics::Mergeable;

use super::stats::component_stats;
use super::topologies::get;
use super::{Cluster, Topo};
use crate::error::ClusterError;
use crate::metrics::rollup::{TaskFigures, TaskSeries};

impl Cluster {
    /// Topology `name`'s figures over `window`, at `now_ms`.
    pub fn metrics(
        &self,
        name: &str,
        window: Window,
        now_ms: u64,
    ) -> Result<TopologyMetrics, ClusterError> {
        let st = self.lock();
        let t = get(&st, name)?;
        Ok(topology_metrics(t, window, now_ms))
    }
}

/// One topology's figures for `/metrics`: all-time counts, 10-minute gauges.
#[derive(Debug, Clone)]
pub struct TopologySnapshot {
    /// All time (counters).
    pub all_time: TopologyMetrics,
    /// The last 10 minutes (capacity, latencies).
    pub ten_minutes: TopologyMetrics,
}

/// What Prometheus's `/metrics` exports, taken under one lock.
#[derive(Debug, Clone)]
pub struct MetricsSnapshot {
    /// Every topology, by name.
    pub topologies: Vec<TopologySnapshot>,
    /// Every supervisor, with its slots and worker reports.
    pub supervisors: squall_runtime::cluster::protocol::SupervisorList,
}

impl Cluster {
    /// Every topology's all-time and 10-minute figures and every supervisor, at `now_ms`.
    pub fn metrics_snapshot(&self, now_ms: u64) -> MetricsSnapshot {
        let topologies = {
            let st = self.lock();
            st.topologies
                .values()
                .map(|t| TopologySnapshot {
                    all_time: topology_metrics(t, Window::AllTime, now_ms),
                    ten_minutes: topology_metrics(t, Window::TenMinutes, now_ms),
                })
                .collect()
        };
        MetricsSnapshot {
            topologies,
            supervisors: self.supervisors(),
        }
    }
}

/// Latency figures in milliseconds of a histogram in microseconds.
pub(crate) fn latency(h: &Histogram) -> LatencyStats {
    let ms = |v: Option<u64>| v.map_or(0.0, |v| v as f64 / 1000.0);
    LatencyStats {
        samples: h.count(),
        mean_ms: h.mean().map_or(0.0, |m| m / 1000.0),
        p50_ms: ms(h.quantile(0.5)),
        p99_ms: ms(h.quantile(0.99)),
        max_ms: ms(h.max()),
    }
}

/// The shared figures of a rolled-up value (capacity and queue left for the caller).
fn figures(f: &TaskFigures) -> WindowFigures {
    let c = &f.counters;
    WindowFigures {
        emitted: c.emitted,
        transferred: c.transferred,
        executed: c.executed,
        acked: c.acked,
        failed: c.failed,
        errors: c.errors,
        complete_latency: latency(&f.complete_latency_us()),
        execute_latency: latency(&f.execute_latency_us()),
        process_latency: latency(&f.process_latency_us()),
        capacity: 0.0,
        backpressure: BackpressureStats {
            queue_depth: 0,
            queue_capacity: 0,
            upstream_blocked_ms: f.upstream_blocked_ns as f64 / 1e6,
            send_blocked_ms: f.send_blocked_ns as f64 / 1e6,
        },
        outputs: f
            .outputs
            .iter()
            .map(|(stream, o)| OutputWindowStats {
                stream: stream.clone(),
                emitted: o.emitted,
                transferred: o.transferred,
                acked: o.acked,
                failed: o.failed,
                complete_latency: latency(&o.complete_latency_us),
            })
            .collect(),
        inputs: f
            .inputs
            .iter()
            .map(|((component, stream), i)| InputWindowStats {
                component: component.clone(),
                stream: stream.clone(),
                executed: i.executed,
                acked: i.acked,
                failed: i.failed,
                execute_latency: latency(&i.execute_latency_us),
                process_latency: latency(&i.process_latency_us),
            })
            .collect(),
    }
}

/// One task's window total and the milliseconds it covers (the window, or less for a
/// task that reported for less long).
struct TaskWindow<'a> {
    series: &'a TaskSeries,
    total: TaskFigures,
    span_ms: u64,
}

fn task_window(s: &TaskSeries, window: Window, now_ms: u64) -> TaskWindow<'_> {
    let secs = window.secs();
    let alive_ms = now_ms.saturating_sub(s.since_ms);
    let span_ms = s
        .windows
        .covered_ms(secs, now_ms)
        .map_or(alive_ms, |c| c.min(alive_ms));
    TaskWindow {
        series: s,
        total: s.windows.total(secs, now_ms),
        span_ms,
    }
}

/// Storm's capacity: `executed × mean execute latency (ms) / window (ms)`.
fn capacity(executed: u64, execute_us: &Histogram, span_ms: u64) -> f64 {
    match (execute_us.mean(), span_ms) {
        (Some(mean_us), span) if span > 0 => executed as f64 * (mean_us / 1000.0) / span as f64,
        _ => 0.0,
    }
}

/// Queue figures of one executor from its tasks' rows: the queue is shared, so the
/// largest of its tasks (they report the same one).
#[derive(Default)]
struct ExecutorQueue {
    depth: u64,
    capacity: u64,
    upstream_blocked_ns: u64,
}

/// Every figure of topology `t` over `window` at `now_ms`.
pub(crate) fn topology_metrics(t: &Topo, window: Window, now_ms: u64) -> TopologyMetrics {
    let windows: BTreeMap<u32, TaskWindow<'_>> = t
        .stats
        .tasks
        .iter()
        .map(|(id, s)| (*id, task_window(s, window, now_ms)))
        .collect();
    let shapes = component_stats(t);
    let mut components: BTreeMap<String, ComponentWindowStats> = BTreeMap::new();
    let mut merged: BTreeMap<&str, TaskFigures> = BTreeMap::new();
    for w in windows.values() {
        merged
            .entry(w.series.component.as_str())
            .or_default()
            .merge(&w.total);
    }
    // Capacity and queues per executor of the current assignment.
    let mut cap_of: BTreeMap<String, f64> = BTreeMap::new();
    let mut queues: BTreeMap<String, ExecutorQueue> = BTreeMap::new();
    for worker in &t.assignment.workers {
        for [first, last] in &worker.executors {
            let tasks: Vec<&TaskWindow<'_>> =
                (*first..=*last).filter_map(|k| windows.get(&k)).collect();
            let Some(component) = tasks.first().map(|w| w.series.component.clone()) else {
                continue;
            };
            let executed: u64 = tasks.iter().map(|w| w.total.counters.executed).sum();
            let mut hist = Histogram::new();
            tasks
                .iter()
                .for_each(|w| hist.merge(&w.total.execute_latency_us()));
            let span = tasks.iter().map(|w| w.span_ms).max().unwrap_or(0);
            let c = capacity(executed, &hist, span);
            let e = cap_of.entry(component.clone()).or_insert(0.0);
            *e = e.max(c);
            let mut q = ExecutorQueue::default();
            for w in &tasks {
                if let Some(b) = &w.series.current {
                    q.depth = q.depth.max(b.totals.queue.depth);
                    q.capacity = q.capacity.max(b.totals.queue.capacity);
                }
                q.upstream_blocked_ns = q.upstream_blocked_ns.max(w.total.upstream_blocked_ns);
            }
            let sum = queues.entry(component).or_default();
            sum.depth = sum.depth.saturating_add(q.depth);
            sum.capacity = sum.capacity.saturating_add(q.capacity);
            sum.upstream_blocked_ns = sum
                .upstream_blocked_ns
                .saturating_add(q.upstream_blocked_ns);
        }
    }
    let mut topology = TaskFigures::default();
    for (id, shape) in &shapes {
        let total = merged.get(id.as_str()).cloned().unwrap_or_default();
        if shape.kind == ComponentRole::Spout {
            topology.merge(&total);
        }
        let mut f = figures(&total);
        f.capacity = cap_of.get(id).copied().unwrap_or(0.0);
        if let Some(q) = queues.get(id) {
            f.backpressure.queue_depth = q.depth;
            f.backpressure.queue_capacity = q.capacity;
            f.backpressure.upstream_blocked_ms = q.upstream_blocked_ns as f64 / 1e6;
        }
        let view = ComponentWindowStats {
            kind: shape.kind,
            tasks: shape.tasks,
            executors: shape.executors,
            figures: f,
            errors: t.stats.errors.get(id).cloned().unwrap_or_default(),
        };
        components.insert(id.clone(), view);
    }
    let mut top = figures(&topology);
    // Storm's topologyStats: spouts only; bolt figures (and the acker) stay per component.
    top.executed = 0;
    top.execute_latency = LatencyStats::default();
    top.process_latency = LatencyStats::default();
    top.inputs.clear();
    top.backpressure = BackpressureStats::default();
    let host_of = |supervisor: &str, port: u16| {
        t.assignment
            .workers
            .iter()
            .find(|w| w.supervisor == supervisor && w.port == port)
            .map(|w| w.host.clone())
            .unwrap_or_default()
    };
    let mut tasks = Vec::new();
    let mut user_metrics = Vec::new();
    for (id, w) in &windows {
        let mut f = figures(&w.total);
        let (supervisor, host, port, uptime_secs) = match &w.series.current {
            Some(b) => {
                f.backpressure.queue_depth = b.totals.queue.depth;
                f.backpressure.queue_capacity = b.totals.queue.capacity;
                let started = if b.started_at_ms > 0 {
                    b.started_at_ms
                } else {
                    w.series.since_ms
                };
                for m in &b.totals.metrics {
                    user_metrics.push(UserMetricView {
                        component: w.series.component.clone(),
                        task: *id,
                        metric: m.clone(),
                    });
                }
                (
                    b.slot.supervisor.clone(),
                    host_of(&b.slot.supervisor, b.slot.port),
                    b.slot.port,
                    now_ms.saturating_sub(started) / 1000,
                )
            }
            None => (String::new(), String::new(), 0, 0),
        };
        f.capacity = capacity(
            w.total.counters.executed,
            &w.total.execute_latency_us(),
            w.span_ms,
        );
        tasks.push(TaskWindowStats {
            task: *id,
            component: w.series.component.clone(),
            supervisor,
            host,
            port,
            uptime_secs,
            figures: f,
        });
    }
    user_metrics.sort_by(|a, b| (&a.component, a.task).cmp(&(&b.component, b.task)));
    let uptime = (now_ms / 1000).saturating_sub(t.record.submitted_at);
    TopologyMetrics {
        name: t.record.name.clone(),
        id: t.record.id.clone(),
        status: t.record.status,
        window,
        window_secs: window.secs().map_or(uptime, |w| w.min(uptime)),
        topology: top,
        components,
        tasks,
        user_metrics,
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
