//! Per-task statistics: counted locally on the executor thread, published to shared
//! atomics every batch, summed per component for reports.
//!
//! What a task measures (all totals since its engine started):
//! - exact [`Counters`], and per output stream emitted / transferred (spouts: acked and
//!   failed trees by the stream of their root), per input (source component, stream) of
//!   a bolt executed / acked / failed — plain integers on the executor thread, stored
//!   into atomics with every batch;
//! - sampled latencies (`topology.stats.sample.rate`, a countdown: an unsampled tuple
//!   costs one decrement), in whole microseconds (truncated): spout complete
//!   latency per stream, bolt execute and process latency per input, recorded under a
//!   mutex only the sampled path and the reporter take;
//! - backpressure: the executor's input queue depth and capacity (read when reported),
//!   the time senders spent blocked on this task's full queue and the time this task
//!   spent blocked sending (both timed only when a send blocks);
//! - the last [`MAX_ERRORS_PER_TASK`] errors with their time, and user metrics.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::api::ids::TaskId;
use crate::api::tuple::Values;
use crate::cluster::protocol::stats::{
    self as wire, ErrorRecord, InputStreamStats, MAX_ERROR_CHARS, MAX_ERRORS_PER_TASK,
    MAX_STREAMS_PER_TASK, OutputStreamStats, QueueStats, UserMetricValue,
};
use crate::engine::metrics::Histogram;
use crate::engine::metrics::registry::MetricsRegistry;
use crate::engine::metrics::samples::{Latency, Sample};
use crate::engine::queue::Occupancy;
use crate::topology::yaml::ComponentKind;

/// Exact counters of one task (or a sum of tasks), kept by the executor thread as plain
/// integers (no sharing on the hot path) and published to the task's shared statistics
/// every batch. Workers report them to nimbus as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counters {
    /// Tuples emitted (one per emit call).
    pub emitted: u64,
    /// Tuple copies sent to tasks (an emit reaching 3 tasks counts 3).
    pub transferred: u64,
    /// Tuples executed (bolts); ack messages handled (ackers).
    pub executed: u64,
    /// Bolts: inputs acked. Spouts: messages fully processed. Ackers: trees completed.
    pub acked: u64,
    /// Bolts: inputs failed. Spouts: messages failed. Ackers: trees failed.
    pub failed: u64,
    /// Errors reported (including caught panics).
    pub errors: u64,
    /// Spouts: failed messages emitted again.
    pub replayed: u64,
}

impl Counters {
    /// Add `other` to these counters (saturating: a sum never wraps).
    pub fn add(&mut self, other: &Counters) {
        self.emitted = self.emitted.saturating_add(other.emitted);
        self.transferred = self.transferred.saturating_add(other.transferred);
        self.executed = self.executed.saturating_add(other.executed);
        self.acked = self.acked.saturating_add(other.acked);
        self.failed = self.failed.saturating_add(other.failed);
        self.errors = self.errors.saturating_add(other.errors);
        self.replayed = self.replayed.saturating_add(other.replayed);
    }
}

/// Counts of one output stream as the executor keeps them (plain integers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamCounts {
    pub(crate) emitted: u64,
    pub(crate) transferred: u64,
    /// Spouts: trees rooted on this stream acked.
    pub(crate) acked: u64,
    /// Spouts: trees rooted on this stream failed.
    pub(crate) failed: u64,
}

/// Counts of one input (source component, stream) of a bolt task (plain integers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct InputCounts {
    pub(crate) executed: u64,
    pub(crate) acked: u64,
    pub(crate) failed: u64,
}

/// Published counts of one output stream.
#[derive(Debug)]
struct OutputRow {
    stream: String,
    emitted: AtomicU64,
    transferred: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
}

/// Published counts of one input of a bolt.
#[derive(Debug)]
struct InputRow {
    component: String,
    stream: String,
    executed: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
}

/// Sampled latencies (µs), by output stream / input index.
#[derive(Debug, Default)]
struct Latencies {
    complete: Vec<Histogram>,
    execute: Vec<Histogram>,
    process: Vec<Histogram>,
    /// Samples that are both (acked inside `execute`), recorded once; part of both
    /// when reported.
    both: Vec<Histogram>,
}

impl Latencies {
    /// The execute and process latencies of each input, `both` merged into each.
    fn inputs(&self) -> (Vec<Histogram>, Vec<Histogram>) {
        let with_both = |hs: &[Histogram]| -> Vec<Histogram> {
            hs.iter()
                .zip(&self.both)
                .map(|(h, b)| {
                    let mut h = h.clone();
                    h.merge(b);
                    h
                })
                .collect()
        };
        (with_both(&self.execute), with_both(&self.process))
    }
}

/// An executor's input queue as the reporter sees it.
#[derive(Debug, Clone)]
pub(crate) struct QueueGauge {
    /// The queue's count of tuples queued and its capacity.
    pub(crate) occupancy: Arc<Occupancy>,
}

impl QueueGauge {
    /// Capacity in tuples (`topology.executor.receive.buffer.size`).
    fn capacity(&self) -> u64 {
        self.occupancy.capacity() as u64
    }

    /// Tuples waiting (exact: the queue counts them), at most the capacity (a full
    /// queue may hold up to one batch per sender more).
    fn depth(&self) -> u64 {
        (self.occupancy.depth() as u64).min(self.capacity())
    }
}

/// The shape of a task's statistics: its output streams, inputs and queue.
#[derive(Debug, Default)]
pub(crate) struct StatsLayout {
    /// Output stream ids, in the collector's stream index order.
    pub(crate) outputs: Vec<String>,
    /// Inputs (source component, stream), in the collector's input index order.
    pub(crate) inputs: Vec<(String, String)>,
    /// The executor's input queue.
    pub(crate) queue: Option<QueueGauge>,
    /// Where senders add the time they spent blocked on this task's full queue.
    pub(crate) upstream_blocked: Arc<AtomicU64>,
}

#[derive(Debug, Default)]
struct Errors {
    last: Option<String>,
    recent: VecDeque<ErrorRecord>,
}

/// Published statistics of one task, readable from any thread.
#[derive(Debug)]
pub(crate) struct TaskStats {
    /// The task these are the statistics of.
    pub(crate) task: TaskId,
    pub(crate) component: String,
    emitted: AtomicU64,
    transferred: AtomicU64,
    executed: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
    errors: AtomicU64,
    replayed: AtomicU64,
    outputs: Box<[OutputRow]>,
    inputs: Box<[InputRow]>,
    latency: Mutex<Latencies>,
    queue: Option<QueueGauge>,
    /// The queue depth when the engine stopped (`u64::MAX`: running).
    depth_at_stop: AtomicU64,
    upstream_blocked: Arc<AtomicU64>,
    send_blocked_ns: AtomicU64,
    error_log: Mutex<Errors>,
    /// The task's user metrics (shared with its context).
    pub(crate) metrics: Arc<MetricsRegistry>,
    /// Captured emits (stream, values), filled at shutdown when capturing.
    pub(crate) captured: Mutex<Vec<(String, Values)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `text` cut to [`MAX_ERROR_CHARS`] characters.
fn cut(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

impl TaskStats {
    /// Statistics of a task with this layout.
    pub(crate) fn with_layout(task: TaskId, component: &str, layout: StatsLayout) -> TaskStats {
        let outputs: Box<[OutputRow]> = layout
            .outputs
            .into_iter()
            .map(|stream| OutputRow {
                stream,
                emitted: AtomicU64::new(0),
                transferred: AtomicU64::new(0),
                acked: AtomicU64::new(0),
                failed: AtomicU64::new(0),
            })
            .collect();
        let inputs: Box<[InputRow]> = layout
            .inputs
            .into_iter()
            .map(|(component, stream)| InputRow {
                component,
                stream,
                executed: AtomicU64::new(0),
                acked: AtomicU64::new(0),
                failed: AtomicU64::new(0),
            })
            .collect();
        let latency = Latencies {
            complete: vec![Histogram::new(); outputs.len()],
            execute: vec![Histogram::new(); inputs.len()],
            process: vec![Histogram::new(); inputs.len()],
            both: vec![Histogram::new(); inputs.len()],
        };
        TaskStats {
            task,
            component: component.to_string(),
            emitted: AtomicU64::new(0),
            transferred: AtomicU64::new(0),
            executed: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            outputs,
            inputs,
            latency: Mutex::new(latency),
            queue: layout.queue,
            depth_at_stop: AtomicU64::new(u64::MAX),
            upstream_blocked: layout.upstream_blocked,
            send_blocked_ns: AtomicU64::new(0),
            error_log: Mutex::new(Errors::default()),
            metrics: Arc::new(MetricsRegistry::new(format!("{component}:{task}"))),
            captured: Mutex::new(Vec::new()),
        }
    }

    /// Publish the executor's counters (single writer per task: plain stores).
    pub(crate) fn publish(&self, c: &Counters) {
        self.emitted.store(c.emitted, Ordering::Relaxed);
        self.transferred.store(c.transferred, Ordering::Relaxed);
        self.executed.store(c.executed, Ordering::Relaxed);
        self.acked.store(c.acked, Ordering::Relaxed);
        self.failed.store(c.failed, Ordering::Relaxed);
        self.errors.store(c.errors, Ordering::Relaxed);
        self.replayed.store(c.replayed, Ordering::Relaxed);
    }

    /// Publish the per-output-stream counts, in stream index order.
    #[inline]
    pub(crate) fn publish_outputs<'a>(&self, counts: impl Iterator<Item = &'a StreamCounts>) {
        for (row, c) in self.outputs.iter().zip(counts) {
            row.emitted.store(c.emitted, Ordering::Relaxed);
            row.transferred.store(c.transferred, Ordering::Relaxed);
            row.acked.store(c.acked, Ordering::Relaxed);
            row.failed.store(c.failed, Ordering::Relaxed);
        }
    }

    /// Publish the per-input counts, in input index order.
    #[inline]
    pub(crate) fn publish_inputs(&self, counts: &[InputCounts]) {
        for (row, c) in self.inputs.iter().zip(counts) {
            row.executed.store(c.executed, Ordering::Relaxed);
            row.acked.store(c.acked, Ordering::Relaxed);
            row.failed.store(c.failed, Ordering::Relaxed);
        }
    }

    /// Publish the time this task spent blocked sending (ns).
    #[inline]
    pub(crate) fn publish_send_blocked(&self, ns: u64) {
        self.send_blocked_ns.store(ns, Ordering::Relaxed);
    }

    /// Record sampled latencies (complete latencies by output stream index, execute and
    /// process latencies by input index).
    pub(crate) fn record_samples(&self, samples: &[Sample]) {
        let mut lat = lock(&self.latency);
        for &(latency, index, micros, n) in samples {
            let hs = match latency {
                Latency::Complete => &mut lat.complete,
                Latency::Execute => &mut lat.execute,
                Latency::Process => &mut lat.process,
                Latency::ExecuteAndProcess => &mut lat.both,
            };
            if let Some(h) = hs.get_mut(index as usize) {
                h.record_n(micros, n);
            }
        }
    }

    /// An error the task reported: the last one, and the last [`MAX_ERRORS_PER_TASK`]
    /// with their time.
    pub(crate) fn set_last_error(&self, e: String) {
        let record = ErrorRecord {
            time_ms: unix_millis(),
            error: cut(&e),
        };
        let mut log = lock(&self.error_log);
        log.last = Some(e);
        if log.recent.len() >= MAX_ERRORS_PER_TASK {
            log.recent.pop_front();
        }
        log.recent.push_back(record);
    }

    pub(crate) fn snapshot(&self) -> Counters {
        Counters {
            emitted: self.emitted.load(Ordering::Relaxed),
            transferred: self.transferred.load(Ordering::Relaxed),
            executed: self.executed.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            replayed: self.replayed.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        lock(&self.error_log).last.clone()
    }

    /// Remember the queue's depth now: what the reports show once the engine stopped
    /// (a stopped executor's queue is emptied).
    pub(crate) fn freeze_depth(&self) {
        let depth = self.queue.as_ref().map_or(0, QueueGauge::depth);
        self.depth_at_stop.store(depth, Ordering::Relaxed);
    }

    /// The executor queue and blocked times now.
    pub(crate) fn queue(&self) -> QueueStats {
        let frozen = self.depth_at_stop.load(Ordering::Relaxed);
        let (depth, capacity) = match &self.queue {
            Some(q) => (
                if frozen == u64::MAX {
                    q.depth()
                } else {
                    frozen
                },
                q.capacity(),
            ),
            None => (0, 0),
        };
        QueueStats {
            depth,
            capacity,
            upstream_blocked_ns: self.upstream_blocked.load(Ordering::Relaxed),
            send_blocked_ns: self.send_blocked_ns.load(Ordering::Relaxed),
        }
    }

    /// The sampled complete, execute and process latencies, each merged over the
    /// task's streams / inputs.
    fn merged_latencies(&self) -> (Histogram, Histogram, Histogram) {
        let lat = lock(&self.latency);
        let merge = |hs: &[Histogram]| {
            let mut all = Histogram::new();
            for h in hs {
                all.merge(h);
            }
            all
        };
        let (execute, process) = lat.inputs();
        (merge(&lat.complete), merge(&execute), merge(&process))
    }

    /// This task's row of a worker's stats report.
    pub(crate) fn report(&self) -> wire::TaskStats {
        let (complete, execute, process) = {
            let lat = lock(&self.latency);
            let (execute, process) = lat.inputs();
            (lat.complete.clone(), execute, process)
        };
        let errors = lock(&self.error_log);
        let (last_error, recent) = (
            errors.last.as_deref().map(cut),
            errors.recent.iter().cloned().collect(),
        );
        drop(errors);
        wire::TaskStats {
            task: self.task.0,
            component: self.component.clone(),
            counters: self.snapshot(),
            last_error,
            outputs: self
                .outputs
                .iter()
                .zip(complete)
                .take(MAX_STREAMS_PER_TASK)
                .map(|(r, h)| OutputStreamStats {
                    stream: r.stream.clone(),
                    emitted: r.emitted.load(Ordering::Relaxed),
                    transferred: r.transferred.load(Ordering::Relaxed),
                    acked: r.acked.load(Ordering::Relaxed),
                    failed: r.failed.load(Ordering::Relaxed),
                    complete_latency_us: h,
                })
                .collect(),
            inputs: self
                .inputs
                .iter()
                .zip(execute.into_iter().zip(process))
                .take(MAX_STREAMS_PER_TASK)
                .map(|(r, (e, p))| InputStreamStats {
                    component: r.component.clone(),
                    stream: r.stream.clone(),
                    executed: r.executed.load(Ordering::Relaxed),
                    acked: r.acked.load(Ordering::Relaxed),
                    failed: r.failed.load(Ordering::Relaxed),
                    execute_latency_us: e,
                    process_latency_us: p,
                })
                .collect(),
            queue: self.queue(),
            errors: recent,
            metrics: self.metrics.snapshot(),
        }
    }
}

/// Backpressure figures of a component in a local run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct QueueReport {
    /// Tuples waiting in its executors' input queues (the fullest executor's, at the
    /// end of the run; counted in whole batches, so an upper bound).
    pub depth: u64,
    /// Capacity of one executor's input queue, in tuples.
    pub capacity: u64,
    /// Time senders spent blocked because its queues were full, summed over its tasks.
    pub upstream_blocked_ms: f64,
    /// Time its tasks spent blocked sending to full queues, summed.
    pub send_blocked_ms: f64,
}

/// A user metric's value in a local run's report, summed over the component's tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricReport {
    /// A counter: the sum over tasks.
    Counter(u64),
    /// A gauge: the value of one of its tasks (the first in the engine's order).
    Gauge(f64),
    /// A histogram: every task's values.
    Histogram {
        /// Values recorded.
        count: u64,
        /// Median.
        p50: u64,
        /// 99th percentile.
        p99: u64,
        /// Largest.
        max: u64,
    },
}

/// Totals of one component over all its tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentReport {
    /// `spout` or `bolt`.
    pub kind: ComponentKind,
    /// Number of tasks.
    pub tasks: u32,
    /// Tuples emitted (one per emit call).
    pub emitted: u64,
    /// Tuple copies sent to tasks (an emit reaching 3 tasks counts 3).
    pub transferred: u64,
    /// Tuples executed (bolts).
    pub executed: u64,
    /// Acks: by the bolt for its inputs; for a spout, its messages fully processed.
    pub acked: u64,
    /// Fails: by the bolt for its inputs; for a spout, its messages failed.
    pub failed: u64,
    /// Errors reported (including caught panics).
    pub errors: u64,
    /// Spouts: failed messages that were emitted again.
    pub replayed: u64,
    /// Spouts with acking on: time from emit to the tree's completion (sampled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete_latency_ms: Option<LatencyReport>,
    /// Bolts: time inside `execute` (sampled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execute_latency_ms: Option<LatencyReport>,
    /// Bolts: time from the start of `execute` to the input's ack (sampled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_latency_ms: Option<LatencyReport>,
    /// Bolts: the busiest task's fraction of the run spent executing
    /// (`executed × mean execute latency / run time`; near 1 = the bottleneck).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<f64>,
    /// Input queues and time blocked on full ones.
    pub queue: QueueReport,
    /// User metrics (`ctx.counter` etc., the multi-lang `metrics` command).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, MetricReport>,
    /// The most recent error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl ComponentReport {
    pub(crate) fn new(kind: ComponentKind, tasks: u32) -> ComponentReport {
        ComponentReport {
            kind,
            tasks,
            emitted: 0,
            transferred: 0,
            executed: 0,
            acked: 0,
            failed: 0,
            errors: 0,
            replayed: 0,
            complete_latency_ms: None,
            execute_latency_ms: None,
            process_latency_ms: None,
            capacity: None,
            queue: QueueReport::default(),
            metrics: BTreeMap::new(),
            last_error: None,
        }
    }

    pub(crate) fn add(&mut self, c: &Counters) {
        self.emitted += c.emitted;
        self.transferred += c.transferred;
        self.executed += c.executed;
        self.acked += c.acked;
        self.failed += c.failed;
        self.errors += c.errors;
        self.replayed += c.replayed;
    }

    /// The per-tuple rate shown live: spouts by emitted, bolts by executed.
    pub fn activity(&self) -> u64 {
        match self.kind {
            ComponentKind::Spout => self.emitted,
            ComponentKind::Bolt => self.executed,
        }
    }

    /// One short line of its latencies, capacity and backpressure (`None` when there is
    /// nothing to show), e.g. `execute 2.01/2.30 ms (p50/p99), process 2.05/2.41 ms,
    /// capacity 0.99, queue 1024/1024, upstream blocked 3.2 s`.
    pub fn summary_line(&self) -> Option<String> {
        let lat = |name: &str, l: &Option<LatencyReport>| {
            l.map(|l| format!("{name} {:.3}/{:.3}/{:.3} ms", l.p50, l.p99, l.max))
        };
        let mut parts: Vec<String> = [
            lat("complete", &self.complete_latency_ms),
            lat("execute", &self.execute_latency_ms),
            lat("process", &self.process_latency_ms),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !parts.is_empty() {
            parts[0] = format!("{} (p50/p99/max)", parts[0]);
        }
        if let Some(c) = self.capacity {
            parts.push(format!("capacity {c:.2}"));
        }
        let q = &self.queue;
        if q.depth > 0 {
            parts.push(format!("queue {}/{}", q.depth, q.capacity));
        }
        let secs = |ms: f64| {
            if ms >= 1000.0 {
                format!("{:.1} s", ms / 1000.0)
            } else {
                format!("{ms:.1} ms")
            }
        };
        if q.upstream_blocked_ms >= 0.05 {
            parts.push(format!("upstream blocked {}", secs(q.upstream_blocked_ms)));
        }
        if q.send_blocked_ms >= 0.05 {
            parts.push(format!("send blocked {}", secs(q.send_blocked_ms)));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Percentiles of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyReport {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Tuples measured (the sampled ones).
    pub samples: u64,
}

impl LatencyReport {
    /// Percentiles of a histogram recorded in microseconds (`None` if empty).
    pub fn from_micros(h: &Histogram) -> Option<LatencyReport> {
        let ms = |us: u64| us as f64 / 1000.0;
        Some(LatencyReport {
            p50: ms(h.quantile(0.5)?),
            p99: ms(h.quantile(0.99)?),
            max: ms(h.max()?),
            mean: h.mean()? / 1000.0,
            samples: h.count(),
        })
    }
}

/// Per-component totals of a run, in component id order.
pub type ComponentReports = BTreeMap<String, ComponentReport>;

/// Accumulates one component's figures over its tasks.
#[derive(Default)]
struct Sums {
    complete: Histogram,
    execute: Histogram,
    process: Histogram,
    capacity: Option<f64>,
    /// User histograms, merged.
    histograms: BTreeMap<String, Histogram>,
}

/// Totals per component of `stats` (tasks of components not in `kinds` are left out);
/// `elapsed` is how long the tasks have run (for capacity).
pub(crate) fn component_reports<'a>(
    components: impl IntoIterator<Item = (&'a str, ComponentKind, u32)>,
    stats: &[Arc<TaskStats>],
    elapsed: Duration,
) -> ComponentReports {
    let mut out: ComponentReports = components
        .into_iter()
        .map(|(id, kind, tasks)| (id.to_string(), ComponentReport::new(kind, tasks)))
        .collect();
    let mut sums: BTreeMap<&str, Sums> = BTreeMap::new();
    let secs = elapsed.as_secs_f64();
    for s in stats {
        let Some(r) = out.get_mut(&s.component) else {
            continue;
        };
        let counters = s.snapshot();
        r.add(&counters);
        if let Some(e) = s.last_error() {
            r.last_error = Some(e);
        }
        let q = s.queue();
        r.queue.depth = r.queue.depth.max(q.depth);
        r.queue.capacity = r.queue.capacity.max(q.capacity);
        r.queue.upstream_blocked_ms += q.upstream_blocked_ns as f64 / 1e6;
        r.queue.send_blocked_ms += q.send_blocked_ns as f64 / 1e6;
        let sum = sums.entry(&s.component).or_default();
        let (complete, execute, process) = s.merged_latencies();
        if r.kind == ComponentKind::Bolt
            && secs > 0.0
            && let Some(mean_us) = execute.mean()
        {
            let c = counters.executed as f64 * mean_us / 1e6 / secs;
            sum.capacity = Some(sum.capacity.map_or(c, |m: f64| m.max(c)));
        }
        sum.complete.merge(&complete);
        sum.execute.merge(&execute);
        sum.process.merge(&process);
        for m in s.metrics.snapshot() {
            match m.value {
                UserMetricValue::Counter(n) => {
                    let e = r.metrics.entry(m.name).or_insert(MetricReport::Counter(0));
                    if let MetricReport::Counter(total) = e {
                        *total = total.saturating_add(n);
                    }
                }
                UserMetricValue::Gauge(v) => {
                    r.metrics.entry(m.name).or_insert(MetricReport::Gauge(v));
                }
                UserMetricValue::Histogram(h) => {
                    sum.histograms.entry(m.name).or_default().merge(&h);
                }
            }
        }
    }
    for (c, sum) in sums {
        let Some(r) = out.get_mut(c) else { continue };
        r.complete_latency_ms = LatencyReport::from_micros(&sum.complete);
        r.execute_latency_ms = LatencyReport::from_micros(&sum.execute);
        r.process_latency_ms = LatencyReport::from_micros(&sum.process);
        r.capacity = sum.capacity;
        for (name, h) in sum.histograms {
            r.metrics.entry(name).or_insert(MetricReport::Histogram {
                count: h.count(),
                p50: h.quantile(0.5).unwrap_or(0),
                p99: h.quantile(0.99).unwrap_or(0),
                max: h.max().unwrap_or(0),
            });
        }
    }
    out
}
