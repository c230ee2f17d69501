//! The bound of an executor's receive queue, counted in tuples rather than envelopes.
//!
//! A queue bounded by its number of envelopes is "full" of a few near-empty batches when
//! many producers flush partial batches on a timer (a spout with 64 destinations sends
//! 64 batches of a tuple or two every millisecond): producers then block on a queue that
//! holds almost nothing. [`Occupancy`] admits by weight instead: an envelope weighs its
//! tuples (acker messages, verdicts; a control envelope weighs 1), and a sender may
//! enqueue while the weight queued is below the capacity. The envelopes themselves travel
//! on an unbounded channel, so the bound is this count alone: at most
//! `capacity - 1 + one envelope per concurrent sender` (the check and the add are two
//! steps, so each sender can overshoot by the envelope it is adding, never more).
//!
//! A sender that finds no room registers itself and parks; the receiver, after taking an
//! envelope that brings the weight below the capacity, unparks the longest-waiting sender
//! (which, once it has sent, unparks the next if room is left). The lost wake-up guard
//! is the doorbell's: the sender registers, then re-checks the room; the receiver
//! releases, then checks for registered senders; both with sequentially consistent
//! operations, so at least one of them sees the other. The fast paths cost a relaxed
//! load and an add per envelope sent, a subtraction and a load per envelope received.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Duration;

use crate::engine::doorbell::Doorbell;

/// Weight queued in one receive queue, its capacity, and the senders waiting for room.
#[derive(Debug)]
pub(crate) struct Occupancy {
    /// Weight (tuples) of the envelopes in the queue.
    queued: AtomicUsize,
    /// A sender may add while `queued < capacity`.
    capacity: usize,
    /// Number of threads in `waiters`.
    waiting: AtomicUsize,
    /// Senders parked until there is room, oldest first (woken in that order).
    waiters: Mutex<VecDeque<Thread>>,
    /// The receiver is gone: senders stop waiting.
    closed: AtomicBool,
}

impl Occupancy {
    /// An empty queue admitting while fewer than `capacity` tuples are queued (at least 1).
    pub(crate) fn new(capacity: usize) -> Occupancy {
        Occupancy {
            queued: AtomicUsize::new(0),
            capacity: capacity.max(1),
            waiting: AtomicUsize::new(0),
            waiters: Mutex::new(VecDeque::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// The capacity in tuples.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Tuples queued now (may exceed the capacity by one envelope per sender).
    #[inline]
    pub(crate) fn depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Whether a sender may add now.
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.queued.load(Ordering::Relaxed) < self.capacity
    }

    /// Whether the receiver is gone.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Count `weight` as queued (the sender is about to enqueue it).
    #[inline]
    pub(crate) fn admit(&self, weight: usize) {
        self.queued.fetch_add(weight, Ordering::SeqCst);
    }

    /// Take `weight` off the queue (the receiver took an envelope, or a send failed);
    /// unpark a waiting sender if that made room.
    #[inline]
    pub(crate) fn release(&self, weight: usize) {
        let before = self.queued.fetch_sub(weight, Ordering::SeqCst);
        debug_assert!(before >= weight, "released more than was admitted");
        if self.waiting.load(Ordering::SeqCst) > 0 && before - weight < self.capacity {
            self.wake_one();
        }
    }

    /// After a sender that waited has sent: pass the turn on if room is left.
    pub(crate) fn pass_on(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 && self.has_room() {
            self.wake_one();
        }
    }

    #[cold]
    fn wake_one(&self) {
        let t = {
            let mut w = lock(&self.waiters);
            let t = w.pop_front();
            if t.is_some() {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
            }
            t
        };
        if let Some(t) = t {
            t.unpark();
        }
    }

    /// The receiver is gone: refuse further sends and unpark every waiting sender.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let all = {
            let mut w = lock(&self.waiters);
            self.waiting.fetch_sub(w.len(), Ordering::SeqCst);
            std::mem::take(&mut *w)
        };
        for t in all {
            t.unpark();
        }
    }

    /// Park the calling sender until there may be room, the queue is closed, or
    /// `own_ready()` (the sender's own queue, drained while it blocks, has something),
    /// or for `max` at most; returns early on a spurious wake-up too: callers re-check.
    /// With `bell` (the sender's own doorbell, rung by whoever sends to its queue) the
    /// park is the bell's wait.
    #[cold]
    pub(crate) fn wait_for_room(
        &self,
        bell: Option<&Doorbell>,
        own_ready: &dyn Fn() -> bool,
        max: Duration,
    ) {
        let me = std::thread::current();
        lock(&self.waiters).push_back(me.clone());
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let ready = || {
            self.queued.load(Ordering::SeqCst) < self.capacity
                || self.closed.load(Ordering::SeqCst)
                || own_ready()
        };
        match bell {
            Some(bell) => bell.wait(max, ready),
            None => {
                if !ready() {
                    std::thread::park_timeout(max);
                }
            }
        }
        // Still registered unless a receiver (or the close) took this thread off.
        let mut w = lock(&self.waiters);
        if let Some(i) = w.iter().position(|t| t.id() == me.id()) {
            w.remove(i);
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The waiters list holds no invariant a panic could break: recover it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn admits_below_capacity_and_an_empty_queue_takes_any_weight() {
        let o = Occupancy::new(10);
        assert!(o.has_room());
        o.admit(1000);
        assert!(!o.has_room(), "1000 queued of 10");
        o.release(1000);
        assert!(o.has_room());
        for _ in 0..9 {
            o.admit(1);
        }
        assert!(o.has_room(), "9 of 10");
        o.admit(1);
        assert!(!o.has_room(), "10 of 10");
        assert_eq!(o.depth(), 10);
    }

    #[test]
    fn a_release_unparks_a_waiting_sender_and_no_wake_up_is_lost() {
        // A sender fills a queue of 1 again and again; the receiver releases each time.
        // A lost wake-up would leave the sender parked for PARK_MAX each time.
        let o = Arc::new(Occupancy::new(1));
        const N: usize = 2000;
        let o2 = o.clone();
        let start = Instant::now();
        let sender = std::thread::spawn(move || {
            let mut parked = 0;
            for _ in 0..N {
                while !o2.has_room() {
                    o2.wait_for_room(None, &|| false, Duration::from_millis(100));
                    parked += 1;
                }
                o2.admit(1);
            }
            parked
        });
        let mut taken = 0;
        while taken < N {
            if o.depth() > 0 {
                o.release(1);
                taken += 1;
            } else {
                std::thread::yield_now();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "stuck at {taken}"
            );
        }
        let parked = sender.join().unwrap();
        // With lost wake-ups every park would cost 100 ms: 2000 of them over 3 minutes.
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?} for {N} sends ({parked} parks)",
            start.elapsed()
        );
    }

    #[test]
    fn close_unparks_every_waiter() {
        let o = Arc::new(Occupancy::new(1));
        o.admit(1);
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let o = o.clone();
                std::thread::spawn(move || {
                    while !o.is_closed() {
                        o.wait_for_room(None, &|| false, Duration::from_secs(10));
                    }
                })
            })
            .collect();
        o.close();
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(o.waiting.load(Ordering::SeqCst), 0);
    }
}
