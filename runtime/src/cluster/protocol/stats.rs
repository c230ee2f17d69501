//! Statistics: the per-task counters a worker reports to nimbus every second, and the
//! per-component totals nimbus serves. Counts are exact; every row is keyed by its task,
//! so a task counted by two reports (a restarted or moved worker) is counted once.

use serde::{Deserialize, Serialize};

use super::TopologyStatus;
pub use crate::engine::metrics::Histogram;

/// The most task rows one stats report may carry (a worker runs at most its executors'
/// tasks; nimbus also checks each task against the worker's assignment).
pub const MAX_TASKS_PER_REPORT: usize = 100_000;

/// The longest error text kept per task (longer ones are cut at a character boundary).
pub const MAX_ERROR_CHARS: usize = 1024;

/// The most recent errors a task reports (and nimbus keeps per component), like Storm's
/// ten errors per component.
pub const MAX_ERRORS_PER_TASK: usize = 10;

/// The most output streams, or input (component, stream) pairs, one task row may carry.
pub const MAX_STREAMS_PER_TASK: usize = 256;

/// The most user metrics one task may register (`ctx.counter`, `gauge`, `histogram`, the
/// multi-lang `metrics` command); further names are refused with a logged error.
pub const MAX_USER_METRICS_PER_TASK: usize = 64;

/// The longest user metric name (ASCII letters, digits, `_`, `.`, `-`, `:`).
pub const MAX_METRIC_NAME_CHARS: usize = 128;

/// Exact counters of one task, or of a sum of tasks: the engine's own type, counted on
/// the executor threads and sent as they are.
pub use crate::engine::stats::Counters;

/// One task's counters, as its worker reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskStats {
    /// Task id.
    pub task: u32,
    /// Component id of the task (`__acker` for an acker).
    pub component: String,
    /// Counters since the worker started.
    pub counters: Counters,
    /// The task's most recent error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Per output stream (since the worker started).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputStreamStats>,
    /// Bolts: per input (source component, stream) (since the worker started).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputStreamStats>,
    /// The task's executor input queue, and time spent blocked on full queues.
    #[serde(default)]
    pub queue: QueueStats,
    /// The most recent errors (at most [`MAX_ERRORS_PER_TASK`]), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorRecord>,
    /// User metrics (at most [`MAX_USER_METRICS_PER_TASK`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<UserMetric>,
}

/// One output stream of a task. Counts are exact; latency histograms hold the sampled
/// tuples only (`topology.stats.sample.rate`), in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputStreamStats {
    /// Stream id.
    pub stream: String,
    /// Emit calls on this stream.
    pub emitted: u64,
    /// Tuple copies sent to tasks from this stream.
    pub transferred: u64,
    /// Spouts: trees rooted on this stream fully processed.
    #[serde(default)]
    pub acked: u64,
    /// Spouts: trees rooted on this stream failed or timed out.
    #[serde(default)]
    pub failed: u64,
    /// Spouts: complete latency (emit to tree completion) of sampled acked trees.
    #[serde(default)]
    pub complete_latency_us: Histogram,
}

/// One input of a bolt task: tuples from `component` on `stream`. Counts are exact;
/// latency histograms hold the sampled tuples only, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputStreamStats {
    /// Source component id.
    pub component: String,
    /// Source stream id.
    pub stream: String,
    /// `execute` calls.
    pub executed: u64,
    /// Inputs acked.
    pub acked: u64,
    /// Inputs failed.
    pub failed: u64,
    /// Time inside `execute`.
    pub execute_latency_us: Histogram,
    /// Time from the start of `execute` to the input's ack.
    pub process_latency_us: Histogram,
}

/// Backpressure as one task sees it: its executor's input queue, and time spent blocked
/// on full queues (cumulative since the worker started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueStats {
    /// Tuples waiting in the executor's input queue now (shared by its tasks).
    pub depth: u64,
    /// The queue's capacity in tuples.
    pub capacity: u64,
    /// Nanoseconds senders (upstream tasks, or the worker's network receiver) spent
    /// blocked because this executor's queue was full.
    pub upstream_blocked_ns: u64,
    /// Nanoseconds this task spent blocked sending to a full queue downstream.
    pub send_blocked_ns: u64,
}

/// One error a task reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRecord {
    /// When, unix milliseconds.
    pub time_ms: u64,
    /// The error text (at most [`MAX_ERROR_CHARS`]).
    pub error: String,
}

/// A user metric's value (totals since the worker started).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum UserMetricValue {
    /// A monotonic count.
    Counter(u64),
    /// The latest value set.
    Gauge(f64),
    /// Every value recorded.
    Histogram(Histogram),
}

/// One user metric of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserMetric {
    /// Its name (at most [`MAX_METRIC_NAME_CHARS`]).
    pub name: String,
    /// Its value.
    pub value: UserMetricValue,
}

/// `POST /api/v1/topologies/{name}/stats`: one worker's task counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerStats {
    /// The topology id the worker runs (a report for an older submission is refused).
    pub topology_id: String,
    /// The supervisor that started the worker.
    pub supervisor: String,
    /// The worker's slot port.
    pub port: u16,
    /// A row per task of the worker.
    pub tasks: Vec<TaskStats>,
    /// When this worker process started, unix milliseconds: its counters are totals
    /// since then, so nimbus tells a restarted worker's totals from a running one's
    /// (0 from an older worker).
    #[serde(default)]
    pub started_at_ms: u64,
}

/// Nimbus's answer to a stats report: what the worker must follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsAck {
    /// The topology's status now: spouts run only when `ACTIVE`.
    pub status: TopologyStatus,
    /// The log filter the worker must use now (`squall set-log-level`); absent: the
    /// worker's own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_filter: Option<LogFilter>,
}

/// A log filter set on a running topology (Storm's `set_log_level`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFilter {
    /// `tracing` filter directives, e.g. `debug` or `warn,my_topology=trace`.
    pub directives: String,
    /// When the filter expires and the default returns, unix milliseconds (`None`:
    /// until changed).
    #[serde(default)]
    pub expires_at_ms: Option<u64>,
}

/// What a component is, in the views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentRole {
    /// A spout.
    Spout,
    /// A bolt.
    Bolt,
    /// The system acker (`__acker`).
    Acker,
}

/// One component of a running topology: its shape and its tasks' counters summed
/// (flat in JSON: `{"kind": "bolt", "tasks": 2, ..., "emitted": 10, ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentStats {
    /// Spout, bolt or acker.
    pub kind: ComponentRole,
    /// Number of tasks (fixed at submission).
    pub tasks: u32,
    /// Number of executors (changed by rebalance).
    pub executors: u32,
    /// Tasks that reported at least once.
    pub reporting_tasks: u32,
    /// The counters of its tasks, summed.
    #[serde(flatten)]
    pub counters: Counters,
    /// The most recent error of any of its tasks (by task id order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
