//! A durable backend: one redb file with a data table and a metadata table.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};

use super::backend::{APPLIED_TXID_META, Entry};
use super::{StateBackend, StateError};

const DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const META: TableDefinition<&str, &str> = TableDefinition::new("state_meta");

/// A state stored in a redb file; each [`put_batch`](StateBackend::put_batch) is one write
/// transaction, so a crash keeps either the whole batch or none of it.
#[derive(Debug)]
pub struct RedbBackend {
    db: Database,
    path: PathBuf,
}

impl RedbBackend {
    /// Open the file at `path`, creating it (and its tables) if it does not exist.
    pub fn open(path: &Path) -> Result<RedbBackend, StateError> {
        let db = Database::create(path).map_err(|e| db_err(path, e))?;
        let backend = RedbBackend {
            db,
            path: path.to_path_buf(),
        };
        let txn = backend.db.begin_write().map_err(|e| backend.err(e))?;
        txn.open_table(DATA).map_err(|e| backend.err(e))?;
        txn.open_table(META).map_err(|e| backend.err(e))?;
        txn.commit().map_err(|e| backend.err(e))?;
        Ok(backend)
    }

    /// Open an existing file; a missing file is [`StateError::Missing`], a file that is
    /// not a redb database is [`StateError::Db`]. Writes nothing.
    pub fn open_existing(path: &Path) -> Result<RedbBackend, StateError> {
        if !path.is_file() {
            return Err(StateError::Missing {
                path: path.to_path_buf(),
            });
        }
        let db = Database::open(path).map_err(|e| db_err(path, e))?;
        Ok(RedbBackend {
            db,
            path: path.to_path_buf(),
        })
    }

    /// The file this backend stores into.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl Into<redb::Error>) -> StateError {
        db_err(&self.path, e)
    }
}

fn db_err(path: &Path, e: impl Into<redb::Error>) -> StateError {
    StateError::Db {
        path: path.to_path_buf(),
        source: Box::new(e.into()),
    }
}

impl StateBackend for RedbBackend {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match txn.open_table(DATA) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(vec![None; keys.len()]),
            Err(e) => return Err(self.err(e)),
        };
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let v = table.get(k.as_slice()).map_err(|e| self.err(e))?;
            out.push(v.map(|v| v.value().to_vec()));
        }
        Ok(out)
    }

    fn put_batch(&self, txid: Option<u64>, entries: &[Entry]) -> Result<(), StateError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(DATA).map_err(|e| self.err(e))?;
            for (k, v) in entries {
                table
                    .insert(k.as_slice(), v.as_slice())
                    .map_err(|e| self.err(e))?;
            }
        }
        if let Some(txid) = txid {
            // In the batch's own transaction: the state knows which batch it holds
            // whatever happens to the coordinator's commit record.
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            meta.insert(APPLIED_TXID_META, txid.to_string().as_str())
                .map_err(|e| self.err(e))?;
        }
        // Dropping an uncommitted transaction (on any error above) aborts it.
        txn.commit().map_err(|e| self.err(e))
    }

    fn iter_all(&self) -> Result<Vec<Entry>, StateError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match txn.open_table(DATA) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.err(e)),
        };
        let mut out = Vec::new();
        for item in table.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn meta(&self, name: &str) -> Result<Option<String>, StateError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match txn.open_table(META) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.err(e)),
        };
        let v = table.get(name).map_err(|e| self.err(e))?;
        Ok(v.map(|v| v.value().to_string()))
    }

    fn set_meta(&self, name: &str, value: &str) -> Result<(), StateError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(META).map_err(|e| self.err(e))?;
            table.insert(name, value).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }
}
