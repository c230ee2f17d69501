//! Moving tuples between executors: the envelopes an executor's receive queue holds and
//! the per-task [`Outbox`] that batches outgoing tuples (and acker messages) per
//! destination.
//!
//! Queues are bounded by the tuples they hold, not by their envelopes (see
//! [`Occupancy`]: many near-empty batches do not fill a queue), and a sender blocks while
//! a destination queue is full: that is the backpressure. A spout, though, keeps
//! draining its own queue while it waits (acker verdicts must always get through, or
//! spout → bolt → acker → spout could deadlock); what it drains is stashed for its
//! executor. Batching makes the per-tuple cost of the channel vanish; a partial batch is
//! sent when it fills, when the sender goes idle (a spout that idles between tuples keeps
//! it up to `executor::idle::IDLE_FLUSH_AFTER`), or after
//! `topology.batch.flush.interval.millis`, in a buffer of its own size when it is less
//! than half full (so a queue of tiny batches does not hold a batch-sized buffer each).
//!
//! A send that finds its queue full is timed (the fast path reads no clock): the time
//! is added to the destination task's `upstream_blocked` total and to the sender's own
//! blocked time, the backpressure figures of the statistics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{
    Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError, TrySendError, bounded, unbounded,
};

use crate::api::ids::TaskId;
use crate::api::tuple::Tuple;
use crate::engine::acking::{AckMsg, Completion};
use crate::engine::doorbell::Doorbell;
use crate::engine::queue::Occupancy;
use crate::engine::run_state::RunState;

/// Most emptied batch buffers a queue keeps for its senders to reuse.
const POOL_MAX: usize = 32;

/// Smallest emptied buffer worth handing back to the senders.
const RECYCLE_MIN: usize = 64;

/// Longest a blocked sender parks before it re-checks by itself: a safety net only
/// (every receive that makes room, and the receiver's end, unpark it).
const PARK_MAX: Duration = Duration::from_millis(100);

/// What an executor's receive queue holds.
#[derive(Debug)]
pub(crate) enum Envelope {
    /// Tuples for one task of the executor.
    Batch { task: TaskId, tuples: Vec<Tuple> },
    /// Messages for an acker task.
    Acks { task: TaskId, msgs: Vec<AckMsg> },
    /// Acker verdicts for spout tasks of the executor.
    Completions(Vec<Completion>),
    /// A tick for every task of the executor.
    Tick { freq_secs: u64 },
    /// A bolt task asked to be woken (see `context::Waker`); worker-local.
    Wake,
    /// Stop now.
    Stop,
}

impl Envelope {
    /// What the envelope counts for against its queue's capacity: its tuples (acker
    /// messages, verdicts), 1 for a control envelope or an empty list.
    #[inline]
    fn weight(&self) -> usize {
        let n = match self {
            Envelope::Batch { tuples, .. } => tuples.len(),
            Envelope::Acks { msgs, .. } => msgs.len(),
            Envelope::Completions(c) => c.len(),
            Envelope::Tick { .. } | Envelope::Wake | Envelope::Stop => 1,
        };
        n.max(1)
    }
}

/// The sending side of an executor's receive queue, with the pool of emptied batch
/// buffers the executor hands back (so batches are reused, not allocated and freed on
/// different threads), and the total time senders spent blocked on it (ns).
///
/// The queue is bounded by [`Occupancy`]: a send is admitted while fewer tuples than
/// the capacity are queued, so it holds at most `capacity - 1` tuples plus one envelope
/// per sender.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    /// Unbounded by itself: only ever sent to after `occupancy` admitted the envelope.
    queue: Sender<Envelope>,
    occupancy: Arc<Occupancy>,
    pool: Receiver<Vec<Tuple>>,
    /// Nanoseconds senders spent blocked because the queue was full.
    pub(crate) blocked: Arc<AtomicU64>,
    /// Rung after each send when the receiver parks on it (a spout's queue).
    pub(crate) bell: Option<Arc<Doorbell>>,
}

impl Destination {
    /// The same queue with its own blocked-time total: one per task of an executor, so
    /// the time is counted against the task the blocked sender was sending to.
    pub(crate) fn for_task(&self) -> Destination {
        Destination {
            queue: self.queue.clone(),
            occupancy: self.occupancy.clone(),
            pool: self.pool.clone(),
            blocked: Arc::new(AtomicU64::new(0)),
            bell: self.bell.clone(),
        }
    }

    /// The queue's occupancy (depth and capacity in tuples, for the statistics).
    pub(crate) fn occupancy(&self) -> &Arc<Occupancy> {
        &self.occupancy
    }

    /// Send `env`, blocking while the queue is full; the time blocked (ns, 0 on the fast
    /// path) is added to this destination's total and returned. `Err`: the receiver is
    /// gone.
    pub(crate) fn send_blocking(&self, env: Envelope) -> Result<u64, Envelope> {
        deliver(self, env, None, &mut Vec::new())
    }

    /// Send `env` if the queue has room now (the doorbell is rung); never blocks.
    pub(crate) fn try_send(&self, env: Envelope) -> Result<(), TrySendError<Envelope>> {
        let o = &self.occupancy;
        if o.is_closed() {
            return Err(TrySendError::Disconnected(env));
        }
        if !o.has_room() {
            return Err(TrySendError::Full(env));
        }
        let weight = env.weight();
        o.admit(weight);
        if let Err(e) = self.queue.send(env) {
            o.release(weight);
            return Err(TrySendError::Disconnected(e.into_inner()));
        }
        if let Some(bell) = &self.bell {
            bell.ring();
        }
        Ok(())
    }
}

/// The receiving side of an executor's queue. Everything taken from it goes through its
/// methods, which give the envelope's weight back to the queue's [`Occupancy`].
#[derive(Debug)]
pub(crate) struct Inbox {
    rx: Receiver<Envelope>,
    occupancy: Arc<Occupancy>,
    recycle: Sender<Vec<Tuple>>,
    /// The doorbell senders ring (see [`channel_with_bell`]).
    pub(crate) bell: Option<Arc<Doorbell>>,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        // Senders blocked on this queue must not wait for a receiver that is gone.
        self.occupancy.close();
    }
}

impl Inbox {
    /// Hand an emptied batch buffer back to the senders.
    #[inline]
    pub(crate) fn recycle(&self, mut batch: Vec<Tuple>) {
        // A small buffer (a flushed partial batch) is no use to a sender: free it here.
        if batch.capacity() >= RECYCLE_MIN {
            batch.clear();
            let _ = self.recycle.try_send(batch);
        }
    }

    #[inline]
    fn took(&self, env: Envelope) -> Envelope {
        self.occupancy.release(env.weight());
        env
    }

    /// Take an envelope if one is queued.
    #[inline]
    pub(crate) fn try_recv(&self) -> Result<Envelope, TryRecvError> {
        self.rx.try_recv().map(|e| self.took(e))
    }

    /// Wait for an envelope.
    pub(crate) fn recv(&self) -> Result<Envelope, RecvError> {
        self.rx.recv().map(|e| self.took(e))
    }

    /// Wait at most `timeout` for an envelope.
    pub(crate) fn recv_timeout(&self, timeout: Duration) -> Result<Envelope, RecvTimeoutError> {
        self.rx.recv_timeout(timeout).map(|e| self.took(e))
    }

    /// Whether nothing is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Envelopes queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rx.len()
    }

    /// The channel, to wait on it in a `crossbeam_channel::Select` (take the envelope
    /// with [`Inbox::try_recv`], never from the channel directly).
    pub(crate) fn select_handle(&self) -> &Receiver<Envelope> {
        &self.rx
    }

    /// A second receiving handle, for a spout's outbox to drain its own queue while a
    /// send blocks (see [`Outbox::drain_while_blocked`]).
    pub(crate) fn drain(&self) -> Drain {
        Drain {
            rx: self.rx.clone(),
            occupancy: self.occupancy.clone(),
            bell: self.bell.clone(),
        }
    }
}

/// A spout's own queue as its outbox sees it: drained while a send blocks.
#[derive(Debug)]
pub(crate) struct Drain {
    rx: Receiver<Envelope>,
    occupancy: Arc<Occupancy>,
    bell: Option<Arc<Doorbell>>,
}

impl Drain {
    /// Move everything queued into `stash`.
    fn drain_into(&self, stash: &mut Vec<Envelope>) {
        while let Ok(env) = self.rx.try_recv() {
            self.occupancy.release(env.weight());
            stash.push(env);
        }
    }
}

/// A bounded executor queue of `capacity` tuples (see [`Occupancy`]).
pub(crate) fn channel(capacity: usize) -> (Destination, Inbox) {
    channel_of(capacity, None)
}

/// A bounded executor queue of `capacity` tuples whose receiver parks on a
/// [`Doorbell`] when idle (instead of blocking on the queue): every send rings it.
pub(crate) fn channel_with_bell(capacity: usize) -> (Destination, Inbox) {
    channel_of(capacity, Some(Arc::new(Doorbell::default())))
}

fn channel_of(capacity: usize, bell: Option<Arc<Doorbell>>) -> (Destination, Inbox) {
    let (queue, rx) = unbounded();
    let occupancy = Arc::new(Occupancy::new(capacity));
    let (recycle, pool) = bounded(capacity.min(POOL_MAX) + 2);
    (
        Destination {
            queue,
            occupancy: occupancy.clone(),
            pool,
            blocked: Arc::new(AtomicU64::new(0)),
            bell: bell.clone(),
        },
        Inbox {
            rx,
            occupancy,
            recycle,
            bell,
        },
    )
}

/// Send `env` to `dest`, blocking while its queue is full; with `drain`, keep receiving
/// from it into `stash` while blocked. Returns the time blocked in ns (0 when the queue
/// had room: that path reads no clock), also added to `dest.blocked`. `Err` = the
/// receiver is gone (shutting down).
#[inline]
fn deliver(
    dest: &Destination,
    env: Envelope,
    drain: Option<&Drain>,
    stash: &mut Vec<Envelope>,
) -> Result<u64, Envelope> {
    let env = match dest.try_send(env) {
        Ok(()) => return Ok(0),
        Err(TrySendError::Full(env)) => env,
        Err(TrySendError::Disconnected(env)) => return Err(env),
    };
    let start = Instant::now();
    let sent = blocked_send(dest, env, drain, stash);
    let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    dest.blocked.fetch_add(ns, Ordering::Relaxed);
    sent.map(|()| ns)
}

/// The blocking part of [`deliver`]: wait for room (draining the sender's own queue
/// meanwhile, with `drain`), then send.
#[cold]
fn blocked_send(
    dest: &Destination,
    mut env: Envelope,
    drain: Option<&Drain>,
    stash: &mut Vec<Envelope>,
) -> Result<(), Envelope> {
    let o = &dest.occupancy;
    loop {
        if let Some(d) = drain {
            d.drain_into(stash);
        }
        match dest.try_send(env) {
            Ok(()) => {
                o.pass_on();
                return Ok(());
            }
            Err(TrySendError::Full(e)) => env = e,
            Err(TrySendError::Disconnected(e)) => return Err(e),
        }
        match drain {
            // Sends to the spout's own queue ring its bell, which ends the wait.
            Some(
                d @ Drain {
                    bell: Some(bell), ..
                },
            ) => o.wait_for_room(Some(bell), &|| !d.rx.is_empty(), PARK_MAX),
            // No bell (a queue built by a test): look at the own queue every millisecond.
            Some(d) => o.wait_for_room(None, &|| !d.rx.is_empty(), Duration::from_millis(1)),
            None => o.wait_for_room(None, &|| false, PARK_MAX),
        }
    }
}

/// A destination task's pending batch and the queue of the executor that runs it.
#[derive(Debug)]
struct Slot {
    task: TaskId,
    dest: Destination,
    batch: Vec<Tuple>,
}

impl Slot {
    /// Take a batch buffer for the next tuples: one the receiver handed back, or a new
    /// one. Once per batch, so kept out of the per-tuple path.
    #[cold]
    fn refill(&mut self, batch_size: usize) {
        self.batch = match self.dest.pool.try_recv() {
            Ok(b) if b.capacity() >= batch_size => b,
            _ => Vec::with_capacity(batch_size),
        };
    }
}

/// An acker task's pending messages.
#[derive(Debug)]
struct AckSlot {
    task: TaskId,
    dest: Destination,
    batch: Vec<AckMsg>,
}

impl AckSlot {
    /// Make room for the next batch of messages (once per batch: off the per-message
    /// path).
    #[cold]
    fn refill(&mut self, batch_size: usize) {
        self.batch.reserve_exact(batch_size);
    }
}

/// Outgoing tuples of one task, batched per destination task, and its acker messages,
/// batched per acker task.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// Task id -> index into `slots` (u32::MAX = not a destination).
    index: Vec<u32>,
    slots: Vec<Slot>,
    ackers: Vec<AckSlot>,
    batch_size: usize,
    /// Tuples pushed but not yet added to the run's in-flight count.
    uncounted: i64,
    run: Arc<RunState>,
    /// Whether any slot holds a partial batch.
    dirty: bool,
    /// Send a partial batch when its destination's queue is empty
    /// (`topology.batch.flush.when.idle`).
    eager: bool,
    /// A spout's own queue, drained while a send blocks.
    drain: Option<Drain>,
    /// What was drained, for the executor to handle.
    pub(crate) stash: Vec<Envelope>,
    /// Nanoseconds this task spent blocked sending to full queues.
    pub(crate) send_blocked_ns: u64,
}

impl Outbox {
    /// An outbox able to reach `destinations` (task, queue of its executor) and the
    /// acker tasks `ackers` (in acker index order).
    pub(crate) fn new(
        destinations: impl IntoIterator<Item = (TaskId, Destination)>,
        ackers: Vec<(TaskId, Destination)>,
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
            ackers: ackers
                .into_iter()
                .map(|(task, dest)| AckSlot {
                    task,
                    dest,
                    batch: Vec::new(),
                })
                .collect(),
            batch_size: batch_size.max(1),
            uncounted: 0,
            run,
            dirty: false,
            eager: false,
            drain: None,
            stash: Vec::new(),
            send_blocked_ns: 0,
        }
    }

    /// Also send a partial batch as soon as its destination's queue is empty: the
    /// receiving executor is idle, so the batch costs it nothing to take now, and waiting
    /// for the batch to fill (or for the flush timer) is pure latency. Checked when the
    /// batch holds 1, 2, 4, 8, … tuples (a queue load, never per tuple), so a busy
    /// receiver still gets full batches.
    pub(crate) fn send_when_idle(&mut self, eager: bool) {
        self.eager = eager;
    }

    /// Keep draining `own` (this task's executor queue) while a send blocks.
    pub(crate) fn drain_while_blocked(&mut self, own: Drain) {
        self.drain = Some(own);
    }

    /// Number of acker tasks (0 = acking off).
    #[inline]
    pub(crate) fn ackers(&self) -> usize {
        self.ackers.len()
    }

    /// Queue a tuple for `task`; sends the batch when it is full. Returns `false` if the
    /// task is not a known destination.
    // Always inlined, like `new_anchors`: the tuple is then built where it is stored.
    #[inline(always)]
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
            s.refill(self.batch_size);
        }
        s.batch.push(tuple);
        let len = s.batch.len();
        if len >= self.batch_size
            || (self.eager && len.is_power_of_two() && s.dest.occupancy.depth() == 0)
        {
            self.send(slot);
        } else {
            self.dirty = true;
        }
        true
    }

    /// Queue a message for the acker task that owns its root. An ack of the same tree as
    /// the message queued just before it is folded into that one (the acker XORs both in
    /// turn, so one message with both values XORed is the same): a bolt acking the
    /// several inputs of one tree it got in a row (the words of a sentence) sends one
    /// message. Always inlined, as `push`: the message is built where it is stored.
    #[inline(always)]
    pub(crate) fn push_ack(&mut self, msg: AckMsg) {
        let n = self.ackers.len();
        if n == 0 {
            return;
        }
        let i = crate::engine::acking::acker_index(msg.root(), n);
        let a = &mut self.ackers[i];
        if let (
            AckMsg::Ack { root, xor },
            Some(AckMsg::Ack {
                root: last,
                xor: acc,
            }),
        ) = (msg, a.batch.last_mut())
            && root == *last
        {
            *acc ^= xor;
            return;
        }
        if a.batch.capacity() == 0 {
            a.refill(self.batch_size);
        }
        a.batch.push(msg);
        if a.batch.len() >= self.batch_size {
            self.send_acks(i);
        } else {
            self.dirty = true;
        }
    }

    #[inline(never)]
    fn send(&mut self, slot: usize) {
        let s = &mut self.slots[slot];
        if s.batch.is_empty() {
            return;
        }
        let tuples = if s.batch.len() < self.batch_size / 2 {
            // A partial batch (flush): send it in a buffer of its size and keep the big
            // one for the next tuples, so a queue of many tiny batches holds memory for
            // its tuples, not a whole batch per envelope.
            let mut exact = Vec::with_capacity(s.batch.len());
            exact.append(&mut s.batch);
            exact
        } else {
            std::mem::take(&mut s.batch)
        };
        let env = Envelope::Batch {
            task: s.task,
            tuples,
        };
        // Count before the receiver can see the tuples, so the count never drops to zero
        // while tuples are still on their way.
        self.run.add_in_flight(std::mem::take(&mut self.uncounted));
        match deliver(&s.dest, env, self.drain.as_ref(), &mut self.stash) {
            Ok(0) => {}
            Ok(ns) => self.send_blocked_ns = self.send_blocked_ns.saturating_add(ns),
            Err(Envelope::Batch { tuples, .. }) => {
                // The receiving executor is gone: the topology is shutting down.
                self.run.add_in_flight(-(tuples.len() as i64));
            }
            Err(_) => {}
        }
    }

    #[inline(never)]
    fn send_acks(&mut self, i: usize) {
        let a = &mut self.ackers[i];
        if a.batch.is_empty() {
            return;
        }
        let env = Envelope::Acks {
            task: a.task,
            msgs: std::mem::take(&mut a.batch),
        };
        if let Ok(ns) = deliver(&a.dest, env, self.drain.as_ref(), &mut self.stash) {
            self.send_blocked_ns = self.send_blocked_ns.saturating_add(ns);
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
        for i in 0..self.ackers.len() {
            self.send_acks(i);
        }
        self.dirty = false;
    }

    /// Add to the count of tuples not yet counted as in flight (see
    /// `BoltCollector::hold_in_flight`).
    pub(crate) fn add_uncounted(&mut self, delta: i64) {
        self.uncounted += delta;
    }

    /// Take the count of tuples pushed but not yet counted as in flight.
    pub(crate) fn take_uncounted(&mut self) -> i64 {
        std::mem::take(&mut self.uncounted)
    }
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod queue_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tuple::{Fields, StreamSchema, Values};
    use crate::api::value::Value;

    /// An outbox of batches of 100 to one queue, sending when idle or not.
    fn outbox(eager: bool) -> (Outbox, Inbox) {
        let (dest, inbox) = channel(8);
        let mut out = Outbox::new(
            [(TaskId(2), dest)],
            Vec::new(),
            100,
            Arc::new(RunState::new(1)),
        );
        out.send_when_idle(eager);
        (out, inbox)
    }

    fn tuple() -> Tuple {
        let schema = StreamSchema::intern("eager", "default", &Fields::new(["n"]));
        Tuple::new(Values::from(Value::from(1i64)), schema, TaskId(1))
    }

    #[test]
    fn an_idle_receiver_gets_a_partial_batch_at_once_only_when_eager() {
        let (mut lazy, lazy_in) = outbox(false);
        lazy.push(TaskId(2), tuple());
        assert!(lazy_in.is_empty(), "a lazy outbox sent a batch of 1");

        let (mut eager, eager_in) = outbox(true);
        eager.push(TaskId(2), tuple());
        assert_eq!(eager_in.len(), 1, "the idle receiver got nothing");
        // Its queue is no longer empty: the next tuples wait for a full batch.
        for _ in 0..3 {
            eager.push(TaskId(2), tuple());
        }
        assert_eq!(eager_in.len(), 1, "a busy receiver got a partial batch");
    }
}
