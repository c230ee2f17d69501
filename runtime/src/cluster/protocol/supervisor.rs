//! Between nimbus, supervisors and workers: the heartbeat a supervisor sends, the slot
//! assignments nimbus answers with, the worker reports inside heartbeats, and the spec
//! file a supervisor starts a worker with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ArtifactHash, AssignmentVersion, SlotState, TopologyStatus};
use crate::cluster::auth::topology_secret::TopologySecret;

/// An executor: the contiguous task range `[first_task, last_task]` it runs.
pub type Executor = [u32; 2];

/// `POST /api/v1/supervisors/heartbeat`: a supervisor's registration and liveness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// Supervisor id (stable across its restarts: kept in its data directory).
    pub id: String,
    /// Host name or address other workers reach this machine at.
    pub host: String,
    /// Slot ports.
    pub slots: Vec<u16>,
    /// Its workers.
    #[serde(default)]
    pub workers: Vec<WorkerReport>,
    /// The version of the assignments it holds (`None`: none yet, e.g. just started):
    /// nimbus answers "unchanged" when it is current (see [`super::assignment`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_version: Option<AssignmentVersion>,
}

/// A worker slot as its supervisor reports it to nimbus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerReport {
    /// Slot port.
    pub port: u16,
    /// Topology name.
    pub topology: String,
    /// Process id, when a process runs.
    #[serde(default)]
    pub pid: Option<u32>,
    /// What the slot is doing.
    pub state: SlotState,
    /// Seconds since the current process started.
    #[serde(default)]
    pub uptime_secs: u64,
    /// Restarts since the slot got this assignment.
    #[serde(default)]
    pub restarts: u32,
    /// How the previous process ended (e.g. `killed by signal 9 (SIGKILL)`).
    #[serde(default)]
    pub last_exit: Option<String>,
    /// Resident memory of the worker process (and its children), bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    /// CPU time the worker process has used (user + system), milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    /// The most recent restarts of this slot (at most [`MAX_RESTARTS_REPORTED`]),
    /// oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_history: Vec<RestartRecord>,
}

/// The most restarts a [`WorkerReport`] lists.
pub const MAX_RESTARTS_REPORTED: usize = 10;

/// One restart of a worker slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartRecord {
    /// When the previous process ended, unix milliseconds.
    pub time_ms: u64,
    /// How it ended (e.g. `killed by signal 9 (SIGKILL)`, `exceeded its memory limit`).
    pub cause: String,
}

/// One worker slot's share of a topology, as the supervisor builds it from nimbus's
/// answer ([`super::SupervisorAssignments::into_slots`]); the worker reads the same value
/// from its [`WorkerSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotAssignment {
    /// Topology name.
    pub topology: String,
    /// Topology id (`name-counter-secs`; changes on resubmission).
    pub topology_id: String,
    /// Topology status: workers keep spouts running only when `ACTIVE`.
    pub status: TopologyStatus,
    /// This worker's slot port.
    pub port: u16,
    /// The topology binary to run (`GET /api/v1/artifacts/{hash}`).
    pub artifact: ArtifactHash,
    /// The topology YAML.
    pub yaml: String,
    /// This worker's executors.
    pub executors: Vec<Executor>,
    /// Where every task of the topology runs: task id -> `host:port`.
    pub task_locations: BTreeMap<u32, String>,
    /// Number of workers of the topology.
    pub workers_total: u32,
    /// The topology's resources archive (`squall submit --resources`), fetched like the
    /// artifact and unpacked into the worker's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ArtifactHash>,
    /// The topology's secret (nimbus sends it only to the supervisor running the slot;
    /// the supervisor writes it to a 0600 file for the worker and leaves it out of the
    /// [`WorkerSpec`]). Never printed: its `Debug` says `<redacted>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_secret: Option<TopologySecret>,
}

impl SlotAssignment {
    /// Whether a worker running `self` must be restarted to follow `other` (a status
    /// change alone does not need a restart: workers follow it themselves).
    pub fn needs_restart_for(&self, other: &SlotAssignment) -> bool {
        self.topology_id != other.topology_id
            || self.artifact != other.artifact
            || self.executors != other.executors
            || self.task_locations != other.task_locations
            || self.yaml != other.yaml
            || self.resources != other.resources
            || self.topology_secret != other.topology_secret
    }
}

/// What `<artifact> worker --spec FILE` reads: written by the supervisor next to the
/// worker as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Unknown fields are ignored, not refused: a newer supervisor may add optional fields
// (orphan watch, logs) that a worker built against an older runtime does without.
pub struct WorkerSpec {
    /// Nimbus base URL.
    pub nimbus: String,
    /// Id of the supervisor that started this worker.
    pub supervisor: String,
    /// The assignment.
    pub assignment: SlotAssignment,
    /// File the worker rewrites every second with the current unix time in
    /// milliseconds, so the supervisor can tell a hung worker.
    pub heartbeat_file: String,
    /// Where the supervisor unpacked the topology's resources: the worker sets
    /// `topology.resources.dir` to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_dir: Option<String>,
    /// The directory of this host where the topology's host-local (redb) state lives,
    /// the same for every slot of the supervisor so a task moved between its slots
    /// finds its files: the worker sets `topology.state.dir` to it. Absent: the
    /// worker's default (`$TMPDIR/squall-state/<topology>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<String>,
    /// The supervisor's data-directory lock file (`DATA/supervisor.lock`): it is
    /// `flock`ed for as long as the supervisor runs, so the worker tells a live
    /// supervisor from a dead one by whether the file is locked. Absent: the worker does
    /// not watch its supervisor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor_lock: Option<String>,
    /// How long, in milliseconds, the worker keeps running once its supervisor is gone
    /// before it exits by itself (`supervisor.worker.orphan.grace.secs`); a supervisor
    /// restarted within it adopts the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphan_grace_ms: Option<u64>,
    /// The file (mode 0600, in the worker's directory) holding the topology's secret,
    /// which the worker reads at start: its links prove it to their peers and its
    /// credential to nimbus derives from it. Required by workers of this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_secret_file: Option<String>,
    /// Where and how the worker keeps its stdout and stderr (rotated files); `None`:
    /// they stay where the supervisor pointed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<WorkerLogs>,
    /// How the worker trusts an `https://` nimbus (a CA pin or CA certificates), as its
    /// supervisor does; absent: the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nimbus_trust: Option<crate::cluster::auth::tls::TrustSpec>,
}

/// A worker's log files: its stderr (with its own log lines) goes to `worker.log` and
/// its stdout to `worker.out` in `dir`; each file is rotated when it would pass
/// `max_bytes`, keeping `files` older files (`worker.log.1` the newest of them), so a
/// worker never holds more than `(files + 1) * max_bytes` per stream on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerLogs {
    /// The directory of the log files (the worker's directory).
    pub dir: String,
    /// Largest size of one log file, in bytes.
    pub max_bytes: u64,
    /// Rotated files kept beside the current one.
    pub files: u32,
}
