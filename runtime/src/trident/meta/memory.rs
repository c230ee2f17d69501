//! Metadata records in memory, shared by clones (for tests: several coordinators of
//! one test "move" between them by sharing one store).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{MetaError, MetaKey, MetaStore, check_size};

/// Records in memory; clones share them.
#[derive(Debug, Clone, Default)]
pub struct MemoryMetaStore {
    records: Arc<Mutex<BTreeMap<MetaKey, String>>>,
}

impl MemoryMetaStore {
    /// An empty store.
    pub fn new() -> MemoryMetaStore {
        MemoryMetaStore::default()
    }

    /// Every key held, sorted.
    pub fn keys(&self) -> Vec<MetaKey> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }
}

impl MetaStore for MemoryMetaStore {
    fn get(&self, key: &MetaKey) -> Result<Option<String>, MetaError> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned())
    }

    fn put(&self, key: &MetaKey, value: &str) -> Result<(), MetaError> {
        check_size(key, value)?;
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), value.to_string());
        Ok(())
    }

    fn describe(&self, key: &MetaKey) -> String {
        format!("'{key}' (in memory)")
    }

    fn is_durable(&self) -> bool {
        false
    }
}
