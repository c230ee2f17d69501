//! The acker executor loop: feeds acker messages to the tree state machine and sends
//! each verdict to the spout task that emitted the root.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender, TryRecvError};
use rustc_hash::FxHashMap;

use super::Gate;
use crate::api::error::RunError;
use crate::api::ids::TaskId;
use crate::engine::acking::{AckerState, Completion, Outcome};
use crate::engine::run_state::RunState;
use crate::engine::stats::{Counters, TaskStats};
use crate::engine::transfer::{Destination, Envelope, Inbox};

/// Verdicts per batch sent to a spout executor.
const BATCH: usize = 256;

/// One acker task on its own thread.
pub(crate) struct AckerExecutor {
    pub(crate) task: TaskId,
    pub(crate) state: AckerState,
    pub(crate) inbox: Inbox,
    /// Queue of each spout task's executor.
    pub(crate) spouts: FxHashMap<TaskId, Destination>,
    pub(crate) run: Arc<RunState>,
    /// Published statistics: `executed` counts acker messages handled, `acked` and
    /// `failed` the tuple trees completed and failed.
    pub(crate) stats: Arc<TaskStats>,
    /// Rotation period (the message timeout); `None`: timeouts disabled.
    pub(crate) timeout: Option<Duration>,
    pub(crate) flush_every: Duration,
}

struct Verdicts {
    /// Indexed by spout task id (task ids are small and dense).
    out: Vec<Option<(Destination, Vec<Completion>)>>,
    /// Nanoseconds spent blocked sending to full spout queues.
    blocked_ns: u64,
}

impl Verdicts {
    fn send(dest: &Destination, batch: &mut Vec<Completion>, blocked_ns: &mut u64) {
        let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
        if let Ok(ns) = dest.send_blocking(Envelope::Completions(full)) {
            *blocked_ns = blocked_ns.saturating_add(ns);
        }
    }

    fn push(&mut self, c: Completion) {
        if let Some(Some((dest, batch))) = self.out.get_mut(c.spout_task.0 as usize) {
            batch.push(c);
            if batch.len() >= BATCH {
                Verdicts::send(dest, batch, &mut self.blocked_ns);
            }
        }
    }

    fn flush(&mut self) {
        for (dest, batch) in self.out.iter_mut().flatten() {
            if !batch.is_empty() {
                Verdicts::send(dest, batch, &mut self.blocked_ns);
            }
        }
    }
}

impl AckerExecutor {
    pub(crate) fn run(self, ready: Sender<Result<(), RunError>>, gate: Arc<Gate>) {
        let _ = ready.send(Ok(()));
        if gate.wait() {
            self.main_loop();
        }
    }

    fn main_loop(mut self) {
        let mut out: Vec<Option<(Destination, Vec<Completion>)>> = Vec::new();
        for (t, d) in std::mem::take(&mut self.spouts) {
            let i = t.0 as usize;
            if out.len() <= i {
                out.resize_with(i + 1, || None);
            }
            out[i] = Some((d, Vec::with_capacity(BATCH)));
        }
        let mut verdicts = Verdicts { out, blocked_ns: 0 };
        let mut next_rotation = self.timeout.map(|t| Instant::now() + t);
        let mut last_flush = Instant::now();
        let mut counters = Counters::default();
        loop {
            let env = match self.inbox.try_recv() {
                Ok(env) => Some(env),
                Err(TryRecvError::Empty) => {
                    verdicts.flush();
                    self.stats.publish(&counters);
                    self.stats.publish_send_blocked(verdicts.blocked_ns);
                    let wait = next_rotation
                        .map(|r| r.saturating_duration_since(Instant::now()))
                        .unwrap_or(Duration::from_secs(3600));
                    match self.inbox.recv_timeout(wait) {
                        Ok(env) => Some(env),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                Err(TryRecvError::Disconnected) => return,
            };
            match env {
                Some(Envelope::Acks { msgs, .. }) => {
                    counters.executed += msgs.len() as u64;
                    self.state.handle_batch(&msgs, |c| {
                        match c.outcome {
                            Outcome::Acked => counters.acked += 1,
                            Outcome::Failed => counters.failed += 1,
                            Outcome::ResetTimeout => {}
                        }
                        verdicts.push(c);
                    });
                }
                Some(Envelope::Stop) => {
                    self.stats.publish(&counters);
                    self.stats.publish_send_blocked(verdicts.blocked_ns);
                    return;
                }
                Some(_) | None => {}
            }
            if self.run.stopping() {
                return;
            }
            let now = Instant::now();
            if let (Some(r), Some(t)) = (next_rotation.as_mut(), self.timeout)
                && now >= *r
            {
                let dropped = self.state.rotate();
                if dropped > 0 {
                    tracing::debug!(task = %self.task, dropped, "acker forgot expired trees");
                }
                *r = now + t;
            }
            if now.duration_since(last_flush) >= self.flush_every {
                verdicts.flush();
                self.stats.publish(&counters);
                self.stats.publish_send_blocked(verdicts.blocked_ns);
                last_flush = now;
            }
        }
    }
}
