//! The traits users implement: [`Spout`], [`Bolt`] and the simpler [`BasicBolt`].
//!
//! Lifecycle methods (`open`, `prepare`, `activate`, `close`, ...) are `async`: they may do
//! I/O, and run on the runtime's async executor. The per-tuple methods (`next_tuple`,
//! `execute`, `ack`, `fail`) are plain functions called on the executor's own thread:
//! an async call per tuple costs a boxed future (see `benches/dispatch.rs`), so the hot
//! path stays synchronous. A component that needs async I/O per tuple can hand work to
//! its own tasks from `execute`.

use async_trait::async_trait;

use crate::api::collector::{BasicCollector, BoltCollector, SpoutCollector};
use crate::api::context::TopologyContext;
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::ids::MessageId;
use crate::api::tuple::Tuple;

/// A source of tuples.
///
/// The executor calls `next_tuple` in a loop while the topology is active; a call that
/// emits nothing makes the executor back off briefly. A finite spout returns `true` from
/// [`Spout::is_exhausted`] once it has nothing more to emit, which lets local mode end
/// when all tuples are processed.
#[async_trait]
pub trait Spout: Send + 'static {
    /// Declare the output streams.
    fn declare_outputs(&self, out: &mut OutputDeclarer);

    /// Called once on the executor before any other call.
    async fn open(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        Ok(())
    }

    /// The topology was activated (also called once after `open`).
    async fn activate(&mut self) {}

    /// The topology was deactivated: `next_tuple` is not called until `activate`.
    async fn deactivate(&mut self) {}

    /// Emit zero or more tuples. Must not block for long.
    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError>;

    /// Whether the spout has nothing left to emit, now or later (unless a `fail` makes it
    /// replay). Unbounded spouts keep the default `false`.
    fn is_exhausted(&self) -> bool {
        false
    }

    /// The tuple tree of message `id` was fully processed.
    fn ack(&mut self, _id: MessageId) {}

    /// The tuple tree of message `id` failed or timed out; replay it if the source can.
    fn fail(&mut self, _id: MessageId) {}

    /// Called once when the topology stops.
    async fn close(&mut self) {}
}

/// A processor of tuples that acks and fails its inputs itself (Storm's `IRichBolt`).
///
/// Every input must eventually be acked or failed through the collector, possibly later
/// than the `execute` call that received it. Most bolts want [`BasicBolt`] instead.
#[async_trait]
pub trait Bolt: Send + 'static {
    /// Declare the output streams (none by default: a sink).
    fn declare_outputs(&self, _out: &mut OutputDeclarer) {}

    /// Called once on the executor before the first tuple.
    async fn prepare(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Process one input tuple. An `Err` is reported (counted, logged) and processing
    /// goes on; acking or failing `input` stays the bolt's job.
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError>;

    /// Called on the executor's thread after a [`crate::api::context::Waker`] of this
    /// executor was woken (see [`TopologyContext::waker`]): emit, ack and fail what the
    /// bolt's own threads prepared. An `Err` is reported like one from `execute`.
    fn wake(&mut self, _out: &mut BoltCollector) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Called once when the topology stops.
    async fn cleanup(&mut self) {}
}

/// A bolt whose emits are anchored to the input automatically and whose input is acked
/// when `execute` returns `Ok` and failed when it returns `Err` (Storm's `IBasicBolt`).
#[async_trait]
pub trait BasicBolt: Send + 'static {
    /// Declare the output streams (none by default: a sink).
    fn declare_outputs(&self, _out: &mut OutputDeclarer) {}

    /// Called once on the executor before the first tuple.
    async fn prepare(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Process one input tuple; emits through `out` are anchored to it.
    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError>;

    /// Called once when the topology stops.
    async fn cleanup(&mut self) {}
}

/// Runs a [`BasicBolt`] as a [`Bolt`]: anchors its emits, acks on `Ok`, fails on `Err`.
pub struct Basic<B>(pub B);

#[async_trait]
impl<B: BasicBolt> Bolt for Basic<B> {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        self.0.declare_outputs(out)
    }

    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.0.prepare(ctx).await
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.0
                .execute(&input, &mut BasicCollector::new(out, &input))
        }))
        .unwrap_or_else(|panic| Err(ComponentError::from_panic(panic.as_ref())));
        match result {
            Ok(()) => {
                out.ack(&input);
                Ok(())
            }
            Err(e) => {
                out.fail(&input);
                Err(e)
            }
        }
    }

    async fn cleanup(&mut self) {
        self.0.cleanup().await
    }
}
