//! [`WatermarkGenerator`]: event-time progress from the inputs' timestamps (Storm's
//! `WaterMarkEventGenerator`), per input, with idleness.
//!
//! An input is one source task on one stream (finer than Storm's per-stream tracking: a
//! fast task cannot hide a slow task of the same component). The watermark is the
//! smallest latest timestamp over the active inputs, minus the lag; it never goes back.
//! Until every active input has sent a tuple there is no watermark.
//!
//! **Idleness** (as Flink's): an input with no tuple for the idle timeout stops holding
//! the watermark back until it sends again — so one silent partition does not stall every
//! window (and, since window tuples are acked when they expire, make them all time out and
//! replay). When every input is idle, the watermark is the largest latest timestamp minus
//! the lag: no input holds it back, and the windows of what arrived fire. Activity is
//! noted per tuple with no clock read; the clock is read when a watermark is computed,
//! so idleness is decided to within one watermark interval.

use std::collections::HashMap;
use std::hash::Hash;

/// One input's progress.
#[derive(Debug, Clone, Copy)]
struct Input {
    /// The largest timestamp seen.
    latest: Option<i64>,
    /// A tuple arrived since the last watermark computation.
    active: bool,
    /// When it was last seen active (processing time, milliseconds).
    seen_at: i64,
}

/// Watermarks from per-input timestamps.
#[derive(Debug)]
pub(crate) struct WatermarkGenerator<K> {
    lag: i64,
    /// 0: inputs are never idle.
    idle_timeout: i64,
    inputs: HashMap<K, Input>,
    watermark: Option<i64>,
}

impl<K: Hash + Eq + Copy> WatermarkGenerator<K> {
    /// A generator expecting tuples from `inputs`, started at processing time `now`.
    pub(crate) fn new(
        inputs: impl IntoIterator<Item = K>,
        lag_ms: u64,
        idle_timeout_ms: u64,
        now: i64,
    ) -> Self {
        let fresh = Input {
            latest: None,
            active: false,
            seen_at: now,
        };
        WatermarkGenerator {
            lag: i64::try_from(lag_ms).unwrap_or(i64::MAX),
            idle_timeout: i64::try_from(idle_timeout_ms).unwrap_or(i64::MAX),
            inputs: inputs.into_iter().map(|k| (k, fresh)).collect(),
            watermark: None,
        }
    }

    /// A tuple with timestamp `ts` arrived on `input`. Returns `false` when it is late:
    /// behind the current watermark (its windows have fired).
    #[inline]
    pub(crate) fn track(&mut self, input: K, ts: i64) -> bool {
        let e = self.inputs.entry(input).or_insert(Input {
            latest: None,
            active: false,
            seen_at: i64::MIN,
        });
        e.active = true;
        if e.latest.is_none_or(|l| ts > l) {
            e.latest = Some(ts);
        }
        self.watermark.is_none_or(|w| ts >= w)
    }

    /// The current watermark.
    pub(crate) fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// Compute the watermark at processing time `now`; returns it when it advanced.
    pub(crate) fn advance(&mut self, now: i64) -> Option<i64> {
        let mut min_active: Option<i64> = None;
        let mut max_all: Option<i64> = None;
        let mut any_active = false;
        let mut waiting = false;
        for input in self.inputs.values_mut() {
            if input.active {
                input.active = false;
                input.seen_at = now;
            }
            let idle =
                self.idle_timeout > 0 && now.saturating_sub(input.seen_at) >= self.idle_timeout;
            if let Some(l) = input.latest {
                max_all = Some(max_all.map_or(l, |m| m.max(l)));
            }
            if idle {
                continue;
            }
            any_active = true;
            match input.latest {
                Some(l) => min_active = Some(min_active.map_or(l, |m| m.min(l))),
                None => waiting = true,
            }
        }
        let base = if any_active {
            if waiting { None } else { min_active }
        } else {
            max_all
        };
        let candidate = base?.saturating_sub(self.lag);
        if self.watermark.is_some_and(|w| candidate <= w) {
            return None;
        }
        self.watermark = Some(candidate);
        Some(candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_is_the_slowest_input_minus_the_lag() {
        let mut g = WatermarkGenerator::new(["a", "b"], 5, 0, 0);
        assert!(g.track("a", 100));
        assert_eq!(g.advance(1), None, "b has not sent yet");
        assert!(g.track("b", 50));
        assert!(
            g.track("a", 90),
            "out of order but not behind the watermark"
        );
        assert_eq!(g.advance(2), Some(45));
        assert!(!g.track("b", 44), "late: behind the watermark");
        assert!(g.track("b", 45));
        assert_eq!(g.advance(3), None, "no progress: b is still at 50");
        g.track("b", 200);
        assert_eq!(g.advance(4), Some(95));
        // Never idle with a zero timeout: a stops sending, the watermark stays.
        g.track("b", 300);
        assert_eq!(g.advance(1_000_000), None);
    }

    #[test]
    fn an_idle_input_stops_holding_the_watermark_back() {
        let mut g = WatermarkGenerator::new(["a", "b"], 0, 1000, 0);
        g.track("a", 10);
        assert_eq!(g.advance(500), None, "b never sent and is not idle yet");
        g.track("a", 20);
        // b silent since the start for 1000 ms: idle.
        assert_eq!(g.advance(1000), Some(20));
        g.track("a", 30);
        assert_eq!(g.advance(1500), Some(30));
        // b wakes up, behind the watermark: late, but active again and holding it back.
        assert!(!g.track("b", 25));
        g.track("a", 40);
        assert_eq!(g.advance(1600), None, "b (25) holds the watermark at 30");
        g.track("b", 35);
        g.track("a", 41);
        assert_eq!(g.advance(1700), Some(35));
        // Both idle: the watermark goes to the latest timestamp seen.
        assert_eq!(g.advance(2699), None);
        assert_eq!(g.advance(2700), Some(41));
    }
}
