//! What users write Trident operations with: the tuple view they read, the collector
//! they emit into, and the operation traits (functions, filters, aggregators, state
//! updaters, state queries). Closures work wherever a trait is asked for.

use std::fmt;

use super::coordinator::TransactionAttempt;
use crate::{Value, Values};

/// An operation failed; the whole batch attempt fails and is replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OpError(pub String);

impl OpError {
    /// An error with a message.
    pub fn msg(m: impl Into<String>) -> OpError {
        OpError(m.into())
    }
}

/// One tuple as an operation sees it: the values of its input fields, in the order the
/// operation asked for them. Reading does not copy.
#[derive(Clone, Copy)]
pub struct TridentTuple<'a> {
    row: Row<'a>,
    proj: &'a [usize],
    names: &'a [String],
}

impl fmt::Debug for TridentTuple<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries((0..self.len()).filter_map(|i| self.get(i).ok()))
            .finish()
    }
}

impl<'a> TridentTuple<'a> {
    pub(crate) fn new(row: Row<'a>, proj: &'a [usize], names: &'a [String]) -> Self {
        TridentTuple { row, proj, names }
    }

    /// Number of input fields.
    pub fn len(&self) -> usize {
        self.proj.len()
    }

    /// Whether there are no input fields.
    pub fn is_empty(&self) -> bool {
        self.proj.is_empty()
    }

    /// Input field names, in order.
    pub fn fields(&self) -> &[String] {
        self.names
    }

    /// Value `i`.
    pub fn get(&self, i: usize) -> Result<&'a Value, OpError> {
        self.proj
            .get(i)
            .and_then(|&j| self.row.get(j))
            .ok_or_else(|| {
                OpError(format!(
                    "no input field {i}: the operation reads {:?}",
                    self.names
                ))
            })
    }

    /// Value of field `name`.
    pub fn by_field(&self, name: &str) -> Result<&'a Value, OpError> {
        match self.names.iter().position(|n| n == name) {
            Some(i) => self.get(i),
            None => Err(OpError(format!(
                "no input field '{name}': the operation reads {:?}",
                self.names
            ))),
        }
    }

    fn typed<T>(
        &self,
        i: usize,
        ty: &str,
        f: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<T, OpError> {
        let v = self.get(i)?;
        f(v).ok_or_else(|| {
            let name = self.names.get(i).map_or("?", String::as_str);
            OpError(format!(
                "field '{name}' is {}, expected {ty}",
                v.type_name()
            ))
        })
    }

    /// Value `i` as a string.
    pub fn get_str(&self, i: usize) -> Result<&'a str, OpError> {
        self.typed(i, "a string", Value::as_str)
    }

    /// Value `i` as an integer.
    pub fn get_i64(&self, i: usize) -> Result<i64, OpError> {
        self.typed(i, "an int", Value::as_i64)
    }

    /// Value `i` as a float (ints convert).
    pub fn get_f64(&self, i: usize) -> Result<f64, OpError> {
        self.typed(i, "a number", Value::as_f64)
    }

    /// The input values, copied.
    pub fn to_values(&self) -> Values {
        (0..self.len())
            .filter_map(|i| self.get(i).ok().cloned())
            .collect()
    }
}

/// A tuple inside a bolt: a base and the fields an `each` appended, read as one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row<'a> {
    pub base: &'a [Value],
    pub extra: &'a [Value],
}

impl<'a> Row<'a> {
    /// A row of just `base`.
    pub fn of(base: &'a [Value]) -> Row<'a> {
        Row { base, extra: &[] }
    }

    /// Field `i`.
    pub fn get(&self, i: usize) -> Option<&'a Value> {
        match i.checked_sub(self.base.len()) {
            None => self.base.get(i),
            Some(j) => self.extra.get(j),
        }
    }

    /// All fields, copied, after `prefix`.
    pub fn to_values_with(self, prefix: Option<Value>) -> Values {
        let mut v = Values::with_capacity(1 + self.base.len() + self.extra.len());
        if let Some(p) = prefix {
            v.push(p);
        }
        for x in self.base.iter().chain(self.extra) {
            v.push(x.clone());
        }
        v
    }

    /// The fields at `idx`, copied.
    pub fn pick(&self, idx: &[usize]) -> Vec<Value> {
        idx.iter()
            .map(|&i| self.get(i).cloned().unwrap_or(Value::Null))
            .collect()
    }
}

/// Where an operation emits its output tuples; also says which batch is running.
#[derive(Debug)]
pub struct TridentCollector<'a> {
    out: &'a mut Vec<Values>,
    batch: TransactionAttempt,
}

impl<'a> TridentCollector<'a> {
    pub(crate) fn new(out: &'a mut Vec<Values>, batch: TransactionAttempt) -> Self {
        TridentCollector { out, batch }
    }

    /// Emit one output tuple (the operation's output fields, in order).
    pub fn emit(&mut self, values: impl Into<Values>) {
        self.out.push(values.into());
    }

    /// The batch being processed (txid and attempt).
    pub fn batch(&self) -> TransactionAttempt {
        self.batch
    }
}

/// What an operation learns when its task starts.
#[derive(Debug, Clone, Copy)]
pub struct OpContext<'a> {
    /// The component (bolt) running the operation.
    pub component: &'a str,
    /// This task's index among the component's tasks (0-based).
    pub task_index: usize,
    /// Number of tasks of the component.
    pub num_tasks: usize,
}

/// `each`: reads its input fields, emits zero or more tuples of its function fields,
/// each appended to the input tuple.
pub trait Function: Send + 'static {
    /// Called once per task before any tuple.
    fn prepare(&mut self, _ctx: &OpContext<'_>) {}
    /// Process one tuple.
    fn execute(
        &mut self,
        input: &TridentTuple<'_>,
        out: &mut TridentCollector<'_>,
    ) -> Result<(), OpError>;
}

impl<F> Function for F
where
    F: FnMut(&TridentTuple<'_>, &mut TridentCollector<'_>) -> Result<(), OpError> + Send + 'static,
{
    fn execute(
        &mut self,
        input: &TridentTuple<'_>,
        out: &mut TridentCollector<'_>,
    ) -> Result<(), OpError> {
        self(input, out)
    }
}

/// `filter`: keeps the tuples for which it returns true.
pub trait Filter: Send + 'static {
    /// Whether to keep the tuple.
    fn keep(&mut self, input: &TridentTuple<'_>) -> Result<bool, OpError>;
}

impl<F> Filter for F
where
    F: FnMut(&TridentTuple<'_>) -> Result<bool, OpError> + Send + 'static,
{
    fn keep(&mut self, input: &TridentTuple<'_>) -> Result<bool, OpError> {
        self(input)
    }
}

/// An associative, commutative aggregation: batches are pre-aggregated before the
/// repartition and partial results combined (Storm's `CombinerAggregator`).
pub trait CombinerAggregator: Send + Sync + 'static {
    /// The value of one tuple.
    fn init(&self, input: &TridentTuple<'_>) -> Result<Value, OpError>;
    /// Combine two values.
    fn combine(&self, a: Value, b: Value) -> Value;
    /// The value of no tuples.
    fn zero(&self) -> Value;
}

/// A fold over the tuples of a key (Storm's `ReducerAggregator`): no pre-aggregation.
pub trait ReducerAggregator: Send + Sync + 'static {
    /// The starting value for a key with no stored value.
    fn init(&self) -> Value;
    /// Fold one tuple into the value.
    fn reduce(&self, acc: Value, input: &TridentTuple<'_>) -> Result<Value, OpError>;
}

/// A general per-batch aggregation (Storm's `Aggregator`): state per batch (and per
/// group), output emitted when the batch is complete.
pub trait Aggregator: Send + 'static {
    /// Per-batch (per-group) state.
    type State: Send + 'static;
    /// A fresh state for a batch.
    fn init(&mut self, batch: TransactionAttempt) -> Self::State;
    /// Fold one tuple in; may emit.
    fn aggregate(
        &mut self,
        state: &mut Self::State,
        input: &TridentTuple<'_>,
        out: &mut TridentCollector<'_>,
    ) -> Result<(), OpError>;
    /// The batch is complete: emit the result.
    fn complete(
        &mut self,
        state: Self::State,
        out: &mut TridentCollector<'_>,
    ) -> Result<(), OpError>;
}

/// Counts tuples.
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl CombinerAggregator for Count {
    fn init(&self, _input: &TridentTuple<'_>) -> Result<Value, OpError> {
        Ok(Value::Int(1))
    }
    fn combine(&self, a: Value, b: Value) -> Value {
        Value::Int(
            a.as_i64()
                .unwrap_or(0)
                .saturating_add(b.as_i64().unwrap_or(0)),
        )
    }
    fn zero(&self) -> Value {
        Value::Int(0)
    }
}

/// Sums its first input field (ints).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sum;

impl CombinerAggregator for Sum {
    fn init(&self, input: &TridentTuple<'_>) -> Result<Value, OpError> {
        Ok(Value::Int(input.get_i64(0)?))
    }
    fn combine(&self, a: Value, b: Value) -> Value {
        Value::Int(
            a.as_i64()
                .unwrap_or(0)
                .saturating_add(b.as_i64().unwrap_or(0)),
        )
    }
    fn zero(&self) -> Value {
        Value::Int(0)
    }
}

/// Read access to a state while a batch updates it (for [`StateUpdater`]).
pub trait StateRead {
    /// The stored values of `keys`, in order.
    fn get(&self, keys: &[Vec<Value>]) -> Result<Vec<Option<Value>>, OpError>;
}

/// `partition_persist`: turns a batch's tuples into key/value writes, given read
/// access to the current values. The writes are applied under the state's txid rule.
pub trait StateUpdater: Send + 'static {
    /// Compute the writes of batch `batch`.
    fn update(
        &mut self,
        batch: TransactionAttempt,
        state: &dyn StateRead,
        tuples: &[TridentTuple<'_>],
    ) -> Result<Vec<(Vec<Value>, Value)>, OpError>;
}

/// `state_query`: for each input tuple, the stored value of its key (the input fields),
/// turned into zero or more output tuples appended to the input.
pub trait QueryFunction: Send + 'static {
    /// Process one tuple with the value stored under its key.
    fn execute(
        &mut self,
        input: &TridentTuple<'_>,
        stored: Option<&Value>,
        out: &mut TridentCollector<'_>,
    ) -> Result<(), OpError>;
}

/// Emits the stored value (null when absent): Storm's `MapGet`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MapGet;

impl QueryFunction for MapGet {
    fn execute(
        &mut self,
        _input: &TridentTuple<'_>,
        stored: Option<&Value>,
        out: &mut TridentCollector<'_>,
    ) -> Result<(), OpError> {
        out.emit(Values::from(stored.cloned().unwrap_or(Value::Null)));
        Ok(())
    }
}
