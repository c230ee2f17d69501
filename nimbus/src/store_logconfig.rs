//! The store's table of topologies' log configurations (`squall set-log-level`, Storm's
//! `logconfig`): JSON keyed by topology name, each naming the topology id it was set
//! on (a configuration of an earlier submission of the same name is ignored); deleted
//! with the topology.

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{LOG_CONFIGS, Store, Writer, decode};
use crate::error::StoreError;

impl Store {
    /// Every stored log configuration, by topology name.
    pub fn log_configs<T: DeserializeOwned>(&self) -> Result<BTreeMap<String, T>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let table = txn.open_table(LOG_CONFIGS).map_err(|e| self.db_err(e))?;
        let mut out = BTreeMap::new();
        for item in table.iter().map_err(|e| self.db_err(e))? {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            let key = k.value().to_string();
            let value = decode(v.value(), &format!("log configuration of '{key}'"))?;
            out.insert(key, value);
        }
        Ok(out)
    }
}

impl Writer<'_> {
    /// Insert or replace the log configuration of topology `name`.
    pub fn put_log_config(
        &mut self,
        name: &str,
        config: &impl Serialize,
    ) -> Result<(), StoreError> {
        self.put(LOG_CONFIGS, name, config, "log configuration")
    }

    /// Delete the log configuration of topology `name` (if any).
    pub fn delete_log_config(&mut self, name: &str) -> Result<(), StoreError> {
        self.remove(LOG_CONFIGS, name)
    }
}
