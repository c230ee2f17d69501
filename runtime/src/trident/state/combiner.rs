//! Combiners: the associative aggregations `persistentAggregate` folds batches with.

use std::collections::BTreeMap;

use super::StateError;
use super::key::encode_key;
use crate::Value;

/// One key of a batch with its aggregated value.
pub type Partial<V> = (Vec<Value>, V);

/// Storm's `CombinerAggregator`: `init` turns one input tuple into a value, `combine`
/// merges two values (associatively), `zero` is the value of no input.
pub trait Combiner {
    /// The aggregated value.
    type Value: Clone;
    /// The value of one input tuple (its input fields).
    fn init(&self, input: &[Value]) -> Result<Self::Value, StateError>;
    /// Merge two values.
    fn combine(&self, a: Self::Value, b: Self::Value) -> Self::Value;
    /// The value of an empty input.
    fn zero(&self) -> Self::Value;

    /// Aggregate one batch per key: `(key, input fields)` pairs to one partial per key,
    /// in key order (ready for [`super::MapState::combine_batch`]).
    fn partials<'a, I>(&self, batch: I) -> Result<Vec<Partial<Self::Value>>, StateError>
    where
        I: IntoIterator<Item = (Vec<Value>, &'a [Value])>,
    {
        let mut acc: BTreeMap<Vec<u8>, (Vec<Value>, Self::Value)> = BTreeMap::new();
        for (key, input) in batch {
            let v = self.init(input)?;
            match acc.remove(&encode_key(&key)?) {
                Some((k, old)) => acc.insert(encode_key(&k)?, (k, self.combine(old, v))),
                None => acc.insert(encode_key(&key)?, (key, self.combine(self.zero(), v))),
            };
        }
        Ok(acc.into_values().collect())
    }
}

/// Counts tuples.
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl Combiner for Count {
    type Value = i64;
    fn init(&self, _input: &[Value]) -> Result<i64, StateError> {
        Ok(1)
    }
    fn combine(&self, a: i64, b: i64) -> i64 {
        a.saturating_add(b)
    }
    fn zero(&self) -> i64 {
        0
    }
}

/// Sums the first input field, which must be an integer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sum;

impl Combiner for Sum {
    type Value = i64;
    fn init(&self, input: &[Value]) -> Result<i64, StateError> {
        match input.first() {
            Some(Value::Int(i)) => Ok(*i),
            Some(other) => Err(StateError::Input {
                combiner: "Sum",
                reason: format!("expected an int, got {}", other.type_name()),
            }),
            None => Err(StateError::Input {
                combiner: "Sum",
                reason: "no input field".to_string(),
            }),
        }
    }
    fn combine(&self, a: i64, b: i64) -> i64 {
        a.saturating_add(b)
    }
    fn zero(&self) -> i64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &'static str) -> Vec<Value> {
        vec![Value::from_static(s)]
    }

    #[test]
    fn count_and_sum_aggregate_a_batch_per_key() {
        let none: &[Value] = &[];
        let batch = vec![(w("b"), none), (w("a"), none), (w("b"), none)];
        assert_eq!(
            Count.partials(batch).unwrap(),
            vec![(w("a"), 1), (w("b"), 2)]
        );
        let (three, four) = ([Value::Int(3)], [Value::Int(4)]);
        let batch = vec![(w("x"), &three[..]), (w("x"), &four[..])];
        assert_eq!(Sum.partials(batch).unwrap(), vec![(w("x"), 7)]);
        let bad = [Value::from_static("no")];
        assert!(matches!(
            Sum.partials(vec![(w("x"), &bad[..])]),
            Err(StateError::Input { .. })
        ));
        assert_eq!(Count.zero() + Sum.zero(), 0);
    }
}
