//! The checkpoint spout (Storm's `CheckpointSpout`): one task, `$checkpointspout`,
//! emitting `$checkpoint` tuples `(txid, action)` anchored with the txid as message id,
//! driven by [`CheckpointSpoutState`]. Its state is kept through a [`TxStateStore`]
//! opened per task (namespace `$checkpointspout-<task>`).

use std::sync::Arc;
use std::time::Duration;

use crate::api::collector::SpoutCollector;
use crate::api::component::Spout;
use crate::api::context::TopologyContext;
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::ids::MessageId;
use crate::engine::clock::{Clock, SystemClock};
use crate::state::StateError;
use crate::topology::config::TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS;

use super::spout_state::{CheckpointSpoutState, MemoryTxStore, TxStateStore};
use super::{CHECKPOINT_STREAM, FIELD_ACTION, FIELD_TXID, effective_interval_ms, spout_namespace};

/// The registered class name of the checkpoint spout (registered by
/// [`crate::Registry::stateful_bolt`]).
pub const CHECKPOINT_SPOUT_CLASS: &str = "$CheckpointSpout";

/// Opens the checkpoint spout's store for a namespace (`$checkpointspout-<task>`).
pub type TxStoreOpener =
    Arc<dyn Fn(&TopologyContext, &str) -> Result<Box<dyn TxStateStore>, StateError> + Send + Sync>;

/// The opener used unless another is given: a store in memory, like Storm's default
/// in-memory state provider (nothing survives a worker restart).
pub fn memory_opener() -> TxStoreOpener {
    Arc::new(|_, _| Ok(Box::new(MemoryTxStore::default()) as Box<dyn TxStateStore>))
}

/// The message id carrying `txid` (a bijection; `-1` maps to `u64::MAX`).
fn message_id(txid: i64) -> MessageId {
    txid as MessageId
}

/// The txid a message id carries.
fn txid_of(id: MessageId) -> i64 {
    id as i64
}

/// The `$checkpointspout` component.
pub struct CheckpointSpout {
    open_store: TxStoreOpener,
    store: Option<Box<dyn TxStateStore>>,
    machine: Option<CheckpointSpoutState>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for CheckpointSpout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSpout")
            .field("state", &self.machine.as_ref().map(|m| m.current()))
            .finish()
    }
}

impl CheckpointSpout {
    /// A checkpoint spout keeping its state through `open_store`.
    pub fn new(open_store: TxStoreOpener) -> Self {
        CheckpointSpout {
            open_store,
            store: None,
            machine: None,
            clock: Arc::new(SystemClock),
        }
    }
}

#[crate::async_trait]
impl Spout for CheckpointSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare_stream(CHECKPOINT_STREAM, &[FIELD_TXID, FIELD_ACTION]);
    }

    async fn open(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.clock = ctx.clock().clone();
        let namespace = spout_namespace(ctx.this_task().0);
        let interval = effective_interval_ms(
            ctx.config()
                .setting_u64(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS),
        );
        let mut store = (self.open_store)(ctx, &namespace)
            .map_err(|e| ComponentError::msg(format!("checkpoint spout: {e}")))?;
        let machine = CheckpointSpoutState::open(store.as_mut(), Duration::from_millis(interval))
            .map_err(|e| ComponentError::msg(format!("checkpoint spout: {e}")))?;
        tracing::info!(%namespace, interval_ms = interval, state = ?machine.current(), "checkpoint spout open");
        self.store = Some(store);
        self.machine = Some(machine);
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        let (Some(machine), Some(store)) = (self.machine.as_mut(), self.store.as_mut()) else {
            return Ok(());
        };
        let now = self.clock.now();
        let step = machine
            .poll(now, store.as_mut())
            .map_err(|e| ComponentError::msg(format!("checkpoint spout: {e}")))?;
        if let Some(cp) = step {
            tracing::debug!(checkpoint = %cp, "checkpoint");
            out.emit_stream(
                CHECKPOINT_STREAM,
                crate::values![cp.txid, cp.action.as_str()],
                Some(message_id(cp.txid)),
            )?;
        }
        Ok(())
    }

    fn ack(&mut self, id: MessageId) {
        let (Some(machine), Some(store)) = (self.machine.as_mut(), self.store.as_mut()) else {
            return;
        };
        if let Err(e) = machine.ack(txid_of(id), store.as_mut()) {
            tracing::error!("checkpoint spout: {e}");
        }
    }

    fn fail(&mut self, id: MessageId) {
        if let Some(machine) = self.machine.as_mut() {
            machine.fail(txid_of(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_carry_txids() {
        for t in [-1i64, 0, 1, i64::MAX] {
            assert_eq!(txid_of(message_id(t)), t);
        }
        assert_eq!(message_id(-1), u64::MAX);
    }
}
