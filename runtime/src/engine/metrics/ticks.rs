//! The clock of sampled latencies (bolts' execute and process, spouts' complete): the
//! CPU's time-stamp counter where it is invariant (through `quanta`, calibrated once per
//! process against the monotonic clock), the OS monotonic clock otherwise. Reading the counter costs a few
//! nanoseconds against 20 or more for `Instant::now()`, and a difference converts to
//! microseconds with one multiply and shift: the sampled path of a fast bolt reads it
//! a few times per hundred tuples, which showed as 1–2% of wordcount's time with
//! `Instant`.

/// A source of raw timestamps and the conversion of their differences.
#[derive(Debug, Clone)]
pub(crate) struct Ticks {
    clock: quanta::Clock,
}

impl Ticks {
    /// The process's fast clock (the first call in a process calibrates it: at most
    /// 200 ms, usually about one).
    pub(crate) fn new() -> Ticks {
        Ticks {
            clock: quanta::Clock::new(),
        }
    }

    /// Now, in raw ticks (comparable only through [`Ticks::micros`]).
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.clock.raw()
    }

    /// Microseconds from `start` to `end` (0 when `end` is not later).
    #[inline]
    pub(crate) fn micros(&self, start: u64, end: u64) -> u64 {
        self.clock.delta_as_nanos(start, end) / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn differences_agree_with_the_monotonic_clock() {
        let t = Ticks::new();
        let (wall, start) = (Instant::now(), t.now());
        // Measuring a known span, not synchronising.
        std::thread::sleep(Duration::from_millis(20));
        let (end, wall_us) = (t.now(), wall.elapsed().as_micros() as u64);
        let us = t.micros(start, end);
        assert!(us >= 19_000, "{us} µs measured over a 20 ms sleep");
        assert!(
            us <= wall_us + 2_000,
            "{us} µs measured, {wall_us} µs passed"
        );
        assert_eq!(t.micros(end, start), 0, "backwards is 0");
    }
}
