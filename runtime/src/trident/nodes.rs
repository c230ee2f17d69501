//! The runtime half of each plan node: what a bolt task runs for every tuple of a
//! batch, when the batch is complete (`finish`), and when it commits (state nodes).
//! Per-batch state is kept per txid and dropped when an attempt fails or is replaced.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::coordinator::TransactionAttempt;
use super::ops::{
    Aggregator, CombinerAggregator, Filter, Function, OpContext, OpError, QueryFunction,
    ReducerAggregator, Row, StateRead, StateUpdater, TridentCollector, TridentTuple,
};
use super::state::{MapState, StateBackend};
use crate::{Value, Values};

/// A state as nodes use it: values are JSON in the store.
pub(crate) type TxMap = MapState<Arc<dyn StateBackend>, serde_json::Value>;

/// What a node factory gets: the task it runs in and the states of its bolt.
pub(crate) struct NodeEnv<'a> {
    pub ctx: OpContext<'a>,
    pub states: &'a HashMap<usize, Arc<TxMap>>,
}

impl NodeEnv<'_> {
    /// The opened state `id`.
    pub fn state(&self, id: usize) -> Result<Arc<TxMap>, OpError> {
        self.states
            .get(&id)
            .cloned()
            .ok_or_else(|| OpError(format!("state {id} is not open in this bolt")))
    }
}

/// Where a node sends its output rows.
pub(crate) type Emit<'e> = dyn for<'r> FnMut(Row<'r>) -> Result<(), OpError> + 'e;

/// A node's runtime half.
pub(crate) trait NodeExec: Send {
    /// One tuple of batch `batch`.
    fn execute(
        &mut self,
        batch: TransactionAttempt,
        row: Row<'_>,
        emit: &mut Emit<'_>,
    ) -> Result<(), OpError>;
    /// The batch is complete in this task: emit what was held back.
    fn finish(&mut self, _batch: TransactionAttempt, _emit: &mut Emit<'_>) -> Result<(), OpError> {
        Ok(())
    }
    /// Drop everything held for `txid` (an attempt failed or was replaced).
    fn forget(&mut self, _txid: u64) {}
    /// Batch `batch` commits: write it to the state.
    fn commit(&mut self, _batch: TransactionAttempt) -> Result<(), OpError> {
        Ok(())
    }
}

fn state_err(e: impl std::fmt::Display) -> OpError {
    OpError(format!("state: {e}"))
}

/// Per-batch accumulators, at most a few batches at a time.
struct PerBatch<T> {
    batches: Vec<(TransactionAttempt, T)>,
}

impl<T: Default> PerBatch<T> {
    fn new() -> Self {
        PerBatch {
            batches: Vec::new(),
        }
    }

    fn get(&mut self, batch: TransactionAttempt) -> &mut T {
        if let Some(i) = self.batches.iter().position(|(b, _)| *b == batch) {
            return &mut self.batches[i].1;
        }
        self.batches.retain(|(b, _)| b.txid != batch.txid);
        self.batches.push((batch, T::default()));
        let last = self.batches.len() - 1;
        &mut self.batches[last].1
    }

    fn take(&mut self, batch: TransactionAttempt) -> T {
        match self.batches.iter().position(|(b, _)| *b == batch) {
            Some(i) => self.batches.swap_remove(i).1,
            None => T::default(),
        }
    }

    fn forget(&mut self, txid: u64) {
        self.batches.retain(|(b, _)| b.txid != txid);
    }
}

/// Passes rows on (repartition and merge entry points, the spout node).
pub(crate) struct Pass;

impl NodeExec for Pass {
    fn execute(
        &mut self,
        _b: TransactionAttempt,
        row: Row<'_>,
        emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        emit(row)
    }
}

/// `each` (append the function's fields) and `map`/`flat_map` (replace the tuple).
pub(crate) struct Each {
    pub proj: Vec<usize>,
    pub names: Vec<String>,
    pub f: Box<dyn Function>,
    pub replace: bool,
    pub buf: Vec<Values>,
    pub joined: Values,
}

impl NodeExec for Each {
    fn execute(
        &mut self,
        batch: TransactionAttempt,
        row: Row<'_>,
        emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        self.buf.clear();
        let input = TridentTuple::new(row, &self.proj, &self.names);
        self.f
            .execute(&input, &mut TridentCollector::new(&mut self.buf, batch))?;
        if self.replace {
            for v in self.buf.drain(..) {
                emit(Row::of(&v))?;
            }
        } else if row.extra.is_empty() {
            for v in self.buf.drain(..) {
                emit(Row {
                    base: row.base,
                    extra: &v,
                })?;
            }
        } else {
            self.joined = row.to_values_with(None);
            for v in self.buf.drain(..) {
                emit(Row {
                    base: &self.joined,
                    extra: &v,
                })?;
            }
        }
        Ok(())
    }
}

/// `filter`.
pub(crate) struct FilterNode {
    pub proj: Vec<usize>,
    pub names: Vec<String>,
    pub f: Box<dyn Filter>,
}

impl NodeExec for FilterNode {
    fn execute(
        &mut self,
        _b: TransactionAttempt,
        row: Row<'_>,
        emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        if self
            .f
            .keep(&TridentTuple::new(row, &self.proj, &self.names))?
        {
            emit(row)?;
        }
        Ok(())
    }
}

/// `project`.
pub(crate) struct Project {
    pub idx: Vec<usize>,
}

impl NodeExec for Project {
    fn execute(
        &mut self,
        _b: TransactionAttempt,
        row: Row<'_>,
        emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        let v: Values = row.pick(&self.idx).into_iter().collect();
        emit(Row::of(&v))
    }
}

type Groups = FxHashMap<Vec<Value>, Value>;

fn key_of<'r>(row: &Row<'r>, key: &[usize], scratch: &'r mut Vec<Value>) -> &'r [Value] {
    if let [k] = key
        && let Some(v) = row.get(*k)
    {
        return std::slice::from_ref(v);
    }
    *scratch = row.pick(key);
    scratch
}

fn fold_into(groups: &mut Groups, key: &[Value], v: Value, comb: &dyn CombinerAggregator) {
    match groups.get_mut(key) {
        Some(slot) => {
            let old = std::mem::replace(slot, Value::Null);
            *slot = comb.combine(old, v);
        }
        None => {
            groups.insert(key.to_vec(), v);
        }
    }
}

fn emit_groups(groups: Groups, emit: &mut Emit<'_>) -> Result<(), OpError> {
    for (k, v) in groups {
        let tail = [v];
        emit(Row {
            base: &k,
            extra: &tail,
        })?;
    }
    Ok(())
}

/// Pre-aggregation before a repartition: per key (maybe none), `init` each tuple and
/// combine; emits `[key..., partial]` when the batch is complete.
pub(crate) struct CombinerPartial {
    pub key: Vec<usize>,
    pub proj: Vec<usize>,
    pub names: Vec<String>,
    pub comb: Arc<dyn CombinerAggregator>,
    pub acc: PerBatchGroups,
}

/// Per-batch groups of a combiner.
pub(crate) struct PerBatchGroups(PerBatch<Groups>);

impl PerBatchGroups {
    /// Empty.
    pub fn new() -> Self {
        PerBatchGroups(PerBatch::new())
    }
}

impl NodeExec for CombinerPartial {
    fn execute(
        &mut self,
        batch: TransactionAttempt,
        row: Row<'_>,
        _emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        let v = self
            .comb
            .init(&TridentTuple::new(row, &self.proj, &self.names))?;
        let mut scratch = Vec::new();
        let key = key_of(&row, &self.key, &mut scratch);
        fold_into(self.acc.0.get(batch), key, v, self.comb.as_ref());
        Ok(())
    }

    fn finish(&mut self, batch: TransactionAttempt, emit: &mut Emit<'_>) -> Result<(), OpError> {
        let groups = self.acc.0.take(batch);
        if groups.is_empty() && self.key.is_empty() {
            // A global aggregate of nothing is the zero.
            let z = [self.comb.zero()];
            return emit(Row::of(&z));
        }
        emit_groups(groups, emit)
    }

    fn forget(&mut self, txid: u64) {
        self.acc.0.forget(txid);
    }
}

/// Combines `[key..., partial]` rows after the repartition; emits `[key..., value]`
/// when the batch is complete.
pub(crate) struct CombinerFinal {
    pub key_len: usize,
    pub comb: Arc<dyn CombinerAggregator>,
    pub acc: PerBatchGroups,
}

fn split_partial<'r>(
    row: &Row<'r>,
    key_len: usize,
    scratch: &'r mut Vec<Value>,
) -> (&'r [Value], Value) {
    let v = row.get(key_len).cloned().unwrap_or(Value::Null);
    let key: &'r [Value] = if row.extra.is_empty() && row.base.len() > key_len {
        &row.base[..key_len]
    } else {
        *scratch = (0..key_len).filter_map(|i| row.get(i).cloned()).collect();
        scratch
    };
    (key, v)
}

impl NodeExec for CombinerFinal {
    fn execute(
        &mut self,
        batch: TransactionAttempt,
        row: Row<'_>,
        _emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        let mut scratch = Vec::new();
        let (key, v) = split_partial(&row, self.key_len, &mut scratch);
        fold_into(self.acc.0.get(batch), key, v, self.comb.as_ref());
        Ok(())
    }

    fn finish(&mut self, batch: TransactionAttempt, emit: &mut Emit<'_>) -> Result<(), OpError> {
        let groups = self.acc.0.take(batch);
        if groups.is_empty() && self.key_len == 0 {
            let z = [self.comb.zero()];
            return emit(Row::of(&z));
        }
        emit_groups(groups, emit)
    }

    fn forget(&mut self, txid: u64) {
        self.acc.0.forget(txid);
    }
}

/// An aggregator's states by key.
pub(crate) type KeyedStates<A> = FxHashMap<Vec<Value>, <A as Aggregator>::State>;

/// A general aggregator, per key (or over the whole partition when the key is empty);
/// emits `[key..., output...]`.
pub(crate) struct AggregateNode<A: Aggregator> {
    pub key: Vec<usize>,
    pub proj: Vec<usize>,
    pub names: Vec<String>,
    pub agg: A,
    pub acc: Vec<(TransactionAttempt, KeyedStates<A>)>,
    pub buf: Vec<Values>,
}

fn flush(buf: &mut Vec<Values>, key: &[Value], emit: &mut Emit<'_>) -> Result<(), OpError> {
    for v in buf.drain(..) {
        emit(Row {
            base: key,
            extra: &v,
        })?;
    }
    Ok(())
}

impl<A: Aggregator> NodeExec for AggregateNode<A> {
    fn execute(
        &mut self,
        batch: TransactionAttempt,
        row: Row<'_>,
        emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        let Self {
            key,
            proj,
            names,
            agg,
            acc,
            buf,
        } = self;
        let key = row.pick(key);
        let pos = match acc.iter().position(|(b, _)| *b == batch) {
            Some(i) => i,
            None => {
                acc.retain(|(b, _)| b.txid != batch.txid);
                acc.push((batch, FxHashMap::default()));
                acc.len() - 1
            }
        };
        let groups = &mut acc[pos].1;
        let state = groups.entry(key.clone()).or_insert_with(|| agg.init(batch));
        agg.aggregate(
            state,
            &TridentTuple::new(row, proj, names),
            &mut TridentCollector::new(buf, batch),
        )?;
        flush(buf, &key, emit)
    }

    fn finish(&mut self, batch: TransactionAttempt, emit: &mut Emit<'_>) -> Result<(), OpError> {
        let groups = match self.acc.iter().position(|(b, _)| *b == batch) {
            Some(i) => self.acc.swap_remove(i).1,
            None => FxHashMap::default(),
        };
        let mut buf = std::mem::take(&mut self.buf);
        let mut result = Ok(());
        if groups.is_empty() && self.key.is_empty() {
            let s = self.agg.init(batch);
            result = self
                .agg
                .complete(s, &mut TridentCollector::new(&mut buf, batch))
                .and_then(|()| flush(&mut buf, &[], emit));
        }
        for (k, s) in groups {
            if result.is_err() {
                break;
            }
            result = self
                .agg
                .complete(s, &mut TridentCollector::new(&mut buf, batch))
                .and_then(|()| flush(&mut buf, &k, emit));
        }
        buf.clear();
        self.buf = buf;
        result
    }

    fn forget(&mut self, txid: u64) {
        self.acc.retain(|(b, _)| b.txid != txid);
    }
}

/// What a batch leaves for its commit, per state node.
struct Pending<T> {
    by_txid: BTreeMap<u64, (TransactionAttempt, T)>,
}

impl<T> Pending<T> {
    fn new() -> Self {
        Pending {
            by_txid: BTreeMap::new(),
        }
    }

    fn put(&mut self, batch: TransactionAttempt, v: T) {
        self.by_txid.insert(batch.txid, (batch, v));
    }

    fn take(&mut self, batch: TransactionAttempt, node: &str) -> Result<T, OpError> {
        // Anything older than a commit can never commit any more.
        let newer = self.by_txid.split_off(&batch.txid);
        self.by_txid = newer;
        match self.by_txid.remove(&batch.txid) {
            Some((b, v)) if b == batch => Ok(v),
            Some((b, _)) => Err(OpError(format!(
                "{node}: asked to commit batch {batch} but processed attempt {b}"
            ))),
            None => Err(OpError(format!(
                "{node}: asked to commit batch {batch} that this task has not processed \
                 (restarted since?)"
            ))),
        }
    }

    fn forget(&mut self, txid: u64) {
        self.by_txid.remove(&txid);
    }
}

/// What a state node collects per batch: accumulating while the batch runs, sealed
/// when it finishes, taken when it commits.
struct Staged<T> {
    acc: PerBatch<T>,
    pending: Pending<T>,
}

impl<T: Default> Staged<T> {
    fn new() -> Self {
        Staged {
            acc: PerBatch::new(),
            pending: Pending::new(),
        }
    }

    fn get(&mut self, batch: TransactionAttempt) -> &mut T {
        self.acc.get(batch)
    }

    fn seal(&mut self, batch: TransactionAttempt) {
        let v = self.acc.take(batch);
        self.pending.put(batch, v);
    }

    fn take(&mut self, batch: TransactionAttempt, node: &str) -> Result<T, OpError> {
        self.pending.take(batch, node)
    }

    fn forget(&mut self, txid: u64) {
        self.acc.forget(txid);
        self.pending.forget(txid);
    }
}

fn to_json(v: &Value) -> serde_json::Value {
    v.to_json()
}

/// `persistent_aggregate` with a combiner: combines `[key..., partial]` rows per batch
/// and folds them into the state at commit.
pub(crate) struct PersistCombine {
    pub state: Arc<TxMap>,
    pub key_len: usize,
    pub comb: Arc<dyn CombinerAggregator>,
    staged: Staged<Groups>,
}

impl PersistCombine {
    /// A node over `state`.
    pub fn new(state: Arc<TxMap>, key_len: usize, comb: Arc<dyn CombinerAggregator>) -> Self {
        PersistCombine {
            state,
            key_len,
            comb,
            staged: Staged::new(),
        }
    }
}

impl NodeExec for PersistCombine {
    fn execute(
        &mut self,
        batch: TransactionAttempt,
        row: Row<'_>,
        _emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        let mut scratch = Vec::new();
        let (key, v) = split_partial(&row, self.key_len, &mut scratch);
        fold_into(self.staged.get(batch), key, v, self.comb.as_ref());
        Ok(())
    }

    fn finish(&mut self, batch: TransactionAttempt, _emit: &mut Emit<'_>) -> Result<(), OpError> {
        self.staged.seal(batch);
        Ok(())
    }

    fn forget(&mut self, txid: u64) {
        self.staged.forget(txid);
    }

    fn commit(&mut self, batch: TransactionAttempt) -> Result<(), OpError> {
        let groups = self.staged.take(batch, "persistent_aggregate")?;
        if groups.is_empty() {
            return Ok(());
        }
        let (keys, partials): (Vec<Vec<Value>>, Vec<Value>) = groups.into_iter().unzip();
        let comb = &self.comb;
        self.state
            .apply(batch.txid, &keys, |i, old| {
                let partial = partials[i].clone();
                match old {
                    Some(old) => to_json(&comb.combine(Value::from(old), partial)),
                    None => to_json(&partial),
                }
            })
            .map_err(state_err)?;
        Ok(())
    }
}

/// `persistent_aggregate` with a reducer: keeps the batch's tuples per key and folds
/// them into the stored value at commit.
pub(crate) struct PersistReduce {
    pub state: Arc<TxMap>,
    pub key: Vec<usize>,
    pub proj: Vec<usize>,
    pub names: Vec<String>,
    pub reducer: Arc<dyn ReducerAggregator>,
    staged: Staged<FxHashMap<Vec<Value>, Vec<Values>>>,
}

impl PersistReduce {
    /// A node over `state`.
    pub fn new(
        state: Arc<TxMap>,
        key: Vec<usize>,
        proj: Vec<usize>,
        names: Vec<String>,
        reducer: Arc<dyn ReducerAggregator>,
    ) -> Self {
        PersistReduce {
            state,
            key,
            proj,
            names,
            reducer,
            staged: Staged::new(),
        }
    }
}

impl NodeExec for PersistReduce {
    fn execute(
        &mut self,
        batch: TransactionAttempt,
        row: Row<'_>,
        _emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        let key = row.pick(&self.key);
        let input: Values = row.pick(&self.proj).into_iter().collect();
        self.staged.get(batch).entry(key).or_default().push(input);
        Ok(())
    }

    fn finish(&mut self, batch: TransactionAttempt, _emit: &mut Emit<'_>) -> Result<(), OpError> {
        self.staged.seal(batch);
        Ok(())
    }

    fn forget(&mut self, txid: u64) {
        self.staged.forget(txid);
    }

    fn commit(&mut self, batch: TransactionAttempt) -> Result<(), OpError> {
        let groups = self.staged.take(batch, "persistent_aggregate")?;
        if groups.is_empty() {
            return Ok(());
        }
        let (keys, tuples): (Vec<Vec<Value>>, Vec<Vec<Values>>) = groups.into_iter().unzip();
        let ident: Vec<usize> = (0..self.names.len()).collect();
        let mut err = None;
        let (reducer, names) = (&self.reducer, &self.names);
        self.state
            .apply(batch.txid, &keys, |i, old| {
                let mut acc = old.map_or_else(|| reducer.init(), Value::from);
                for t in &tuples[i] {
                    match reducer.reduce(acc.clone(), &TridentTuple::new(Row::of(t), &ident, names))
                    {
                        Ok(v) => acc = v,
                        Err(e) => err = Some(e),
                    }
                }
                to_json(&acc)
            })
            .map_err(state_err)?;
        // A reducer error after the write: fail the attempt anyway (the txid rule makes
        // the replay correct for transactional and opaque states).
        err.map_or(Ok(()), Err)
    }
}

struct Reader<'a>(&'a TxMap);

impl StateRead for Reader<'_> {
    fn get(&self, keys: &[Vec<Value>]) -> Result<Vec<Option<Value>>, OpError> {
        Ok(self
            .0
            .multi_get(keys)
            .map_err(state_err)?
            .into_iter()
            .map(|v| v.map(Value::from))
            .collect())
    }
}

/// `partition_persist`: keeps the batch's tuples and hands them to the updater at
/// commit; its writes go into the state under the txid rule.
pub(crate) struct PartitionPersist {
    pub state: Arc<TxMap>,
    pub proj: Vec<usize>,
    pub names: Vec<String>,
    pub updater: Box<dyn StateUpdater>,
    staged: Staged<Vec<Values>>,
}

impl PartitionPersist {
    /// A node over `state`.
    pub fn new(
        state: Arc<TxMap>,
        proj: Vec<usize>,
        names: Vec<String>,
        updater: Box<dyn StateUpdater>,
    ) -> Self {
        PartitionPersist {
            state,
            proj,
            names,
            updater,
            staged: Staged::new(),
        }
    }
}

impl NodeExec for PartitionPersist {
    fn execute(
        &mut self,
        batch: TransactionAttempt,
        row: Row<'_>,
        _emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        let input: Values = row.pick(&self.proj).into_iter().collect();
        self.staged.get(batch).push(input);
        Ok(())
    }

    fn finish(&mut self, batch: TransactionAttempt, _emit: &mut Emit<'_>) -> Result<(), OpError> {
        self.staged.seal(batch);
        Ok(())
    }

    fn forget(&mut self, txid: u64) {
        self.staged.forget(txid);
    }

    fn commit(&mut self, batch: TransactionAttempt) -> Result<(), OpError> {
        let tuples = self.staged.take(batch, "partition_persist")?;
        let ident: Vec<usize> = (0..self.names.len()).collect();
        let views: Vec<TridentTuple<'_>> = tuples
            .iter()
            .map(|t| TridentTuple::new(Row::of(t), &ident, &self.names))
            .collect();
        let writes = self.updater.update(batch, &Reader(&self.state), &views)?;
        if writes.is_empty() {
            return Ok(());
        }
        let (keys, values): (Vec<Vec<Value>>, Vec<Value>) = writes.into_iter().unzip();
        let json: Vec<serde_json::Value> = values.iter().map(to_json).collect();
        self.state
            .multi_put(batch.txid, &keys, &json)
            .map_err(state_err)?;
        Ok(())
    }
}

/// `state_query`: looks each tuple's key up and appends the query function's output.
pub(crate) struct Query {
    pub state: Arc<TxMap>,
    pub key: Vec<usize>,
    pub names: Vec<String>,
    pub f: Box<dyn QueryFunction>,
    pub buf: Vec<Values>,
}

impl NodeExec for Query {
    fn execute(
        &mut self,
        batch: TransactionAttempt,
        row: Row<'_>,
        emit: &mut Emit<'_>,
    ) -> Result<(), OpError> {
        let key = row.pick(&self.key);
        let stored = self
            .state
            .multi_get(std::slice::from_ref(&key))
            .map_err(state_err)?
            .pop()
            .flatten()
            .map(Value::from);
        self.buf.clear();
        self.f.execute(
            &TridentTuple::new(row, &self.key, &self.names),
            stored.as_ref(),
            &mut TridentCollector::new(&mut self.buf, batch),
        )?;
        let joined = row.to_values_with(None);
        for v in self.buf.drain(..) {
            emit(Row {
                base: &joined,
                extra: &v,
            })?;
        }
        Ok(())
    }
}
