//! A stateful word count: counts in a checkpointed `KeyValueState`, so they survive a
//! worker's restart as far as the last committed checkpoint (Storm's flux example
//! `org.apache.storm.flux.examples.StatefulWordCounter`).

use squall_runtime::state::bolt::{StatefulBolt, StatefulCollector};
use squall_runtime::state::kv::KeyValueState;
use squall_runtime::{ComponentError, OutputDeclarer, Tuple, values};

/// Counts words (input field `word`) in its task's key-value state and emits `word`,
/// `count` anchored to the input; the input is acked once its count is committed.
#[derive(Debug, Default)]
pub struct StatefulWordCountBolt;

impl StatefulBolt for StatefulWordCountBolt {
    type State = KeyValueState<String, i64>;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["word", "count"]);
    }

    fn execute(
        &mut self,
        input: Tuple,
        state: &mut Self::State,
        out: &mut StatefulCollector<'_>,
    ) -> Result<(), ComponentError> {
        let word = input.get_by_field("word")?;
        let word = word
            .as_str()
            .ok_or_else(|| ComponentError::msg("field 'word' is not a string"))?
            .to_string();
        let count = state
            .get_or(&word, 0)
            .map_err(|e| ComponentError::msg(e.to_string()))?
            + 1;
        state
            .put(&word, &count)
            .map_err(|e| ComponentError::msg(e.to_string()))?;
        out.emit(&input, values![word, count])?;
        out.ack(&input);
        Ok(())
    }
}
