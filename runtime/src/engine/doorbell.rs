//! A doorbell: how an idle executor sleeps without spinning and is woken by whoever has
//! work for it.
//!
//! `crossbeam_channel`'s timed receive yields the core several times before it sleeps;
//! a thousand idle spouts waiting on their queues then make tens of thousands of context
//! switches a second. An idle spout instead parks its thread (`std::thread::park_timeout`,
//! one futex wait) after announcing it is asleep; everything that gives it work rings
//! the bell after handing the work over: a sender to its queue (acker verdicts, its
//! `Waker`), and the run state on an activation change or a stop.
//!
//! The lost wake-up guard is the classic one: the sleeper stores `sleeping`, fences, then
//! checks for work; the waker publishes its work, fences, then loads `sleeping`. With a
//! sequentially consistent fence on both sides at least one of them sees the other's
//! store, so the sleeper either finds the work or is unparked. A ring costs a fence and a
//! load when nobody sleeps, and is done once per batch, never per tuple.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::thread::Thread;
use std::time::Duration;

/// The doorbell of one executor thread.
#[derive(Debug, Default)]
pub(crate) struct Doorbell {
    sleeping: AtomicBool,
    /// The thread that sleeps on this bell (set on its first wait).
    thread: OnceLock<Thread>,
}

impl Doorbell {
    /// Wake the sleeper, if it sleeps. Call after publishing the work it should see.
    #[inline]
    pub(crate) fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) {
            self.unpark();
        }
    }

    #[cold]
    fn unpark(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// Sleep for at most `timeout` unless `ready()` says there is work already; a ring
    /// ends the sleep. Returns early on a spurious wake-up too: callers re-check their
    /// work and their clock. Only one thread may wait on a bell.
    pub(crate) fn wait(&self, timeout: Duration, ready: impl FnOnce() -> bool) {
        self.thread.get_or_init(std::thread::current);
        self.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if !ready() {
            std::thread::park_timeout(timeout);
        }
        self.sleeping.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;
    use std::time::Instant;

    #[test]
    fn work_published_before_the_wait_skips_it() {
        let bell = Doorbell::default();
        let start = Instant::now();
        bell.wait(Duration::from_secs(30), || true);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_ring_ends_the_wait_and_no_ring_is_lost() {
        // A sleeper waits for each of many numbers published by another thread; a lost
        // wake-up would leave it sleeping the full 30 s (and the test would take minutes).
        let bell = Arc::new(Doorbell::default());
        let value = Arc::new(AtomicU64::new(0));
        let (b, v) = (bell.clone(), value.clone());
        const N: u64 = 2000;
        let start = Instant::now();
        let producer = std::thread::spawn(move || {
            for i in 1..=N {
                // Wait until the sleeper has seen the previous number.
                let deadline = Instant::now() + Duration::from_secs(20);
                while v.load(Ordering::Acquire) != i - 1 {
                    assert!(Instant::now() < deadline, "sleeper never saw {}", i - 1);
                    std::thread::yield_now();
                }
                v.store(i | 1 << 63, Ordering::Release);
                b.ring();
            }
        });
        for i in 1..=N {
            loop {
                let now = value.load(Ordering::Acquire);
                if now == i | 1 << 63 {
                    value.store(i, Ordering::Release);
                    break;
                }
                bell.wait(Duration::from_secs(30), || {
                    value.load(Ordering::Acquire) == i | 1 << 63
                });
            }
        }
        producer.join().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "a ring was lost: {:?}",
            start.elapsed()
        );
    }
}
