//! Which tuples get their latency measured: `topology.stats.sample.rate` as a countdown.
//!
//! The path of an unsampled tuple is one decrement and one branch (no clock read, no
//! random number). When the countdown runs out, a run of consecutive tuples is sampled
//! (one for spouts; a few for bolts, whose executor then reads the clock once per
//! sampled tuple instead of twice: the end of one is the start of the next), and the
//! countdown is reloaded with a pseudo-random length, so that on average one tuple in
//! `1 / rate` is sampled and a periodic pattern in the input (two streams emitted in
//! turn, say) cannot line up with the sampling and starve one of them, as Storm's even
//! sampler avoids too. The first tuple is always sampled, so a short run still has a
//! latency.

/// A sampling countdown (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    /// Calls left until the next sampled one (the one at 1 is sampled).
    left: u32,
    /// The mean distance between samples; 0 = never sample.
    every: u32,
    /// Length of a run of consecutive samples.
    run: u32,
    /// Samples left in the current run after this one.
    run_left: u32,
    /// Whether the last sample continued a run (the previous call was sampled too).
    continues: bool,
    /// xorshift state for the reload lengths (never 0).
    rng: u32,
}

impl Sampler {
    /// A sampler for `rate` (a fraction: 1 or more samples everything, 0 or less or NaN
    /// nothing; the mean distance is `1 / rate` rounded), sampling runs of `run`
    /// consecutive calls.
    pub(crate) fn new(rate: f64, run: u32, seed: u32) -> Sampler {
        let every = if rate.is_nan() || rate <= 0.0 {
            0
        } else if rate >= 1.0 {
            1
        } else {
            (1.0 / rate).round().clamp(1.0, f64::from(u32::MAX / 1024)) as u32
        };
        Sampler {
            left: if every == 0 { u32::MAX } else { 1 },
            every,
            run: run.clamp(1, 64),
            run_left: 0,
            continues: false,
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

    /// Whether the last sampled call directly followed another sampled call.
    #[inline]
    pub(crate) fn continues_run(&self) -> bool {
        self.continues
    }

    #[cold]
    fn reload(&mut self) -> bool {
        match self.every {
            0 => {
                self.left = u32::MAX;
                false
            }
            1 => {
                // Everything: every call after the first continues the run.
                self.continues = self.run_left == 1;
                self.run_left = 1;
                true
            }
            every => {
                if self.run_left > 0 {
                    self.run_left -= 1;
                    self.continues = true;
                } else {
                    self.run_left = self.run - 1;
                    self.continues = false;
                }
                self.left = if self.run_left > 0 {
                    1
                } else {
                    self.gap(every)
                };
                true
            }
        }
    }

    /// Calls from the end of a run to the start of the next, uniform with mean
    /// `(every - 1) × run + 1`: a cycle of `run` samples then averages `every × run`
    /// calls.
    fn gap(&mut self, every: u32) -> u32 {
        // xorshift32
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        let mean_extra = (every - 1) * self.run;
        1 + x % (2 * mean_extra + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(rate: f64, run: u32, n: u32) -> u32 {
        let mut s = Sampler::new(rate, run, 12345);
        (0..n).filter(|_| s.sample()).count() as u32
    }

    #[test]
    fn rate_one_samples_every_tuple() {
        assert_eq!(count(1.0, 1, 10_000), 10_000);
        assert_eq!(count(1.0, 4, 10_000), 10_000);
        assert_eq!(count(7.0, 1, 100), 100);
        let mut s = Sampler::new(1.0, 4, 1);
        assert!(s.sample() && !s.continues_run());
        assert!(s.sample() && s.continues_run());
    }

    #[test]
    fn rate_zero_never_samples() {
        assert_eq!(count(0.0, 1, 100_000), 0);
        assert_eq!(count(0.0, 4, 100_000), 0);
        assert_eq!(count(-1.0, 1, 1000), 0);
        assert_eq!(count(f64::NAN, 1, 1000), 0);
    }

    #[test]
    fn five_percent_samples_about_one_in_twenty() {
        let n = 400_000;
        let want = n / 20;
        for run in [1, 4] {
            let got = count(0.05, run, n);
            assert!(
                got.abs_diff(want) * 20 < want,
                "runs of {run}: {got} samples of {n}, want about {want}"
            );
        }
        let got = count(0.5, 4, n);
        assert!(got.abs_diff(n / 2) * 20 < n / 2, "{got}");
    }

    #[test]
    fn runs_are_consecutive_and_marked() {
        let mut s = Sampler::new(0.05, 4, 7);
        let picks: Vec<bool> = (0..10_000).map(|_| s.sample()).collect();
        // Sampled stretches are whole runs (two may touch when a gap is 1).
        let mut stretch = 0;
        for p in picks {
            if p {
                stretch += 1;
            } else {
                assert_eq!(stretch % 4, 0, "a run of {stretch}");
                stretch = 0;
            }
        }
        let mut s = Sampler::new(0.05, 4, 7);
        let marks: Vec<bool> = (0..4)
            .map(|_| {
                assert!(s.sample());
                s.continues_run()
            })
            .collect();
        assert_eq!(marks, [false, true, true, true]);
        assert!(!s.sample());
    }

    #[test]
    fn first_tuple_is_sampled() {
        let mut s = Sampler::new(0.001, 1, 1);
        assert!(s.sample());
        assert!(!s.continues_run());
    }

    #[test]
    fn alternating_streams_both_get_samples() {
        // Two streams in turn, 1 in 20 sampled: a plain countdown would sample only
        // even positions, one stream.
        let mut s = Sampler::new(0.05, 1, 99);
        let mut per = [0u32; 2];
        for i in 0..100_000usize {
            if s.sample() {
                per[i % 2] += 1;
            }
        }
        assert!(per[0] > 2000 && per[1] > 2000, "{per:?}");
    }
}
