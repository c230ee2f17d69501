//! What the supervisor exchanges with nimbus (heartbeat request and assignments) and
//! with its workers (the assignment file a worker starts from).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A worker as the supervisor reports it to nimbus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Slot port.
    pub port: u16,
    /// Topology name.
    pub topology: String,
    /// Process id, when running.
    pub pid: Option<u32>,
    /// `starting`, `running`, `restarting`, `stopping`.
    pub state: String,
    /// Seconds since the current process started.
    pub uptime_secs: u64,
    /// Restarts since the slot got this assignment.
    pub restarts: u32,
    /// How the previous process ended (e.g. `killed by signal 9 (SIGKILL)`).
    pub last_exit: Option<String>,
}

/// The heartbeat a supervisor sends nimbus.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Supervisor id (stable across restarts: kept in its data dir).
    pub id: String,
    /// Host name or address other workers reach this machine at.
    pub host: String,
    /// Slot ports.
    pub slots: Vec<u16>,
    /// Workers on this supervisor.
    pub workers: Vec<WorkerReport>,
}

/// One worker slot's assignment, as nimbus sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotAssignment {
    /// Topology name.
    pub topology: String,
    /// Topology id (changes on resubmission).
    pub topology_id: String,
    /// `ACTIVE`, `INACTIVE`, ...
    #[serde(default)]
    pub status: String,
    /// Slot port.
    pub port: u16,
    /// SHA-256 (hex) of the topology artifact.
    pub artifact: String,
    /// The topology YAML.
    pub yaml: String,
    /// Executors of this worker, as `[first_task, last_task]`.
    pub executors: Vec<[u32; 2]>,
    /// Where every task of the topology runs (`host:port`).
    #[serde(default)]
    pub task_locations: BTreeMap<String, String>,
    /// Number of workers of the topology.
    #[serde(default)]
    pub workers_total: u32,
}

impl SlotAssignment {
    /// Whether a running worker must be restarted to follow `other` (the status alone
    /// does not need a restart: workers read it from nimbus).
    pub fn needs_restart_for(&self, other: &SlotAssignment) -> bool {
        self.topology_id != other.topology_id
            || self.artifact != other.artifact
            || self.executors != other.executors
            || self.task_locations != other.task_locations
            || self.yaml != other.yaml
    }
}

/// Nimbus's answer to a heartbeat.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// This supervisor's assignments.
    #[serde(default)]
    pub assignments: Vec<SlotAssignment>,
}

/// What a worker process is started with (written as JSON next to it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// Nimbus base URL.
    pub nimbus: String,
    /// Supervisor id.
    pub supervisor: String,
    /// This worker's assignment.
    pub assignment: SlotAssignment,
    /// File the worker rewrites every second with the current unix time in millis.
    pub heartbeat_file: String,
}
