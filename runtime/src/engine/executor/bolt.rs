//! The bolt executor loop.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TryRecvError};
use tokio::runtime::Handle;

use super::{Gate, guarded};
use crate::api::collector::BoltCollector;
use crate::api::component::Bolt;
use crate::api::context::TopologyContext;
use crate::api::error::{ComponentError, RunError};
use crate::api::ids::TaskId;
use crate::api::tuple::Tuple;
use crate::engine::metrics::samples::Latency;
use crate::engine::run_state::RunState;
use crate::engine::transfer::{Envelope, Inbox};

/// One bolt task: the instance, its collector and context.
pub(crate) struct BoltTask {
    pub(crate) id: TaskId,
    pub(crate) bolt: Box<dyn Bolt>,
    pub(crate) collector: BoltCollector,
    pub(crate) ctx: TopologyContext,
}

impl BoltTask {
    /// Execute every tuple of a batch, emptying it. A panic in `execute` is caught once
    /// per batch, not around each tuple: it is reported as that tuple's error and the
    /// batch goes on with the next tuple.
    #[inline]
    fn execute_batch(&mut self, tuples: &mut Vec<Tuple>) {
        let mut rest = tuples.drain(..);
        while let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
            for tuple in &mut rest {
                self.execute(tuple);
            }
        })) {
            self.panicked(panic.as_ref());
        }
    }

    /// Execute one tuple, a panic caught as an error.
    fn execute_one(&mut self, tuple: Tuple) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.execute(tuple))) {
            self.panicked(panic.as_ref());
        }
    }

    /// `execute` panicked: report it, and forget the sampled execute it interrupted.
    #[cold]
    fn panicked(&mut self, payload: &(dyn Any + Send)) {
        let inputs = &mut self.collector.inputs;
        inputs.executing = 0;
        inputs.acked_during = None;
        inputs.run_end = None;
        self.collector
            .report_error(&ComponentError::from_panic(payload));
    }

    /// Execute one tuple (panics propagate: the callers catch them).
    #[inline]
    fn execute(&mut self, tuple: Tuple) {
        let out = &mut self.collector;
        out.inputs.executed(tuple.schema());
        if out.inputs.sampler.sample() {
            self.execute_sampled(tuple);
            return;
        }
        if let Err(e) = self.bolt.execute(tuple, out) {
            out.report_error(&e);
        }
    }

    /// Execute `tuple` and measure it: the execute latency now, its process latency
    /// when it is acked (the tuple carries its start).
    #[inline(never)]
    fn execute_sampled(&mut self, mut tuple: Tuple) {
        let (bolt, out) = (&mut self.bolt, &mut self.collector);
        let input = out.inputs.index(tuple.schema());
        // Continuing a run within a batch: the previous sampled execute just ended.
        let start = match out.inputs.run_end.take() {
            Some(end) if out.inputs.sampler.continues_run() => end,
            _ => out.inputs.ticks.now(),
        };
        let stamp = out.inputs.stamp(start);
        tuple.sampled_at = stamp;
        out.inputs.executing = stamp;
        if let Err(e) = bolt.execute(tuple, out) {
            out.report_error(&e);
        }
        out.inputs.executing = 0;
        let end = out.inputs.ticks.now();
        out.inputs.run_end = Some(end);
        let us = out.inputs.ticks.micros(start, end);
        // Acked inside `execute`: its process latency ends here too.
        match (input, out.inputs.acked_during.take()) {
            (Some(i), Some(j)) if i == j => out.em.sample(Latency::ExecuteAndProcess, i, us),
            (i, j) => {
                if let Some(i) = i {
                    out.em.sample(Latency::Execute, i, us);
                }
                if let Some(j) = j {
                    out.em.sample(Latency::Process, j, us);
                }
            }
        }
    }

    fn finish(&mut self) {
        self.collector.em.finish();
        self.collector.publish();
    }
}

/// Runs the tasks of one bolt component on one thread.
pub(crate) struct BoltExecutor {
    pub(crate) tasks: Vec<BoltTask>,
    pub(crate) inbox: Inbox,
    pub(crate) run: Arc<RunState>,
    /// `Duration::ZERO`: flush after every input batch.
    pub(crate) flush_every: Duration,
    /// Set by the tasks' `Waker`s: call `Bolt::wake` on every task.
    pub(crate) wake: Arc<AtomicBool>,
}

impl BoltExecutor {
    /// Prepare, wait for the gate, loop until stopped, clean up.
    pub(crate) fn run(mut self, rt: Handle, ready: Sender<Result<(), RunError>>, gate: Arc<Gate>) {
        for t in &mut self.tasks {
            if let Err(source) = guarded(|| rt.block_on(t.bolt.prepare(&t.ctx))) {
                let _ = ready.send(Err(RunError::Lifecycle {
                    component: t.ctx.this_component().to_string(),
                    task: t.id,
                    source: Box::new(source),
                }));
                return;
            }
        }
        let _ = ready.send(Ok(()));
        if gate.wait() {
            self.main_loop();
        }
        for t in &mut self.tasks {
            rt.block_on(t.bolt.cleanup());
            t.finish();
        }
    }

    fn task_index(&self, task: TaskId) -> usize {
        if self.tasks.len() == 1 {
            return 0;
        }
        self.tasks.iter().position(|t| t.id == task).unwrap_or(0)
    }

    /// Clear the wake flag and call `wake` on every task.
    fn wake_tasks(&mut self) {
        self.wake.store(false, Ordering::Release);
        for t in &mut self.tasks {
            let (bolt, out) = (&mut t.bolt, &mut t.collector);
            if let Err(e) = guarded(|| bolt.wake(out)) {
                out.report_error(&e);
            }
            let delta = t.collector.em.outbox.take_uncounted();
            t.collector.publish();
            self.run.add_in_flight(delta);
        }
    }

    fn flush_all(&mut self) {
        for t in &mut self.tasks {
            t.collector.em.outbox.flush();
        }
    }

    fn main_loop(&mut self) {
        let mut last_flush = Instant::now();
        loop {
            let env = match self.inbox.try_recv() {
                Ok(env) => env,
                Err(TryRecvError::Empty) => {
                    self.flush_all();
                    for t in &mut self.tasks {
                        t.collector.publish();
                    }
                    match self.inbox.recv() {
                        Ok(env) => env,
                        Err(_) => return,
                    }
                }
                Err(TryRecvError::Disconnected) => return,
            };
            match env {
                Envelope::Batch { task, mut tuples } => {
                    let n = tuples.len() as i64;
                    let i = self.task_index(task);
                    let t = &mut self.tasks[i];
                    t.execute_batch(&mut tuples);
                    // A sampled run does not continue across the wait for the next batch.
                    t.collector.inputs.run_end = None;
                    self.inbox.recycle(tuples);
                    let delta = t.collector.em.outbox.take_uncounted() - n;
                    t.collector.publish();
                    self.run.add_in_flight(delta);
                }
                Envelope::Tick { freq_secs } => {
                    for t in &mut self.tasks {
                        t.execute_one(Tuple::tick(freq_secs));
                        t.collector.inputs.run_end = None;
                    }
                }
                Envelope::Stop => return,
                // The flag check below does the work.
                Envelope::Wake | Envelope::Acks { .. } | Envelope::Completions(_) => {}
            }
            if self.wake.load(Ordering::Acquire) {
                self.wake_tasks();
            }
            if self.run.stopping() {
                return;
            }
            let now = Instant::now();
            if now.duration_since(last_flush) >= self.flush_every {
                self.flush_all();
                last_flush = now;
            }
        }
    }
}
