//! The typed errors of the state layer.

use std::path::PathBuf;

/// A failure of a state backend or of a state update.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state file does not exist (and was not to be created).
    #[error("state store {}: no such file", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The embedded database refused an operation (includes a damaged file).
    #[error("state store {}: {source}", path.display())]
    Db {
        /// The database file.
        path: PathBuf,
        /// What redb said.
        #[source]
        source: Box<redb::Error>,
    },
    /// The store holds no state kind: it was not written by a [`super::MapState`].
    #[error("state store {store}: not a squall state store (no state kind recorded)")]
    NotAState {
        /// Which store (a file name or `memory`).
        store: String,
    },
    /// The store records a kind this version does not know.
    #[error("state store {store}: unknown state kind '{kind}'")]
    UnknownKind {
        /// Which store.
        store: String,
        /// The recorded kind.
        kind: String,
    },
    /// The store was created for another kind of state.
    #[error("state store {store} holds {stored} state, not {requested}")]
    KindMismatch {
        /// Which store.
        store: String,
        /// The kind recorded in the store.
        stored: String,
        /// The kind asked for.
        requested: String,
    },
    /// A stored key or value does not decode.
    #[error("state store {store}: stored {what} is unreadable: {source}")]
    Decode {
        /// Which store.
        store: String,
        /// What was being decoded.
        what: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A key or value could not be encoded.
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// An opaque state already holds a later batch for a key (Storm: "Current batch is
    /// behind state's batch"); nothing of the batch was written.
    #[error("batch {txid} is behind the state of key {key} (stored txid {stored})")]
    BatchBehind {
        /// The key, as JSON.
        key: String,
        /// The batch's txid.
        txid: u64,
        /// The txid stored for the key.
        stored: u64,
    },
    /// The state already holds a later batch than the one being applied: the
    /// coordinator's commit record does not match this state (it was lost, is not
    /// durable, or belongs to another run of the topology), so its txids restarted
    /// behind the state's. Nothing of the batch was written.
    #[error(
        "state store {store} already holds batch {applied}, but batch {txid} was to be applied: \
         the coordinator's commit record does not match this state (lost, not durable, or from \
         another run of the topology); refusing rather than skip or double-count. Restore the \
         commit record, or remove the state to start over"
    )]
    TxidBehind {
        /// Which store.
        store: String,
        /// The batch's txid.
        txid: u64,
        /// The txid of the last batch the store holds.
        applied: u64,
    },
    /// A metadata entry of the store is not what this version writes.
    #[error("state store {store}: metadata '{name}' is unreadable: {value:?}")]
    BadMeta {
        /// Which store.
        store: String,
        /// The entry.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// A combiner could not use an input tuple.
    #[error("bad input for {combiner}: {reason}")]
    Input {
        /// The combiner's name.
        combiner: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A failure injected by a test hook ([`crate::trident::CommitFaults`]).
    #[error("injected commit failure ({0})")]
    Injected(&'static str),
}
