//! The metrics views nimbus serves from what workers and supervisors report: per
//! component, task and stream, rolled up over Storm's windows (10 minutes, 3 hours,
//! 1 day, all time). `squall status --json`, `squall watch`, the Storm UI REST API
//! (`/api/v1/topology/...`), Prometheus's `/metrics` and the web UI are all built from
//! these types.
//!
//! Counts are exact. Latencies come from sampled tuples (`topology.stats.sample.rate`)
//! and are in milliseconds. Capacity is Storm's: `executed × mean execute latency /
//! window time` per executor (the window time being the shorter of the window and the
//! executor's uptime); a component shows the largest over its executors.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{ComponentRole, ErrorRecord, TopologyStatus};

/// A roll-up window (Storm's `window` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The last 10 minutes (`600`).
    TenMinutes,
    /// The last 3 hours (`10800`).
    ThreeHours,
    /// The last day (`86400`).
    OneDay,
    /// Since the topology was submitted (`:all-time`).
    AllTime,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 4] = [
        Window::TenMinutes,
        Window::ThreeHours,
        Window::OneDay,
        Window::AllTime,
    ];

    /// Its length in seconds (`None` for all time).
    pub fn secs(self) -> Option<u64> {
        match self {
            Window::TenMinutes => Some(600),
            Window::ThreeHours => Some(10_800),
            Window::OneDay => Some(86_400),
            Window::AllTime => None,
        }
    }

    /// Storm's name: `600`, `10800`, `86400`, `:all-time`.
    pub fn storm_name(self) -> &'static str {
        match self {
            Window::TenMinutes => "600",
            Window::ThreeHours => "10800",
            Window::OneDay => "86400",
            Window::AllTime => ":all-time",
        }
    }

    /// Storm's `windowPretty`: `10m 0s`, `3h 0m 0s`, `1d 0h 0m 0s`, `All time`.
    pub fn pretty(self) -> &'static str {
        match self {
            Window::TenMinutes => "10m 0s",
            Window::ThreeHours => "3h 0m 0s",
            Window::OneDay => "1d 0h 0m 0s",
            Window::AllTime => "All time",
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.storm_name())
    }
}

/// A `window` value that is not one of Storm's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown window '{0}': use 600, 10800, 86400 or :all-time")]
pub struct UnknownWindow(pub String);

impl FromStr for Window {
    type Err = UnknownWindow;

    fn from_str(s: &str) -> Result<Window, UnknownWindow> {
        match s {
            "600" => Ok(Window::TenMinutes),
            "10800" => Ok(Window::ThreeHours),
            "86400" => Ok(Window::OneDay),
            ":all-time" | "all-time" | "all" => Ok(Window::AllTime),
            other => Err(UnknownWindow(other.chars().take(32).collect())),
        }
    }
}

/// A latency distribution of the sampled tuples of a window, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Sampled tuples behind these figures (0: no figures).
    pub samples: u64,
    /// Mean (what Storm shows).
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// Backpressure over a window: how full an input queue is, and who waited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BackpressureStats {
    /// Tuples waiting in the input queue at the latest report (summed over executors
    /// for a component).
    pub queue_depth: u64,
    /// The input queue's capacity in tuples (summed likewise).
    pub queue_capacity: u64,
    /// Milliseconds senders spent blocked on this input queue being full, in the
    /// window.
    pub upstream_blocked_ms: f64,
    /// Milliseconds this component's tasks spent blocked sending downstream, in the
    /// window.
    pub send_blocked_ms: f64,
}

/// Figures of one output stream over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputWindowStats {
    /// Stream id.
    pub stream: String,
    /// Emit calls.
    pub emitted: u64,
    /// Tuple copies sent.
    pub transferred: u64,
    /// Spouts: trees completed.
    pub acked: u64,
    /// Spouts: trees failed or timed out.
    pub failed: u64,
    /// Spouts: complete latency.
    pub complete_latency: LatencyStats,
}

/// Figures of one bolt input (source component, stream) over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputWindowStats {
    /// Source component.
    pub component: String,
    /// Source stream.
    pub stream: String,
    /// `execute` calls.
    pub executed: u64,
    /// Inputs acked.
    pub acked: u64,
    /// Inputs failed.
    pub failed: u64,
    /// Time in `execute`.
    pub execute_latency: LatencyStats,
    /// Time from `execute` to ack.
    pub process_latency: LatencyStats,
}

/// The figures shared by a task and a component over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowFigures {
    /// Emit calls.
    pub emitted: u64,
    /// Tuple copies sent.
    pub transferred: u64,
    /// Bolts: `execute` calls.
    pub executed: u64,
    /// Bolts: inputs acked. Spouts: trees completed.
    pub acked: u64,
    /// Bolts: inputs failed. Spouts: trees failed or timed out.
    pub failed: u64,
    /// Errors reported (`error_count` in JSON: a component's `errors` is the list).
    #[serde(rename = "error_count")]
    pub errors: u64,
    /// Spouts: complete latency.
    pub complete_latency: LatencyStats,
    /// Bolts: time in `execute`.
    pub execute_latency: LatencyStats,
    /// Bolts: time from `execute` to ack.
    pub process_latency: LatencyStats,
    /// Bolts: Storm's capacity (a component: the largest of its executors).
    pub capacity: f64,
    /// Input queue and blocked time.
    pub backpressure: BackpressureStats,
    /// Per output stream.
    pub outputs: Vec<OutputWindowStats>,
    /// Bolts: per input.
    pub inputs: Vec<InputWindowStats>,
}

/// One task over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskWindowStats {
    /// Task id.
    pub task: u32,
    /// Its component.
    pub component: String,
    /// The supervisor whose worker runs it.
    pub supervisor: String,
    /// That supervisor's host.
    pub host: String,
    /// That worker's slot port.
    pub port: u16,
    /// Seconds since the worker running it started.
    pub uptime_secs: u64,
    /// Its figures.
    #[serde(flatten)]
    pub figures: WindowFigures,
}

/// One error of a component, with where and when (Storm's `componentErrors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentError {
    /// The task that reported it.
    pub task: u32,
    /// Host of its worker.
    pub host: String,
    /// Port of its worker.
    pub port: u16,
    /// When and what.
    #[serde(flatten)]
    pub error: ErrorRecord,
}

/// One component over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentWindowStats {
    /// Spout, bolt or acker.
    pub kind: ComponentRole,
    /// Tasks.
    pub tasks: u32,
    /// Executors.
    pub executors: u32,
    /// Its figures, summed over tasks (capacity: the largest over executors; latencies:
    /// over every sampled tuple of its tasks).
    #[serde(flatten)]
    pub figures: WindowFigures,
    /// Its most recent errors (at most ten), oldest first.
    pub errors: Vec<ComponentError>,
}

/// One user metric of one task, at the latest report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMetricView {
    /// Component.
    pub component: String,
    /// Task.
    pub task: u32,
    /// The metric.
    #[serde(flatten)]
    pub metric: super::UserMetric,
}

/// `GET /api/v1/topologies/{name}/metrics?window=W`: a topology's figures over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyMetrics {
    /// Topology name.
    pub name: String,
    /// Topology id.
    pub id: String,
    /// Its status.
    pub status: TopologyStatus,
    /// The window.
    pub window: Window,
    /// Seconds the window covers so far (the shorter of the window and the topology's
    /// uptime).
    pub window_secs: u64,
    /// Figures of the whole topology (spouts' emitted/transferred/acked/failed and
    /// complete latency, as Storm's `topologyStats`; acker excluded).
    pub topology: WindowFigures,
    /// Every component, the acker included, by id.
    pub components: BTreeMap<String, ComponentWindowStats>,
    /// Every task that reported, by task id.
    pub tasks: Vec<TaskWindowStats>,
    /// User metrics, by component then task.
    pub user_metrics: Vec<UserMetricView>,
}
