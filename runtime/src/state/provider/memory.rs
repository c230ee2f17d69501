//! The in-memory provider (Storm's `InMemoryKeyValueStateProvider`, the default): not
//! persistent — a worker restart loses it — but it keeps the protocol, and a namespace
//! opened again from the same provider finds what was committed and prepared there.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use super::staged::{Changes, CommitOutcome, Durable, Loaded, Staged};
use super::{Entry, KvBackend, StateProvider};
use crate::state::StateError;

/// Entries per page of an iteration.
const PAGE: usize = 1024;

/// Keeps every namespace's state in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryProvider {
    stores: Mutex<HashMap<String, Arc<Mutex<Store>>>>,
}

impl MemoryProvider {
    /// An empty provider.
    pub fn new() -> MemoryProvider {
        MemoryProvider::default()
    }
}

impl StateProvider for MemoryProvider {
    fn open(&self, namespace: &str) -> Result<Box<dyn KvBackend>, StateError> {
        let store = {
            let mut stores = self.stores.lock().map_err(|_| poisoned(namespace))?;
            Arc::clone(stores.entry(namespace.to_string()).or_default())
        };
        let durable = MemoryDurable {
            namespace: namespace.to_string(),
            store,
        };
        Ok(Box::new(Staged::open(namespace, durable)?))
    }
}

#[derive(Debug, Default)]
struct Store {
    committed: BTreeMap<Vec<u8>, Vec<u8>>,
    committed_txid: Option<u64>,
    prepared: Changes,
    prepared_txid: Option<u64>,
}

struct MemoryDurable {
    namespace: String,
    store: Arc<Mutex<Store>>,
}

fn poisoned(namespace: &str) -> StateError {
    StateError::Store {
        namespace: namespace.to_string(),
        message: "the in-memory store's lock is poisoned (a thread panicked in it)".into(),
    }
}

impl MemoryDurable {
    fn lock(&self) -> Result<MutexGuard<'_, Store>, StateError> {
        self.store.lock().map_err(|_| poisoned(&self.namespace))
    }
}

impl Durable for MemoryDurable {
    type Cursor = Option<Vec<u8>>;

    fn load(&mut self) -> Result<Loaded, StateError> {
        let store = self.lock()?;
        Ok(Loaded {
            committed_txid: store.committed_txid,
            prepared_txid: store.prepared_txid,
            prepared: store.prepared.clone(),
        })
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.lock()?.committed.get(key).cloned())
    }

    fn scan(
        &self,
        after: Option<Vec<u8>>,
    ) -> Result<(Vec<Entry>, Option<Option<Vec<u8>>>), StateError> {
        let store = self.lock()?;
        let start = match &after {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        let page: Vec<Entry> = store
            .committed
            .range::<[u8], _>((start, Bound::Unbounded))
            .take(PAGE)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let next = (page.len() == PAGE).then(|| page.last().map(|(k, _)| k.clone()));
        Ok((page, next))
    }

    fn write_prepared(&mut self, txid: u64, changes: &Changes) -> Result<(), StateError> {
        let mut store = self.lock()?;
        store.prepared = changes.clone();
        store.prepared_txid = Some(txid);
        Ok(())
    }

    fn commit(&mut self, txid: u64) -> Result<CommitOutcome, StateError> {
        let mut store = self.lock()?;
        if let Some(c) = store.committed_txid.filter(|c| txid <= *c) {
            return Ok(CommitOutcome::AlreadyCommitted(c));
        }
        if store.prepared_txid != Some(txid) {
            return Ok(CommitOutcome::NotPrepared);
        }
        for (k, v) in std::mem::take(&mut store.prepared) {
            match v {
                Some(v) => store.committed.insert(k, v),
                None => store.committed.remove(&k),
            };
        }
        store.prepared_txid = None;
        store.committed_txid = Some(txid);
        Ok(CommitOutcome::Committed)
    }

    fn clear_prepared(&mut self) -> Result<(), StateError> {
        let mut store = self.lock()?;
        store.prepared.clear();
        store.prepared_txid = None;
        Ok(())
    }

    fn rebase(&mut self, committed: Option<u64>) -> Result<(), StateError> {
        let mut store = self.lock()?;
        store.prepared.clear();
        store.prepared_txid = None;
        store.committed_txid = committed;
        Ok(())
    }
}
