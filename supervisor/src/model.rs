//! What the supervisor exchanges with nimbus (heartbeat request and assignments) and
//! with its workers (the assignment file a worker starts from).

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

/// One worker slot's assignment, as nimbus sends it (the runtime's worker reads the
/// same type from its spec file).
pub use squall_runtime::worker::Assignment as SlotAssignment;

/// Nimbus's answer to a heartbeat.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// This supervisor's assignments.
    #[serde(default)]
    pub assignments: Vec<SlotAssignment>,
}

/// What a worker process is started with (written as JSON next to it).
pub use squall_runtime::worker::WorkerSpec;
