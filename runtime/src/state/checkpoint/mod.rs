//! Storm's checkpoint protocol for stateful bolts, as pure state machines: the
//! checkpoint spout's persisted transaction state ([`spout_state`]), the bolt side's
//! barrier over upstream tasks ([`barrier`]) and the stateful executor's bookkeeping of
//! acks, buffered tuples and hooks ([`bolt_state`]).
//!
//! None of these modules touch the engine: the engine feeds them events (a timer tick,
//! an ack, a checkpoint tuple) and carries out what they return (emit, ack, fail).

pub mod barrier;
pub mod bolt_state;
pub mod forwarder;
pub mod spout;
pub mod spout_state;
pub mod wiring;

use std::fmt;

use serde::{Deserialize, Serialize};

/// Component id of the checkpoint spout (Storm's `CheckpointSpout.CHECKPOINT_COMPONENT_ID`).
pub const CHECKPOINT_COMPONENT: &str = "$checkpointspout";
/// Stream id of checkpoint tuples (Storm's `CheckpointSpout.CHECKPOINT_STREAM_ID`).
pub const CHECKPOINT_STREAM: &str = "$checkpoint";
/// Field of a checkpoint tuple holding the transaction id (an `Int`; `-1` = none yet).
pub const FIELD_TXID: &str = "txid";
/// Field of a checkpoint tuple holding the [`Action`] (a `Str`, e.g. `"PREPARE"`).
pub const FIELD_ACTION: &str = "action";
/// Key under which the checkpoint spout persists its [`spout_state::TxState`].
pub const SPOUT_STATE_KEY: &str = "__state";
/// Default of `topology.state.checkpoint.interval.ms`.
pub const DEFAULT_INTERVAL_MS: u64 = 1000;
/// Smallest checkpoint interval used, whatever is configured (as Storm).
pub const MIN_INTERVAL_MS: u64 = 100;

/// The namespace of the checkpoint spout task `task`'s own state: `$checkpointspout-<task>`.
pub fn spout_namespace(task: u32) -> String {
    format!("{CHECKPOINT_COMPONENT}-{task}")
}

/// The namespace of the state of task `task` of bolt `component`: `<component>-<task>`.
pub fn bolt_namespace(component: &str, task: u32) -> String {
    format!("{component}-{task}")
}

/// The interval actually used for a configured `topology.state.checkpoint.interval.ms`:
/// at least [`MIN_INTERVAL_MS`], [`DEFAULT_INTERVAL_MS`] when unset.
pub fn effective_interval_ms(configured: Option<u64>) -> u64 {
    configured
        .unwrap_or(DEFAULT_INTERVAL_MS)
        .max(MIN_INTERVAL_MS)
}

/// What a checkpoint tuple asks the stateful bolts to do (Storm's `CheckPointState.Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Stage the state's changes under the txid (`prepare_commit`).
    #[serde(rename = "PREPARE")]
    Prepare,
    /// Make the prepared txid the committed state (`commit`), ack the deferred inputs.
    #[serde(rename = "COMMIT")]
    Commit,
    /// Drop uncommitted changes (`rollback`), fail the deferred inputs (replay).
    #[serde(rename = "ROLLBACK")]
    Rollback,
    /// Hand the bolt its (last committed) state, then process buffered tuples.
    #[serde(rename = "INITSTATE")]
    InitState,
}

impl Action {
    /// The name carried in a checkpoint tuple's `action` field (Storm's enum names).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Prepare => "PREPARE",
            Action::Commit => "COMMIT",
            Action::Rollback => "ROLLBACK",
            Action::InitState => "INITSTATE",
        }
    }

    /// The action named `name` (as in a checkpoint tuple), if any.
    pub fn parse(name: &str) -> Option<Action> {
        match name {
            "PREPARE" => Some(Action::Prepare),
            "COMMIT" => Some(Action::Commit),
            "ROLLBACK" => Some(Action::Rollback),
            "INITSTATE" => Some(Action::InitState),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One checkpoint message: the `(txid, action)` of a `$checkpoint` tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The transaction (`-1` = none committed yet; only with [`Action::InitState`]).
    pub txid: i64,
    /// What to do.
    pub action: Action,
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} txid {}", self.action, self.txid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for a in [
            Action::Prepare,
            Action::Commit,
            Action::Rollback,
            Action::InitState,
        ] {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            let json = serde_json::to_string(&a).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
        }
        assert_eq!(Action::parse("prepare"), None);
    }

    #[test]
    fn namespaces_and_interval() {
        assert_eq!(spout_namespace(3), "$checkpointspout-3");
        assert_eq!(bolt_namespace("count", 7), "count-7");
        assert_eq!(effective_interval_ms(None), 1000);
        assert_eq!(effective_interval_ms(Some(10)), 100);
        assert_eq!(effective_interval_ms(Some(250)), 250);
    }
}
