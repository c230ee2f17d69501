//! The file a supervisor starts a worker with (written next to the worker as JSON).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// This worker's share of a topology, as nimbus assigned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Topology name.
    pub topology: String,
    /// Topology id (`name-counter-secs`).
    pub topology_id: String,
    /// `ACTIVE`, `INACTIVE`, ...
    #[serde(default)]
    pub status: String,
    /// This worker's slot port.
    pub port: u16,
    /// SHA-256 of the topology artifact.
    pub artifact: String,
    /// The topology YAML.
    pub yaml: String,
    /// This worker's executors as `[first_task, last_task]`.
    pub executors: Vec<[u32; 2]>,
    /// Where every task runs: task id -> `host:port`.
    #[serde(default)]
    pub task_locations: BTreeMap<String, String>,
    /// Number of workers of the topology.
    #[serde(default)]
    pub workers_total: u32,
    /// SHA-256 of the topology's resources archive (`squall submit --resources`),
    /// fetched like the artifact and unpacked into the worker's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<String>,
}

impl Assignment {
    /// Whether a worker running `self` must be restarted to follow `other` (a status
    /// change alone does not need a restart: workers follow it themselves).
    pub fn needs_restart_for(&self, other: &Assignment) -> bool {
        self.topology_id != other.topology_id
            || self.artifact != other.artifact
            || self.executors != other.executors
            || self.task_locations != other.task_locations
            || self.yaml != other.yaml
            || self.resources != other.resources
    }
}

/// What `squall worker --spec FILE` reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// Nimbus base URL.
    pub nimbus: String,
    /// Id of the supervisor that started this worker.
    pub supervisor: String,
    /// The assignment.
    pub assignment: Assignment,
    /// File to rewrite every second with the current unix time in milliseconds.
    pub heartbeat_file: String,
    /// Where the supervisor unpacked the topology's resources: the worker sets
    /// `topology.resources.dir` to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_dir: Option<String>,
}
