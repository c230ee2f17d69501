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
    /// Bolt: both, equal (an input acked inside its own `execute`): recorded once.
    ExecuteAndProcess,
}

/// Sampled latencies: what, of which stream or input, in microseconds, how many times
/// (equal samples in a row are counted once: a fast bolt's are mostly 0 or 1 µs).
pub(crate) type Sample = (Latency, u32, u64, u64);

/// Samples not yet recorded in the task's statistics.
#[derive(Debug, Default)]
pub(crate) struct SampleBuffer {
    buf: Vec<Sample>,
}

impl SampleBuffer {
    /// Buffer a sample of `index` (recording the buffer into `stats` when it is full).
    #[inline]
    pub(crate) fn push(&mut self, stats: &TaskStats, latency: Latency, index: usize, micros: u64) {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        if let Some(last) = self.buf.last_mut()
            && (last.0, last.1, last.2) == (latency, index, micros)
        {
            last.3 += 1;
            return;
        }
        self.buf.push((latency, index, micros, 1));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::StatsLayout;

    #[test]
    fn equal_samples_in_a_row_are_counted_once_and_all_recorded() {
        let stats = TaskStats::with_layout(
            crate::api::ids::TaskId(1),
            "c",
            StatsLayout {
                inputs: vec![("a".into(), "s".into())],
                ..StatsLayout::default()
            },
        );
        let mut b = SampleBuffer::default();
        for us in [0, 0, 0, 5, 5, 0] {
            b.push(&stats, Latency::Execute, 0, us);
        }
        b.push(&stats, Latency::Process, 0, 5);
        assert_eq!(b.buf.len(), 4);
        b.flush(&stats);
        assert!(b.buf.is_empty());
        let row = stats.report();
        let e = &row.inputs[0].execute_latency_us;
        assert_eq!((e.count(), e.sum()), (6, 10));
        assert_eq!(row.inputs[0].process_latency_us.count(), 1);
    }
}
