//! The master batch coordinator: a spout (one task) that starts batches (`$batch`,
//! with each Trident spout's metadata), commits them in txid order (`$commit`) once
//! their tuple trees complete, and replays failed ones — driven by
//! [`BatchCoordinator`]. It measures each batch's latency from its first start to its
//! commit.
//!
//! Its commit log and the spouts' batch metadata live in the topology's
//! [`MetaStore`](super::meta::MetaStore) (nimbus in a cluster, so the coordinator resumes
//! its txids on whichever supervisor it runs next; the topology's files in local mode),
//! and are durable before the batch they describe is emitted: a batch whose metadata
//! cannot be written is not emitted, it fails and is retried.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::commit_log::CommitLog;
use super::coordinator::{Action, BatchCoordinator, TransactionAttempt};
use super::meta::{MetaKey, MetaSlot};
use super::spout::{BatchSpout, CoordinatorContext, SpoutCoordinator};
use super::tx::{self, BATCH_STREAM, COMMIT_STREAM, TX_FIELD, WireAttempts};
use crate::api::component::Spout;
use crate::api::context::TopologyContext;
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::ids::MessageId;
use crate::engine::clock::{self, Clock};
use crate::{SpoutCollector, Value};

/// Settings of the master coordinator.
#[derive(Clone)]
pub(crate) struct MasterSettings {
    /// Each Trident spout with its stream name (which keys its metadata).
    pub spouts: Vec<(String, Arc<dyn BatchSpout>)>,
    pub max_pending: usize,
    pub interval: Duration,
    /// The commit log file of local mode (a worker keeps it at nimbus).
    pub commit_log: Option<PathBuf>,
    /// The files of the topology's durable states: they need a durable commit record.
    pub durable_states: Vec<PathBuf>,
}

/// How long the master waits before it starts batches again after their metadata
/// could not be written.
const PLAN_RETRY_PAUSE: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
enum Kind {
    Batch,
    Commit,
}

/// Batch latencies (first start to commit) of the masters in this process, newest
/// last; at most [`LATENCY_SAMPLES`] kept.
static LATENCIES: Mutex<VecDeque<Duration>> = Mutex::new(VecDeque::new());
const LATENCY_SAMPLES: usize = 100_000;

/// Batch latencies (from a batch's first start to its commit) recorded by the master
/// coordinators of this process since the last call; drains them.
pub fn take_batch_latencies() -> Vec<Duration> {
    LATENCIES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .collect()
}

pub(crate) struct MasterSpout {
    settings: MasterSettings,
    coordinators: Vec<Box<dyn SpoutCoordinator>>,
    coord: BatchCoordinator,
    log: Option<CommitLog>,
    base: u64,
    msgs: HashMap<MessageId, (Kind, TransactionAttempt)>,
    next_msg: MessageId,
    queued: VecDeque<Action>,
    started: HashMap<u64, Instant>,
    /// How attempts are named on the wire (epoch and attempt within it).
    wires: WireAttempts,
    clock: Arc<dyn Clock>,
    /// No batch starts before this (after a planning failure).
    hold_until: Option<Instant>,
}

impl MasterSpout {
    pub fn new(settings: MasterSettings) -> Self {
        let coord = BatchCoordinator::new(settings.max_pending, settings.interval);
        MasterSpout {
            settings,
            coordinators: Vec::new(),
            coord,
            log: None,
            base: 0,
            msgs: HashMap::new(),
            next_msg: 1,
            queued: VecDeque::new(),
            started: HashMap::new(),
            wires: WireAttempts::new(0),
            clock: clock::system(),
            hold_until: None,
        }
    }

    /// The attempt as the bolts see it (of the latest start of `ta`'s txid): the txid
    /// past the last commit of earlier runs, the attempt numbered by [`WireAttempts`].
    fn wire(&self, ta: TransactionAttempt) -> TransactionAttempt {
        TransactionAttempt {
            txid: ta.txid + self.base,
            attempt: self.wires.latest(ta.txid).unwrap_or_default(),
        }
    }

    /// Name a new start of `ta` on the wire; starts a new epoch, durably, when this one
    /// has no attempt of the txid left (so an attempt never wraps into an older one).
    fn name_start(&mut self, ta: TransactionAttempt) -> Result<TransactionAttempt, String> {
        if self.wires.start(ta.txid).is_none() {
            let epoch = match &mut self.log {
                Some(log) => log.next_epoch().map_err(|e| e.to_string())?,
                None => self.wires.epoch().wrapping_add(1),
            };
            tracing::info!(
                epoch,
                txid = ta.txid + self.base,
                "trident master: a txid used up the attempts of an epoch; new epoch"
            );
            self.wires.set_epoch(epoch);
            self.wires.start(ta.txid);
        }
        Ok(self.wire(ta))
    }

    fn handle(&mut self, action: Action, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        match action {
            Action::Start(ta) => {
                let wire = match self.name_start(ta) {
                    Ok(wire) => wire,
                    Err(e) => {
                        self.coord.failed(ta);
                        self.hold_until = Some(self.clock.now() + PLAN_RETRY_PAUSE);
                        return Err(ComponentError::msg(format!(
                            "starting a new epoch for batch {} (not emitted; retried): {e}",
                            ta.txid + self.base
                        )));
                    }
                };
                let mut metas = Vec::with_capacity(self.coordinators.len());
                for c in &mut self.coordinators {
                    match c.plan(wire) {
                        Ok(m) => metas.push(m),
                        Err(e) => {
                            // Could not plan (or record the plan): the batch is not
                            // emitted; it fails and is retried after a pause.
                            self.coord.failed(ta);
                            self.hold_until = Some(self.clock.now() + PLAN_RETRY_PAUSE);
                            return Err(ComponentError::msg(format!(
                                "planning batch {wire} (not emitted; retried): {e}"
                            )));
                        }
                    }
                }
                let now = self.clock.now();
                self.started.entry(wire.txid).or_insert(now);
                let id = self.msg(Kind::Batch, ta);
                out.emit_stream(
                    BATCH_STREAM,
                    crate::values![tx::pack(wire), Value::from(metas)],
                    Some(id),
                )?;
            }
            Action::Commit(ta) => {
                let id = self.msg(Kind::Commit, ta);
                out.emit_stream(
                    COMMIT_STREAM,
                    crate::values![tx::pack(self.wire(ta))],
                    Some(id),
                )?;
            }
            Action::Success(ta) => {
                let txid = self.wire(ta).txid;
                if let Some(log) = &mut self.log {
                    // Spouts forget the metadata of older batches only once the commit
                    // is durable: a failure here keeps it, and a restarted coordinator
                    // replays `txid` (which the states recognise as applied).
                    log.record(txid).map_err(|e| {
                        ComponentError::msg(format!("recording the commit of txid {txid}: {e}"))
                    })?;
                }
                for c in &mut self.coordinators {
                    c.success(txid);
                }
                self.wires.done(ta.txid);
                if let Some(t0) = self.started.remove(&txid) {
                    let mut l = LATENCIES.lock().unwrap_or_else(PoisonError::into_inner);
                    if l.len() >= LATENCY_SAMPLES {
                        l.pop_front();
                    }
                    l.push_back(self.clock.now().saturating_duration_since(t0));
                }
            }
        }
        Ok(())
    }

    fn msg(&mut self, kind: Kind, ta: TransactionAttempt) -> MessageId {
        let id = self.next_msg;
        self.next_msg += 1;
        self.msgs.insert(id, (kind, ta));
        id
    }
}

#[async_trait]
impl Spout for MasterSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare_stream(BATCH_STREAM, &[TX_FIELD, "$meta"]);
        out.declare_stream(COMMIT_STREAM, &[TX_FIELD]);
    }

    async fn open(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        // The emit interval and batch latencies run on the topology's clock (a test
        // harness may drive it by hand).
        self.clock = ctx.clock().clone();
        let slot = match (ctx.trident_meta(), &self.settings.commit_log) {
            (Some(store), _) => Some(MetaSlot::new(store.clone(), MetaKey::coordinator())),
            (None, Some(path)) => Some(
                MetaSlot::file(path)
                    .map_err(|e| ComponentError::msg(format!("trident commit log: {e}")))?,
            ),
            (None, None) => None,
        };
        super::commit_log::check_durable(&self.settings.durable_states, slot.as_ref())
            .map_err(ComponentError::msg)?;
        let log = CommitLog::open(slot)
            .map_err(|e| ComponentError::msg(format!("trident commit log: {e}")))?;
        // The coordinator counts txids from 1: offset them past the last commit.
        self.base = log.committed();
        self.wires = WireAttempts::new(log.epoch());
        self.log = Some(log);
        for (name, s) in &self.settings.spouts {
            let cctx = CoordinatorContext::new(name, ctx.trident_meta())
                .with_topology_id(ctx.topology_id());
            self.coordinators.push(
                s.coordinator(&cctx).map_err(|e| {
                    ComponentError::msg(format!("coordinator of spout '{name}': {e}"))
                })?,
            );
        }
        tracing::info!(
            resume_after = self.base,
            epoch = self.wires.epoch(),
            metadata = if ctx.trident_meta().is_some() {
                "nimbus"
            } else {
                "local files"
            },
            "trident master coordinator open"
        );
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        while let Some(a) = self.queued.pop_front() {
            self.handle(a, out)?;
        }
        let now = self.clock.now();
        if self.hold_until.is_some_and(|t| now < t) {
            return Ok(());
        }
        self.hold_until = None;
        let ready = self.coord.wants_new(now) && self.coordinators.iter().all(|c| c.is_ready());
        for a in self.coord.poll(now, ready) {
            self.handle(a, out)?;
        }
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.queued.is_empty()
            && self.msgs.is_empty()
            && self.coord.in_flight() == 0
            && self.coordinators.iter().all(|c| c.is_exhausted())
    }

    fn ack(&mut self, id: MessageId) {
        let Some((kind, ta)) = self.msgs.remove(&id) else {
            return;
        };
        let actions = match kind {
            Kind::Batch => self.coord.batch_processed(ta),
            Kind::Commit => self.coord.commit_done(ta),
        };
        self.queued.extend(actions);
    }

    fn fail(&mut self, id: MessageId) {
        if let Some((_, ta)) = self.msgs.remove(&id) {
            tracing::debug!(batch = %self.wire(ta), "trident batch failed; replaying");
            self.coord.failed(ta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trident::meta::MetaSlot;

    /// A txid replayed more often than one epoch can name: the master records a new
    /// epoch durably and goes on with attempts newer than every earlier one, so a
    /// restart after it starts newer still.
    #[test]
    fn a_txid_that_uses_up_an_epoch_moves_the_master_to_a_new_durable_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coord");
        let mut m = MasterSpout::new(MasterSettings {
            spouts: Vec::new(),
            max_pending: 1,
            interval: Duration::ZERO,
            commit_log: None,
            durable_states: Vec::new(),
        });
        let log = CommitLog::open(Some(MetaSlot::file(&path).unwrap())).unwrap();
        m.base = log.committed();
        m.wires = WireAttempts::new(log.epoch());
        m.log = Some(log);
        let mut last = None;
        for attempt in 0..=4096u32 {
            let wire = m
                .name_start(TransactionAttempt { txid: 1, attempt })
                .unwrap();
            if let Some(prev) = last {
                assert!(
                    tx::is_newer(wire.attempt, prev),
                    "attempt {attempt}: {:#x} after {prev:#x}",
                    wire.attempt
                );
            }
            last = Some(wire.attempt);
        }
        assert_eq!(m.wires.epoch(), 1);
        let reopened = CommitLog::open(Some(MetaSlot::file(&path).unwrap())).unwrap();
        assert_eq!(
            reopened.epoch(),
            2,
            "epoch 1 was recorded before it was used"
        );
        let after_restart = WireAttempts::new(reopened.epoch()).start(1).unwrap();
        assert!(tx::is_newer(after_restart, last.unwrap()));
    }
}
