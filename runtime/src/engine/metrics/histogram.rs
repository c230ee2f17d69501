//! A compact latency histogram: log-linear buckets (16 per power of two, so a bucket's
//! width is at most 1/16 of its lower bound and a reported percentile is within about
//! 3% of the true value), stored sparsely as sorted `(bucket, count)` pairs. Small enough
//! to keep one per task, input stream and window bucket, mergeable (roll-ups) and
//! subtractable (a worker reports totals since it started; nimbus keeps the differences).
//!
//! Values are unsigned integers in any unit; latencies are recorded in microseconds.
//! Values above [`MAX_VALUE`] are recorded as [`MAX_VALUE`].

use serde::{Deserialize, Serialize};

/// Buckets per power of two (and the values below it, which get a bucket each).
const SUB: u64 = 16;
/// log2 of [`SUB`].
const SUB_BITS: u32 = 4;
/// The largest recordable value (2^40 µs is about 12.7 days).
pub const MAX_VALUE: u64 = (1 << 40) - 1;
/// Number of buckets: 16 exact ones, then 16 per power of two from 2^4 to 2^39.
pub const NUM_BUCKETS: usize = (SUB + (40 - SUB_BITS as u64) * SUB) as usize;

/// The bucket of `v` (clamped to [`MAX_VALUE`]).
fn index(v: u64) -> u16 {
    let v = v.min(MAX_VALUE);
    if v < SUB {
        return v as u16;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let sub = (v >> (e - SUB_BITS)) & (SUB - 1);
    (SUB + u64::from(e - SUB_BITS) * SUB + sub) as u16
}

/// The smallest value of bucket `i`.
fn lower(i: u16) -> u64 {
    let i = u64::from(i);
    if i < SUB {
        return i;
    }
    let e = (i - SUB) / SUB + u64::from(SUB_BITS);
    let sub = (i - SUB) % SUB;
    (1 << e) + (sub << (e - u64::from(SUB_BITS)))
}

/// The largest value of bucket `i`.
fn upper(i: u16) -> u64 {
    if usize::from(i) + 1 >= NUM_BUCKETS {
        return MAX_VALUE;
    }
    lower(i + 1) - 1
}

/// A histogram of unsigned values (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawHistogram", into = "RawHistogram")]
pub struct Histogram {
    /// Values recorded.
    count: u64,
    /// Sum of the values recorded (saturating).
    sum: u64,
    /// Largest value recorded (0 when empty).
    max: u64,
    /// `(bucket, count)`, sorted by bucket, counts > 0.
    buckets: Vec<(u16, u64)>,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram::default()
    }

    /// Record one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.record_n(v, 1);
    }

    /// Record `v` `n` times (`n` = 0 records nothing).
    pub fn record_n(&mut self, v: u64, n: u64) {
        if n == 0 {
            return;
        }
        let v = v.min(MAX_VALUE);
        let i = index(v);
        match self.buckets.binary_search_by_key(&i, |b| b.0) {
            Ok(k) => self.buckets[k].1 = self.buckets[k].1.saturating_add(n),
            Err(k) => self.buckets.insert(k, (i, n)),
        }
        self.count = self.count.saturating_add(n);
        self.sum = self.sum.saturating_add(v.saturating_mul(n));
        self.max = self.max.max(v);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of the values recorded.
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The largest value recorded (`None` when empty).
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// The mean of the values recorded (`None` when empty).
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The value at quantile `q` (0.0..=1.0): the middle of the bucket holding it, never
    /// more than the largest value recorded (`None` when empty).
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // The rank of the wanted value, 1-based.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for &(i, c) in &self.buckets {
            seen = seen.saturating_add(c);
            if seen >= rank {
                let (lo, hi) = (lower(i), upper(i));
                return Some((lo + (hi - lo) / 2).min(self.max));
            }
        }
        Some(self.max)
    }

    /// Add every value of `other` to this histogram (a roll-up).
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            self.clone_from(other);
            return;
        }
        let mut out = Vec::with_capacity(self.buckets.len().max(other.buckets.len()));
        let (mut a, mut b) = (
            self.buckets.iter().peekable(),
            other.buckets.iter().peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(i, x)), Some(&&(j, y))) => {
                    if i == j {
                        out.push((i, x.saturating_add(y)));
                        a.next();
                        b.next();
                    } else if i < j {
                        out.push((i, x));
                        a.next();
                    } else {
                        out.push((j, y));
                        b.next();
                    }
                }
                (Some(&&p), None) => {
                    out.push(p);
                    a.next();
                }
                (None, Some(&&p)) => {
                    out.push(p);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.buckets = out;
        self.count = self.count.saturating_add(other.count);
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    /// What was recorded in `self` since it was `earlier` (both totals of the same
    /// recorder, `earlier` taken first): bucket counts, count and sum are differences;
    /// the largest value is that of `self` if it grew, else the top of the highest bucket
    /// that gained values. A bucket that shrank (not the same recorder) counts as 0.
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let mut out = Histogram::new();
        let mut old = earlier.buckets.iter().peekable();
        for &(i, c) in &self.buckets {
            while old.peek().is_some_and(|&&(j, _)| j < i) {
                old.next();
            }
            let before = match old.peek() {
                Some(&&(j, x)) if j == i => x,
                _ => 0,
            };
            let d = c.saturating_sub(before);
            if d > 0 {
                out.buckets.push((i, d));
                out.count = out.count.saturating_add(d);
            }
        }
        if out.count == 0 {
            return Histogram::new();
        }
        out.sum = self.sum.saturating_sub(earlier.sum);
        out.max = if self.max > earlier.max {
            self.max
        } else {
            out.buckets
                .last()
                .map_or(0, |&(i, _)| upper(i))
                .min(self.max)
        };
        out
    }

    /// Number of non-empty buckets (the histogram's size is proportional to it).
    pub fn buckets_used(&self) -> usize {
        self.buckets.len()
    }
}

/// The wire form: `{"count": 3, "sum": 120, "max": 70, "buckets": [[12, 1], [40, 2]]}`,
/// checked on the way in (sorted, in range, counts adding up), so a hostile report
/// cannot make nimbus allocate more than [`NUM_BUCKETS`] pairs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHistogram {
    count: u64,
    sum: u64,
    max: u64,
    #[serde(deserialize_with = "bounded_buckets")]
    buckets: Vec<(u16, u64)>,
}

fn bounded_buckets<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(u16, u64)>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<(u16, u64)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "at most {NUM_BUCKETS} [bucket, count] pairs")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(p) = seq.next_element::<(u16, u64)>()? {
                if out.len() >= NUM_BUCKETS {
                    return Err(serde::de::Error::custom(format!(
                        "a histogram has at most {NUM_BUCKETS} buckets"
                    )));
                }
                out.push(p);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V)
}

impl TryFrom<RawHistogram> for Histogram {
    type Error = String;

    fn try_from(r: RawHistogram) -> Result<Histogram, String> {
        let mut total = 0u64;
        let mut last: Option<u16> = None;
        for &(i, c) in &r.buckets {
            if usize::from(i) >= NUM_BUCKETS {
                return Err(format!(
                    "histogram bucket {i} is out of range (0..{NUM_BUCKETS})"
                ));
            }
            if last.is_some_and(|l| l >= i) {
                return Err("histogram buckets must be sorted and distinct".to_string());
            }
            if c == 0 {
                return Err(format!("histogram bucket {i} has a count of 0"));
            }
            last = Some(i);
            total = total.saturating_add(c);
        }
        if total != r.count {
            return Err(format!(
                "histogram count {} is not the sum of its buckets ({total})",
                r.count
            ));
        }
        if r.max > MAX_VALUE {
            return Err(format!("histogram max {} is above {MAX_VALUE}", r.max));
        }
        Ok(Histogram {
            count: r.count,
            sum: r.sum,
            max: if r.count == 0 { 0 } else { r.max },
            buckets: r.buckets,
        })
    }
}

impl From<Histogram> for RawHistogram {
    fn from(h: Histogram) -> RawHistogram {
        RawHistogram {
            count: h.count,
            sum: h.sum,
            max: h.max,
            buckets: h.buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        assert_eq!(index(0), 0);
        assert_eq!(index(15), 15);
        assert_eq!(index(16), 16);
        assert_eq!(index(MAX_VALUE) as usize, NUM_BUCKETS - 1);
        let mut prev = 0u16;
        let mut values: Vec<u64> = (0..40u32)
            .flat_map(|e| [1u64 << e, (1u64 << e) + 1, (2u64 << e) - 1])
            .collect();
        values.sort_unstable();
        {
            for v in values {
                let i = index(v);
                assert!(i >= prev, "bucket of {v} went backwards");
                assert!(lower(i) <= v && v <= upper(i), "{v} not in bucket {i}");
                prev = i;
            }
        }
    }

    #[test]
    fn bucket_width_is_within_one_sixteenth() {
        for i in SUB as u16..NUM_BUCKETS as u16 {
            let (lo, hi) = (lower(i), upper(i));
            assert!((hi - lo + 1) * 16 <= lo, "bucket {i}: {lo}..={hi}");
        }
    }

    #[test]
    fn percentiles_are_within_three_percent() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        for (q, want) in [(0.5, 50_000.0), (0.99, 99_000.0), (0.999, 99_900.0)] {
            let got = h.quantile(q).unwrap() as f64;
            assert!((got - want).abs() / want < 0.035, "q{q}: {got} vs {want}");
        }
        assert_eq!(h.max(), Some(100_000));
        assert_eq!(h.count(), 100_000);
        assert_eq!(h.mean(), Some(50_000.5));
        assert_eq!(h.quantile(1.0), Some(100_000));
        assert_eq!(Histogram::new().quantile(0.5), None);
        assert_eq!(Histogram::new().max(), None);
    }

    #[test]
    fn merge_equals_recording_both() {
        let (mut a, mut b, mut both) = (Histogram::new(), Histogram::new(), Histogram::new());
        for v in [1u64, 5, 700, 700, 90_000] {
            a.record(v);
            both.record(v);
        }
        for v in [3u64, 700, 12, 5_000_000] {
            b.record(v);
            both.record(v);
        }
        a.merge(&b);
        assert_eq!(a, both);
        let mut e = Histogram::new();
        e.merge(&both);
        assert_eq!(e, both);
    }

    #[test]
    fn since_is_what_was_recorded_in_between() {
        let mut h = Histogram::new();
        for v in [10u64, 200, 3000] {
            h.record(v);
        }
        let earlier = h.clone();
        for v in [200u64, 40] {
            h.record(v);
        }
        let d = h.since(&earlier);
        let mut want = Histogram::new();
        want.record(200);
        want.record(40);
        assert_eq!(d.count(), 2);
        assert_eq!(d.sum(), 240);
        assert_eq!(d.quantile(0.0), want.quantile(0.0));
        // The total max (3000) was before: the delta's max is its highest bucket's top.
        assert!(d.max().unwrap() >= 200 && d.max().unwrap() < 3000);
        assert!(h.since(&h).is_empty());
        // A restarted recorder (smaller than before) is not a negative delta.
        assert!(Histogram::new().since(&h).is_empty());
    }

    #[test]
    fn wire_form_round_trips_and_refuses_lies() {
        let mut h = Histogram::new();
        h.record(7);
        h.record(7000);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Histogram>(&json).unwrap(), h);
        for bad in [
            r#"{"count":1,"sum":1,"max":1,"buckets":[[9999,1]]}"#,
            r#"{"count":2,"sum":1,"max":1,"buckets":[[5,1],[3,1]]}"#,
            r#"{"count":5,"sum":1,"max":1,"buckets":[[5,1]]}"#,
            r#"{"count":0,"sum":0,"max":0,"buckets":[[5,0]]}"#,
        ] {
            assert!(serde_json::from_str::<Histogram>(bad).is_err(), "{bad}");
        }
        let many: Vec<String> = (0..NUM_BUCKETS + 1).map(|i| format!("[{i},1]")).collect();
        let big = format!(
            r#"{{"count":{},"sum":1,"max":1,"buckets":[{}]}}"#,
            NUM_BUCKETS + 1,
            many.join(",")
        );
        let e = serde_json::from_str::<Histogram>(&big)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most"), "{e}");
    }
}
