//! The spout executor loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender};
use tokio::runtime::Handle;

use super::{Gate, guarded};
use crate::collector::SpoutCollector;
use crate::component::Spout;
use crate::context::TopologyContext;
use crate::error::RunError;
use crate::ids::TaskId;
use crate::run_state::RunState;
use crate::transfer::{Envelope, Inbox};

/// Longest an idle spout sleeps between `next_tuple` calls (Storm's default wait).
const IDLE_WAIT: Duration = Duration::from_millis(1);
/// Idle rounds spent yielding before sleeping.
const IDLE_YIELDS: u32 = 16;
/// `next_tuple` rounds between flush-timer checks.
const CHECK_EVERY: u32 = 64;
/// `next_tuple` rounds between checks of the executor's own queue.
const CONTROL_EVERY: u32 = 16;

/// One spout task: the instance, its collector and context.
pub(crate) struct SpoutTask {
    pub(crate) id: TaskId,
    pub(crate) spout: Box<dyn Spout>,
    pub(crate) collector: SpoutCollector,
    pub(crate) ctx: TopologyContext,
    pub(crate) exhausted: bool,
}

impl SpoutTask {
    /// Call `next_tuple` once; returns whether it emitted anything.
    #[inline]
    fn poll(&mut self, run: &RunState) -> bool {
        let before = self.collector.em.counters.emitted;
        let (spout, out) = (&mut self.spout, &mut self.collector);
        if let Err(e) = guarded(|| spout.next_tuple(out)) {
            out.report_error(&e);
        }
        for id in self.collector.immediate_acks.drain(..) {
            self.collector.em.counters.acked += 1;
            self.spout.ack(id);
        }
        let emitted = self.collector.em.counters.emitted != before;
        if !emitted && self.spout.is_exhausted() {
            self.exhausted = true;
            self.publish();
            self.collector.em.outbox.flush();
            run.spout_exhausted();
        }
        emitted
    }

    fn publish(&self) {
        self.collector.em.stats.publish(&self.collector.em.counters);
    }

    fn finish(&mut self) {
        self.collector.em.finish();
    }
}

/// Runs the tasks of one spout component on one thread.
pub(crate) struct SpoutExecutor {
    pub(crate) tasks: Vec<SpoutTask>,
    pub(crate) inbox: Inbox,
    pub(crate) run: Arc<RunState>,
    pub(crate) flush_every: Duration,
}

impl SpoutExecutor {
    /// Open, wait for the gate, loop until stopped, deactivate and close.
    pub(crate) fn run(mut self, rt: Handle, ready: Sender<Result<(), RunError>>, gate: Arc<Gate>) {
        for t in &mut self.tasks {
            if let Err(source) = guarded(|| rt.block_on(t.spout.open(&t.ctx))) {
                let _ = ready.send(Err(RunError::Lifecycle {
                    component: t.ctx.this_component().to_string(),
                    task: t.id,
                    source: Box::new(source),
                }));
                return;
            }
        }
        let _ = ready.send(Ok(()));
        let go = gate.wait();
        if go {
            for t in &mut self.tasks {
                rt.block_on(t.spout.activate());
            }
            self.main_loop();
        }
        for t in &mut self.tasks {
            if go {
                rt.block_on(t.spout.deactivate());
            }
            rt.block_on(t.spout.close());
            t.finish();
        }
    }

    fn flush_all(&mut self) {
        for t in &mut self.tasks {
            t.collector.em.outbox.flush();
            t.publish();
        }
    }

    /// Handle queued control messages; returns `false` to stop.
    fn drain_control(&mut self) -> bool {
        while let Ok(env) = self.inbox.rx.try_recv() {
            if !self.handle(env) {
                return false;
            }
        }
        true
    }

    fn handle(&mut self, env: Envelope) -> bool {
        match env {
            Envelope::Stop => false,
            // Spouts take no input tuples and consume their ticks internally.
            Envelope::Batch { .. } | Envelope::Tick { .. } => true,
        }
    }

    fn main_loop(&mut self) {
        let mut last_flush = Instant::now();
        let mut idle_rounds = 0u32;
        let mut rounds = 0u32;
        let mut control_rounds = 0u32;
        loop {
            // Control messages (stop, and later acks) are checked every few rounds, not on
            // every `next_tuple`: a queue poll costs more than an emit.
            control_rounds += 1;
            if control_rounds >= CONTROL_EVERY {
                control_rounds = 0;
                if self.run.stopping() || !self.drain_control() {
                    return;
                }
            }
            let mut emitted = false;
            let mut live = 0;
            for t in &mut self.tasks {
                if !t.exhausted {
                    emitted |= t.poll(&self.run);
                    live += usize::from(!t.exhausted);
                }
            }
            if live == 0 {
                // Everything emitted: wait for control messages only.
                self.flush_all();
                match self.inbox.rx.recv() {
                    Ok(env) => {
                        if self.handle(env) {
                            continue;
                        }
                        return;
                    }
                    Err(_) => return,
                }
            }
            if emitted {
                idle_rounds = 0;
                rounds += 1;
                if rounds >= CHECK_EVERY {
                    rounds = 0;
                    let now = Instant::now();
                    if now.duration_since(last_flush) >= self.flush_every {
                        self.flush_all();
                        last_flush = now;
                    }
                }
            } else {
                self.flush_all();
                last_flush = Instant::now();
                idle_rounds += 1;
                if self.run.stopping() || !self.drain_control() {
                    return;
                }
                if idle_rounds <= IDLE_YIELDS {
                    std::thread::yield_now();
                } else {
                    match self.inbox.rx.recv_timeout(IDLE_WAIT) {
                        Ok(env) => {
                            if !self.handle(env) {
                                return;
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            }
        }
    }
}
