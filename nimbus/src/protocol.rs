//! The JSON bodies of the HTTP API: requests nimbus accepts and answers it gives.
//! Supervisors and the CLI can use these types to talk to nimbus.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Executor, TopologyStatus, WorkerAssignment, WorkerReport};
use crate::plan::ComponentPlan;

/// Counters of one component, as a worker reports them (counter name -> number).
pub type Counters = BTreeMap<String, serde_json::Value>;

/// `POST /api/v1/topologies`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// Topology name; the YAML's `name` when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The topology YAML.
    pub yaml: String,
    /// SHA-256 (hex) of an uploaded artifact.
    pub artifact: String,
    /// SHA-256 (hex) of an uploaded resources archive (a tar of the topology's
    /// resources directory), unpacked for every worker as its `topology.resources.dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<String>,
}

/// `POST /api/v1/topologies/{name}/kill` (the body may be empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillRequest {
    /// Seconds to keep the topology deactivated before removing it; default: its
    /// `topology.message.timeout.secs` (30).
    #[serde(default)]
    pub wait_secs: Option<u64>,
}

/// `POST /api/v1/topologies/{name}/rebalance`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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

/// `POST /api/v1/topologies/{name}/stats`: a worker's latest component counters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsReport {
    /// The reporting worker, as `host:port` (the way `task_locations` names it) or
    /// `supervisor:port`. Stats of a worker that is no longer in the assignment are
    /// dropped when the assignment changes.
    pub worker: String,
    /// Component id -> counters.
    pub components: BTreeMap<String, Counters>,
}

/// `POST /api/v1/supervisors/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Supervisor id (stable across its restarts).
    pub id: String,
    /// Host or address other workers reach this machine at.
    pub host: String,
    /// Slot ports.
    pub slots: Vec<u16>,
    /// Its workers.
    #[serde(default)]
    pub workers: Vec<WorkerReport>,
}

/// One worker slot's assignment, sent to the supervisor that owns the slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotAssignment {
    /// Topology name.
    pub topology: String,
    /// Topology id (changes on resubmission).
    pub topology_id: String,
    /// Topology status: workers keep spouts running only when `ACTIVE`.
    pub status: TopologyStatus,
    /// Slot port.
    pub port: u16,
    /// SHA-256 (hex) of the artifact to run (`GET /api/v1/artifacts/{sha256}`).
    pub artifact: String,
    /// The topology YAML.
    pub yaml: String,
    /// This worker's executors, `[first_task, last_task]`.
    pub executors: Vec<Executor>,
    /// Task id -> `host:port` of the worker running it, for every task of the topology.
    pub task_locations: BTreeMap<String, String>,
    /// Number of workers of the topology.
    pub workers_total: u32,
    /// SHA-256 (hex) of the topology's resources archive, fetched like the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<String>,
}

/// Answer to a heartbeat: every slot assignment of that supervisor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// Assignments, by topology name then port.
    pub assignments: Vec<SlotAssignment>,
}

/// One row of `GET /api/v1/topologies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct TopologyList {
    /// Topologies, by name.
    pub topologies: Vec<TopologySummary>,
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

/// `GET /api/v1/topologies/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyInfo {
    /// Summary figures.
    #[serde(flatten)]
    pub summary: TopologySummary,
    /// Artifact hash.
    pub artifact: String,
    /// Submission time, unix seconds.
    pub submitted_at: u64,
    /// Executor counts set by rebalances.
    pub parallelism: BTreeMap<String, u32>,
    /// When a killed topology is removed (unix millis).
    pub kill_deadline_ms: Option<u64>,
    /// When a pending rebalance happens (unix millis).
    pub rebalance_deadline_ms: Option<u64>,
    /// Component id -> task and executor counts.
    pub components: BTreeMap<String, ComponentPlan>,
    /// Executors per worker slot.
    pub assignment: Vec<WorkerAssignment>,
    /// The latest reports of this topology's workers from supervisors.
    pub workers: Vec<WorkerView>,
    /// Worker -> component -> counters, as last reported.
    pub stats: BTreeMap<String, BTreeMap<String, Counters>>,
    /// Component -> counters merged over workers: numbers summed (integers stay
    /// integers), `tasks` set to the component's task count, other values from the
    /// last worker (by name) that reported them.
    pub component_stats: BTreeMap<String, Counters>,
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

/// Answer to submit, kill, activate, deactivate and rebalance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct ArtifactInfo {
    /// SHA-256 (hex).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether this upload stored it (false: it was there already).
    pub created: bool,
}

/// Every error answer: `{"error": "...", "details": [...]}` (details may be absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What is wrong.
    pub error: String,
    /// One line per problem when there are several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}
