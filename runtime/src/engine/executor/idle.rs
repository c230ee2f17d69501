//! How an idle spout waits: a few yields (a burst often resumes at once), then a wait of
//! 1 ms that doubles on each further idle round up to `topology.spout.wait.max.millis`.
//!
//! Storm 2's progressive wait ends in fixed 1 ms sleeps: a thousand idle spouts then wake
//! a million times a second. Here a spout idle for long wakes a few times a second, and
//! whatever has work for it ends the wait at once: an acker verdict arrives on its queue,
//! and a source with its own thread calls the spout's [`crate::Waker`].

use std::time::Duration;

/// Idle rounds spent yielding before waiting.
const YIELDS: u32 = 16;
/// The first wait.
const FIRST_WAIT: Duration = Duration::from_millis(1);
/// How long a spout that emitted nothing keeps its partial batches unless it is about to
/// wait: a rate-limited source is idle between two tuples, and sending a batch of one
/// or two tuples each time costs every hop downstream a hand-off and often a wake-up.
pub(crate) const IDLE_FLUSH_AFTER: Duration = Duration::from_micros(50);

/// What an idle spout does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdleStep {
    /// Give the core away once, then poll again.
    Yield,
    /// Wait on the spout's queue this long (or until something arrives).
    Wait(Duration),
}

impl IdleStep {
    /// Whether a spout taking this step sends its partial batches first, `since_sent`
    /// after it last sent them: always before a wait (what it holds must not wait with
    /// it), before a yield only once they are [`IDLE_FLUSH_AFTER`] old. A source of a
    /// few tuples a second gets each one through at once; one of a million a second sends
    /// a batch per ~50 µs instead of one per tuple.
    #[inline]
    pub(crate) fn sends_batches(self, since_sent: Duration) -> bool {
        matches!(self, IdleStep::Wait(_)) || since_sent >= IDLE_FLUSH_AFTER
    }
}

/// The progressive wait of one spout executor.
#[derive(Debug, Clone)]
pub(crate) struct IdleWait {
    rounds: u32,
    next: Duration,
    max: Duration,
}

impl IdleWait {
    /// Waits of at most `max` (at least 1 ms).
    pub(crate) fn new(max: Duration) -> IdleWait {
        IdleWait {
            rounds: 0,
            next: FIRST_WAIT,
            max: max.max(FIRST_WAIT),
        }
    }

    /// The spout emitted: start over.
    #[inline]
    pub(crate) fn reset(&mut self) {
        self.rounds = 0;
        self.next = FIRST_WAIT;
    }

    /// Wait from the next idle round on, without the yields (the work that ends this idle
    /// spell announces itself: see [`crate::engine::doorbell`]).
    #[inline]
    pub(crate) fn skip_yields(&mut self) {
        self.rounds = YIELDS;
    }

    /// Another idle round: what to do.
    pub(crate) fn step(&mut self) -> IdleStep {
        if self.rounds < YIELDS {
            self.rounds += 1;
            return IdleStep::Yield;
        }
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        IdleStep::Wait(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(w: &mut IdleWait, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| match w.step() {
                IdleStep::Yield => 0,
                IdleStep::Wait(d) => d.as_millis() as u64,
            })
            .collect()
    }

    #[test]
    fn yields_then_doubles_up_to_the_max() {
        let mut w = IdleWait::new(Duration::from_millis(100));
        assert_eq!(waits(&mut w, YIELDS as usize), vec![0; YIELDS as usize]);
        assert_eq!(waits(&mut w, 9), vec![1, 2, 4, 8, 16, 32, 64, 100, 100]);
    }

    #[test]
    fn an_emit_starts_over() {
        let mut w = IdleWait::new(Duration::from_millis(100));
        waits(&mut w, YIELDS as usize + 5);
        w.reset();
        assert_eq!(w.step(), IdleStep::Yield);
        waits(&mut w, YIELDS as usize - 1);
        assert_eq!(w.step(), IdleStep::Wait(FIRST_WAIT));
    }

    #[test]
    fn skipping_the_yields_waits_at_once_and_still_doubles() {
        let mut w = IdleWait::new(Duration::from_millis(100));
        w.skip_yields();
        assert_eq!(waits(&mut w, 3), vec![1, 2, 4]);
        w.skip_yields();
        assert_eq!(waits(&mut w, 1), vec![8]);
        w.reset();
        assert_eq!(w.step(), IdleStep::Yield);
    }

    #[test]
    fn partial_batches_go_before_a_wait_and_before_a_yield_only_once_old() {
        let wait = IdleStep::Wait(FIRST_WAIT);
        assert!(wait.sends_batches(Duration::ZERO));
        assert!(!IdleStep::Yield.sends_batches(Duration::ZERO));
        assert!(!IdleStep::Yield.sends_batches(IDLE_FLUSH_AFTER - Duration::from_nanos(1)));
        assert!(IdleStep::Yield.sends_batches(IDLE_FLUSH_AFTER));
        // A spout idle since long ago (a trickle) sends what it just emitted at once.
        assert!(IdleStep::Yield.sends_batches(Duration::from_secs(1)));
    }

    #[test]
    fn a_max_of_one_ms_is_storms_fixed_wait() {
        let mut w = IdleWait::new(Duration::from_millis(1));
        waits(&mut w, YIELDS as usize);
        assert_eq!(waits(&mut w, 4), vec![1, 1, 1, 1]);
        // A zero maximum is taken as 1 ms, never a busy loop.
        let mut w = IdleWait::new(Duration::ZERO);
        waits(&mut w, YIELDS as usize);
        assert_eq!(w.step(), IdleStep::Wait(FIRST_WAIT));
    }
}

#[cfg(test)]
#[path = "idle_tests.rs"]
mod idle_tests;
