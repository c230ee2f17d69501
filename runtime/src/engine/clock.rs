//! Time, injectable: daemons and timers read "now" from a [`Clock`] so tests can drive
//! it by hand instead of sleeping.
//!
//! Two readings, for two jobs:
//! - [`Clock::now`] is **monotonic** ([`Instant`]): use it for every timeout, deadline
//!   kept in memory, liveness check and interval. It never jumps, so an NTP step of the
//!   wall clock cannot declare every supervisor dead or every worker hung.
//! - [`Clock::wall_millis`] is wall-clock time (unix milliseconds): use it only for what
//!   must survive a restart or be shown to people (stored deadlines, submission times).
//!
//! ```
//! use std::time::Duration;
//! use squall_runtime::engine::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::new(1_700_000_000_000);
//! let t0 = clock.now();
//! clock.advance(Duration::from_secs(5));
//! assert_eq!(clock.now() - t0, Duration::from_secs(5));
//! assert_eq!(clock.wall_millis(), 1_700_000_005_000);
//! // An NTP step moves the wall clock only.
//! clock.step_wall(-3_600_000);
//! assert_eq!(clock.now() - t0, Duration::from_secs(5));
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time: monotonic for durations, wall for records.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Monotonic now: for timeouts, liveness and intervals.
    fn now(&self) -> Instant;
    /// Wall-clock now, in milliseconds since the unix epoch: for stored or shown times.
    fn wall_millis(&self) -> u64;
}

/// The operating system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// The system clock as a shared [`Clock`] (the default of every daemon's options).
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A clock that moves only when told: for tests.
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    state: Mutex<ManualState>,
}

#[derive(Debug, Clone, Copy)]
struct ManualState {
    elapsed: Duration,
    wall_millis: u64,
}

impl ManualClock {
    /// A clock whose wall time starts at `wall_millis` (unix milliseconds).
    pub fn new(wall_millis: u64) -> ManualClock {
        ManualClock {
            base: Instant::now(),
            state: Mutex::new(ManualState {
                elapsed: Duration::ZERO,
                wall_millis,
            }),
        }
    }

    /// A shared clock (what daemon options take), and a handle to move it.
    pub fn shared(wall_millis: u64) -> Arc<ManualClock> {
        Arc::new(ManualClock::new(wall_millis))
    }

    fn with<T>(&self, f: impl FnOnce(&mut ManualState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Let `d` pass: both the monotonic and the wall clock move.
    pub fn advance(&self, d: Duration) {
        self.with(|s| {
            s.elapsed += d;
            let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            s.wall_millis = s.wall_millis.saturating_add(ms);
        });
    }

    /// Step the wall clock by `delta_millis` (either way), as NTP or an operator may;
    /// monotonic time does not move.
    pub fn step_wall(&self, delta_millis: i64) {
        self.with(|s| s.wall_millis = s.wall_millis.saturating_add_signed(delta_millis));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + self.with(|s| s.elapsed)
    }

    fn wall_millis(&self) -> u64 {
        self.with(|s| s.wall_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_moves_forward() {
        let c = SystemClock;
        let (a, b) = (c.now(), c.now());
        assert!(b >= a);
        assert!(
            c.wall_millis() > 1_600_000_000_000,
            "wall time is unix millis"
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        let t0 = c.now();
        assert_eq!(c.now(), t0);
        c.advance(Duration::from_millis(250));
        assert_eq!(
            (c.now() - t0, c.wall_millis()),
            (Duration::from_millis(250), 1_250)
        );
        c.step_wall(3_600_000);
        assert_eq!(
            (c.now() - t0, c.wall_millis()),
            (Duration::from_millis(250), 3_601_250)
        );
        c.step_wall(-10_000_000);
        assert_eq!(c.wall_millis(), 0, "wall time saturates at the epoch");
    }
}
