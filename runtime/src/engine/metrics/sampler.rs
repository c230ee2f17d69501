//! Which tuples get their latency measured: `topology.stats.sample.rate` as a countdown.
//!
//! The path of an unsampled tuple is one decrement and one branch (no clock read, no
//! random number). When the countdown runs out, the tuple is sampled and the countdown
//! is reloaded with a pseudo-random length whose mean is `1 / rate` (between 1 and
//! `2 / rate - 1`), so a periodic pattern in the input (two streams emitted in turn, say)
//! cannot line up with the sampling and starve one of them, as Storm's even sampler
//! avoids too. The first tuple is always sampled, so a short run still has a latency.

/// A sampling countdown (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    /// Tuples left until the next sampled one (the one at 1 is sampled).
    left: u32,
    /// The mean distance between samples; 0 = never sample.
    every: u32,
    /// xorshift state for the reload lengths (never 0).
    rng: u32,
}

impl Sampler {
    /// A sampler for `rate` (a fraction: 1 or more samples everything, 0 or less or NaN
    /// nothing; the mean distance is `1 / rate` rounded).
    pub(crate) fn new(rate: f64, seed: u32) -> Sampler {
        let every = if rate.is_nan() || rate <= 0.0 {
            0
        } else if rate >= 1.0 {
            1
        } else {
            (1.0 / rate).round().clamp(1.0, f64::from(u32::MAX / 2)) as u32
        };
        Sampler {
            left: if every == 0 { u32::MAX } else { 1 },
            every,
            rng: seed | 1,
        }
    }

    /// Whether the next tuple is sampled.
    #[inline]
    pub(crate) fn sample(&mut self) -> bool {
        if self.left > 1 {
            self.left -= 1;
            return false;
        }
        self.reload()
    }

    #[cold]
    fn reload(&mut self) -> bool {
        match self.every {
            0 => {
                self.left = u32::MAX;
                false
            }
            1 => true,
            every => {
                // xorshift32
                let mut x = self.rng;
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                self.rng = x;
                // Uniform in 1..=2*every-1: mean `every`.
                self.left = 1 + x % (2 * every - 1);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(rate: f64, n: u32) -> u32 {
        let mut s = Sampler::new(rate, 12345);
        (0..n).filter(|_| s.sample()).count() as u32
    }

    #[test]
    fn rate_one_samples_every_tuple() {
        assert_eq!(count(1.0, 10_000), 10_000);
        assert_eq!(count(7.0, 100), 100);
    }

    #[test]
    fn rate_zero_never_samples() {
        assert_eq!(count(0.0, 100_000), 0);
        assert_eq!(count(-1.0, 1000), 0);
        assert_eq!(count(f64::NAN, 1000), 0);
    }

    #[test]
    fn five_percent_samples_about_one_in_twenty() {
        let n = 200_000;
        let got = count(0.05, n);
        let want = n / 20;
        assert!(
            got.abs_diff(want) * 20 < want,
            "{got} samples of {n}, want about {want}"
        );
    }

    #[test]
    fn first_tuple_is_sampled() {
        let mut s = Sampler::new(0.001, 1);
        assert!(s.sample());
    }

    #[test]
    fn alternating_streams_both_get_samples() {
        // Two streams in turn, 1 in 20 sampled: a plain countdown would sample only
        // even positions, one stream.
        let mut s = Sampler::new(0.05, 99);
        let mut per = [0u32; 2];
        for i in 0..100_000usize {
            if s.sample() {
                per[i % 2] += 1;
            }
        }
        assert!(per[0] > 2000 && per[1] > 2000, "{per:?}");
    }
}
