//! storm-perf benchmark components: a constant-payload spout, an identity bolt and a
//! sink that discards.

use std::time::Instant;

use squall_runtime::{
    BasicBolt, BasicCollector, Bolt, BoltCollector, ComponentError, MessageId, OutputDeclarer,
    Spout, SpoutCollector, Tuple, Value,
};

/// The 100-byte payload [`ConstSpout`] emits.
pub const PAYLOAD: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzAB";

/// Emits the same value (by default the 100-byte string `PAYLOAD`, field `payload`)
/// with an increasing message id; unbounded, or `count` tuples then exhausted; at most
/// `rate` tuples per second when `rate` > 0. Failed messages are emitted again (the value
/// is constant, so only the id needs keeping).
#[derive(Debug)]
pub struct ConstSpout {
    field: &'static str,
    payload: Value,
    limit: u64,
    next_id: MessageId,
    rate: u64,
    started: Option<Instant>,
    replay: Vec<MessageId>,
    /// Emit the message id itself (field `id`) instead of the constant.
    sequence: bool,
}

impl ConstSpout {
    /// `count` = 0 emits forever; `rate` = 0 emits as fast as possible.
    pub fn new(count: u64, rate: u64) -> ConstSpout {
        ConstSpout::with_payload(Value::from_static(PAYLOAD), count, rate)
    }

    /// `payload` instead of [`PAYLOAD`], in the same field (storm-perf's shapes emit
    /// `"some data"`).
    pub fn with_payload(payload: Value, count: u64, rate: u64) -> ConstSpout {
        ConstSpout::of("payload", payload, count, rate)
    }

    /// The number 1 in field `value` (the window benchmarks' input; registered as
    /// `ConstNumberSpout`).
    pub fn number(count: u64, rate: u64) -> ConstSpout {
        ConstSpout::of("value", Value::Int(1), count, rate)
    }

    /// The message id itself, 1, 2, 3, … in field `id` (registered as `SequenceSpout`:
    /// a window's message id field, or a checkable sum).
    pub fn sequence(count: u64, rate: u64) -> ConstSpout {
        ConstSpout {
            sequence: true,
            ..ConstSpout::of("id", Value::Int(0), count, rate)
        }
    }

    fn value(&self, id: MessageId) -> Value {
        if self.sequence {
            Value::Int(i64::try_from(id).unwrap_or(i64::MAX))
        } else {
            self.payload.clone()
        }
    }

    /// `value` in field `field`.
    pub fn of(field: &'static str, value: Value, count: u64, rate: u64) -> ConstSpout {
        ConstSpout {
            field,
            payload: value,
            limit: if count == 0 { u64::MAX } else { count },
            next_id: 0,
            rate,
            started: None,
            replay: Vec::new(),
            sequence: false,
        }
    }

    /// Whether the rate limit allows another tuple now.
    fn allowed(&mut self) -> bool {
        if self.rate == 0 {
            return true;
        }
        let started = *self.started.get_or_insert_with(Instant::now);
        let due = started.elapsed().as_secs_f64() * self.rate as f64;
        (self.next_id as f64) < due
    }
}

impl Spout for ConstSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&[self.field]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if let Some(id) = self.replay.pop() {
            out.emit_id(self.value(id), id)?;
        } else if self.next_id < self.limit && self.allowed() {
            self.next_id += 1;
            out.emit_id(self.value(self.next_id), self.next_id)?;
        }
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next_id >= self.limit && self.replay.is_empty()
    }

    fn fail(&mut self, id: MessageId) {
        self.replay.push(id);
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
