//! The cluster state nimbus keeps: topology records, assignments, supervisors and the
//! worker reports they send. Records are stored as JSON in the database, so every type
//! here is serde-serializable and stable.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use squall_runtime::cluster::protocol::{ArtifactHash, TopologyStatus, WorkerAssignment};

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
    /// The topology binary.
    pub artifact: ArtifactHash,
    /// The topology's resources archive, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ArtifactHash>,
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
    /// The name of the token that submitted it (`None`: submitted to an open nimbus,
    /// or before tokens existed; only admins act on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Identifies a worker slot: a port of a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SlotId {
    /// Supervisor id.
    pub supervisor: String,
    /// Slot port.
    pub port: u16,
}

impl SlotId {
    /// The slot `worker` occupies.
    pub fn of(worker: &WorkerAssignment) -> SlotId {
        SlotId {
            supervisor: worker.supervisor.clone(),
            port: worker.port,
        }
    }
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.supervisor, self.port)
    }
}

/// Where a topology's executors run (Storm's `Assignment`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Workers, sorted by (supervisor, port).
    pub workers: Vec<WorkerAssignment>,
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
