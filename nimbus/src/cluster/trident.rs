//! Trident coordination metadata of the topologies: read and written by their workers'
//! master coordinators and spouts, kept per topology id, capped in size and count.

use squall_runtime::cluster::protocol::trident::{
    MAX_META_KEYS, MAX_META_VALUE_BYTES, TridentMetaPut, TridentMetaValue, check_meta_key,
};

use super::Cluster;
use super::topologies::get;
use crate::error::ClusterError;
use crate::store::MetaPutOutcome;

/// Refuse a key that is malformed.
fn check_key(key: &str) -> Result<(), ClusterError> {
    check_meta_key(key).map_err(|e| ClusterError::bad_request(e.to_string()))
}

/// Refuse a caller that runs for another id than the topology's current one.
fn check_id(name: &str, current: &str, claimed: &str) -> Result<(), ClusterError> {
    if claimed != current {
        return Err(ClusterError::Conflict(format!(
            "topology '{name}' is now {current}, not {claimed}: the caller belongs to a topology \
             that was killed"
        )));
    }
    Ok(())
}

impl Cluster {
    /// The value of `key` of topology `name` (checked against `topology_id` if given).
    pub fn trident_meta(
        &self,
        name: &str,
        key: &str,
        topology_id: Option<&str>,
    ) -> Result<TridentMetaValue, ClusterError> {
        check_key(key)?;
        let st = self.lock();
        let t = get(&st, name)?;
        let id = t.record.id.clone();
        if let Some(claimed) = topology_id {
            check_id(name, &id, claimed)?;
        }
        let value = self
            .store
            .trident_meta(&id, key)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        Ok(TridentMetaValue {
            topology_id: id,
            key: key.to_string(),
            value,
        })
    }

    /// Store `put.value` under `key` of topology `name`, durably.
    pub fn put_trident_meta(
        &self,
        name: &str,
        key: &str,
        put: &TridentMetaPut,
    ) -> Result<(), ClusterError> {
        check_key(key)?;
        if put.value.len() > MAX_META_VALUE_BYTES {
            return Err(ClusterError::TooLarge(format!(
                "trident metadata '{key}' of topology '{name}' is {} bytes; the limit is \
                 {MAX_META_VALUE_BYTES}",
                put.value.len()
            )));
        }
        let st = self.lock();
        let t = get(&st, name)?;
        check_id(name, &t.record.id, &put.topology_id)?;
        let id = t.record.id.as_str();
        let outcome = self
            .store
            .write(|w| w.put_trident_meta(id, key, put.value.as_bytes(), MAX_META_KEYS))?;
        match outcome {
            MetaPutOutcome::Stored => {
                tracing::debug!(topology = %name, %key, bytes = put.value.len(), "trident metadata stored");
                Ok(())
            }
            MetaPutOutcome::TooManyKeys => Err(ClusterError::Conflict(format!(
                "topology '{name}' already holds {MAX_META_KEYS} trident metadata keys; \
                 '{key}' is refused"
            ))),
        }
    }

    /// The trident metadata keys topology `name` holds.
    pub fn trident_meta_keys(&self, name: &str) -> Result<Vec<String>, ClusterError> {
        let st = self.lock();
        let t = get(&st, name)?;
        Ok(self.store.trident_meta_keys(&t.record.id)?)
    }
}

#[cfg(test)]
#[path = "trident_tests.rs"]
mod tests;
