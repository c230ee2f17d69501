//! Moving tuples between executors: the envelopes an executor's receive queue holds and
//! the per-task [`Outbox`] that batches outgoing tuples per destination.
//!
//! Queues are bounded (`crossbeam_channel::bounded`, capacity in batches), and a sender
//! blocks when a destination queue is full: that is the backpressure. Batching makes the
//! per-tuple cost of the channel vanish; a partial batch is sent when it fills, when the
//! sender goes idle, or after `topology.batch.flush.interval.millis`.

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::ids::TaskId;
use crate::run_state::RunState;
use crate::tuple::Tuple;

/// What an executor's receive queue holds.
#[derive(Debug)]
pub(crate) enum Envelope {
    /// Tuples for one task of the executor.
    Batch { task: TaskId, tuples: Vec<Tuple> },
    /// A tick for every task of the executor.
    Tick { freq_secs: u64 },
    /// Stop now.
    Stop,
}

/// The sending side of an executor's receive queue, with the pool of emptied batch
/// buffers the executor hands back (so batches are reused, not allocated and freed on
/// different threads).
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    pub(crate) queue: Sender<Envelope>,
    pool: Receiver<Vec<Tuple>>,
}

/// The receiving side of an executor's queue.
#[derive(Debug)]
pub(crate) struct Inbox {
    pub(crate) rx: Receiver<Envelope>,
    recycle: Sender<Vec<Tuple>>,
}

impl Inbox {
    /// Hand an emptied batch buffer back to the senders.
    #[inline]
    pub(crate) fn recycle(&self, mut batch: Vec<Tuple>) {
        batch.clear();
        let _ = self.recycle.try_send(batch);
    }
}

/// A bounded executor queue of `capacity` batches.
pub(crate) fn channel(capacity: usize) -> (Destination, Inbox) {
    let (queue, rx) = bounded(capacity);
    let (recycle, pool) = bounded(capacity + 2);
    (Destination { queue, pool }, Inbox { rx, recycle })
}

/// A destination task's pending batch and the queue of the executor that runs it.
#[derive(Debug)]
struct Slot {
    task: TaskId,
    dest: Destination,
    batch: Vec<Tuple>,
}

/// Outgoing tuples of one task, batched per destination task.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// Task id -> index into `slots` (u32::MAX = not a destination).
    index: Vec<u32>,
    slots: Vec<Slot>,
    batch_size: usize,
    /// Tuples pushed but not yet added to the run's in-flight count.
    uncounted: i64,
    run: Arc<RunState>,
    /// Whether any slot holds a partial batch.
    dirty: bool,
}

impl Outbox {
    /// An outbox able to reach `destinations` (task, queue of its executor).
    pub(crate) fn new(
        destinations: impl IntoIterator<Item = (TaskId, Destination)>,
        batch_size: usize,
        run: Arc<RunState>,
    ) -> Outbox {
        let mut index = Vec::new();
        let mut slots = Vec::new();
        for (task, dest) in destinations {
            let t = task.0 as usize;
            if index.len() <= t {
                index.resize(t + 1, u32::MAX);
            }
            if index[t] == u32::MAX {
                index[t] = slots.len() as u32;
                slots.push(Slot {
                    task,
                    dest,
                    batch: Vec::new(),
                });
            }
        }
        Outbox {
            index,
            slots,
            batch_size: batch_size.max(1),
            uncounted: 0,
            run,
            dirty: false,
        }
    }

    /// Queue a tuple for `task`; sends the batch when it is full. Returns `false` if the
    /// task is not a known destination.
    #[inline]
    pub(crate) fn push(&mut self, task: TaskId, tuple: Tuple) -> bool {
        let Some(&slot) = self.index.get(task.0 as usize) else {
            return false;
        };
        if slot == u32::MAX {
            return false;
        }
        let slot = slot as usize;
        self.uncounted += 1;
        let s = &mut self.slots[slot];
        if s.batch.capacity() == 0 {
            s.batch = match s.dest.pool.try_recv() {
                Ok(b) if b.capacity() >= self.batch_size => b,
                _ => Vec::with_capacity(self.batch_size),
            };
        }
        s.batch.push(tuple);
        if s.batch.len() >= self.batch_size {
            self.send(slot);
        } else {
            self.dirty = true;
        }
        true
    }

    fn send(&mut self, slot: usize) {
        let s = &mut self.slots[slot];
        if s.batch.is_empty() {
            return;
        }
        let tuples = std::mem::take(&mut s.batch);
        let env = Envelope::Batch {
            task: s.task,
            tuples,
        };
        // Count before the receiver can see the tuples, so the count never drops to zero
        // while tuples are still on their way.
        self.run.add_in_flight(std::mem::take(&mut self.uncounted));
        if let Err(e) = s.dest.queue.send(env) {
            // The receiving executor is gone: the topology is shutting down.
            if let Envelope::Batch { tuples, .. } = e.into_inner() {
                self.run.add_in_flight(-(tuples.len() as i64));
            }
        }
    }

    /// Send every partial batch.
    pub(crate) fn flush(&mut self) {
        if !self.dirty {
            return;
        }
        for slot in 0..self.slots.len() {
            self.send(slot);
        }
        self.dirty = false;
    }

    /// Take the count of tuples pushed but not yet counted as in flight.
    pub(crate) fn take_uncounted(&mut self) -> i64 {
        std::mem::take(&mut self.uncounted)
    }
}
