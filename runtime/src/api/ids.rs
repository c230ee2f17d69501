//! Identifiers that appear in logs and reports.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A task: one instance of a component. Task ids are numbered from 1 over all
/// components sorted by id, as in Storm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub u32);

impl TaskId {
    /// The pseudo task that emits tick tuples (Storm's `__system` task, id -1).
    pub const SYSTEM: TaskId = TaskId(u32::MAX);

    /// The id as an integer, with [`TaskId::SYSTEM`] as -1 (Storm's numbering).
    pub fn as_i64(self) -> i64 {
        if self == TaskId::SYSTEM {
            -1
        } else {
            i64::from(self.0)
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_i64())
    }
}

/// A message id a spout attaches to an emit to have it tracked; handed back to the
/// spout's `ack` or `fail`.
pub type MessageId = u64;
