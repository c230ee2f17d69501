//! The lifecycle states that cross process boundaries: a topology's status and a worker
//! slot's state, as nimbus and supervisors report them.

use std::fmt;

use serde::{Deserialize, Serialize};

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

impl TopologyStatus {
    /// Whether spouts emit in this status.
    pub fn spouts_run(self) -> bool {
        self == TopologyStatus::Active
    }
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

/// What a supervisor's worker slot is doing, as reported to nimbus (Storm's slot
/// states, folded into what an operator needs to see).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotState {
    /// No assignment, no process.
    Empty,
    /// Assigned; the artifact or resources are being fetched.
    Downloading,
    /// A worker process was launched and has not heartbeated yet.
    Starting,
    /// The worker heartbeats.
    Running,
    /// The worker died or hung; a new one starts after the backoff delay.
    Restarting,
    /// The worker was told to stop (assignment gone or changed) and has not exited yet.
    Stopping,
}

impl fmt::Display for SlotState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SlotState::Empty => "empty",
            SlotState::Downloading => "downloading",
            SlotState::Starting => "starting",
            SlotState::Running => "running",
            SlotState::Restarting => "restarting",
            SlotState::Stopping => "stopping",
        })
    }
}
