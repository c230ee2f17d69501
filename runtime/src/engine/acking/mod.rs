//! At-least-once processing: Storm's XOR tuple-tree acking.
//!
//! Every tracked spout emit starts a tree with a random 64-bit root id; every edge (a
//! tuple copy sent to a task) gets a random 64-bit edge id. The acker task that owns the
//! root (chosen by hashing it) keeps one 64-bit value per tree: the XOR of every edge id
//! it has seen. Each edge id is XORed in exactly twice — once when created (in the
//! spout's init, or in the parent's ack) and once when the tuple it labels is acked — so
//! the value returns to zero exactly when the whole tree is processed.

mod acker;
mod pending;
mod table;

pub(crate) use acker::AckerState;
pub(crate) use pending::{PendingMsg, PendingSlab};

use crate::api::ids::TaskId;

/// A message to an acker task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckMsg {
    /// A spout emitted root `root` to edges whose ids XOR to `xor`.
    Init {
        root: u64,
        xor: u64,
        spout_task: TaskId,
        /// The spout's pending-slot index, echoed back in the verdict.
        slot: u32,
    },
    /// A tuple of tree `root` was acked: its edge id XOR the edge ids it created.
    Ack { root: u64, xor: u64 },
    /// A tuple of tree `root` failed.
    Fail { root: u64 },
    /// Restart the timeout of tree `root`.
    Reset { root: u64 },
}

impl AckMsg {
    /// The tree this message is about.
    pub(crate) fn root(&self) -> u64 {
        match *self {
            AckMsg::Init { root, .. }
            | AckMsg::Ack { root, .. }
            | AckMsg::Fail { root }
            | AckMsg::Reset { root } => root,
        }
    }
}

/// What became of a tree, sent by the acker to the spout task that emitted its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Fully processed.
    Acked,
    /// Failed somewhere in the tree.
    Failed,
    /// A bolt asked for more time.
    ResetTimeout,
}

/// An acker's verdict on one tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Completion {
    /// The spout task that emitted the root.
    pub(crate) spout_task: TaskId,
    /// The root id.
    pub(crate) root: u64,
    /// The spout's pending-slot index for the root.
    pub(crate) slot: u32,
    /// What happened.
    pub(crate) outcome: Outcome,
}

/// Index of the acker task (among `n`) that owns `root`.
#[inline]
pub(crate) fn acker_index(root: u64, n: usize) -> usize {
    ((u128::from(root.rotate_left(17) ^ root) * n as u128) >> 64) as usize
}
