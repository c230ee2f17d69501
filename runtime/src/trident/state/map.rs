//! [`MapState`]: a keyed state with Storm's non-transactional, transactional or opaque
//! update rule over any [`StateBackend`].

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::combiner::{Combiner, Partial};
use super::key::encode_key;
use super::{StateBackend, StateError};
use crate::Value;

/// Name of the metadata entry that records the state kind.
pub(crate) const KIND_META: &str = "kind";

/// Which update rule a state follows (Storm's three map state flavours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// Value only: every applied batch is added, a replay counts twice.
    NonTransactional,
    /// `(txid, value)`: a batch whose txid is already stored for a key is skipped.
    Transactional,
    /// `(txid, value, prev)`: a batch whose txid is already stored is recomputed from
    /// `prev`; a batch older than the stored txid is refused.
    Opaque,
}

impl StateKind {
    /// The name recorded in a store: `non-transactional`, `transactional` or `opaque`.
    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::NonTransactional => "non-transactional",
            StateKind::Transactional => "transactional",
            StateKind::Opaque => "opaque",
        }
    }

    /// The kind named `s` (see [`as_str`](StateKind::as_str)).
    pub fn parse(s: &str) -> Option<StateKind> {
        [
            StateKind::NonTransactional,
            StateKind::Transactional,
            StateKind::Opaque,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is stored per key, as JSON: `{"val": V}` (non-transactional),
/// `{"txid": T, "val": V}` (transactional), `{"txid": T, "val": V, "prev": P}` (opaque;
/// `prev` absent until a key has seen two batches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record<V> {
    /// The txid of the batch that last wrote `val` (absent for non-transactional state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txid: Option<u64>,
    /// The current value.
    pub val: V,
    /// Opaque state only: the value before batch `txid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<V>,
}

/// A keyed state of values `V` over backend `B`.
///
/// Every [`apply`](MapState::apply) reads the keys of one batch with one `multi_get` and
/// writes them, with the batch's txid, in one atomic `put_batch`. Commit ordering by
/// txid is the batch coordinator's job; a transactional or opaque state refuses a batch
/// older than the last one it holds ([`StateError::TxidBehind`]: the coordinator's
/// commit record was lost or belongs to another run), and the opaque rule also refuses
/// a txid lower than a key's stored one ([`StateError::BatchBehind`]).
pub struct MapState<B, V> {
    backend: B,
    kind: StateKind,
    _values: PhantomData<fn() -> V>,
}

impl<B: StateBackend, V: Serialize + DeserializeOwned + Clone> MapState<B, V> {
    /// A state of `kind` over `backend`. A new store records `kind`; a store created for
    /// another kind is refused with [`StateError::KindMismatch`].
    pub fn open(backend: B, kind: StateKind) -> Result<MapState<B, V>, StateError> {
        match backend.meta(KIND_META)? {
            None => backend.set_meta(KIND_META, kind.as_str())?,
            Some(stored) if stored == kind.as_str() => {}
            Some(stored) => {
                return Err(StateError::KindMismatch {
                    store: backend.describe(),
                    stored,
                    requested: kind.to_string(),
                });
            }
        }
        Ok(MapState {
            backend,
            kind,
            _values: PhantomData,
        })
    }

    /// The update rule of this state.
    pub fn kind(&self) -> StateKind {
        self.kind
    }

    /// The backend underneath.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The stored records of `keys` (with their txid bookkeeping), in order.
    pub fn multi_get_records(
        &self,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Record<V>>>, StateError> {
        let encoded = keys
            .iter()
            .map(|k| encode_key(k))
            .collect::<Result<Vec<_>, _>>()?;
        let stored = self.backend.multi_get(&encoded)?;
        stored
            .iter()
            .zip(&encoded)
            .map(|(v, k)| v.as_deref().map(|b| self.decode(k, b)).transpose())
            .collect()
    }

    /// The current values of `keys`, in order (`None` where a key has no value).
    pub fn multi_get(&self, keys: &[Vec<Value>]) -> Result<Vec<Option<V>>, StateError> {
        Ok(self
            .multi_get_records(keys)?
            .into_iter()
            .map(|r| r.map(|r| r.val))
            .collect())
    }

    /// Apply batch `txid` to `keys`: `update(i, old)` gives the new value of `keys[i]`
    /// from its old one, following this state's rule. Returns the value of every key
    /// after the batch. All writes go in one atomic `put_batch`; on error nothing is
    /// written. A key repeated within one call is updated again from its in-batch value.
    pub fn apply<F>(
        &self,
        txid: u64,
        keys: &[Vec<Value>],
        mut update: F,
    ) -> Result<Vec<V>, StateError>
    where
        F: FnMut(usize, Option<V>) -> V,
    {
        self.check_not_behind(txid)?;
        let stored = self.multi_get_records(keys)?;
        let mut batch: BTreeMap<Vec<u8>, Record<V>> = BTreeMap::new();
        let mut out = Vec::with_capacity(keys.len());
        for (i, (key, old)) in keys.iter().zip(stored).enumerate() {
            let enc = encode_key(key)?;
            let in_batch = batch.get(&enc).cloned();
            let new = match (self.kind, in_batch, old) {
                (StateKind::NonTransactional, cur, old) => Record {
                    txid: None,
                    val: update(i, cur.or(old).map(|r| r.val)),
                    prev: None,
                },
                // Updated earlier in this call: keep building on it.
                (StateKind::Transactional, Some(cur), _) => Record {
                    val: update(i, Some(cur.val)),
                    ..cur
                },
                (StateKind::Opaque, Some(cur), _) => Record {
                    val: update(i, Some(cur.val)),
                    ..cur
                },
                (StateKind::Transactional, None, Some(old)) if old.txid == Some(txid) => old,
                (StateKind::Transactional, None, old) => Record {
                    txid: Some(txid),
                    val: update(i, old.map(|r| r.val)),
                    prev: None,
                },
                (StateKind::Opaque, None, None) => Record {
                    txid: Some(txid),
                    val: update(i, None),
                    prev: None,
                },
                (StateKind::Opaque, None, Some(old)) => match old.txid {
                    Some(t) if t == txid => Record {
                        txid: Some(txid),
                        val: update(i, old.prev.clone()),
                        prev: old.prev,
                    },
                    Some(t) if t > txid => {
                        return Err(StateError::BatchBehind {
                            key: String::from_utf8_lossy(&enc).into_owned(),
                            txid,
                            stored: t,
                        });
                    }
                    _ => Record {
                        txid: Some(txid),
                        val: update(i, Some(old.val.clone())),
                        prev: Some(old.val),
                    },
                },
            };
            out.push(new.val.clone());
            batch.insert(enc, new);
        }
        let mut entries = Vec::with_capacity(batch.len());
        for (k, rec) in batch {
            let bytes = serde_json::to_vec(&rec).map_err(|source| StateError::Encode {
                what: format!("value of key {}", String::from_utf8_lossy(&k)),
                source,
            })?;
            entries.push((k, bytes));
        }
        self.backend.put_batch(Some(txid), &entries)?;
        Ok(out)
    }

    /// Refuse batch `txid` when the store already holds a later one (transactional and
    /// opaque states: their rules rely on txids only ever moving forward; a
    /// non-transactional state counts every batch anyway).
    fn check_not_behind(&self, txid: u64) -> Result<(), StateError> {
        if self.kind == StateKind::NonTransactional {
            return Ok(());
        }
        match self.backend.applied_txid()? {
            Some(applied) if applied > txid => Err(StateError::TxidBehind {
                store: self.backend.describe(),
                txid,
                applied,
            }),
            _ => Ok(()),
        }
    }

    /// Set `keys[i]` to `values[i]` for batch `txid` (under the state's rule: a
    /// transactional replay leaves the stored value). Extra keys or values are ignored.
    pub fn multi_put(
        &self,
        txid: u64,
        keys: &[Vec<Value>],
        values: &[V],
    ) -> Result<Vec<V>, StateError> {
        let n = keys.len().min(values.len());
        self.apply(txid, &keys[..n], |i, _| values[i].clone())
    }

    /// Storm's `persistentAggregate` step with a combiner: fold each key's batch partial
    /// into its stored value (`combine(old, partial)`, or the partial for a new key).
    pub fn combine_batch<C>(
        &self,
        txid: u64,
        combiner: &C,
        partials: &[Partial<V>],
    ) -> Result<Vec<V>, StateError>
    where
        C: Combiner<Value = V>,
    {
        let keys: Vec<Vec<Value>> = partials.iter().map(|(k, _)| k.clone()).collect();
        self.apply(txid, &keys, |i, old| {
            let partial = partials[i].1.clone();
            match old {
                Some(old) => combiner.combine(old, partial),
                None => partial,
            }
        })
    }

    fn decode(&self, key: &[u8], bytes: &[u8]) -> Result<Record<V>, StateError> {
        serde_json::from_slice(bytes).map_err(|source| StateError::Decode {
            store: self.backend.describe(),
            what: format!("value of key {}", String::from_utf8_lossy(key)),
            source,
        })
    }
}

#[cfg(test)]
#[path = "map_tests.rs"]
mod tests;
