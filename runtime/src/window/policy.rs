//! The trigger and eviction policies (Storm's `Count`/`Time`/`WatermarkCount`/
//! `WatermarkTime` × trigger/eviction), as pure functions over a sorted [`EventStore`].
//!
//! - **Eviction** (the length) at a reference time `end`: a duration window keeps the
//!   events with a time in `(end - length, end]`; a count window keeps the last `length`
//!   events with a time `<= end`. What comes before is expired; events after `end` are
//!   kept for later windows.
//! - **Trigger** (the sliding interval): a count trigger fires every `n` tuples (in
//!   processing time: on arrival, at the arrival time; in event time: at the time of
//!   every `n`-th event, in time order, that the watermark passed); a duration trigger
//!   fires at the ends of a grid of period `interval` (processing time: from the bolt's
//!   start; event time: from 0, the first end being the earliest event time rounded up
//!   to the interval) once the clock or the watermark reaches them.

use crate::window::config::Span;
use crate::window::store::EventStore;

/// A window's length: what eviction keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    /// The last `n` events (with a time `<= end`).
    Count(usize),
    /// The events of the last `ms` milliseconds before `end` (inclusive of `end`).
    Millis(i64),
}

/// A window's sliding interval: when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slide {
    /// Every `n` events.
    Count(u64),
    /// Every `ms` milliseconds.
    Millis(i64),
}

impl Length {
    /// From a configured span.
    pub(crate) fn of(span: Span) -> Length {
        match span {
            Span::Count(n) => Length::Count(usize::try_from(n).unwrap_or(usize::MAX)),
            Span::Millis(ms) => Length::Millis(i64::try_from(ms).unwrap_or(i64::MAX)),
        }
    }

    /// How many of the store's first events expire at reference time `end`.
    pub(crate) fn expired_at<T>(self, store: &mut impl EventStore<T>, end: i64) -> usize {
        match self {
            Length::Count(n) => store.count_until(end).saturating_sub(n),
            Length::Millis(ms) => store.count_until(end.saturating_sub(ms)),
        }
    }

    /// The window's start time for an end time (duration windows only, as Storm).
    pub(crate) fn start(self, end: i64) -> Option<i64> {
        match self {
            Length::Count(_) => None,
            Length::Millis(ms) => Some(end.saturating_sub(ms)),
        }
    }
}

impl Slide {
    /// From a configured span.
    pub(crate) fn of(span: Span) -> Slide {
        match span {
            Span::Count(n) => Slide::Count(n.max(1)),
            Span::Millis(ms) => Slide::Millis(i64::try_from(ms.max(1)).unwrap_or(i64::MAX)),
        }
    }
}

/// The first end of the grid `base + k * interval` at or after `ts`.
pub(crate) fn align_up(ts: i64, base: i64, interval: i64) -> i64 {
    let (ts, base, interval) = (
        i128::from(ts),
        i128::from(base),
        i128::from(interval.max(1)),
    );
    let k = (ts - base).div_euclid(interval);
    let mut end = base + k * interval;
    if end < ts {
        end += interval;
    }
    i64::try_from(end).unwrap_or(if end < 0 { i64::MIN } else { i64::MAX })
}

/// Event-time count trigger: the times of every `n`-th event (in time order) after
/// `after` up to `upto` — the ends of the windows the watermark `upto` fires. Events
/// past the last multiple of `n` are counted again next time.
pub(crate) fn count_trigger_ends<T>(
    store: &mut impl EventStore<T>,
    after: i64,
    upto: i64,
    n: u64,
) -> Vec<i64> {
    let (lo, hi) = (store.count_until(after), store.count_until(upto));
    let mut ends = Vec::new();
    let mut seen = 0u64;
    for i in lo..hi {
        seen += 1;
        if seen.is_multiple_of(n)
            && let Some(ts) = store.ts_at(i)
        {
            ends.push(ts);
        }
    }
    ends
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::store::{Event, MemoryStore};

    #[test]
    fn grid_alignment_is_a_ceiling() {
        assert_eq!(align_up(7, 0, 5), 10);
        assert_eq!(align_up(10, 0, 5), 10);
        assert_eq!(align_up(-3, 0, 5), 0);
        assert_eq!(align_up(-7, 0, 5), -5);
        assert_eq!(align_up(1003, 1000, 10), 1010);
        assert_eq!(align_up(i64::MAX - 1, 0, 10), i64::MAX);
    }

    #[test]
    fn eviction_keeps_the_length_before_the_end() {
        let mut s = MemoryStore::default();
        for ts in [1, 2, 3, 4, 5, 8] {
            s.insert(Event {
                ts,
                shown: false,
                item: (),
            });
        }
        assert_eq!(Length::Count(3).expired_at(&mut s, 5), 2);
        assert_eq!(Length::Count(3).expired_at(&mut s, 2), 0);
        assert_eq!(Length::Millis(3).expired_at(&mut s, 5), 2);
        assert_eq!(Length::Millis(3).expired_at(&mut s, 8), 5);
        assert_eq!(count_trigger_ends(&mut s, 0, 8, 2), [2, 4, 8]);
        assert_eq!(count_trigger_ends(&mut s, 2, 5, 2), [4]);
    }
}
