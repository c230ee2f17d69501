//! Failed authentications slow their source down: each failure from an address within
//! [`FORGET_AFTER`] of the last adds [`DELAY_STEP`] (configurable) to the answer's delay,
//! up to a maximum. The table is bounded ([`MAX_SOURCES`]): it cannot be used to hold
//! memory; past the bound, quiet addresses are dropped first, then all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Delay added per recent failure.
pub const DELAY_STEP: Duration = Duration::from_millis(100);
/// Most delay.
pub const DELAY_MAX: Duration = Duration::from_secs(2);
/// A source quiet this long starts from zero again.
pub const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Most sources tracked.
pub const MAX_SOURCES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Source {
    failures: u32,
    last: Instant,
}

/// Recent failures by source address.
#[derive(Debug)]
pub struct Failures {
    step: Duration,
    max: Duration,
    sources: Mutex<HashMap<IpAddr, Source>>,
}

impl Failures {
    /// Failures adding `step` each, up to `max`.
    pub fn new(step: Duration, max: Duration) -> Failures {
        Failures {
            step,
            max,
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// Record a failure from `ip` at `now`; how long to wait before answering it.
    pub fn fail(&self, ip: IpAddr, now: Instant) -> Duration {
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        if !sources.contains_key(&ip) && sources.len() >= MAX_SOURCES {
            sources.retain(|_, s| now.saturating_duration_since(s.last) < FORGET_AFTER);
            if sources.len() >= MAX_SOURCES {
                sources.clear();
            }
        }
        let s = sources.entry(ip).or_insert(Source {
            failures: 0,
            last: now,
        });
        if now.saturating_duration_since(s.last) >= FORGET_AFTER {
            s.failures = 0;
        }
        s.failures = s.failures.saturating_add(1);
        s.last = now;
        self.step.saturating_mul(s.failures).min(self.max)
    }

    /// How many sources are tracked (tests).
    pub fn tracked(&self) -> usize {
        self.sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_the_table_is_bounded() {
        let f = Failures::new(Duration::from_millis(100), Duration::from_millis(250));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Instant::now();
        assert_eq!(f.fail(ip, t), Duration::from_millis(100));
        assert_eq!(f.fail(ip, t), Duration::from_millis(200));
        assert_eq!(f.fail(ip, t), Duration::from_millis(250));
        assert_eq!(f.fail(ip, t + FORGET_AFTER), Duration::from_millis(100));
        for i in 0..(MAX_SOURCES as u32 + 100) {
            f.fail(IpAddr::from(i.to_be_bytes()), t);
        }
        assert!(f.tracked() <= MAX_SOURCES, "{}", f.tracked());
    }
}
