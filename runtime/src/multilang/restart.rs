//! When to restart a subprocess that died: soon after an isolated crash, backing off
//! (100 ms, doubling, at most 2 s) while it keeps crashing soon after each start.

use std::time::{Duration, Instant};

use crate::engine::backoff::{Backoff, Failures};

/// 100 ms, doubling, at most 2 s (kept well under the executor's stop grace period); a
/// subprocess that ran 10 s before dying starts the backoff over.
const POLICY: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
    .stable_after(Duration::from_secs(10));

/// Restart policy state of one shell task.
#[derive(Debug)]
pub(crate) struct Restarts {
    /// Crashes in a row, each soon after its start.
    failures: Failures,
    /// No restart before this.
    not_before: Option<Instant>,
    /// Restarts so far.
    pub(crate) count: u64,
}

impl Default for Restarts {
    fn default() -> Restarts {
        Restarts {
            failures: Failures::new(POLICY),
            not_before: None,
            count: 0,
        }
    }
}

impl Restarts {
    /// A subprocess that ran for `lived` died (or could not start): returns the delay
    /// before the next start.
    pub(crate) fn crashed(&mut self, lived: Duration) -> Duration {
        let delay = self.failures.crashed(lived);
        self.not_before = Some(Instant::now() + delay);
        delay
    }

    /// Wait out the delay, if any (bounded by the policy's longest delay); call before a restart.
    pub(crate) fn wait(&mut self) {
        if let Some(t) = self.not_before.take() {
            let left = t.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                std::thread::sleep(left);
            }
        }
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_while_crashing_young_and_resets_when_stable() {
        let mut r = Restarts::default();
        let young = Duration::from_millis(10);
        let delays: Vec<u128> = (0..7).map(|_| r.crashed(young).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(r.crashed(Duration::from_secs(60)).as_millis(), 100);
    }
}
