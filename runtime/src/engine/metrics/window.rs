//! Rolling windows in bounded memory: Storm's 10 minutes, 3 hours and 1 day, each a
//! ring of [`BUCKETS_PER_WINDOW`] buckets (30 s, 9 min and 72 min wide), plus an
//! all-time total. Values are anything [`Mergeable`] (counts, [`Histogram`]s, structs of
//! them): [`Rolling::add`] merges a value into the current bucket of every ring and into
//! the total; [`Rolling::total`] merges the buckets a window covers at a given time.
//!
//! Pure data: time is passed in (unix milliseconds), nothing sleeps or reads a clock.
//! Memory per series is fixed by the bucket count: `3 × 20` bucket values and one total,
//! whatever the rate of additions.
//!
//! What a window covers at `now`: the bucket holding `now` (partial) and the 19 before
//! it, i.e. between 19 and 20 bucket widths of history ([`Rolling::covered_ms`] says how
//! much exactly, so a rate or a capacity divides by the time really summed).

use super::Histogram;

/// Buckets per window (Storm's UI keeps 20 per window as well).
pub const BUCKETS_PER_WINDOW: u64 = 20;

/// The windows kept, as their lengths in seconds (Storm's `600`, `10800`, `86400`).
pub const WINDOW_SECS: [u64; 3] = [600, 10_800, 86_400];

/// A value that can be rolled up: merging two is the value of both.
pub trait Mergeable: Default + Clone {
    /// Add `other` into `self`.
    fn merge(&mut self, other: &Self);
}

impl Mergeable for u64 {
    fn merge(&mut self, other: &u64) {
        *self = self.saturating_add(*other);
    }
}

impl Mergeable for Histogram {
    fn merge(&mut self, other: &Histogram) {
        Histogram::merge(self, other);
    }
}

impl<A: Mergeable, B: Mergeable> Mergeable for (A, B) {
    fn merge(&mut self, other: &(A, B)) {
        self.0.merge(&other.0);
        self.1.merge(&other.1);
    }
}

/// One window: a ring of buckets `bucket_ms` wide.
#[derive(Debug, Clone)]
struct Ring<T> {
    bucket_ms: u64,
    /// `(bucket number = time / bucket_ms, value)`, at index `number % BUCKETS_PER_WINDOW`.
    slots: Vec<Option<(u64, T)>>,
    /// The newest bucket number written (time never goes back in the ring: a clock
    /// stepped back adds to the newest bucket).
    newest: u64,
}

impl<T: Mergeable> Ring<T> {
    fn new(bucket_ms: u64) -> Ring<T> {
        Ring {
            bucket_ms: bucket_ms.max(1),
            slots: vec![None; BUCKETS_PER_WINDOW as usize],
            newest: 0,
        }
    }

    fn add(&mut self, now_ms: u64, value: &T) {
        let k = (now_ms / self.bucket_ms).max(self.newest);
        self.newest = k;
        let slot = &mut self.slots[(k % BUCKETS_PER_WINDOW) as usize];
        match slot {
            Some((n, v)) if *n == k => v.merge(value),
            _ => *slot = Some((k, value.clone())),
        }
    }

    /// The first bucket number the window covers at `now_ms`.
    fn first(&self, now_ms: u64) -> u64 {
        let k = (now_ms / self.bucket_ms).max(self.newest);
        k.saturating_sub(BUCKETS_PER_WINDOW - 1)
    }

    fn total(&self, now_ms: u64) -> T {
        let first = self.first(now_ms);
        let mut out = T::default();
        for (n, v) in self.slots.iter().flatten() {
            if *n >= first {
                out.merge(v);
            }
        }
        out
    }

    fn covered_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.first(now_ms).saturating_mul(self.bucket_ms))
    }
}

/// A series rolled up over Storm's windows and all time (see the module docs).
#[derive(Debug, Clone)]
pub struct Rolling<T> {
    rings: [Ring<T>; 3],
    all_time: T,
}

impl<T: Mergeable> Default for Rolling<T> {
    fn default() -> Self {
        Rolling::new()
    }
}

impl<T: Mergeable> Rolling<T> {
    /// Empty windows of [`WINDOW_SECS`], [`BUCKETS_PER_WINDOW`] buckets each.
    pub fn new() -> Rolling<T> {
        Rolling {
            rings: WINDOW_SECS.map(|s| Ring::new(s * 1000 / BUCKETS_PER_WINDOW)),
            all_time: T::default(),
        }
    }

    /// Add `value`, which happened at `now_ms`.
    pub fn add(&mut self, now_ms: u64, value: &T) {
        for r in &mut self.rings {
            r.add(now_ms, value);
        }
        self.all_time.merge(value);
    }

    /// Add `value` to the all-time total only: something whose time is unknown (it
    /// would distort whichever bucket it landed in).
    pub fn add_all_time(&mut self, value: &T) {
        self.all_time.merge(value);
    }

    fn ring(&self, window_secs: u64) -> Option<&Ring<T>> {
        WINDOW_SECS
            .iter()
            .position(|&s| s == window_secs)
            .map(|i| &self.rings[i])
    }

    /// Everything added in the window of `window_secs` (one of [`WINDOW_SECS`]) at
    /// `now_ms`; `None` (or a length not kept): all time.
    pub fn total(&self, window_secs: Option<u64>, now_ms: u64) -> T {
        match window_secs.and_then(|s| self.ring(s)) {
            Some(r) => r.total(now_ms),
            None => self.all_time.clone(),
        }
    }

    /// The all-time total, without a copy.
    pub fn all_time(&self) -> &T {
        &self.all_time
    }

    /// Milliseconds of history [`Rolling::total`] sums for `window_secs` at `now_ms`
    /// (between 19 and 20 bucket widths once the series is that old); `None` for all
    /// time (unbounded).
    pub fn covered_ms(&self, window_secs: Option<u64>, now_ms: u64) -> Option<u64> {
        window_secs
            .and_then(|s| self.ring(s))
            .map(|r| r.covered_ms(now_ms))
    }

    /// Every value kept (3 × [`BUCKETS_PER_WINDOW`] buckets and the total), for memory
    /// accounting.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.rings
            .iter()
            .flat_map(|r| r.slots.iter().flatten().map(|(_, v)| v))
            .chain(std::iter::once(&self.all_time))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000 / 30_000 * 30_000; // on a 30 s boundary
    const MIN: u64 = 60_000;

    #[test]
    fn counts_roll_out_of_each_window_and_stay_in_all_time() {
        let mut r: Rolling<u64> = Rolling::new();
        r.add(T0, &5);
        r.add(T0 + 10_000, &7); // same 30 s bucket
        r.add(T0 + 5 * MIN, &1);
        assert_eq!(r.total(Some(600), T0 + 5 * MIN), 13);
        // 10 min later the first bucket has left the 10-min window, not the 3-h one.
        assert_eq!(r.total(Some(600), T0 + 10 * MIN), 1);
        assert_eq!(r.total(Some(10_800), T0 + 10 * MIN), 13);
        assert_eq!(r.total(Some(600), T0 + 16 * MIN), 0);
        // 3 h later: only the day and all time remember.
        assert_eq!(r.total(Some(10_800), T0 + 185 * MIN), 0);
        assert_eq!(r.total(Some(86_400), T0 + 185 * MIN), 13);
        assert_eq!(r.total(Some(86_400), T0 + 25 * 60 * MIN), 0);
        assert_eq!(r.total(None, T0 + 25 * 60 * MIN), 13);
        assert_eq!(*r.all_time(), 13);
        r.add_all_time(&100);
        assert_eq!(r.total(None, T0), 113);
        assert_eq!(r.total(Some(86_400), T0 + 5 * MIN), 13, "not in any window");
    }

    #[test]
    fn a_ring_reuses_its_slots_and_memory_is_fixed() {
        let mut r: Rolling<u64> = Rolling::new();
        // Two days of additions every 10 s: the ring wraps many times.
        let mut t = T0;
        let mut n = 0u64;
        while t < T0 + 2 * 24 * 60 * MIN {
            r.add(t, &1);
            n += 1;
            t += 10_000;
        }
        let now = t - 10_000;
        assert_eq!(r.values().count(), 3 * BUCKETS_PER_WINDOW as usize + 1);
        assert_eq!(*r.all_time(), n);
        // The 10-min window: the current partial bucket and 19 full ones.
        let covered = r.covered_ms(Some(600), now).unwrap();
        assert!((570_000..=600_000).contains(&covered), "{covered}");
        // Adds at every 10 s from the window start up to `now` inclusive.
        assert_eq!(r.total(Some(600), now), covered / 10_000 + 1);
        assert_eq!(r.covered_ms(None, now), None);
    }

    #[test]
    fn a_clock_stepped_back_adds_to_the_newest_bucket() {
        let mut r: Rolling<u64> = Rolling::new();
        r.add(T0 + 20 * MIN, &2);
        r.add(T0, &3); // an old time: counted now, not lost nor misfiled
        assert_eq!(r.total(Some(600), T0 + 20 * MIN), 5);
        assert_eq!(r.total(Some(600), T0 + 31 * MIN), 0);
    }

    #[test]
    fn histograms_merge_over_the_window() {
        let mut r: Rolling<(u64, Histogram)> = Rolling::new();
        let h = |vals: &[u64]| {
            let mut h = Histogram::new();
            vals.iter().for_each(|v| h.record(*v));
            h
        };
        r.add(T0, &(2, h(&[100, 200])));
        r.add(T0 + 11 * MIN, &(1, h(&[5000])));
        let (n, hist) = r.total(Some(600), T0 + 11 * MIN);
        assert_eq!((n, hist.count(), hist.max()), (1, 1, Some(5000)));
        let (n, hist) = r.total(Some(10_800), T0 + 11 * MIN);
        assert_eq!((n, hist.count(), hist.max()), (3, 3, Some(5000)));
        assert_eq!(r.total(Some(600), T0 + 30 * MIN).1, Histogram::new());
    }

    #[test]
    fn covered_time_is_short_for_a_young_series_only_through_the_caller() {
        let r: Rolling<u64> = Rolling::new();
        // Bucket numbers count from the epoch: a window is always "full" in covered
        // time; callers bound it by the series' uptime (capacity does).
        let c = r.covered_ms(Some(600), T0 + 1_000).unwrap();
        assert_eq!(c, 19 * 30_000 + 1_000);
        assert_eq!(r.total(Some(999), T0), 0, "an unknown length is all time");
    }
}
