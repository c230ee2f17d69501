//! Replaying failed messages with exponential backoff, bounded by default: a helper any
//! spout can use (the Kafka spout does), after storm-kafka-client's
//! `KafkaSpoutRetryExponentialBackoff`.
//!
//! [`RetryPolicy`] is the rule (failures → delay; how many retries before giving up);
//! [`RetrySchedule`] keeps, per message key, how often it failed and when it may be
//! emitted again. Time is passed in, so tests need no clock.
//!
//! Unlike Storm, whose default retries for ever (a poison record then blocks its
//! partition's commits for good), the default here gives up after
//! [`RetryPolicy::DEFAULT_MAX_RETRIES`] retries: the spout then sends the message to a
//! dead-letter stream (or drops it) and moves on.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use squall_runtime::retry::{RetryDecision, RetryPolicy, RetrySchedule};
//!
//! let policy = RetryPolicy::new(Duration::ZERO, Duration::from_millis(10), Duration::from_secs(1))
//!     .max_retries(2);
//! let mut schedule = RetrySchedule::new(policy);
//! let t0 = Instant::now();
//! // First failure: retried at once (initial delay 0).
//! assert!(matches!(schedule.fail(7u64, t0), RetryDecision::Retry { attempt: 1, .. }));
//! assert_eq!(schedule.ready(t0).collect::<Vec<_>>(), vec![&7]);
//! schedule.emitted(&7); // re-emitted: no longer scheduled, its failures remembered
//! // Second failure: 10 ms × 2^1 later.
//! assert!(matches!(schedule.fail(7, t0), RetryDecision::Retry { attempt: 2, .. }));
//! assert!(!schedule.is_ready(&7, t0));
//! assert!(schedule.is_ready(&7, t0 + Duration::from_millis(20)));
//! schedule.emitted(&7);
//! // Third failure: both retries used up.
//! assert_eq!(schedule.fail(7, t0), RetryDecision::Exhausted { failures: 3 });
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// When a failed message may be emitted again, and how many times.
///
/// Failure 1 waits `initial_delay`; failure `n ≥ 2` waits `delay_period × 2^(n-1)`;
/// no wait exceeds `max_delay`. After `max_retries` retries (`max_retries + 1` failures)
/// the message is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    initial_delay: Duration,
    delay_period: Duration,
    max_delay: Duration,
    max_retries: u32,
}

impl Default for RetryPolicy {
    /// storm-kafka-client's delays (0, then 2 ms × 2^(n-1), at most 10 s) with a bounded
    /// number of retries ([`RetryPolicy::DEFAULT_MAX_RETRIES`]) instead of Storm's
    /// unbounded default.
    fn default() -> RetryPolicy {
        RetryPolicy::new(
            Duration::ZERO,
            Duration::from_millis(2),
            Duration::from_secs(10),
        )
    }
}

impl RetryPolicy {
    /// Retries a message gets by default before it is given up.
    pub const DEFAULT_MAX_RETRIES: u32 = 10;

    /// A policy with these delays and [`RetryPolicy::DEFAULT_MAX_RETRIES`] retries.
    pub const fn new(initial_delay: Duration, delay_period: Duration, max_delay: Duration) -> Self {
        RetryPolicy {
            initial_delay,
            delay_period,
            max_delay,
            max_retries: Self::DEFAULT_MAX_RETRIES,
        }
    }

    /// Give a message up after `n` retries (`u32::MAX`: never, Storm's default).
    pub const fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The number of retries before a message is given up.
    pub const fn retries(&self) -> u32 {
        self.max_retries
    }

    /// The wait after the `failures`-th failure in a row (1-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let d = match failures {
            0 | 1 => self.initial_delay,
            n => {
                let shift = (n - 1).min(63);
                let factor = 1u64.checked_shl(shift).unwrap_or(u64::MAX);
                let factor = u32::try_from(factor).unwrap_or(u32::MAX);
                self.delay_period.saturating_mul(factor)
            }
        };
        d.min(self.max_delay)
    }
}

/// What to do with a message that just failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Emit it again at `at`; this will be retry number `attempt`.
    Retry {
        /// 1 for the first retry.
        attempt: u32,
        /// Not before this instant.
        at: Instant,
    },
    /// Retries are used up: give the message up (dead-letter it); it is no longer
    /// tracked here.
    Exhausted {
        /// How often it failed.
        failures: u32,
    },
}

/// Failed messages waiting to be emitted again, by key, with their failure counts.
///
/// A key's failure count lives from its first failure until [`RetrySchedule::acked`]
/// (or [`RetrySchedule::forget`], or the decision [`RetryDecision::Exhausted`]); the
/// schedule holds one entry per failed key still in play, so it is bounded by the
/// messages a spout has in flight.
#[derive(Debug, Clone)]
pub struct RetrySchedule<K: Ord + Clone> {
    policy: RetryPolicy,
    /// Failures so far of every key that failed and is still in play.
    failures: BTreeMap<K, u32>,
    /// When each scheduled (not yet re-emitted) key is due.
    due: BTreeMap<K, Instant>,
    /// The scheduled keys by due time.
    by_time: BTreeSet<(Instant, K)>,
}

impl<K: Ord + Clone> RetrySchedule<K> {
    /// An empty schedule following `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        RetrySchedule {
            policy,
            failures: BTreeMap::new(),
            due: BTreeMap::new(),
            by_time: BTreeSet::new(),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// `key` failed at `now`: schedule its retry, or give it up when its retries are
    /// used up.
    pub fn fail(&mut self, key: K, now: Instant) -> RetryDecision {
        self.unschedule(&key);
        let failures = self
            .failures
            .get(&key)
            .copied()
            .unwrap_or(0)
            .saturating_add(1);
        if failures > self.policy.max_retries {
            self.failures.remove(&key);
            return RetryDecision::Exhausted { failures };
        }
        let at = now + self.policy.delay(failures);
        self.failures.insert(key.clone(), failures);
        self.due.insert(key.clone(), at);
        self.by_time.insert((at, key));
        RetryDecision::Retry {
            attempt: failures,
            at,
        }
    }

    /// `key` was emitted again: it is no longer scheduled; its failures are remembered
    /// until it is acked.
    pub fn emitted(&mut self, key: &K) {
        self.unschedule(key);
    }

    /// `key` was acked: forget it.
    pub fn acked(&mut self, key: &K) {
        self.forget(key);
    }

    /// Forget `key` altogether (it is no longer this spout's: a partition moved away).
    pub fn forget(&mut self, key: &K) {
        self.unschedule(key);
        self.failures.remove(key);
    }

    /// Keep only the keys `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        let drop: Vec<K> = self.failures.keys().filter(|k| !keep(k)).cloned().collect();
        for k in &drop {
            self.forget(k);
        }
    }

    /// Whether `key` waits for a retry (failed, not emitted again yet).
    pub fn is_scheduled(&self, key: &K) -> bool {
        self.due.contains_key(key)
    }

    /// Whether `key` is scheduled and due at `now`.
    pub fn is_ready(&self, key: &K, now: Instant) -> bool {
        self.due.get(key).is_some_and(|at| *at <= now)
    }

    /// How often `key` failed so far (0: never, or acked since).
    pub fn failures(&self, key: &K) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }

    /// The scheduled keys due at `now`, earliest due first.
    pub fn ready(&self, now: Instant) -> impl Iterator<Item = &K> + '_ {
        self.by_time
            .iter()
            .take_while(move |(at, _)| *at <= now)
            .map(|(_, k)| k)
    }

    /// When the next scheduled key is due (`None`: nothing scheduled).
    pub fn next_due(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Number of keys waiting for a retry.
    pub fn scheduled(&self) -> usize {
        self.due.len()
    }

    /// Number of keys with failures in play (scheduled or emitted again).
    pub fn len(&self) -> usize {
        self.failures.len()
    }

    /// Whether nothing failed is in play.
    pub fn is_empty(&self) -> bool {
        self.failures.is_empty()
    }

    fn unschedule(&mut self, key: &K) {
        if let Some(at) = self.due.remove(key) {
            self.by_time.remove(&(at, key.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn delays_follow_storm_formula_and_cap() {
        let p = RetryPolicy::new(ms(5), ms(2), ms(100));
        assert_eq!(p.delay(1), ms(5));
        assert_eq!(p.delay(2), ms(4));
        assert_eq!(p.delay(3), ms(8));
        assert_eq!(p.delay(6), ms(64));
        assert_eq!(p.delay(7), ms(100));
        assert_eq!(p.delay(u32::MAX), ms(100));
        assert_eq!(
            RetryPolicy::default().retries(),
            RetryPolicy::DEFAULT_MAX_RETRIES
        );
    }

    #[test]
    fn ready_in_due_order_and_exhausts_after_max_retries() {
        let mut s = RetrySchedule::new(RetryPolicy::new(ms(10), ms(10), ms(1000)).max_retries(1));
        let t0 = Instant::now();
        assert!(matches!(
            s.fail(2u64, t0),
            RetryDecision::Retry { attempt: 1, .. }
        ));
        assert!(matches!(
            s.fail(1u64, t0 + ms(5)),
            RetryDecision::Retry { .. }
        ));
        assert_eq!(s.ready(t0).count(), 0);
        assert_eq!(
            s.ready(t0 + ms(15)).copied().collect::<Vec<_>>(),
            vec![2, 1]
        );
        assert_eq!(s.next_due(), Some(t0 + ms(10)));
        s.emitted(&2);
        assert!(!s.is_scheduled(&2));
        assert_eq!(s.failures(&2), 1);
        assert_eq!(s.fail(2, t0), RetryDecision::Exhausted { failures: 2 });
        assert_eq!(s.failures(&2), 0);
        assert_eq!(s.len(), 1);
        s.acked(&1);
        assert!(s.is_empty());
        assert_eq!(s.next_due(), None);
    }

    #[test]
    fn fail_while_scheduled_reschedules_once() {
        let mut s = RetrySchedule::new(RetryPolicy::default());
        let t0 = Instant::now();
        s.fail(1u64, t0);
        s.fail(1u64, t0);
        assert_eq!(s.scheduled(), 1);
        assert_eq!(s.failures(&1), 2);
        s.retain(|k| *k != 1);
        assert!(s.is_empty());
        assert_eq!(s.scheduled(), 0);
    }

    #[test]
    fn unbounded_policy_never_exhausts() {
        let mut s = RetrySchedule::new(RetryPolicy::default().max_retries(u32::MAX));
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(matches!(s.fail(1u64, t0), RetryDecision::Retry { .. }));
            s.emitted(&1);
        }
    }
}
