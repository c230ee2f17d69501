//! Exponential backoff, one helper for every retry loop: restarting a crashed worker or
//! shell subprocess, reconnecting to a peer, retrying a failed accept.
//!
//! [`Backoff`] is the policy (pure: failures in a row → delay); [`Failures`] counts the
//! failures in a row and resets after a success or a stable run.
//!
//! ```
//! use std::time::Duration;
//! use squall_runtime::engine::backoff::{Backoff, Failures};
//!
//! let policy = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
//! assert_eq!(policy.delay(1), Duration::from_millis(100));
//! assert_eq!(policy.delay(3), Duration::from_millis(400));
//! assert_eq!(policy.delay(9), Duration::from_secs(1));
//!
//! let mut f = Failures::new(policy.stable_after(Duration::from_secs(10)));
//! assert_eq!(f.crashed(Duration::from_millis(5)), Duration::from_millis(100));
//! assert_eq!(f.crashed(Duration::from_millis(5)), Duration::from_millis(200));
//! // A run that lasted long enough starts the backoff over.
//! assert_eq!(f.crashed(Duration::from_secs(60)), Duration::from_millis(100));
//! ```

use std::time::Duration;

/// An exponential backoff policy: `first`, then times `factor` per further failure in a
/// row, capped at `max`; optionally the first few failures retry at once, and a run that
/// lasted `stable_after` forgets the earlier failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    factor: u32,
    immediate: u32,
    stable_after: Option<Duration>,
}

impl Backoff {
    /// Delays `first`, `2 × first`, `4 × first`, … at most `max`.
    pub const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            factor: 2,
            immediate: 0,
            stable_after: None,
        }
    }

    /// Grow by `factor` (at least 1) instead of 2.
    pub const fn factor(mut self, factor: u32) -> Backoff {
        self.factor = if factor == 0 { 1 } else { factor };
        self
    }

    /// The first `n` failures in a row retry at once (an isolated crash is restarted
    /// without delay); backing off starts with failure `n + 1`.
    pub const fn immediate_retries(mut self, n: u32) -> Backoff {
        self.immediate = n;
        self
    }

    /// A run that lasted at least `d` before failing starts the count over.
    pub const fn stable_after(mut self, d: Duration) -> Backoff {
        self.stable_after = Some(d);
        self
    }

    /// The longest delay.
    pub const fn max(&self) -> Duration {
        self.max
    }

    /// The delay after `failures` failures in a row (0: none yet, no delay).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures <= self.immediate {
            return Duration::ZERO;
        }
        let mut d = self.first;
        for _ in 1..(failures - self.immediate) {
            if d >= self.max {
                break;
            }
            d = d.saturating_mul(self.factor);
        }
        d.min(self.max)
    }

    /// Whether a run of `lived` counts as stable (resets the failures).
    pub fn is_stable(&self, lived: Duration) -> bool {
        self.stable_after.is_some_and(|s| lived >= s)
    }
}

/// Failures in a row under a [`Backoff`] policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    policy: Backoff,
    count: u32,
}

impl Failures {
    /// No failures yet.
    pub const fn new(policy: Backoff) -> Failures {
        Failures { policy, count: 0 }
    }

    /// The policy.
    pub const fn policy(&self) -> &Backoff {
        &self.policy
    }

    /// Failures in a row so far.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// One more failure; returns the delay before the next try.
    pub fn failed(&mut self) -> Duration {
        self.count = self.count.saturating_add(1);
        self.policy.delay(self.count)
    }

    /// Something that ran for `lived` failed: a stable run starts the count over. Returns
    /// the delay before the next try.
    pub fn crashed(&mut self, lived: Duration) -> Duration {
        if self.policy.is_stable(lived) {
            self.count = 0;
        }
        self.failed()
    }

    /// A success: the next failure is the first again.
    pub fn reset(&mut self) {
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_from_first_up_to_max() {
        let b = Backoff::new(100 * MS, 2000 * MS);
        let got: Vec<u128> = (0..8).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, [0, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(b.delay(u32::MAX), 2000 * MS, "huge counts do not overflow");
    }

    #[test]
    fn immediate_retries_come_first() {
        let b = Backoff::new(500 * MS, Duration::from_secs(16)).immediate_retries(1);
        let got: Vec<u128> = (0..8).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, [0, 0, 500, 1000, 2000, 4000, 8000, 16000]);
    }

    #[test]
    fn other_factors() {
        let b = Backoff::new(10 * MS, 1280 * MS).factor(4);
        assert_eq!(b.delay(3), 160 * MS);
        assert_eq!(Backoff::new(MS, MS).factor(0).delay(5), MS, "factor 0 is 1");
    }

    #[test]
    fn failures_count_reset_and_stable_runs() {
        let mut f = Failures::new(Backoff::new(100 * MS, 2000 * MS).stable_after(10 * 1000 * MS));
        let young = 10 * MS;
        let delays: Vec<u128> = (0..7).map(|_| f.crashed(young).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(f.count(), 7);
        assert_eq!(
            f.crashed(Duration::from_secs(60)),
            100 * MS,
            "stable run resets"
        );
        f.reset();
        assert_eq!(f.failed(), 100 * MS);
        let mut no_stable = Failures::new(Backoff::new(MS, 8 * MS));
        no_stable.crashed(Duration::from_secs(3600));
        assert_eq!(
            no_stable.crashed(Duration::from_secs(3600)),
            2 * MS,
            "no stable_after"
        );
    }
}
