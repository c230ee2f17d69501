//! The storage interface under a map state, and its in-memory implementation.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::StateError;

/// One stored `(key, value)` pair of encoded bytes.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Name of the metadata entry that records the txid of the last batch written by
/// [`StateBackend::put_batch`] (in the same atomic write as the batch).
pub const APPLIED_TXID_META: &str = "applied_txid";

/// Byte-keyed storage with atomic batch writes (Storm's `IBackingMap`), plus a few named
/// metadata strings (the state kind, the last applied txid).
///
/// Implementations must make [`put_batch`](StateBackend::put_batch) all-or-nothing: after
/// an error (or a crash, for durable backends) either every entry of the call is stored,
/// with its txid, or none is.
pub trait StateBackend: Send + Sync {
    /// A short name for messages: the file path, or `memory`.
    fn describe(&self) -> String;
    /// The stored values of `keys`, in order (`None` where a key is absent).
    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StateError>;
    /// Store every `(key, value)` pair, replacing old values, atomically; with `txid`,
    /// record it under [`APPLIED_TXID_META`] in the same atomic write.
    fn put_batch(&self, txid: Option<u64>, entries: &[Entry]) -> Result<(), StateError>;
    /// Every stored entry, in key order (for dumps).
    fn iter_all(&self) -> Result<Vec<Entry>, StateError>;
    /// The metadata entry `name`, if set.
    fn meta(&self, name: &str) -> Result<Option<String>, StateError>;
    /// Set the metadata entry `name`.
    fn set_meta(&self, name: &str, value: &str) -> Result<(), StateError>;

    /// The txid of the last batch written with a txid (see
    /// [`put_batch`](StateBackend::put_batch)), if any.
    fn applied_txid(&self) -> Result<Option<u64>, StateError> {
        let Some(text) = self.meta(APPLIED_TXID_META)? else {
            return Ok(None);
        };
        text.parse().map(Some).map_err(|_| StateError::BadMeta {
            store: self.describe(),
            name: APPLIED_TXID_META,
            value: text,
        })
    }
}

/// A shared backend is a backend.
impl<T: StateBackend + ?Sized> StateBackend for std::sync::Arc<T> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        (**self).multi_get(keys)
    }
    fn put_batch(&self, txid: Option<u64>, entries: &[Entry]) -> Result<(), StateError> {
        (**self).put_batch(txid, entries)
    }
    fn iter_all(&self) -> Result<Vec<Entry>, StateError> {
        (**self).iter_all()
    }
    fn meta(&self, name: &str) -> Result<Option<String>, StateError> {
        (**self).meta(name)
    }
    fn set_meta(&self, name: &str, value: &str) -> Result<(), StateError> {
        (**self).set_meta(name, value)
    }
}

/// An in-memory backend (for tests and local runs; lost when dropped).
#[derive(Debug, Default)]
pub struct MemoryBackend {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    data: BTreeMap<Vec<u8>, Vec<u8>>,
    meta: BTreeMap<String, String>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every write is a plain map insert that cannot panic half-way through a batch,
        // so a poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl StateBackend for MemoryBackend {
    fn describe(&self) -> String {
        "memory".to_string()
    }

    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        let inner = self.lock();
        Ok(keys.iter().map(|k| inner.data.get(k).cloned()).collect())
    }

    fn put_batch(&self, txid: Option<u64>, entries: &[Entry]) -> Result<(), StateError> {
        // One lock for the whole batch: readers see all of it or none of it.
        let mut inner = self.lock();
        for (k, v) in entries {
            inner.data.insert(k.clone(), v.clone());
        }
        if let Some(txid) = txid {
            inner
                .meta
                .insert(APPLIED_TXID_META.to_string(), txid.to_string());
        }
        Ok(())
    }

    fn iter_all(&self) -> Result<Vec<Entry>, StateError> {
        let inner = self.lock();
        Ok(inner
            .data
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn meta(&self, name: &str) -> Result<Option<String>, StateError> {
        Ok(self.lock().meta.get(name).cloned())
    }

    fn set_meta(&self, name: &str, value: &str) -> Result<(), StateError> {
        self.lock().meta.insert(name.to_string(), value.to_string());
        Ok(())
    }
}
