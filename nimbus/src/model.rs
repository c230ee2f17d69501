//! The cluster state nimbus keeps: topology records, assignments, supervisors and the
//! worker reports they send. Records are stored as JSON in the database, so every type
//! here is serde-serializable and stable.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An executor: the contiguous task range `[first_task, last_task]` it runs.
pub type Executor = [u32; 2];

/// A topology's lifecycle status (Storm's `TopologyStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TopologyStatus {
    /// Running; spouts emit.
    Active,
    /// Running with spouts paused.
    Inactive,
    /// Killed: spouts paused until the kill wait is over, then the topology is removed.
    Killed,
    /// Paused until the rebalance wait is over, then rescheduled and restored.
    Rebalancing,
}

impl fmt::Display for TopologyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TopologyStatus::Active => "ACTIVE",
            TopologyStatus::Inactive => "INACTIVE",
            TopologyStatus::Killed => "KILLED",
            TopologyStatus::Rebalancing => "REBALANCING",
        })
    }
}

/// A rebalance waiting for its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRebalance {
    /// When to reschedule (unix millis).
    pub deadline_ms: u64,
    /// The status to return to afterwards.
    pub prev_status: TopologyStatus,
}

/// A submitted topology, as stored (Storm's `StormBase` plus the code reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyRecord {
    /// Name, unique among the topologies nimbus holds.
    pub name: String,
    /// Id, `<name>-<counter>-<unix secs>`; a resubmission gets a new one.
    pub id: String,
    /// Submission counter (orders topologies for scheduling).
    pub seq: u64,
    /// The topology YAML as submitted.
    pub yaml: String,
    /// For a `topologySource` topology: the declaration its artifact resolved it into
    /// (spouts, bolts, streams, config), which nimbus plans from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_yaml: Option<String>,
    /// SHA-256 (hex) of the topology binary.
    pub artifact: String,
    /// SHA-256 (hex) of the topology's resources archive, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<String>,
    /// Lifecycle status.
    pub status: TopologyStatus,
    /// Requested number of workers (`topology.workers`, or the last rebalance's).
    pub num_workers: u32,
    /// Executor counts set by rebalances, by component id.
    #[serde(default)]
    pub parallelism: BTreeMap<String, u32>,
    /// Submission time, unix seconds.
    pub submitted_at: u64,
    /// When a killed topology is removed (unix millis).
    #[serde(default)]
    pub kill_deadline_ms: Option<u64>,
    /// A rebalance waiting for its deadline.
    #[serde(default)]
    pub rebalance: Option<PendingRebalance>,
}

/// Identifies a worker slot: a port of a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SlotId {
    /// Supervisor id.
    pub supervisor: String,
    /// Slot port.
    pub port: u16,
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.supervisor, self.port)
    }
}

/// One worker of an assignment: a slot and the executors it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The slot this worker occupies.
    pub fn slot(&self) -> SlotId {
        SlotId {
            supervisor: self.supervisor.clone(),
            port: self.port,
        }
    }
}

/// Where a topology's executors run (Storm's `Assignment`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Workers, sorted by (supervisor, port).
    pub workers: Vec<WorkerAssignment>,
}

impl Assignment {
    /// Task id -> `host:port` of the worker running it.
    pub fn task_locations(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for w in &self.workers {
            for [first, last] in &w.executors {
                for task in *first..=*last {
                    out.insert(task.to_string(), format!("{}:{}", w.host, w.port));
                }
            }
        }
        out
    }
}

/// What nimbus remembers about a supervisor across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorInfo {
    /// Supervisor id (stable across supervisor restarts).
    pub id: String,
    /// Host other workers reach it at.
    pub host: String,
    /// Its slot ports.
    pub slots: Vec<u16>,
}

/// A worker's state as its supervisor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Slot port.
    pub port: u16,
    /// Topology name (the topology id is accepted too).
    pub topology: String,
    /// Process id, when running.
    #[serde(default)]
    pub pid: Option<u32>,
    /// Slot state as the supervisor names it (`starting`, `running`, ...).
    #[serde(default)]
    pub state: String,
    /// Seconds since the current process started.
    #[serde(default)]
    pub uptime_secs: u64,
    /// Restarts since the slot got this assignment.
    #[serde(default)]
    pub restarts: u32,
    /// How the previous process ended.
    #[serde(default)]
    pub last_exit: Option<String>,
}
