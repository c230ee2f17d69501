//! State shared by every executor of one running topology: the stop flag, the count of
//! tuples in flight and of exhausted spout tasks, and a condition variable to wake the
//! coordinator when the topology may be complete.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::engine::doorbell::Doorbell;

/// Shared run state.
#[derive(Debug)]
pub(crate) struct RunState {
    stop: AtomicBool,
    /// Whether spouts should emit (topology activated).
    active: AtomicBool,
    /// Tuples emitted to a task (counted when they enter a batch) and not yet executed.
    in_flight: AtomicI64,
    /// Spout tasks that are exhausted and have nothing pending.
    exhausted: AtomicUsize,
    spout_tasks: usize,
    lock: Mutex<()>,
    wake: Condvar,
    /// Doorbells of the executors that park when idle (spouts): rung on an activation
    /// change and on stop.
    bells: Mutex<Vec<Arc<Doorbell>>>,
}

impl RunState {
    pub(crate) fn new(spout_tasks: usize) -> RunState {
        RunState {
            stop: AtomicBool::new(false),
            active: AtomicBool::new(true),
            in_flight: AtomicI64::new(0),
            exhausted: AtomicUsize::new(0),
            spout_tasks,
            lock: Mutex::new(()),
            wake: Condvar::new(),
            bells: Mutex::new(Vec::new()),
        }
    }

    /// Whether executors should stop.
    #[inline]
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Whether spouts should emit.
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Activate or deactivate the spouts.
    pub(crate) fn set_active(&self, active: bool) {
        if self.active.swap(active, Ordering::Relaxed) != active {
            self.ring_all();
        }
    }

    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.ring_all();
        self.notify();
    }

    /// Ring `bell` on every activation change and on stop.
    pub(crate) fn add_bell(&self, bell: Arc<Doorbell>) {
        self.bells
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(bell);
    }

    fn ring_all(&self) {
        for bell in self.bells.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            bell.ring();
        }
    }

    /// Add `delta` tuples to the in-flight count; wakes the coordinator when it reaches 0.
    #[inline]
    pub(crate) fn add_in_flight(&self, delta: i64) {
        if delta == 0 {
            return;
        }
        let before = self.in_flight.fetch_add(delta, Ordering::AcqRel);
        // Zero matters only once every spout is exhausted (the spout that exhausts last
        // notifies by itself), so a fast consumer draining its queue does not wake the
        // coordinator each time.
        if before + delta == 0 && self.exhausted.load(Ordering::Acquire) == self.spout_tasks {
            self.notify();
        }
    }

    pub(crate) fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn spout_exhausted(&self) {
        self.exhausted.fetch_add(1, Ordering::AcqRel);
        self.notify();
    }

    /// All spouts exhausted and every tuple processed.
    pub(crate) fn complete(&self) -> bool {
        self.exhausted.load(Ordering::Acquire) == self.spout_tasks && self.in_flight() == 0
    }

    fn notify(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.wake.notify_all();
    }

    /// Wait until notified, or `until` passes; returns at once if complete or stopping.
    pub(crate) fn wait(&self, until: Instant) {
        let guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.complete() || self.stopping() {
            return;
        }
        let timeout = until.saturating_duration_since(Instant::now());
        if timeout > Duration::ZERO {
            let _ = self.wake.wait_timeout(guard, timeout);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A parked spout (30 s waits) sees each activation change and the stop at once.
    #[test]
    fn activation_changes_and_stop_ring_the_bells() {
        let run = Arc::new(RunState::new(1));
        let bell = Arc::new(Doorbell::default());
        run.add_bell(bell.clone());
        let (r, b) = (run.clone(), bell.clone());
        let (seen_tx, seen_rx) = crossbeam_channel::bounded(4);
        // Read here, not in the thread: the first change may come before it runs.
        let mut active = run.active();
        let sleeper = std::thread::spawn(move || {
            while !r.stopping() {
                b.wait(Duration::from_secs(30), || {
                    r.active() != active || r.stopping()
                });
                if r.active() != active {
                    active = r.active();
                    seen_tx.send(active).unwrap();
                }
            }
        });
        for want in [false, true] {
            run.set_active(want);
            let got = seen_rx.recv_timeout(Duration::from_secs(10));
            assert_eq!(
                got,
                Ok(want),
                "the parked thread did not see active = {want}"
            );
        }
        let start = Instant::now();
        run.request_stop();
        sleeper.join().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "stop took {:?}",
            start.elapsed()
        );
    }
}
