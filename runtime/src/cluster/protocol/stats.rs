//! Statistics: the per-task counters a worker reports to nimbus every second, and the
//! per-component totals nimbus serves. Counts are exact; every row is keyed by its task,
//! so a task counted by two reports (a restarted or moved worker) is counted once.

use serde::{Deserialize, Serialize};

use super::TopologyStatus;

/// The most task rows one stats report may carry (a worker runs at most its executors'
/// tasks; nimbus also checks each task against the worker's assignment).
pub const MAX_TASKS_PER_REPORT: usize = 100_000;

/// The longest error text kept per task (longer ones are cut at a character boundary).
pub const MAX_ERROR_CHARS: usize = 1024;

/// Exact counters of one task, or of a sum of tasks: the engine's own type, counted on
/// the executor threads and sent as they are.
pub use crate::engine::stats::Counters;

/// One task's counters, as its worker reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// `POST /api/v1/topologies/{name}/stats`: one worker's task counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// Nimbus's answer to a stats report: what the worker must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsAck {
    /// The topology's status now: spouts run only when `ACTIVE`.
    pub status: TopologyStatus,
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
