//! State providers (Storm's `StateProvider`): where a stateful bolt's key-value state
//! lives — [`memory`] (Storm's default, not persistent), [`redb`] (one file per task on
//! the worker's host) and [`redis`] (a Redis server, so a task restarted on another
//! host finds its state).
//!
//! Every backend keeps the same protocol, implemented once in [`staged`]: writes since
//! the last commit are buffered in memory; [`State::prepare_commit`] persists them (over
//! any set prepared before and not committed) as the *prepared set* with its txid;
//! [`State::commit`] applies the prepared set to the committed data atomically and
//! clears it; [`State::rollback`] drops pending and prepared changes. A backend opened
//! anew on a namespace finds what was prepared there, so a COMMIT replayed after a
//! restart commits it.

pub mod memory;
pub mod redb;
pub mod redis;
mod redis_scripts;
mod staged;

use super::{State, StateError};

/// Largest key or value a state stores or reads back (16 MiB): larger ones are refused,
/// so a corrupt or foreign record cannot make a worker allocate without bound.
pub const MAX_VALUE_LEN: usize = 16 << 20;

/// One committed entry, as bytes.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The entries of a state, read lazily page by page.
pub type EntryIter<'a> = Box<dyn Iterator<Item = Result<Entry, StateError>> + 'a>;

/// A byte-level key-value state (Storm's `KeyValueState<byte[], byte[]>`) that keeps
/// the checkpoint protocol of [`State`]. Reads see the pending writes, then the prepared
/// set, then the committed data.
pub trait KvBackend: State {
    /// The state's namespace (`<component>-<task>`).
    fn namespace(&self) -> &str;
    /// The value of `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Set `key` to `value` (pending until the next prepare and commit).
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError>;
    /// Remove `key` (pending until the next prepare and commit).
    fn delete(&mut self, key: Vec<u8>) -> Result<(), StateError>;
    /// Every entry of the state as [`KvBackend::get`] sees it, in no particular order.
    fn iterate(&self) -> Result<EntryIter<'_>, StateError>;
}

/// Opens the state of a namespace (Storm's `StateProvider`). One provider serves every
/// task of a worker.
pub trait StateProvider: Send + Sync {
    /// The state of `namespace`, with whatever was committed and prepared there.
    fn open(&self, namespace: &str) -> Result<Box<dyn KvBackend>, StateError>;
}

/// Refuse a key or value over [`MAX_VALUE_LEN`].
pub(crate) fn check_len(namespace: &str, what: &str, len: usize) -> Result<(), StateError> {
    if len > MAX_VALUE_LEN {
        return Err(StateError::Store {
            namespace: namespace.to_string(),
            message: format!("a {what} of {len} bytes is over the limit of {MAX_VALUE_LEN}"),
        });
    }
    Ok(())
}
