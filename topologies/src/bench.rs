//! storm-perf benchmark components: a constant-payload spout, an identity bolt and a
//! sink that discards.

use squall_runtime::{
    BasicBolt, BasicCollector, Bolt, BoltCollector, ComponentError, MessageId, OutputDeclarer,
    Spout, SpoutCollector, Tuple, Value,
};

/// The 100-byte payload [`ConstSpout`] emits.
pub const PAYLOAD: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzAB";

/// Emits the same 100-byte string (field `payload`) with an increasing message id;
/// unbounded, or `count` tuples then exhausted.
#[derive(Debug)]
pub struct ConstSpout {
    payload: Value,
    limit: u64,
    next_id: MessageId,
}

impl ConstSpout {
    /// `count` = 0 emits forever.
    pub fn new(count: u64) -> ConstSpout {
        ConstSpout {
            payload: Value::from_static(PAYLOAD),
            limit: if count == 0 { u64::MAX } else { count },
            next_id: 0,
        }
    }
}

impl Spout for ConstSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["payload"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if self.next_id < self.limit {
            self.next_id += 1;
            out.emit_id(self.payload.clone(), self.next_id)?;
        }
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next_id >= self.limit
    }
}

/// Re-emits every input unchanged, anchored (field `payload`).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdBolt;

impl BasicBolt for IdBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["payload"]);
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        out.emit(input.values().clone())?;
        Ok(())
    }
}

/// Acks and discards every input.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullBolt;

impl Bolt for NullBolt {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        out.ack(&input);
        Ok(())
    }
}
