//! State of stateful bolts (Storm's `State`, `KeyValueState`), its providers (memory,
//! redb, Redis) and the checkpoint protocol that commits it (Storm's `$checkpointspout`,
//! `$checkpoint` stream and stateful bolt executor).
//!
//! The seam between the parts: a state is driven only through [`State`] by the
//! checkpoint machinery; what a bolt reads and writes is its typed key-value view.

pub mod config;
pub mod kv;
pub mod open;
pub mod provider;

use thiserror::Error;

/// What went wrong with a state: which namespace, and why (never a password).
#[derive(Debug, Error)]
pub enum StateError {
    /// The provider's store failed (I/O, the server, a corrupt record).
    #[error("state '{namespace}': {message}")]
    Store {
        /// The state's namespace (`<component>-<task>`).
        namespace: String,
        /// What failed.
        message: String,
    },
    /// A key or value could not be encoded or decoded.
    #[error("state '{namespace}': cannot {action} a {what}: {message}")]
    Codec {
        /// The state's namespace.
        namespace: String,
        /// `encode` or `decode`.
        action: &'static str,
        /// `key` or `value`.
        what: &'static str,
        /// The codec's message.
        message: String,
    },
    /// `topology.state.provider` or its config is not usable.
    #[error("topology.state.provider: {0}")]
    Config(String),
    /// A commit for a transaction that was not prepared (and is not already committed).
    #[error("state '{namespace}': commit of txid {txid} which was not prepared")]
    NotPrepared {
        /// The state's namespace.
        namespace: String,
        /// The transaction.
        txid: u64,
    },
}

/// The checkpoint protocol's view of a state (Storm's `State`): changes made since the
/// last commit are staged by [`State::prepare_commit`] — durably, because the commit may
/// reach a worker restarted elsewhere — made the committed state by [`State::commit`],
/// or dropped by [`State::rollback`].
pub trait State: Send {
    /// Stage every change since the last commit under `txid`, durably (Storm keeps the
    /// prepared values under `<namespace>$prepare`).
    fn prepare_commit(&mut self, txid: u64) -> Result<(), StateError>;
    /// Make what was prepared under `txid` the committed state. Committing a txid that
    /// is already committed succeeds and changes nothing (a COMMIT can be replayed).
    fn commit(&mut self, txid: u64) -> Result<(), StateError>;
    /// Drop the changes made and prepared since the last commit: the state reads as
    /// its last committed version.
    fn rollback(&mut self) -> Result<(), StateError>;
    /// INITSTATE said the topology's last committed checkpoint is `checkpoint` (`None`:
    /// none yet). A state committed past it — the checkpoint spout's own state was lost
    /// or moved, so its txids start again — keeps its contents and takes its next commits
    /// after `checkpoint`, instead of refusing every later PREPARE. The default does
    /// nothing (a state that does not refuse older txids).
    fn init(&mut self, checkpoint: Option<u64>) -> Result<(), StateError> {
        let _ = checkpoint;
        Ok(())
    }
}

pub mod bolt;
pub mod checkpoint;
