//! The checkpoint forwarder (Storm's `CheckpointTupleForwarder`): wraps a bolt that is
//! not stateful in a topology that has stateful bolts, so checkpoint tuples flow past
//! it — once a `(txid, action)` arrived from every upstream task, it is emitted on
//! `$checkpoint` anchored to the last copy, and every copy is acked. Other tuples go
//! to the bolt unchanged.

use async_trait::async_trait;

use super::barrier::{Arrival, Barrier};
use super::{Action, CHECKPOINT_STREAM, Checkpoint, FIELD_ACTION, FIELD_TXID};
use crate::api::collector::BoltCollector;
use crate::api::component::Bolt;
use crate::api::context::TopologyContext;
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::tuple::Tuple;

/// A bolt that forwards checkpoint tuples past the bolt it wraps.
pub struct Forwarder {
    inner: Box<dyn Bolt>,
    barrier: Barrier,
    /// The bolt handles `$checkpoint` itself (a persistent window): pass everything.
    pass: bool,
}

impl Forwarder {
    /// Wrap `inner`.
    pub fn new(inner: Box<dyn Bolt>) -> Self {
        Forwarder {
            inner,
            barrier: Barrier::new(1),
            pass: false,
        }
    }

    /// With `pass`, hand every tuple, `$checkpoint` ones too, to the wrapped bolt,
    /// which runs the checkpoint protocol itself (a persistent window: its class may
    /// also be used by components whose window is not persistent).
    pub fn passing(mut self, pass: bool) -> Self {
        self.pass = pass;
        self
    }
}

/// The `(txid, action)` of a `$checkpoint` tuple.
pub(crate) fn parse_checkpoint(input: &Tuple) -> Result<Checkpoint, ComponentError> {
    let txid = input.i64_by_field(FIELD_TXID)?;
    let name = input.str_by_field(FIELD_ACTION)?;
    let action = Action::parse(name)
        .ok_or_else(|| ComponentError::msg(format!("checkpoint tuple: unknown action '{name}'")))?;
    Ok(Checkpoint { txid, action })
}

/// The number of tasks `ctx`'s component reads `$checkpoint` from (the barrier's count).
pub(crate) fn checkpoint_sources(ctx: &TopologyContext) -> usize {
    let me = ctx.this_component();
    ctx.subscriptions()
        .iter()
        .filter(|s| s.to == me && s.stream == CHECKPOINT_STREAM)
        .map(|s| ctx.component_tasks(&s.from).len())
        .sum()
}

#[async_trait]
impl Bolt for Forwarder {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        self.inner.declare_outputs(out);
        if !self.pass {
            out.declare_stream(CHECKPOINT_STREAM, &[FIELD_TXID, FIELD_ACTION]);
        }
    }

    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.barrier = Barrier::new(checkpoint_sources(ctx));
        self.inner.prepare(ctx).await
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        if self.pass || input.source_stream() != CHECKPOINT_STREAM {
            return self.inner.execute(input, out);
        }
        let cp = match parse_checkpoint(&input) {
            Ok(cp) => cp,
            Err(e) => {
                out.fail(&input);
                return Err(e);
            }
        };
        let sent = match self.barrier.arrive(cp) {
            Arrival::Handle => {
                let sent = out.emit_stream(
                    CHECKPOINT_STREAM,
                    &[&input],
                    crate::values![cp.txid, cp.action.as_str()],
                );
                self.barrier.handled(cp);
                sent
            }
            Arrival::Wait | Arrival::Stale => Ok(()),
        };
        out.ack(&input);
        sent.map_err(ComponentError::from)
    }

    fn wake(&mut self, out: &mut BoltCollector) -> Result<(), ComponentError> {
        self.inner.wake(out)
    }

    async fn cleanup(&mut self) {
        self.inner.cleanup().await
    }
}
