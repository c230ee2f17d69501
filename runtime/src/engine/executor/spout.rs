//! The spout executor loop: calls `next_tuple`, applies acker verdicts and message
//! timeouts, and enforces `topology.max.spout.pending`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender};
use tokio::runtime::Handle;

use super::idle::{IdleStep, IdleWait};
use super::{Gate, guarded};
use crate::api::collector::SpoutCollector;
use crate::api::component::Spout;
use crate::api::context::TopologyContext;
use crate::api::error::RunError;
use crate::api::ids::{MessageId, TaskId};
use crate::engine::acking::{Completion, Outcome};
use crate::engine::metrics::samples::Latency;
use crate::engine::run_state::RunState;
use crate::engine::transfer::{Envelope, Inbox};

/// `next_tuple` rounds between flush-timer and timeout checks.
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
    /// Call `next_tuple` once unless at `max_pending`; returns whether it emitted.
    #[inline]
    fn poll(&mut self, run: &RunState, max_pending: usize) -> bool {
        if self.collector.pending.len() >= max_pending {
            return false;
        }
        let before = self.collector.em.emitted_transferred().0;
        let (spout, out) = (&mut self.spout, &mut self.collector);
        if let Err(e) = guarded(|| spout.next_tuple(out)) {
            out.report_error(&e);
        }
        for i in 0..self.collector.immediate_acks.len() {
            let (id, stream) = self.collector.immediate_acks[i];
            self.ack(id, stream);
        }
        self.collector.immediate_acks.clear();
        let emitted = self.collector.em.emitted_transferred().0 != before;
        if !emitted && self.collector.pending.is_empty() && self.spout.is_exhausted() {
            self.exhausted = true;
            self.publish();
            self.collector.em.outbox.flush();
            run.spout_exhausted();
        }
        emitted
    }

    fn ack(&mut self, id: MessageId, stream: u16) {
        self.collector.em.counters.acked += 1;
        self.collector.em.count_root(stream, true);
        let spout = &mut self.spout;
        if let Err(e) = guarded(|| {
            spout.ack(id);
            Ok(())
        }) {
            self.collector.report_error(&e);
        }
    }

    fn fail(&mut self, id: MessageId, stream: u16) {
        self.collector.em.counters.failed += 1;
        self.collector.em.count_root(stream, false);
        self.collector.awaiting_replay.insert(id);
        let spout = &mut self.spout;
        if let Err(e) = guarded(|| {
            spout.fail(id);
            Ok(())
        }) {
            self.collector.report_error(&e);
        }
    }

    /// Apply an acker verdict (late verdicts for timed-out roots are ignored).
    fn complete(&mut self, c: Completion) {
        if c.outcome == Outcome::ResetTimeout {
            self.collector.pending.refresh(c.slot, c.root);
            return;
        }
        let Some(p) = self.collector.pending.remove(c.slot, c.root) else {
            return;
        };
        match c.outcome {
            Outcome::Acked => {
                if let Some(at) = p.emitted {
                    let ticks = &self.collector.ticks;
                    let us = ticks.micros(at, ticks.now());
                    self.collector
                        .em
                        .sample(Latency::Complete, usize::from(p.stream), us);
                }
                self.ack(p.id, p.stream);
            }
            Outcome::Failed | Outcome::ResetTimeout => self.fail(p.id, p.stream),
        }
    }

    /// One timeout period passed: fail the messages of the oldest bucket.
    fn expire(&mut self) {
        for p in self.collector.pending.rotate() {
            self.fail(p.id, p.stream);
        }
    }

    fn publish(&mut self) {
        self.collector.publish();
    }

    fn finish(&mut self) {
        self.collector.em.finish();
        self.publish();
    }
}

/// Runs the tasks of one spout component on one thread.
pub(crate) struct SpoutExecutor {
    pub(crate) tasks: Vec<SpoutTask>,
    pub(crate) inbox: Inbox,
    pub(crate) run: Arc<RunState>,
    pub(crate) flush_every: Duration,
    /// `topology.max.spout.pending` per task (`usize::MAX` = no limit).
    pub(crate) max_pending: usize,
    /// Message timeout, when acking and timeouts are on.
    pub(crate) timeout: Option<Duration>,
    /// Longest idle wait (`topology.spout.wait.max.millis`).
    pub(crate) wait_max: Duration,
    /// Set by the tasks' `Waker`s: end the idle wait.
    pub(crate) wake: Arc<AtomicBool>,
}

/// How often an inactive spout checks whether it was activated again (without a
/// doorbell).
const INACTIVE_WAIT: Duration = Duration::from_millis(100);
/// Longest park of an inactive spout (an activation change rings its doorbell).
const INACTIVE_PARK: Duration = Duration::from_secs(1);

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
        let mut active = false;
        if go {
            self.main_loop(&rt, &mut active);
        }
        for t in &mut self.tasks {
            if active {
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

    /// Handle queued control messages, and those stashed while a send blocked;
    /// returns `false` to stop.
    fn drain_control(&mut self) -> bool {
        for i in 0..self.tasks.len() {
            if self.tasks[i].collector.em.outbox.stash.is_empty() {
                continue;
            }
            let stash = std::mem::take(&mut self.tasks[i].collector.em.outbox.stash);
            for env in stash {
                if !self.handle(env) {
                    return false;
                }
            }
        }
        while let Ok(env) = self.inbox.try_recv() {
            if !self.handle(env) {
                return false;
            }
        }
        true
    }

    fn handle(&mut self, env: Envelope) -> bool {
        match env {
            Envelope::Stop => return false,
            Envelope::Completions(list) => {
                for c in list {
                    let i = if self.tasks.len() == 1 {
                        0
                    } else {
                        match self.tasks.iter().position(|t| t.id == c.spout_task) {
                            Some(i) => i,
                            None => continue,
                        }
                    };
                    self.tasks[i].complete(c);
                }
            }
            // A waker's message: the wait it ends was the point; clear the flag (a
            // read-modify-write, so what the waking thread did before is visible).
            Envelope::Wake => {
                self.wake.swap(false, Ordering::AcqRel);
            }
            // Spouts take no input tuples and time out messages by themselves.
            Envelope::Batch { .. } | Envelope::Tick { .. } | Envelope::Acks { .. } => {}
        }
        true
    }

    /// Wait up to `wait` for a message on the executor's queue, a wake, a change of
    /// activation away from `active`, or a stop, and handle what arrived; returns `false`
    /// to stop. With a doorbell the thread parks (one futex wait, no yields first);
    /// without one (a queue built by a test), it waits on the queue.
    fn idle_wait(&mut self, wait: Duration, active: bool) -> bool {
        if let Some(bell) = &self.inbox.bell {
            let (inbox, flag, run) = (&self.inbox, &self.wake, &self.run);
            bell.wait(wait, || {
                // A wake matters to an active spout only (an inactive one would spin
                // on a flag it never clears).
                !inbox.is_empty()
                    || (active && flag.load(Ordering::Acquire))
                    || run.stopping()
                    || run.active() != active
            });
            return !self.run.stopping() && self.drain_control();
        }
        match self.inbox.recv_timeout(wait) {
            Ok(env) => self.handle(env),
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        }
    }

    /// Follow the topology's activation: call `activate`/`deactivate` on a change.
    fn follow_activation(&mut self, rt: &Handle, active: &mut bool) {
        let want = self.run.active();
        if want == *active {
            return;
        }
        for t in &mut self.tasks {
            if want {
                rt.block_on(t.spout.activate());
            } else {
                rt.block_on(t.spout.deactivate());
            }
        }
        *active = want;
    }

    fn main_loop(&mut self, rt: &Handle, active: &mut bool) {
        self.follow_activation(rt, active);
        let mut last_flush = Instant::now();
        let mut next_expiry = self.timeout.map(|t| Instant::now() + t);
        let mut idle = IdleWait::new(self.wait_max);
        let mut rounds = 0u32;
        let mut control_rounds = 0u32;
        loop {
            // Control messages (stop, acker verdicts) are checked every few rounds, not
            // on every `next_tuple`: a queue poll costs more than an emit.
            control_rounds += 1;
            if control_rounds >= CONTROL_EVERY {
                control_rounds = 0;
                if self.run.stopping() || !self.drain_control() {
                    return;
                }
                self.follow_activation(rt, active);
            }
            if !*active {
                // Deactivated: no next_tuple; keep handling verdicts and timeouts.
                self.flush_all();
                let wait = match (next_expiry, &self.inbox.bell) {
                    // Parked: an activation change rings the bell; wake for timeouts.
                    (Some(at), Some(_)) => at
                        .saturating_duration_since(Instant::now())
                        .min(INACTIVE_PARK),
                    (None, Some(_)) => INACTIVE_PARK,
                    (_, None) => INACTIVE_WAIT,
                };
                if !self.idle_wait(wait, false) || self.run.stopping() || !self.drain_control() {
                    return;
                }
                self.follow_activation(rt, active);
                let now = Instant::now();
                if let (Some(at), Some(t)) = (next_expiry.as_mut(), self.timeout)
                    && now >= *at
                {
                    for task in &mut self.tasks {
                        task.expire();
                    }
                    *at = now + t;
                }
                continue;
            }
            let mut emitted = false;
            let mut live = 0;
            // Live tasks at `topology.max.spout.pending`: only acker verdicts (which ring
            // the doorbell) or timeouts let them emit again.
            let mut at_max = 0;
            for t in &mut self.tasks {
                if !t.exhausted {
                    at_max += usize::from(t.collector.pending.len() >= self.max_pending);
                    emitted |= t.poll(&self.run, self.max_pending);
                    live += usize::from(!t.exhausted);
                }
            }
            if live == 0 {
                // Everything emitted and acked: wait for control messages only.
                self.flush_all();
                match self.inbox.recv() {
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
                idle.reset();
                rounds += 1;
                if rounds < CHECK_EVERY {
                    continue;
                }
                rounds = 0;
            } else {
                if self.run.stopping() || !self.drain_control() {
                    return;
                }
                if at_max == live {
                    // Yielding would only hand the core back and forth until the verdicts
                    // arrive: wait for them at once.
                    idle.skip_yields();
                }
                let step = idle.step();
                let now = Instant::now();
                if step.sends_batches(now.duration_since(last_flush)) {
                    self.flush_all();
                    last_flush = now;
                }
                match step {
                    IdleStep::Yield => std::thread::yield_now(),
                    // Woken while polling (its message may have been dropped on a full
                    // queue): poll again at once.
                    IdleStep::Wait(_) if self.wake.swap(false, Ordering::AcqRel) => {
                        idle.reset();
                    }
                    IdleStep::Wait(wait) => {
                        if !self.idle_wait(wait, true) {
                            return;
                        }
                    }
                }
            }
            let now = Instant::now();
            if now.duration_since(last_flush) >= self.flush_every {
                self.flush_all();
                last_flush = now;
            }
            if let (Some(at), Some(t)) = (next_expiry.as_mut(), self.timeout)
                && now >= *at
            {
                for task in &mut self.tasks {
                    task.expire();
                }
                *at = now + t;
            }
        }
    }
}
