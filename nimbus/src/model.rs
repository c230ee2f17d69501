//! The cluster state nimbus keeps: topology records, assignments, supervisors and the
//! worker reports they send. Records are stored as JSON in the database, so every type
//! here is serde-serializable and stable.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use squall_runtime::cluster::addr::host_port;
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

impl Assignment {
    /// Task id -> `host:port` of the worker running it (an IPv6 host in brackets).
    pub fn task_locations(&self) -> BTreeMap<u32, String> {
        let mut out = BTreeMap::new();
        for w in &self.workers {
            for [first, last] in &w.executors {
                for task in *first..=*last {
                    out.insert(task, host_port(&w.host, w.port));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_locations_bracket_ipv6_hosts() {
        let worker = |host: &str, port, task| WorkerAssignment {
            supervisor: host.to_string(),
            host: host.to_string(),
            port,
            executors: vec![[task, task]],
        };
        let a = Assignment {
            workers: vec![
                worker("::1", 6700, 1),
                worker("10.0.0.2", 6701, 2),
                worker("fe80::2", 6702, 3),
            ],
        };
        let locations = a.task_locations();
        assert_eq!(locations[&1], "[::1]:6700");
        assert_eq!(locations[&2], "10.0.0.2:6701");
        assert_eq!(locations[&3], "[fe80::2]:6702");
    }
}
