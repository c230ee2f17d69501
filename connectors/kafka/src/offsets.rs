//! The offsets of one partition between the broker and the topology, after
//! storm-kafka-client's `OffsetManager`: which offsets were emitted and acked, and how
//! far the partition may be committed.
//!
//! The commit point is the lowest offset not yet acked: a partition is committed only
//! through offsets that are all acked (at-least-once). Offsets that were never emitted
//! between two acked ones — records compacted away or deleted under the consumer — do
//! not stall it: they are skipped, as storm-kafka-client's fix for STORM-2505/2546 does.
//!
//! Pure: no client, no clock; the spout feeds it.
//!
//! ```
//! use squall_kafka::offsets::OffsetManager;
//!
//! let mut m = OffsetManager::new(10);
//! for o in [10, 11, 13] {
//!     m.emitted(o); // offset 12 was compacted away: never emitted
//! }
//! m.acked(13);
//! assert_eq!(m.next_commit(), None); // 10 and 11 are in flight
//! m.acked(10);
//! m.acked(11);
//! assert_eq!(m.next_commit(), Some(14)); // 12 skipped: never emitted
//! assert_eq!(m.commit(14), 3);
//! assert_eq!(m.uncommitted(), 0);
//! ```

use std::collections::BTreeSet;
use std::fmt;

/// Emitted, acked and committed offsets of one partition.
#[derive(Debug, Clone, Default)]
pub struct OffsetManager {
    /// The next offset to commit: every offset below it is done (the resume point).
    committed: i64,
    /// Emitted and not yet committed (acked ones included).
    emitted: BTreeSet<i64>,
    /// Acked and not yet committed.
    acked: BTreeSet<i64>,
    /// Whether this manager has committed at least once.
    has_committed: bool,
    /// The highest offset ever emitted.
    latest_emitted: Option<i64>,
}

impl OffsetManager {
    /// A manager whose partition is consumed from `fetch_offset` (the committed offset
    /// it resumes from, or where the first-poll strategy put it).
    pub fn new(fetch_offset: i64) -> OffsetManager {
        OffsetManager {
            committed: fetch_offset,
            ..OffsetManager::default()
        }
    }

    /// `offset` was emitted (tracked). An offset below the commit point is ignored.
    pub fn emitted(&mut self, offset: i64) {
        if offset < self.committed {
            return;
        }
        self.emitted.insert(offset);
        self.latest_emitted = Some(self.latest_emitted.map_or(offset, |l| l.max(offset)));
    }

    /// `offset` was acked (or given up: dead-lettered). Ignored when it was never
    /// emitted or is already committed.
    pub fn acked(&mut self, offset: i64) {
        if offset >= self.committed && self.emitted.contains(&offset) {
            self.acked.insert(offset);
        }
    }

    /// Whether `offset` is acked and waits for a commit.
    pub fn is_acked(&self, offset: i64) -> bool {
        self.acked.contains(&offset)
    }

    /// Whether `offset` was emitted and is not committed yet.
    pub fn is_emitted(&self, offset: i64) -> bool {
        self.emitted.contains(&offset)
    }

    /// Whether `offset` is done: committed, or acked.
    pub fn is_done(&self, offset: i64) -> bool {
        offset < self.committed || self.acked.contains(&offset)
    }

    /// Emitted offsets not committed yet (what `max.uncommitted.offsets` bounds).
    pub fn uncommitted(&self) -> usize {
        self.emitted.len()
    }

    /// The `n`-th (1-based) uncommitted emitted offset, in offset order: the offset at
    /// the `max.uncommitted.offsets` limit.
    pub fn nth_uncommitted(&self, n: usize) -> Option<i64> {
        self.emitted.iter().nth(n.checked_sub(1)?).copied()
    }

    /// The offset the partition can be committed to now (every emitted offset below it
    /// acked, never-emitted ones skipped), or `None` when nothing new is committable.
    pub fn next_commit(&self) -> Option<i64> {
        let mut next = self.committed;
        let mut found = false;
        for &acked in &self.acked {
            if acked < next {
                // Below the point already reached: cannot be (acks below the commit
                // point are dropped), skip it rather than go back.
                continue;
            }
            if acked == next {
                next = acked + 1;
                found = true;
                continue;
            }
            // A gap [next, acked): committable only if none of it was emitted (those
            // records no longer exist, or were filtered out without a tuple).
            match self.emitted.range(next..).next() {
                Some(&first_emitted) if first_emitted == acked => {
                    next = acked + 1;
                    found = true;
                }
                _ => break,
            }
        }
        found.then_some(next)
    }

    /// The partition was committed up to `offset` (exclusive): forget everything below
    /// it. Returns how many acked offsets the commit covered.
    pub fn commit(&mut self, offset: i64) -> usize {
        self.has_committed = true;
        if offset <= self.committed {
            return 0;
        }
        self.committed = offset;
        let keep_acked = self.acked.split_off(&offset);
        let covered = self.acked.len();
        self.acked = keep_acked;
        self.emitted = self.emitted.split_off(&offset);
        covered
    }

    /// Move the commit point forward to `offset` without a commit (the broker reset the
    /// partition past records that no longer exist). No effect when `offset` is not
    /// ahead of it.
    pub fn skip_to(&mut self, offset: i64) {
        if offset > self.committed {
            self.acked = self.acked.split_off(&offset);
            self.emitted = self.emitted.split_off(&offset);
            self.committed = offset;
        }
    }

    /// The offset processing resumes from after a restart (the last commit point).
    pub fn committed(&self) -> i64 {
        self.committed
    }

    /// Whether this manager committed at least once.
    pub fn has_committed(&self) -> bool {
        self.has_committed
    }

    /// The highest offset ever emitted.
    pub fn latest_emitted(&self) -> Option<i64> {
        self.latest_emitted
    }
}

impl fmt::Display for OffsetManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "committed {}, {} uncommitted emitted, {} acked",
            self.committed,
            self.emitted.len(),
            self.acked.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emit_all(m: &mut OffsetManager, offsets: impl IntoIterator<Item = i64>) {
        for o in offsets {
            m.emitted(o);
        }
    }

    #[test]
    fn commits_only_contiguous_acked_offsets() {
        let mut m = OffsetManager::new(0);
        emit_all(&mut m, 0..5);
        m.acked(1);
        m.acked(2);
        assert_eq!(m.next_commit(), None, "0 is still in flight");
        m.acked(0);
        assert_eq!(m.next_commit(), Some(3));
        assert_eq!(m.commit(3), 3);
        assert_eq!(m.committed(), 3);
        assert_eq!(m.uncommitted(), 2);
        assert_eq!(m.next_commit(), None);
        m.acked(4);
        assert_eq!(m.next_commit(), None, "3 is still in flight");
        m.acked(3);
        assert_eq!(m.next_commit(), Some(5));
    }

    #[test]
    fn a_gap_of_never_emitted_offsets_is_skipped() {
        // Offsets 2..=4 were compacted or deleted: the consumer never saw them.
        let mut m = OffsetManager::new(0);
        emit_all(&mut m, [0, 1, 5, 6]);
        for o in [0, 1, 5, 6] {
            m.acked(o);
        }
        assert_eq!(m.next_commit(), Some(7));
    }

    #[test]
    fn a_gap_at_the_commit_point_is_skipped() {
        // Committed at 10, but records 10..20 were deleted before they were read.
        let mut m = OffsetManager::new(10);
        emit_all(&mut m, [20, 21]);
        m.acked(20);
        assert_eq!(m.next_commit(), Some(21));
        m.acked(21);
        assert_eq!(m.next_commit(), Some(22));
    }

    #[test]
    fn a_gap_before_an_in_flight_offset_is_not_skipped_past_it() {
        let mut m = OffsetManager::new(0);
        emit_all(&mut m, [0, 3, 4]);
        m.acked(0);
        m.acked(4);
        // 1..=2 never emitted, 3 in flight: commit through 0 only.
        assert_eq!(m.next_commit(), Some(1));
        m.commit(1);
        assert_eq!(m.next_commit(), None);
        m.acked(3);
        assert_eq!(m.next_commit(), Some(5));
    }

    #[test]
    fn nth_uncommitted_is_the_limit_offset() {
        let mut m = OffsetManager::new(0);
        emit_all(&mut m, [1, 2, 8, 10]);
        assert_eq!(m.nth_uncommitted(3), Some(8));
        assert_eq!(m.nth_uncommitted(5), None);
        assert_eq!(m.nth_uncommitted(0), None);
    }

    #[test]
    fn stale_acks_and_emits_below_the_commit_point_are_ignored() {
        let mut m = OffsetManager::new(5);
        m.emitted(3);
        m.acked(3);
        assert_eq!(m.uncommitted(), 0);
        assert_eq!(m.next_commit(), None);
        m.acked(7); // never emitted
        assert_eq!(m.next_commit(), None);
        assert!(m.is_done(4));
        assert!(!m.is_done(5));
        assert_eq!(m.commit(4), 0, "a commit backwards changes nothing");
        assert_eq!(m.committed(), 5);
        assert!(m.has_committed());
    }

    #[test]
    fn skip_to_moves_past_deleted_records() {
        let mut m = OffsetManager::new(0);
        emit_all(&mut m, [0, 1]);
        m.acked(1);
        m.skip_to(50);
        assert_eq!(m.committed(), 50);
        assert_eq!(m.uncommitted(), 0);
        assert_eq!(m.next_commit(), None);
        assert_eq!(m.latest_emitted(), Some(1));
    }

    /// Whatever the order of emits and acks, the commit point never passes an emitted,
    /// un-acked offset and reaches the end once everything is acked.
    #[test]
    fn commit_point_never_passes_an_unacked_offset() {
        let offsets: Vec<i64> = (0..40).filter(|o| o % 7 != 3).collect();
        // A fixed pseudo-random ack order.
        let mut order = offsets.clone();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in (1..order.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let j = usize::try_from(x % (i as u64 + 1)).unwrap_or(0);
            order.swap(i, j);
        }
        let mut m = OffsetManager::new(0);
        emit_all(&mut m, offsets.iter().copied());
        let mut acked = BTreeSet::new();
        for (n, o) in order.iter().enumerate() {
            m.acked(*o);
            acked.insert(*o);
            if let Some(c) = m.next_commit() {
                for e in offsets.iter().filter(|e| **e < c) {
                    assert!(acked.contains(e), "commit {c} passes un-acked {e}");
                }
                if n % 3 == 0 {
                    m.commit(c);
                }
            }
        }
        let end = m.next_commit().unwrap_or(m.committed());
        assert_eq!(end, 40);
    }
}
