//! The redb provider: one redb file per namespace (`<dir>/<namespace>.redb`, the
//! namespace escaped into a file name) under the worker's local state directory.
//! Committed data and the prepared set are tables; each prepare and each commit is one
//! write transaction, durable when it returns.
//!
//! **Host-local**: a task restarted on the same host finds its state; a task moved to
//! another host starts from whatever that host's file holds (usually nothing). Use the
//! Redis provider when tasks can move between hosts.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use std::time::{Duration, Instant};

use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition};

use super::staged::{
    Changes, CommitOutcome, Durable, Loaded, Staged, decode_change, encode_change,
};
use super::{Entry, KvBackend, StateProvider, check_len};
use crate::state::StateError;

const COMMITTED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("committed");
const PREPARED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("prepared");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// `META` key of the last committed txid.
const COMMIT_TXID: &str = "commit";
/// `META` key of the prepared set's txid.
const PREPARE_TXID: &str = "prepare";
/// Entries per page of an iteration.
const PAGE: usize = 1024;
/// Longest file name made from a namespace.
const MAX_FILE_NAME: usize = 240;
/// How long an open waits for a file another process holds (the task's previous worker,
/// still stopping after a restart or a rebalance on this host).
const OPEN_WAIT: Duration = Duration::from_secs(15);
/// Pause between two attempts to open a held file.
const OPEN_RETRY: Duration = Duration::from_millis(50);

/// Keeps each namespace in its own redb file under a directory of this host.
#[derive(Debug)]
pub struct RedbProvider {
    dir: PathBuf,
    /// How long an open waits for a file held by another process.
    open_wait: Duration,
    /// Files open in this process: redb locks a file, so a namespace opened twice
    /// shares one handle.
    open: Mutex<HashMap<String, Weak<Database>>>,
}

impl RedbProvider {
    /// A provider storing under `dir` (created on the first open).
    pub fn new(dir: impl Into<PathBuf>) -> RedbProvider {
        RedbProvider {
            dir: dir.into(),
            open_wait: OPEN_WAIT,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The same, waiting at most `wait` for a file another process holds.
    pub fn with_open_wait(dir: impl Into<PathBuf>, wait: Duration) -> RedbProvider {
        RedbProvider {
            open_wait: wait,
            ..RedbProvider::new(dir)
        }
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `namespace`.
    pub fn path_of(&self, namespace: &str) -> Result<PathBuf, StateError> {
        Ok(self.dir.join(file_name(namespace)?))
    }

    fn database(&self, namespace: &str, path: &Path) -> Result<Arc<Database>, StateError> {
        let mut open = self.open.lock().map_err(|_| StateError::Store {
            namespace: namespace.to_string(),
            message: "the redb provider's lock is poisoned".into(),
        })?;
        if let Some(db) = open.get(namespace).and_then(Weak::upgrade) {
            return Ok(db);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| StateError::Store {
            namespace: namespace.to_string(),
            message: format!("cannot create {}: {e}", self.dir.display()),
        })?;
        let db = Arc::new(self.create(namespace, path)?);
        open.retain(|_, db| db.strong_count() > 0);
        open.insert(namespace.to_string(), Arc::downgrade(&db));
        Ok(db)
    }
}

/// redb's page cache per state file (redb's default is 1 GiB per file, and every task
/// has a file of its own: a persistent window writing a GB of pages grew a worker by
/// that much).
const CACHE_BYTES: usize = 64 << 20;

impl RedbProvider {
    /// Open (or create) the file at `path`, waiting up to `open_wait` while another
    /// process holds it.
    fn create(&self, namespace: &str, path: &Path) -> Result<Database, StateError> {
        let deadline = Instant::now() + self.open_wait;
        let mut waited = false;
        loop {
            match Database::builder().set_cache_size(CACHE_BYTES).create(path) {
                Ok(db) => return Ok(db),
                Err(DatabaseError::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                    if !waited {
                        tracing::info!(
                            namespace,
                            path = %path.display(),
                            "state file held by another process (the task's previous \
                             worker still stopping?): waiting for it"
                        );
                        waited = true;
                    }
                    std::thread::sleep(OPEN_RETRY);
                }
                Err(DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(StateError::Store {
                        namespace: namespace.to_string(),
                        message: format!(
                            "{}: held by another process for {:?} (another worker of this \
                             task still running on this host?)",
                            path.display(),
                            self.open_wait
                        ),
                    });
                }
                Err(e) => return Err(db_err(namespace, path, e)),
            }
        }
    }
}

impl StateProvider for RedbProvider {
    fn open(&self, namespace: &str) -> Result<Box<dyn KvBackend>, StateError> {
        let path = self.path_of(namespace)?;
        let db = self.database(namespace, &path)?;
        let durable = RedbDurable {
            namespace: namespace.to_string(),
            path,
            db,
        };
        durable.create_tables()?;
        Ok(Box::new(Staged::open(namespace, durable)?))
    }
}

/// `namespace` as a file name: letters, digits, `-` and `_` kept, every other byte
/// `%XX`, then `.redb`.
fn file_name(namespace: &str) -> Result<String, StateError> {
    let mut name = String::with_capacity(namespace.len() + 5);
    for b in namespace.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.is_empty() || name.len() > MAX_FILE_NAME {
        return Err(StateError::Store {
            namespace: namespace.to_string(),
            message: format!(
                "a namespace must be 1 to {MAX_FILE_NAME} bytes once escaped into a file name"
            ),
        });
    }
    name.push_str(".redb");
    Ok(name)
}

fn db_err(namespace: &str, path: &Path, e: impl Into<redb::Error>) -> StateError {
    StateError::Store {
        namespace: namespace.to_string(),
        message: format!("{}: {}", path.display(), e.into()),
    }
}

struct RedbDurable {
    namespace: String,
    path: PathBuf,
    db: Arc<Database>,
}

impl RedbDurable {
    fn err(&self, e: impl Into<redb::Error>) -> StateError {
        db_err(&self.namespace, &self.path, e)
    }

    fn create_tables(&self) -> Result<(), StateError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        txn.open_table(COMMITTED).map_err(|e| self.err(e))?;
        txn.open_table(PREPARED).map_err(|e| self.err(e))?;
        txn.open_table(META).map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))
    }

    /// Drop the prepared set and its txid, and make `also`'s change to the txids, in one
    /// write transaction.
    fn drop_prepared_and(
        &self,
        also: impl FnOnce(&mut redb::Table<&str, u64>) -> Result<(), redb::StorageError>,
    ) -> Result<(), StateError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(PREPARED).map_err(|e| self.err(e))?;
            table.retain(|_, _| false).map_err(|e| self.err(e))?;
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            meta.remove(PREPARE_TXID).map_err(|e| self.err(e))?;
            also(&mut meta).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }

    fn bytes(&self, what: &str, v: &[u8]) -> Result<Vec<u8>, StateError> {
        check_len(&self.namespace, what, v.len())?;
        Ok(v.to_vec())
    }
}

impl Durable for RedbDurable {
    type Cursor = Option<Vec<u8>>;

    fn load(&mut self) -> Result<Loaded, StateError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let meta = txn.open_table(META).map_err(|e| self.err(e))?;
        let txid = |key: &str| -> Result<Option<u64>, StateError> {
            Ok(meta.get(key).map_err(|e| self.err(e))?.map(|v| v.value()))
        };
        let committed_txid = txid(COMMIT_TXID)?;
        let prepared_txid = txid(PREPARE_TXID)?;
        let table = txn.open_table(PREPARED).map_err(|e| self.err(e))?;
        let mut prepared = Changes::new();
        for item in table.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let key = self.bytes("key", k.value())?;
            check_len(&self.namespace, "value", v.value().len())?;
            prepared.insert(key, decode_change(&self.namespace, v.value())?);
        }
        Ok(Loaded {
            committed_txid,
            prepared_txid,
            prepared,
        })
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(COMMITTED).map_err(|e| self.err(e))?;
        let value = table.get(key).map_err(|e| self.err(e))?;
        value.map(|v| self.bytes("value", v.value())).transpose()
    }

    fn scan(
        &self,
        after: Option<Vec<u8>>,
    ) -> Result<(Vec<Entry>, Option<Option<Vec<u8>>>), StateError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(COMMITTED).map_err(|e| self.err(e))?;
        let start = match &after {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        let range = table
            .range::<&[u8]>((start, Bound::Unbounded))
            .map_err(|e| self.err(e))?;
        let mut page = Vec::new();
        for item in range.take(PAGE) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            page.push((
                self.bytes("key", k.value())?,
                self.bytes("value", v.value())?,
            ));
        }
        let next = (page.len() == PAGE).then(|| page.last().map(|(k, _)| k.clone()));
        Ok((page, next))
    }

    fn write_prepared(&mut self, txid: u64, changes: &Changes) -> Result<(), StateError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(PREPARED).map_err(|e| self.err(e))?;
            table.retain(|_, _| false).map_err(|e| self.err(e))?;
            for (k, change) in changes {
                table
                    .insert(k.as_slice(), encode_change(change).as_slice())
                    .map_err(|e| self.err(e))?;
            }
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            meta.insert(PREPARE_TXID, txid).map_err(|e| self.err(e))?;
        }
        // Dropping an uncommitted transaction (on any error above) aborts it.
        txn.commit().map_err(|e| self.err(e))
    }

    fn commit(&mut self, txid: u64) -> Result<CommitOutcome, StateError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            let committed = meta
                .get(COMMIT_TXID)
                .map_err(|e| self.err(e))?
                .map(|v| v.value());
            if let Some(c) = committed.filter(|c| txid <= *c) {
                return Ok(CommitOutcome::AlreadyCommitted(c));
            }
            let prepared = meta
                .get(PREPARE_TXID)
                .map_err(|e| self.err(e))?
                .map(|v| v.value());
            if prepared != Some(txid) {
                return Ok(CommitOutcome::NotPrepared);
            }
            let mut set = txn.open_table(PREPARED).map_err(|e| self.err(e))?;
            let mut data = txn.open_table(COMMITTED).map_err(|e| self.err(e))?;
            for item in set.iter().map_err(|e| self.err(e))? {
                let (k, v) = item.map_err(|e| self.err(e))?;
                match decode_change(&self.namespace, v.value())? {
                    Some(value) => data.insert(k.value(), value.as_slice()),
                    None => data.remove(k.value()),
                }
                .map_err(|e| self.err(e))?;
            }
            set.retain(|_, _| false).map_err(|e| self.err(e))?;
            meta.remove(PREPARE_TXID).map_err(|e| self.err(e))?;
            meta.insert(COMMIT_TXID, txid).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(CommitOutcome::Committed)
    }

    fn clear_prepared(&mut self) -> Result<(), StateError> {
        self.drop_prepared_and(|_| Ok(()))
    }

    fn rebase(&mut self, committed: Option<u64>) -> Result<(), StateError> {
        self.drop_prepared_and(|meta| match committed {
            Some(t) => meta.insert(COMMIT_TXID, t).map(drop),
            None => meta.remove(COMMIT_TXID).map(drop),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_become_safe_file_names() {
        assert_eq!(file_name("count-3").ok().as_deref(), Some("count-3.redb"));
        assert_eq!(
            file_name("$checkpointspout-1").ok().as_deref(),
            Some("%24checkpointspout-1.redb")
        );
        assert_eq!(file_name("../x").ok().as_deref(), Some("%2E%2E%2Fx.redb"));
        assert!(file_name("").is_err());
        assert!(file_name(&"x".repeat(241)).is_err());
    }

    #[test]
    fn a_file_held_elsewhere_is_waited_for_then_refused_naming_it() {
        #![allow(clippy::unwrap_used)]
        let dir = tempfile::tempdir().unwrap();
        // Two providers stand for two processes: each opens the file on its own.
        let holder = RedbProvider::new(dir.path());
        let held = holder.open("count-1").unwrap();
        let impatient = RedbProvider::with_open_wait(dir.path(), Duration::from_millis(100));
        let e = match impatient.open("count-1") {
            Ok(_) => panic!("opened a file another provider holds"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("count-1.redb") && e.contains("held by another process"),
            "{e}"
        );
        // Released while the other waits (or before it tries): it opens.
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
            drop(holder);
        });
        let patient = RedbProvider::with_open_wait(dir.path(), Duration::from_secs(30));
        patient.open("count-1").unwrap();
        release.join().unwrap();
    }
}
