//! The durable cluster state: a redb file (`<data dir>/nimbus.redb`) with one table of
//! topology records, one of assignments (both keyed by topology name), one of known
//! supervisors and a counter, and each topology's secret (raw bytes, keyed by topology
//! name, in a table of their own that no view reads). Values are JSON. Every change is one write transaction,
//! so a crash leaves either the old or the new state. Trident's coordination metadata
//! has a table of its own, keyed by topology id (see `store_trident.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;
use crate::model::{Assignment, SupervisorInfo, TopologyRecord};
use squall_runtime::cluster::auth::topology_secret::{SECRET_LEN, TopologySecret};

const TOPOLOGIES: TableDefinition<&str, &[u8]> = TableDefinition::new("topologies");
const ASSIGNMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("assignments");
const SUPERVISORS: TableDefinition<&str, &[u8]> = TableDefinition::new("supervisors");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Topology secrets: topology name -> 32 bytes.
const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("topology_secrets");
/// Trident coordination metadata: (topology id, key) -> value.
const TRIDENT_META: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("trident_meta");
/// Log configurations (`squall set-log-level`): topology name -> JSON.
const LOG_CONFIGS: TableDefinition<&str, &[u8]> = TableDefinition::new("log_configs");
/// Key of the topology submission counter in `META`.
const SEQ_KEY: &str = "topology_seq";

/// Everything the store holds, as loaded at start-up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Topology records by name.
    pub topologies: BTreeMap<String, TopologyRecord>,
    /// Assignments by topology name.
    pub assignments: BTreeMap<String, Assignment>,
    /// Supervisors seen so far, by id.
    pub supervisors: BTreeMap<String, SupervisorInfo>,
    /// Topology secrets by topology name.
    pub secrets: BTreeMap<String, TopologySecret>,
}

/// The nimbus database.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Open (or create) the database file at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db_err = |e: redb::Error| StoreError::Db {
            path: path.to_path_buf(),
            source: Box::new(e),
        };
        let db = Database::create(path).map_err(|e| db_err(e.into()))?;
        let store = Store {
            db,
            path: path.to_path_buf(),
        };
        // Create every table once, so that reads never meet a missing table.
        store.write(|_| Ok(()))?;
        Ok(store)
    }

    fn db_err(&self, e: impl Into<redb::Error>) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            source: Box::new(e.into()),
        }
    }

    /// Read the whole state.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_err(e))?;
        let mut snap = Snapshot::default();
        let tables = [TOPOLOGIES, ASSIGNMENTS, SUPERVISORS];
        for (i, def) in tables.into_iter().enumerate() {
            let table = txn.open_table(def).map_err(|e| self.db_err(e))?;
            for item in table.iter().map_err(|e| self.db_err(e))? {
                let (k, v) = item.map_err(|e| self.db_err(e))?;
                let key = k.value().to_string();
                let bytes = v.value();
                match i {
                    0 => {
                        let rec = decode(bytes, &format!("topology '{key}'"))?;
                        snap.topologies.insert(key, rec);
                    }
                    1 => {
                        let a = decode(bytes, &format!("assignment of '{key}'"))?;
                        snap.assignments.insert(key, a);
                    }
                    _ => {
                        let s = decode(bytes, &format!("supervisor '{key}'"))?;
                        snap.supervisors.insert(key, s);
                    }
                }
            }
        }
        let table = txn.open_table(SECRETS).map_err(|e| self.db_err(e))?;
        for item in table.iter().map_err(|e| self.db_err(e))? {
            let (k, v) = item.map_err(|e| self.db_err(e))?;
            let key = k.value().to_string();
            let bytes: [u8; SECRET_LEN] = v.value().try_into().map_err(|_| {
                StoreError::Corrupt(format!(
                    "the secret of topology '{key}' is not {SECRET_LEN} bytes"
                ))
            })?;
            snap.secrets.insert(key, TopologySecret::from_bytes(bytes));
        }
        Ok(snap)
    }

    /// Run `f` in one write transaction and commit it; nothing is written if `f` fails.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.db_err(e))?;
        for def in [TOPOLOGIES, ASSIGNMENTS, SUPERVISORS, SECRETS, LOG_CONFIGS] {
            txn.open_table(def).map_err(|e| self.db_err(e))?;
        }
        txn.open_table(META).map_err(|e| self.db_err(e))?;
        txn.open_table(TRIDENT_META).map_err(|e| self.db_err(e))?;
        let mut writer = Writer { store: self, txn };
        let out = f(&mut writer)?;
        writer.txn.commit().map_err(|e| self.db_err(e))?;
        Ok(out)
    }
}

/// The operations of one write transaction (see [`Store::write`]).
pub struct Writer<'a> {
    store: &'a Store,
    txn: WriteTransaction,
}

impl Writer<'_> {
    fn put(
        &mut self,
        def: TableDefinition<&str, &[u8]>,
        key: &str,
        value: &impl Serialize,
        what: &str,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Encode {
            what: format!("{what} '{key}'"),
            source,
        })?;
        let mut table = self.txn.open_table(def).map_err(|e| self.store.db_err(e))?;
        table
            .insert(key, bytes.as_slice())
            .map_err(|e| self.store.db_err(e))?;
        Ok(())
    }

    fn remove(&mut self, def: TableDefinition<&str, &[u8]>, key: &str) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(def).map_err(|e| self.store.db_err(e))?;
        table.remove(key).map_err(|e| self.store.db_err(e))?;
        Ok(())
    }

    /// Insert or replace a topology record.
    pub fn put_topology(&mut self, rec: &TopologyRecord) -> Result<(), StoreError> {
        self.put(TOPOLOGIES, &rec.name, rec, "topology")
    }

    /// Insert or replace the assignment of topology `name`.
    pub fn put_assignment(&mut self, name: &str, a: &Assignment) -> Result<(), StoreError> {
        self.put(ASSIGNMENTS, name, a, "assignment")
    }

    /// Remove a topology, its assignment, its log configuration and its secret.
    pub fn delete_topology(&mut self, name: &str) -> Result<(), StoreError> {
        self.remove(TOPOLOGIES, name)?;
        self.remove(ASSIGNMENTS, name)?;
        self.remove(LOG_CONFIGS, name)?;
        self.remove(SECRETS, name)
    }

    /// Insert or replace the secret of topology `name`.
    pub fn put_topology_secret(
        &mut self,
        name: &str,
        secret: &TopologySecret,
    ) -> Result<(), StoreError> {
        let mut table = self
            .txn
            .open_table(SECRETS)
            .map_err(|e| self.store.db_err(e))?;
        table
            .insert(name, secret.expose().as_slice())
            .map_err(|e| self.store.db_err(e))?;
        Ok(())
    }

    /// Insert or replace a supervisor.
    pub fn put_supervisor(&mut self, s: &SupervisorInfo) -> Result<(), StoreError> {
        self.put(SUPERVISORS, &s.id, s, "supervisor")
    }

    /// Forget a supervisor.
    pub fn delete_supervisor(&mut self, id: &str) -> Result<(), StoreError> {
        self.remove(SUPERVISORS, id)
    }

    /// Increment the submission counter and return its new value (1 first).
    pub fn next_seq(&mut self) -> Result<u64, StoreError> {
        let mut table = self
            .txn
            .open_table(META)
            .map_err(|e| self.store.db_err(e))?;
        let current = table
            .get(SEQ_KEY)
            .map_err(|e| self.store.db_err(e))?
            .map(|v| v.value())
            .unwrap_or(0);
        let next = current + 1;
        table
            .insert(SEQ_KEY, next)
            .map_err(|e| self.store.db_err(e))?;
        Ok(next)
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
        what: what.to_string(),
        source,
    })
}

#[path = "store_logconfig.rs"]
mod logconfig;
#[path = "store_trident.rs"]
mod trident;

pub use trident::MetaPutOutcome;

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
