//! Sampled latencies on their way from an executor to its task's statistics: kept in a
//! small buffer on the executor thread and recorded into the shared histograms under one
//! lock with the task's next publish (or when the buffer fills), so a sampled tuple costs
//! its clock reads and a push, not a lock.

use crate::engine::stats::TaskStats;

/// Samples buffered before they are recorded anyway.
const FLUSH_AT: usize = 64;

/// Which latency a sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Latency {
    /// Spout: emit to tree completion, by output stream index.
    Complete,
    /// Bolt: time in `execute`, by input index.
    Execute,
    /// Bolt: start of `execute` to ack, by input index.
    Process,
}

/// One sampled latency: what, of which stream or input, in microseconds.
pub(crate) type Sample = (Latency, u32, u64);

/// Samples not yet recorded in the task's statistics.
#[derive(Debug, Default)]
pub(crate) struct SampleBuffer {
    buf: Vec<Sample>,
}

impl SampleBuffer {
    /// Buffer a sample of `index` (recording the buffer into `stats` when it is full).
    #[inline]
    pub(crate) fn push(&mut self, stats: &TaskStats, latency: Latency, index: usize, micros: u64) {
        self.buf
            .push((latency, u32::try_from(index).unwrap_or(u32::MAX), micros));
        if self.buf.len() >= FLUSH_AT {
            self.flush(stats);
        }
    }

    /// Record the buffered samples into `stats`.
    #[inline]
    pub(crate) fn flush(&mut self, stats: &TaskStats) {
        if !self.buf.is_empty() {
            stats.record_samples(&self.buf);
            self.buf.clear();
        }
    }
}
