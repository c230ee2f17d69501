//! Where a Trident state lives and how it updates: [`StateSpec`] names a backend (an
//! in-memory store shared by name within the process, or a redb file) and a
//! [`StateKind`]; tasks of one process share one open store.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::state::{Entry, MemoryBackend, RedbBackend, StateBackend, StateError, StateKind};

/// Test hook: make a fraction of state commits fail (a write error at the store
/// boundary), to show that the batch fails and replays and that nothing is committed
/// twice. `before_write` fails with nothing written; `after_write` fails after the batch
/// was durably written (the replay must then be recognised by its txid). Random unless
/// [`StateSpec::with_fault_seed`] seeds it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommitFaults {
    /// Fraction of commits failing before anything is written.
    pub before_write: f64,
    /// Fraction of commits failing after the write.
    pub after_write: f64,
}

#[derive(Debug, Clone, PartialEq)]
enum BackendSpec {
    Memory(String),
    Redb(PathBuf),
}

/// A state's backend and update rule, as the topology declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSpec {
    backend: BackendSpec,
    kind: StateKind,
    faults: CommitFaults,
    fault_seed: Option<u64>,
}

impl StateSpec {
    /// An in-memory state; every task in the process that names `name` shares it (and
    /// [`memory_store`] reads it).
    pub fn memory(name: &str, kind: StateKind) -> StateSpec {
        StateSpec {
            backend: BackendSpec::Memory(name.to_string()),
            kind,
            faults: CommitFaults::default(),
            fault_seed: None,
        }
    }

    /// A durable state in the redb file at `path` (created if missing). The tasks of one
    /// process share the open file; one file cannot be open in two processes at once.
    /// Its topology needs a durable commit record (a cluster's, or
    /// [`TridentTopology::commit_log`](super::TridentTopology::commit_log) in local
    /// mode); each batch's txid is stored with it, and a batch older than the last one
    /// it holds is refused ([`StateError::TxidBehind`]).
    pub fn redb(path: impl AsRef<Path>, kind: StateKind) -> StateSpec {
        StateSpec {
            backend: BackendSpec::Redb(path.as_ref().to_path_buf()),
            kind,
            faults: CommitFaults::default(),
            fault_seed: None,
        }
    }

    /// Inject commit failures (a test hook; see [`CommitFaults`]).
    pub fn with_commit_faults(mut self, faults: CommitFaults) -> StateSpec {
        self.faults = faults;
        self
    }

    /// Draw the injected commit failures from a generator seeded with `seed` (each task
    /// its own, from the same seed), so a failing run can be repeated.
    pub fn with_fault_seed(mut self, seed: u64) -> StateSpec {
        self.fault_seed = Some(seed);
        self
    }

    /// The update rule.
    pub fn kind(&self) -> StateKind {
        self.kind
    }

    /// The file of a durable state (redb); `None` for an in-memory one.
    pub fn durable_path(&self) -> Option<&Path> {
        match &self.backend {
            BackendSpec::Memory(_) => None,
            BackendSpec::Redb(path) => Some(path),
        }
    }

    /// Open (or join) the backend.
    pub(crate) fn open(&self) -> Result<Arc<dyn StateBackend>, StateError> {
        let base: Arc<dyn StateBackend> = match &self.backend {
            BackendSpec::Memory(name) => memory_store(name),
            BackendSpec::Redb(path) => shared_redb(path)?,
        };
        if self.faults == CommitFaults::default() {
            return Ok(base);
        }
        let rng = match self.fault_seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_rng(&mut rand::rng()),
        };
        Ok(Arc::new(Faulty {
            inner: base,
            faults: self.faults,
            rng: Mutex::new(rng),
        }))
    }
}

fn memories() -> &'static Mutex<HashMap<String, Arc<MemoryBackend>>> {
    static STORES: std::sync::OnceLock<Mutex<HashMap<String, Arc<MemoryBackend>>>> =
        std::sync::OnceLock::new();
    STORES.get_or_init(Default::default)
}

/// The process-wide in-memory store called `name` (created empty on first use).
pub fn memory_store(name: &str) -> Arc<MemoryBackend> {
    let mut stores = memories().lock().unwrap_or_else(PoisonError::into_inner);
    stores.entry(name.to_string()).or_default().clone()
}

/// Forget the in-memory store called `name` (the next use starts empty).
pub fn drop_memory_store(name: &str) {
    memories()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(name);
}

fn shared_redb(path: &Path) -> Result<Arc<dyn StateBackend>, StateError> {
    static OPEN: std::sync::OnceLock<Mutex<HashMap<PathBuf, Weak<RedbBackend>>>> =
        std::sync::OnceLock::new();
    let mut open = OPEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(db) = open.get(path).and_then(Weak::upgrade) {
        return Ok(db);
    }
    let db = Arc::new(RedbBackend::open(path)?);
    open.insert(path.to_path_buf(), Arc::downgrade(&db));
    Ok(db)
}

struct Faulty {
    inner: Arc<dyn StateBackend>,
    faults: CommitFaults,
    rng: Mutex<SmallRng>,
}

impl Faulty {
    fn strikes(&self, fraction: f64) -> bool {
        self.rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .random::<f64>()
            < fraction
    }
}

impl StateBackend for Faulty {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn multi_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        self.inner.multi_get(keys)
    }
    fn put_batch(&self, txid: Option<u64>, entries: &[Entry]) -> Result<(), StateError> {
        if self.strikes(self.faults.before_write) {
            return Err(StateError::Injected("before the write"));
        }
        self.inner.put_batch(txid, entries)?;
        if self.strikes(self.faults.after_write) {
            return Err(StateError::Injected("after the write"));
        }
        Ok(())
    }
    fn iter_all(&self) -> Result<Vec<Entry>, StateError> {
        self.inner.iter_all()
    }
    fn meta(&self, name: &str) -> Result<Option<String>, StateError> {
        self.inner.meta(name)
    }
    fn set_meta(&self, name: &str, value: &str) -> Result<(), StateError> {
        self.inner.set_meta(name, value)
    }
}
