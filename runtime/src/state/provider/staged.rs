//! The checkpoint protocol, once for every backend: pending writes in memory over a
//! [`Durable`] store that keeps the committed data, the prepared set and the txids.

use std::collections::{BTreeMap, HashSet, btree_map};

use super::{Entry, EntryIter, KvBackend, check_len};
use crate::state::{State, StateError};

/// Changes by key: `Some(value)` sets it, `None` deletes it.
pub(crate) type Changes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// What a store holds when it is opened.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// The last committed txid.
    pub committed_txid: Option<u64>,
    /// The txid of the prepared set, if one is waiting for its commit.
    pub prepared_txid: Option<u64>,
    /// The prepared set.
    pub prepared: Changes,
}

/// What [`Durable::commit`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CommitOutcome {
    /// The prepared set of the txid is now committed.
    Committed,
    /// The txid (or a later one) was committed before: nothing changed.
    AlreadyCommitted(u64),
    /// No set is prepared under the txid.
    NotPrepared,
}

/// The persistent half of a backend: committed data, prepared set and txids.
pub(crate) trait Durable: Send {
    /// Where a scan goes on (the default starts from the beginning).
    type Cursor: Default;
    /// Read the txids and the prepared set.
    fn load(&mut self) -> Result<Loaded, StateError>;
    /// The committed value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// A page of committed entries from `cursor`, and where the next page starts
    /// (`None` after the last).
    fn scan(&self, cursor: Self::Cursor) -> Result<(Vec<Entry>, Option<Self::Cursor>), StateError>;
    /// Whether a scan may return an entry twice (Redis's HSCAN may).
    fn scan_may_repeat(&self) -> bool {
        false
    }
    /// Whether a read of committed data is a round trip to a server (Redis): then the
    /// changes of the last commit are kept to answer reads of their keys (see
    /// [`Staged`]).
    fn remote_reads(&self) -> bool {
        false
    }
    /// Replace the prepared set by `changes` under `txid`, durably, in one step.
    fn write_prepared(&mut self, txid: u64, changes: &Changes) -> Result<(), StateError>;
    /// Apply the prepared set of `txid` to the committed data, record `txid` as
    /// committed and clear the prepared set, atomically.
    fn commit(&mut self, txid: u64) -> Result<CommitOutcome, StateError>;
    /// Drop the prepared set.
    fn clear_prepared(&mut self) -> Result<(), StateError>;
    /// Drop the prepared set and record `committed` as the last committed txid (`None`:
    /// none yet), keeping the committed data, in one step.
    fn rebase(&mut self, committed: Option<u64>) -> Result<(), StateError>;
}

/// A [`KvBackend`] over a [`Durable`] store.
///
/// Over a store with [`Durable::remote_reads`], the changes of the last commit stay in
/// memory as `last_commit` (instead of being dropped) until the next commit: they are
/// the committed values of their keys, since only this task writes its namespace, so a
/// bolt reading back what it wrote in the previous interval (a word count's hot words)
/// asks the server nothing. It holds one checkpoint's changes, as `prepared` did.
pub(crate) struct Staged<D> {
    namespace: String,
    durable: D,
    pending: Changes,
    prepared: Changes,
    prepared_txid: Option<u64>,
    committed_txid: Option<u64>,
    last_commit: Changes,
}

impl<D: Durable> Staged<D> {
    /// The state of `namespace` in `durable`, with what it has prepared.
    pub(crate) fn open(namespace: &str, mut durable: D) -> Result<Staged<D>, StateError> {
        let loaded = durable.load()?;
        if let Some(txid) = loaded.prepared_txid {
            tracing::debug!(
                namespace,
                txid,
                entries = loaded.prepared.len(),
                "state has a prepared set"
            );
        }
        Ok(Staged {
            namespace: namespace.to_string(),
            durable,
            pending: Changes::new(),
            prepared: loaded.prepared,
            prepared_txid: loaded.prepared_txid,
            committed_txid: loaded.committed_txid,
            last_commit: Changes::new(),
        })
    }

    fn overlay(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.pending
            .get(key)
            .or_else(|| self.prepared.get(key))
            .or_else(|| self.last_commit.get(key))
    }
}

impl<D: Durable> State for Staged<D> {
    fn prepare_commit(&mut self, txid: u64) -> Result<(), StateError> {
        if let Some(committed) = self.committed_txid.filter(|c| txid <= *c) {
            return Err(StateError::Store {
                namespace: self.namespace.clone(),
                message: format!(
                    "prepare of txid {txid}, but txid {committed} is already committed"
                ),
            });
        }
        // Usually nothing is prepared: the pending changes are the set, without a copy.
        let taken = self.prepared.is_empty();
        let merged = if taken {
            std::mem::take(&mut self.pending)
        } else {
            let mut merged = self.prepared.clone();
            merged.extend(self.pending.iter().map(|(k, v)| (k.clone(), v.clone())));
            merged
        };
        if let Err(e) = self.durable.write_prepared(txid, &merged) {
            if taken {
                self.pending = merged;
            }
            return Err(e);
        }
        self.prepared = merged;
        self.prepared_txid = Some(txid);
        self.pending.clear();
        Ok(())
    }

    fn commit(&mut self, txid: u64) -> Result<(), StateError> {
        if self.committed_txid.is_some_and(|c| txid <= c) {
            tracing::debug!(namespace = %self.namespace, txid, "commit of a committed txid");
            return Ok(());
        }
        match self.durable.commit(txid)? {
            CommitOutcome::Committed => {
                self.committed_txid = Some(txid);
                if self.durable.remote_reads() {
                    self.last_commit = std::mem::take(&mut self.prepared);
                } else {
                    self.prepared.clear();
                }
                self.prepared_txid = None;
                Ok(())
            }
            CommitOutcome::AlreadyCommitted(committed) => {
                // Committed elsewhere (a predecessor, or a replayed COMMIT): what the
                // store holds is not known here.
                self.last_commit.clear();
                self.committed_txid = Some(committed);
                if self.prepared_txid.is_some_and(|p| p <= committed) {
                    self.prepared.clear();
                    self.prepared_txid = None;
                }
                Ok(())
            }
            CommitOutcome::NotPrepared => Err(StateError::NotPrepared {
                namespace: self.namespace.clone(),
                txid,
            }),
        }
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        // The committed data does not change: `last_commit` stays true.
        self.durable.clear_prepared()?;
        self.pending.clear();
        self.prepared.clear();
        self.prepared_txid = None;
        Ok(())
    }

    fn init(&mut self, checkpoint: Option<u64>) -> Result<(), StateError> {
        let Some(committed) = self.committed_txid else {
            // Nothing committed yet: a new state, or one the store lost.
            return Ok(());
        };
        match checkpoint {
            Some(t) if t == committed => Ok(()),
            Some(t) if t > committed => {
                tracing::warn!(
                    namespace = %self.namespace,
                    committed,
                    checkpoint = t,
                    "state is behind the topology's checkpoint: the commits after its own \
                     were lost (host-local state read on another host, or a store reset); \
                     it goes on from what it has"
                );
                Ok(())
            }
            _ => {
                tracing::warn!(
                    namespace = %self.namespace,
                    committed,
                    checkpoint = checkpoint.map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX)),
                    "state was committed past the topology's checkpoint (the checkpoint \
                     spout's own state was lost or moved): keeping its contents and \
                     numbering its next commits after the checkpoint"
                );
                self.durable.rebase(checkpoint)?;
                self.committed_txid = checkpoint;
                self.prepared.clear();
                self.prepared_txid = None;
                Ok(())
            }
        }
    }
}

impl<D: Durable> KvBackend for Staged<D> {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.overlay(key) {
            Some(v) => Ok(v.clone()),
            None => self.durable.get(key),
        }
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        check_len(&self.namespace, "key", key.len())?;
        check_len(&self.namespace, "value", value.len())?;
        self.pending.insert(key, Some(value));
        Ok(())
    }

    fn delete(&mut self, key: Vec<u8>) -> Result<(), StateError> {
        check_len(&self.namespace, "key", key.len())?;
        self.pending.insert(key, None);
        Ok(())
    }

    fn iterate(&self) -> Result<EntryIter<'_>, StateError> {
        let mut overlay = self.prepared.clone();
        overlay.extend(self.pending.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(Box::new(ViewIter {
            durable: &self.durable,
            dedupe: self.durable.scan_may_repeat(),
            overlay,
            cursor: Some(D::Cursor::default()),
            page: Vec::new().into_iter(),
            seen: HashSet::new(),
            tail: None,
        }))
    }
}

/// Committed entries not shadowed by a change, then the changes that set a value.
struct ViewIter<'a, D: Durable> {
    durable: &'a D,
    dedupe: bool,
    overlay: Changes,
    cursor: Option<D::Cursor>,
    page: std::vec::IntoIter<Entry>,
    seen: HashSet<Vec<u8>>,
    tail: Option<btree_map::IntoIter<Vec<u8>, Option<Vec<u8>>>>,
}

impl<D: Durable> Iterator for ViewIter<'_, D> {
    type Item = Result<Entry, StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(tail) = &mut self.tail {
                return tail.find_map(|(k, v)| v.map(|v| Ok((k, v))));
            }
            if let Some((k, v)) = self.page.next() {
                if self.overlay.contains_key(&k) || (self.dedupe && !self.seen.insert(k.clone())) {
                    continue;
                }
                return Some(Ok((k, v)));
            }
            match self.cursor.take() {
                Some(cursor) => match self.durable.scan(cursor) {
                    Ok((page, next)) => {
                        self.page = page.into_iter();
                        self.cursor = next;
                    }
                    Err(e) => {
                        self.tail = Some(Changes::new().into_iter());
                        return Some(Err(e));
                    }
                },
                None => self.tail = Some(std::mem::take(&mut self.overlay).into_iter()),
            }
        }
    }
}

/// Tag of a prepared change that sets its key (followed by the value).
const SET: u8 = 1;
/// Tag of a prepared change that deletes its key (alone).
const DELETE: u8 = 0;

/// A change as the bytes a store keeps in its prepared set.
pub(crate) fn encode_change(change: &Option<Vec<u8>>) -> Vec<u8> {
    match change {
        Some(v) => {
            let mut out = Vec::with_capacity(v.len() + 1);
            out.push(SET);
            out.extend_from_slice(v);
            out
        }
        None => vec![DELETE],
    }
}

/// A change read back from a store's prepared set.
pub(crate) fn decode_change(namespace: &str, bytes: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
    match bytes.split_first() {
        Some((&SET, v)) => Ok(Some(v.to_vec())),
        Some((&DELETE, [])) => Ok(None),
        _ => Err(StateError::Store {
            namespace: namespace.to_string(),
            message: "a corrupt record in the prepared set (unknown tag)".into(),
        }),
    }
}
