//! Windowed built-ins: a sum and an average over a numeric field (storm-starter's
//! `SlidingWindowSumBolt` and a tumbling average), Storm's Flux examples
//! `TestWindowBolt` and `TestPrintBolt` (the window benchmarks' spout of constant numbers
//! is `ConstSpout::number`).
//!
//! The field convention of the sum and the average: `constructorArgs[0]` names the
//! input field; absent, the first field is used (as storm-starter's `getValue(0)`).
//! Integers and floats are summed; a string holding a number counts as that number;
//! other values are skipped. The window itself comes from the component's config (or
//! Flux's `withWindow` / `withTumblingWindow`).

use squall_runtime::window::{TupleWindow, WindowedBolt, WindowedCollector};
use squall_runtime::{
    BasicBolt, BasicCollector, ComponentArgs, ComponentError, FactoryError, OutputDeclarer, Tuple,
    Value, values,
};

/// The numeric field a window aggregate reads.
#[derive(Debug, Clone, Default)]
struct NumericField {
    /// `None`: the first field.
    name: Option<String>,
}

impl NumericField {
    fn from_args(a: &ComponentArgs<'_>) -> Result<NumericField, FactoryError> {
        let name = if a.is_empty() {
            None
        } else {
            Some(a.str(0, "the numeric field to aggregate")?.to_string())
        };
        Ok(NumericField { name })
    }

    /// The field's value in `t` as a number (`None`: missing or not numeric).
    #[inline]
    fn read(&self, t: &Tuple) -> Option<Num> {
        let v = match &self.name {
            None => t.get(0).ok()?,
            Some(n) => t.get_by_field(n).ok()?,
        };
        match v {
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Float(f) => Some(Num::Float(*f)),
            Value::Str(s) => s
                .parse::<i64>()
                .map(Num::Int)
                .or_else(|_| s.parse::<f64>().map(Num::Float))
                .ok(),
            _ => None,
        }
    }

    /// The sum of the window's values (an integer while every value is one and it does
    /// not overflow) and how many values were summed.
    fn sum(&self, window: &TupleWindow<'_>) -> (Value, u64) {
        if window.is_paged() {
            // A persistent window: read page by page.
            self.sum_of(window.get_iter())
        } else {
            self.sum_of(window.get().iter().copied())
        }
    }

    fn sum_of<T: std::ops::Deref<Target = Tuple>>(
        &self,
        tuples: impl Iterator<Item = T>,
    ) -> (Value, u64) {
        let (mut int, mut float, mut is_int, mut n) = (0i64, 0f64, true, 0u64);
        for t in tuples {
            match self.read(&t) {
                Some(Num::Int(i)) => {
                    float += i as f64;
                    if is_int {
                        match int.checked_add(i) {
                            Some(s) => int = s,
                            None => is_int = false,
                        }
                    }
                }
                Some(Num::Float(f)) => {
                    float += f;
                    is_int = false;
                }
                None => continue,
            }
            n += 1;
        }
        let sum = if is_int {
            Value::Int(int)
        } else {
            Value::Float(float)
        };
        (sum, n)
    }
}

#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

/// storm-starter's `SlidingWindowSumBolt`: emits `sum`, the sum of a numeric field over
/// the window, each time the window fires (an integer when every value is one).
#[derive(Debug, Clone, Default)]
pub struct SlidingWindowSumBolt {
    field: NumericField,
}

impl SlidingWindowSumBolt {
    /// From `constructorArgs`: `[field]` or `[]` (the first field).
    pub fn from_args(a: &ComponentArgs<'_>) -> Result<SlidingWindowSumBolt, FactoryError> {
        Ok(SlidingWindowSumBolt {
            field: NumericField::from_args(a)?,
        })
    }
}

impl WindowedBolt for SlidingWindowSumBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["sum"]);
    }

    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        out: &mut WindowedCollector<'_>,
    ) -> Result<(), ComponentError> {
        let (sum, _) = self.field.sum(window);
        out.emit(sum)?;
        Ok(())
    }
}

/// A tumbling-window average: emits `avg` (a float) and `count` (the values averaged)
/// over a numeric field each time the window fires; nothing for a window without a
/// numeric value.
#[derive(Debug, Clone, Default)]
pub struct TumblingWindowAvgBolt {
    field: NumericField,
}

impl TumblingWindowAvgBolt {
    /// From `constructorArgs`: `[field]` or `[]` (the first field).
    pub fn from_args(a: &ComponentArgs<'_>) -> Result<TumblingWindowAvgBolt, FactoryError> {
        Ok(TumblingWindowAvgBolt {
            field: NumericField::from_args(a)?,
        })
    }
}

impl WindowedBolt for TumblingWindowAvgBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["avg", "count"]);
    }

    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        out: &mut WindowedCollector<'_>,
    ) -> Result<(), ComponentError> {
        let (sum, n) = self.field.sum(window);
        if n == 0 {
            return Ok(());
        }
        let total = match sum {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            _ => 0.0,
        };
        out.emit(values![
            total / n as f64,
            i64::try_from(n).unwrap_or(i64::MAX)
        ])?;
        Ok(())
    }
}

/// Storm's `org.apache.storm.flux.examples.TestWindowBolt`: emits `count`, the number
/// of tuples in the window.
#[derive(Debug, Clone, Copy, Default)]
pub struct TestWindowBolt;

impl WindowedBolt for TestWindowBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["count"]);
    }

    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        out: &mut WindowedCollector<'_>,
    ) -> Result<(), ComponentError> {
        out.emit(values![window.len() as i64])?;
        Ok(())
    }
}

/// Storm's `org.apache.storm.flux.examples.TestPrintBolt`: prints every tuple and emits
/// nothing. It prints to standard error, where Squall's logs go (a Storm worker's
/// `System.out` goes to its log too): standard output of `squall local` is its report
/// (`--json` is read by programs).
#[derive(Debug, Clone, Copy, Default)]
pub struct TestPrintBolt;

impl BasicBolt for TestPrintBolt {
    fn execute(
        &mut self,
        input: &Tuple,
        _out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        eprintln!("{input}");
        Ok(())
    }
}
