//! Where Trident's coordination metadata lives: the master coordinator's commit log and
//! each spout's batch offsets, small records written *before* the batch they describe
//! is emitted and read back wherever the coordinator runs next (Storm keeps them in
//! ZooKeeper under `/transactional`).
//!
//! A [`MetaStore`] gets and puts records by [`MetaKey`]. In a cluster the worker hands
//! its Trident components a [`NimbusMetaStore`] (the records live in nimbus's durable
//! store, so a coordinator moved to another supervisor resumes its txids); in local
//! mode they fall back to files ([`FileMetaStore`]) at the paths the topology names.
//! [`MemoryMetaStore`] serves tests.

mod file;
mod memory;
mod nimbus;

pub use file::FileMetaStore;
pub use memory::MemoryMetaStore;
pub use nimbus::{NimbusMetaStore, RetryPolicy};

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use crate::cluster::protocol::trident::{BadMetaKey, MAX_META_VALUE_BYTES, check_meta_key};

/// Reading or writing coordination metadata failed.
#[derive(Debug, Error)]
pub enum MetaError {
    /// The key is not usable.
    #[error(transparent)]
    BadKey(#[from] BadMetaKey),
    /// A file of a [`FileMetaStore`] could not be read or written.
    #[error("trident metadata file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The value is larger than a store keeps.
    #[error("trident metadata '{key}' is {len} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The key.
        key: String,
        /// The value's size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Nimbus could not be reached (or answered 5xx) within the attempts allowed.
    #[error(
        "trident metadata '{key}' at {url}: nimbus unreachable after {attempts} attempts: {last}"
    )]
    Unreachable {
        /// The key.
        key: String,
        /// The URL tried.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// Nimbus refused the request (4xx): retrying the same request will not help.
    #[error("trident metadata '{key}': nimbus refused ({status}): {message}")]
    Refused {
        /// The key.
        key: String,
        /// The HTTP status.
        status: u16,
        /// Nimbus's message.
        message: String,
    },
    /// A stored record does not decode.
    #[error("trident metadata {at}: not a valid record: {message}")]
    Corrupt {
        /// The key or file.
        at: String,
        /// What is wrong.
        message: String,
    },
}

/// The key of a metadata record: `/`-separated segments, checked by
/// [`check_meta_key`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetaKey(String);

impl MetaKey {
    /// A checked key.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall_runtime::trident::meta::MetaKey;
    /// assert_eq!(MetaKey::new("coordinator").unwrap().as_str(), "coordinator");
    /// assert!(MetaKey::new("a//b").is_err());
    /// ```
    pub fn new(key: impl Into<String>) -> Result<MetaKey, MetaError> {
        let key = key.into();
        check_meta_key(&key)?;
        Ok(MetaKey(key))
    }

    /// The key of the master coordinator's commit log.
    pub fn coordinator() -> MetaKey {
        MetaKey("coordinator".to_string())
    }

    /// The key of record `leaf` of the Trident spout (stream) `spout`.
    pub fn spout(spout: &str, leaf: &str) -> Result<MetaKey, MetaError> {
        MetaKey::new(format!("spouts/{spout}/{leaf}"))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MetaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A durable store of small metadata records. Calls are synchronous (Trident's
/// coordinator calls them from its executor thread) and bounded in time; a `put` that
/// returns `Ok` is durable.
pub trait MetaStore: Send + Sync + fmt::Debug {
    /// The record under `key`, if any.
    fn get(&self, key: &MetaKey) -> Result<Option<String>, MetaError>;
    /// Replace the record under `key`, durably, before returning.
    fn put(&self, key: &MetaKey, value: &str) -> Result<(), MetaError>;
    /// Where the record under `key` is, for messages (a file path, a URL).
    fn describe(&self, key: &MetaKey) -> String {
        format!("'{key}'")
    }
    /// Whether a record survives the process (a restarted coordinator finds it). A
    /// durable state needs its coordinator's commit record in a durable store.
    fn is_durable(&self) -> bool {
        true
    }
}

/// Refuse values larger than any store keeps ([`MAX_META_VALUE_BYTES`]), so a record
/// that works locally also works on a cluster.
pub(crate) fn check_size(key: &MetaKey, value: &str) -> Result<(), MetaError> {
    if value.len() > MAX_META_VALUE_BYTES {
        return Err(MetaError::TooLarge {
            key: key.to_string(),
            len: value.len(),
            limit: MAX_META_VALUE_BYTES,
        });
    }
    Ok(())
}

/// One record: a store and a key.
#[derive(Debug, Clone)]
pub struct MetaSlot {
    store: Arc<dyn MetaStore>,
    key: MetaKey,
}

impl MetaSlot {
    /// The record `key` of `store`.
    pub fn new(store: Arc<dyn MetaStore>, key: MetaKey) -> MetaSlot {
        MetaSlot { store, key }
    }

    /// The record kept in the file at `path` (a [`FileMetaStore`] on its directory).
    pub fn file(path: &Path) -> Result<MetaSlot, MetaError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(MetaSlot {
            store: Arc::new(FileMetaStore::new(dir)),
            key: MetaKey::new(name)?,
        })
    }

    /// The key.
    pub fn key(&self) -> &MetaKey {
        &self.key
    }

    /// Where the record is, for messages (a file path, a URL).
    pub fn describe(&self) -> String {
        self.store.describe(&self.key)
    }

    /// Whether the record survives the process ([`MetaStore::is_durable`]).
    pub fn is_durable(&self) -> bool {
        self.store.is_durable()
    }

    /// Read the record.
    pub fn get(&self) -> Result<Option<String>, MetaError> {
        self.store.get(&self.key)
    }

    /// Replace the record, durably.
    pub fn put(&self, value: &str) -> Result<(), MetaError> {
        self.store.put(&self.key, value)
    }

    /// Read the record as JSON of `T`.
    pub fn get_json<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, MetaError> {
        let Some(text) = self.get()? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| MetaError::Corrupt {
                at: self.store.describe(&self.key),
                message: e.to_string(),
            })
    }

    /// Replace the record with `value` as JSON, durably.
    pub fn put_json<T: serde::Serialize>(&self, value: &T) -> Result<(), MetaError> {
        let text = serde_json::to_string(value).map_err(|e| MetaError::Corrupt {
            at: self.store.describe(&self.key),
            message: e.to_string(),
        })?;
        self.put(&text)
    }
}

#[cfg(test)]
mod tests;
