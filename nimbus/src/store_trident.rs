//! The store's table of Trident coordination metadata: small values keyed by
//! (topology id, key), so a resubmitted topology of the same name starts with none;
//! deleted with the topology.

use redb::{ReadableDatabase, ReadableTable};

use super::{Store, TRIDENT_META, Writer};
use crate::error::StoreError;

impl Store {
    /// The value of `key` of topology `id`, if any.
    pub fn trident_meta(&self, id: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = txn.open_table(TRIDENT_META).map_err(|e| self.db_err(e))?;
        let value = table
            .get((id, key))
            .map_err(|e| self.db_err(e))?
            .map(|v| v.value().to_vec());
        Ok(value)
    }

    /// The keys topology `id` holds, sorted.
    pub fn trident_meta_keys(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = txn.open_table(TRIDENT_META).map_err(|e| self.db_err(e))?;
        let mut keys = Vec::new();
        for item in table.range((id, "")..).map_err(|e| self.db_err(e))? {
            let (k, _) = item.map_err(|e| self.db_err(e))?;
            let (owner, key) = k.value();
            if owner != id {
                break;
            }
            keys.push(key.to_string());
        }
        Ok(keys)
    }
}

/// What [`Writer::put_trident_meta`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaPutOutcome {
    /// The value is stored.
    Stored,
    /// The key is new and the topology already holds the most keys allowed.
    TooManyKeys,
}

impl Writer<'_> {
    /// Store `value` under `key` of topology `id`, unless the key is new and the
    /// topology already holds `max_keys` keys.
    pub fn put_trident_meta(
        &mut self,
        id: &str,
        key: &str,
        value: &[u8],
        max_keys: usize,
    ) -> Result<MetaPutOutcome, StoreError> {
        let mut table = self
            .txn
            .open_table(TRIDENT_META)
            .map_err(|e| self.store.db_err(e))?;
        let exists = table
            .get((id, key))
            .map_err(|e| self.store.db_err(e))?
            .is_some();
        if !exists {
            let mut held = 0;
            for item in table.range((id, "")..).map_err(|e| self.store.db_err(e))? {
                let (k, _) = item.map_err(|e| self.store.db_err(e))?;
                if k.value().0 != id {
                    break;
                }
                held += 1;
                if held >= max_keys {
                    return Ok(MetaPutOutcome::TooManyKeys);
                }
            }
        }
        table
            .insert((id, key), value)
            .map_err(|e| self.store.db_err(e))?;
        Ok(MetaPutOutcome::Stored)
    }

    /// Delete every key of topology `id`; returns how many there were.
    pub fn delete_trident_meta(&mut self, id: &str) -> Result<usize, StoreError> {
        let mut table = self
            .txn
            .open_table(TRIDENT_META)
            .map_err(|e| self.store.db_err(e))?;
        let mut keys = Vec::new();
        for item in table.range((id, "")..).map_err(|e| self.store.db_err(e))? {
            let (k, _) = item.map_err(|e| self.store.db_err(e))?;
            let (owner, key) = k.value();
            if owner != id {
                break;
            }
            keys.push(key.to_string());
        }
        for key in &keys {
            table
                .remove((id, key.as_str()))
                .map_err(|e| self.store.db_err(e))?;
        }
        Ok(keys.len())
    }
}
