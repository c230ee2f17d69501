//! What a bolt task counts and samples per input (source component, stream).
//!
//! The executor asks [`InputTracker::executed`] for each tuple: one pointer comparison
//! with the previous tuple's interned schema finds its input (a short scan by name
//! otherwise), and one increment counts it. A sampled tuple (see [`Sampler`]) carries
//! the start of its `execute` in microseconds since the tracker was made, wrapping at
//! 2^32 µs (71 minutes; a tuple acked later than that has a process latency off by a
//! multiple of it). Its ack reads it back to measure the process latency; the unsampled
//! path of an ack costs one test of that field.

use crate::api::tuple::{Fields, StreamSchema};
use crate::engine::metrics::sampler::Sampler;
use crate::engine::metrics::ticks::Ticks;
use crate::engine::stats::InputCounts;

/// Consecutive executes sampled together: the end of one is the start of the next
/// (within a batch), so a sampled execute costs 1.25 clock reads instead of 2.
const RUN: u32 = 4;

/// No input (a tuple of an unknown input is counted in the task's totals only).
const NONE: usize = usize::MAX;

/// Per-input counts and latency sampling of one bolt task.
///
/// The counts of the input of the last tuple seen are kept in `cur` (no index, no
/// bounds check on the hot path) and folded into `counts` when another input comes or
/// before a publish.
#[derive(Debug)]
pub(crate) struct InputTracker {
    /// (source component, stream) of each input, in index order.
    keys: Vec<(String, String)>,
    /// Exact counts per input, except what `cur` holds.
    counts: Vec<InputCounts>,
    /// The schema of the current input (a placeholder matching no tuple at first).
    cur_schema: &'static StreamSchema,
    /// Its index ([`NONE`]: not a declared input).
    cur_index: usize,
    /// Counts of the current input not yet in `counts`.
    cur: InputCounts,
    /// Counts of tuples of undeclared inputs (tick tuples, say): in the totals only.
    other: InputCounts,
    /// Which executes are timed.
    pub(crate) sampler: Sampler,
    /// The clock of the samples.
    pub(crate) ticks: Ticks,
    /// Time zero of the `sampled_at` stamps (raw ticks).
    epoch: u64,
    /// The stamp of the sampled tuple in `execute` now (0: none).
    pub(crate) executing: u32,
    /// Its input, when it was acked during that `execute`.
    pub(crate) acked_during: Option<usize>,
    /// When the last sampled `execute` of the current batch ended (the start of the
    /// next one if it continues the run); cleared between batches.
    pub(crate) run_end: Option<u64>,
    /// Whether a tuple of an unknown input was logged already.
    warned: bool,
}

impl InputTracker {
    /// A tracker for these inputs, sampling at `rate`.
    pub(crate) fn new(keys: Vec<(String, String)>, rate: f64, seed: u32) -> InputTracker {
        let ticks = Ticks::new();
        InputTracker {
            counts: vec![InputCounts::default(); keys.len()],
            keys,
            cur_schema: StreamSchema::intern("", "", &Fields::default()),
            cur_index: NONE,
            cur: InputCounts::default(),
            other: InputCounts::default(),
            sampler: Sampler::new(rate, RUN, seed),
            epoch: ticks.now(),
            ticks,
            executing: 0,
            acked_during: None,
            run_end: None,
            warned: false,
        }
    }

    /// Make the input of `schema` the current one.
    #[inline]
    fn select(&mut self, schema: &'static StreamSchema) {
        if !std::ptr::eq(self.cur_schema, schema) {
            self.switch(schema);
        }
    }

    #[cold]
    fn switch(&mut self, schema: &'static StreamSchema) {
        self.fold();
        let found = self
            .keys
            .iter()
            .position(|(c, s)| *c == schema.component && *s == schema.stream);
        if found.is_none() && !self.warned {
            self.warned = true;
            tracing::warn!(
                component = %schema.component,
                stream = %schema.stream,
                "a tuple from an input that is not subscribed: counted in the task's \
                 totals only"
            );
        }
        self.cur_schema = schema;
        self.cur_index = found.unwrap_or(NONE);
    }

    /// Move the current input's counts into `counts`.
    fn fold(&mut self) {
        let cur = std::mem::take(&mut self.cur);
        let c = match self.counts.get_mut(self.cur_index) {
            Some(c) => c,
            None => &mut self.other,
        };
        c.executed += cur.executed;
        c.acked += cur.acked;
        c.failed += cur.failed;
    }

    /// The task's totals over every input, undeclared ones included (for a publish).
    pub(crate) fn totals(&mut self) -> InputCounts {
        self.fold();
        self.counts.iter().fold(self.other, |t, c| InputCounts {
            executed: t.executed + c.executed,
            acked: t.acked + c.acked,
            failed: t.failed + c.failed,
        })
    }

    /// Every input's counts (for a publish).
    pub(crate) fn counts(&mut self) -> &[InputCounts] {
        self.fold();
        &self.counts
    }

    /// The input index of tuples of `schema` (`None`: not one of the declared inputs).
    pub(crate) fn index(&mut self, schema: &'static StreamSchema) -> Option<usize> {
        self.select(schema);
        (self.cur_index != NONE).then_some(self.cur_index)
    }

    /// Count one execute of a tuple of `schema`.
    #[inline]
    pub(crate) fn executed(&mut self, schema: &'static StreamSchema) {
        self.select(schema);
        self.cur.executed += 1;
    }

    /// Count an ack of a tuple of `schema`.
    #[inline]
    pub(crate) fn acked(&mut self, schema: &'static StreamSchema) {
        self.select(schema);
        self.cur.acked += 1;
    }

    /// Count a fail of a tuple of `schema`.
    #[inline]
    pub(crate) fn failed(&mut self, schema: &'static StreamSchema) {
        self.select(schema);
        self.cur.failed += 1;
    }

    /// The stamp of an execute starting at `at` (raw ticks; never 0, which means not
    /// sampled).
    #[inline]
    pub(crate) fn stamp(&self, at: u64) -> u32 {
        let us = self.ticks.micros(self.epoch, at) as u32;
        us.max(1)
    }

    /// Microseconds from the execute stamped `stamp` to `now` (raw ticks).
    #[inline]
    pub(crate) fn since(&self, stamp: u32, now: u64) -> u64 {
        let now_us = self.ticks.micros(self.epoch, now) as u32;
        u64::from(now_us.wrapping_sub(stamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tuple::Fields;
    use std::time::{Duration, Instant};

    fn keys() -> Vec<(String, String)> {
        vec![
            ("a".to_string(), "default".to_string()),
            ("b".to_string(), "side".to_string()),
        ]
    }

    #[test]
    fn counts_go_to_their_input() {
        let a = StreamSchema::intern("a", "default", &Fields::new(["x"]));
        let b = StreamSchema::intern("b", "side", &Fields::new(["y"]));
        let other = StreamSchema::intern("zz", "default", &Fields::new(["y"]));
        let mut t = InputTracker::new(keys(), 0.0, 1);
        for _ in 0..3 {
            t.executed(a);
        }
        t.executed(b);
        t.acked(a);
        t.failed(b);
        t.executed(other);
        t.acked(other);
        assert_eq!(t.index(a), Some(0));
        assert_eq!(t.index(b), Some(1));
        assert_eq!(t.index(other), None);
        t.acked(b);
        let counts = t.counts().to_vec();
        let want = |executed, acked, failed| InputCounts {
            executed,
            acked,
            failed,
        };
        assert_eq!(counts, [want(3, 1, 0), want(1, 1, 1)]);
        // Folding twice adds nothing.
        assert_eq!(t.counts(), &counts[..]);
    }

    #[test]
    fn the_sample_stamp_costs_a_tuple_no_space() {
        // `sampled_at` sits in what was padding (values 56, anchors 24, schema 8,
        // ack value 8, source task 4).
        assert_eq!(std::mem::size_of::<crate::api::tuple::Tuple>(), 104);
    }

    #[test]
    fn stamps_measure_the_time_since() {
        let t = InputTracker::new(keys(), 1.0, 1);
        let (wall, start) = (Instant::now(), t.ticks.now());
        let s = t.stamp(start);
        assert_ne!(s, 0);
        // Measuring a known span, not synchronising.
        std::thread::sleep(Duration::from_millis(5));
        let us = t.since(s, t.ticks.now());
        let wall_us = wall.elapsed().as_micros() as u64;
        assert!(
            (4_000..=wall_us + 2_000).contains(&us),
            "{us} µs of {wall_us}"
        );
        assert_eq!(t.stamp(t.epoch), 1, "0 is reserved for not sampled");
    }
}
