//! Nimbus's HTTP API bodies that the CLI (and any other client) sends and reads:
//! submissions, actions, and the list and status views.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ArtifactHash, ComponentStats, Executor, TaskStats, TopologyStatus, WorkerReport};

/// `POST /api/v1/topologies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// Topology name; the YAML's `name` when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The topology YAML.
    pub yaml: String,
    /// The uploaded artifact to run.
    pub artifact: ArtifactHash,
    /// An uploaded resources archive (a tar of the topology's resources directory),
    /// unpacked for every worker as its `topology.resources.dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ArtifactHash>,
}

/// `POST /api/v1/topologies/{name}/kill` (the body may be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillRequest {
    /// Seconds to keep the topology deactivated before removing it; default: its
    /// `topology.message.timeout.secs`.
    #[serde(default)]
    pub wait_secs: Option<u64>,
}

/// `POST /api/v1/topologies/{name}/rebalance`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebalanceRequest {
    /// New number of workers.
    #[serde(default)]
    pub workers: Option<u32>,
    /// New executor counts by component id (each at most the component's task count).
    #[serde(default)]
    pub parallelism: BTreeMap<String, u32>,
    /// Seconds to stay deactivated (REBALANCING) before rescheduling; default 0.
    #[serde(default)]
    pub wait_secs: Option<u64>,
}

/// Answer to submit, kill, activate, deactivate and rebalance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionResponse {
    /// Topology name.
    pub name: String,
    /// Topology id.
    pub id: String,
    /// Status after the action.
    pub status: TopologyStatus,
    /// What happened, in words.
    pub message: String,
}

/// Answer to an artifact upload or `HEAD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactInfo {
    /// Its content hash.
    pub sha256: ArtifactHash,
    /// Size in bytes.
    pub size: u64,
    /// Whether this upload stored it (false: it was there already).
    pub created: bool,
}

/// Every error answer: `{"error": "...", "details": [...], "code": "..."}` (details
/// and code may be absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What is wrong.
    pub error: String,
    /// One line per problem when there are several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// What a program may act on, for the errors that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
}

/// A machine-readable error class in an [`ErrorBody`]. Unknown codes (from a newer
/// nimbus) read as [`ErrorCode::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A stats report came from a worker that the topology's current assignment does not
    /// hold (the topology is gone, was resubmitted, or moved the worker's slot): the
    /// worker has nothing left to do.
    NotAssigned,
    /// A code this build does not know.
    #[serde(other)]
    Other,
}

/// `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` while nimbus serves.
    pub status: String,
    /// The cluster protocol version nimbus speaks.
    pub protocol: u32,
}

/// One row of `GET /api/v1/topologies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySummary {
    /// Name.
    pub name: String,
    /// Id.
    pub id: String,
    /// Status.
    pub status: TopologyStatus,
    /// Workers requested.
    pub num_workers: u32,
    /// Workers assigned now.
    pub assigned_workers: u32,
    /// Tasks.
    pub num_tasks: u32,
    /// Executors.
    pub num_executors: u32,
    /// Seconds since submission.
    pub uptime_secs: u64,
}

/// `GET /api/v1/topologies`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyList {
    /// Topologies, by name.
    pub topologies: Vec<TopologySummary>,
}

/// One worker of an assignment: a slot and the executors it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerAssignment {
    /// Supervisor id.
    pub supervisor: String,
    /// The supervisor's host, as it reported it (where other workers connect).
    pub host: String,
    /// Slot port.
    pub port: u16,
    /// Executors, ascending by first task.
    pub executors: Vec<Executor>,
}

impl WorkerAssignment {
    /// Whether this worker runs `task`.
    pub fn runs_task(&self, task: u32) -> bool {
        self.executors
            .iter()
            .any(|[first, last]| (*first..=*last).contains(&task))
    }
}

/// A worker report with the supervisor it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerView {
    /// Supervisor id.
    pub supervisor: String,
    /// The report.
    #[serde(flatten)]
    pub report: WorkerReport,
}

/// `GET /api/v1/topologies/{name}`: what `squall status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyInfo {
    /// Summary figures.
    #[serde(flatten)]
    pub summary: TopologySummary,
    /// The artifact it runs.
    pub artifact: ArtifactHash,
    /// Submission time, unix seconds.
    pub submitted_at: u64,
    /// Executor counts set by rebalances.
    pub parallelism: BTreeMap<String, u32>,
    /// When a killed topology is removed (unix millis).
    pub kill_deadline_ms: Option<u64>,
    /// When a pending rebalance happens (unix millis).
    pub rebalance_deadline_ms: Option<u64>,
    /// Every component, the acker included: its shape and counters summed over its
    /// tasks.
    pub components: BTreeMap<String, ComponentStats>,
    /// Executors per worker slot.
    pub assignment: Vec<WorkerAssignment>,
    /// The latest reports of this topology's workers from live supervisors.
    pub workers: Vec<WorkerView>,
    /// The latest counters of each task that reported, by task id.
    pub tasks: Vec<TaskStats>,
}

/// One row of `GET /api/v1/supervisors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorView {
    /// Supervisor id.
    pub id: String,
    /// Host.
    pub host: String,
    /// Whether it heartbeats within the timeout.
    pub alive: bool,
    /// Seconds since its last heartbeat (since nimbus started, for one not heard from
    /// since).
    pub last_heartbeat_secs_ago: f64,
    /// Every slot port.
    pub slots: Vec<u16>,
    /// Ports assigned to a topology.
    pub used_slots: Vec<u16>,
    /// Ports free.
    pub free_slots: Vec<u16>,
    /// Its latest worker reports.
    pub workers: Vec<WorkerReport>,
}

/// `GET /api/v1/supervisors`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SupervisorList {
    /// Supervisors, by id.
    pub supervisors: Vec<SupervisorView>,
}
