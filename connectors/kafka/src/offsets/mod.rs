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
//!
//! # Cost
//!
//! Records are emitted in offset order and mostly acked soon, so the manager keeps the
//! acked offsets from the commit point up as *runs* of consecutive offsets (one run, in
//! the common case; one more per gap of never-emitted offsets), and only the emitted
//! offsets above them — from the lowest un-acked one up, i.e. about the tuples in flight
//! — one by one in a ring buffer ([`window::OffsetWindow`]). Emitting, acking,
//! [`OffsetManager::next_commit`], [`OffsetManager::uncommitted`] and
//! [`OffsetManager::is_done`] are then O(1) (amortised; a binary search over runs or
//! window when there are gaps), whatever the number of records since the last commit.

mod set;
#[cfg(test)]
mod tests;
mod window;

pub(crate) use set::OffsetSet;

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use window::OffsetWindow;

/// Emitted, acked and committed offsets of one partition.
#[derive(Debug, Clone, Default)]
pub struct OffsetManager {
    /// The next offset to commit: every offset below it is done (the resume point).
    committed: i64,
    /// Acked offsets at or above `committed`, as ascending, disjoint runs
    /// `[start, end)`. Every emitted offset below the last run's end is in a run, or in
    /// `holes`.
    done: VecDeque<(i64, i64)>,
    /// Offsets in `done`.
    done_len: usize,
    /// Emitted, un-acked offsets below the end of `done` (a record emitted after
    /// records above it were acked: not something the spout does, but kept exact).
    holes: BTreeSet<i64>,
    /// Emitted offsets at or above the end of `done`, with whether each is acked; the
    /// first is not acked.
    window: OffsetWindow<bool>,
    /// Acked offsets in `window`.
    window_acked: usize,
    /// Whether this manager has committed at least once.
    has_committed: bool,
    /// The highest offset ever emitted.
    latest_emitted: Option<i64>,
}

/// The number of offsets in `[start, end)`.
fn span(start: i64, end: i64) -> usize {
    usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX)
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

    /// The end of the acked runs (`committed` when there are none): offsets from here
    /// up are in the window or were never emitted.
    #[inline]
    fn done_end(&self) -> i64 {
        self.done.back().map_or(self.committed, |r| r.1)
    }

    /// Whether `offset` is in an acked run.
    fn in_done(&self, offset: i64) -> bool {
        let i = self.done.partition_point(|r| r.1 <= offset);
        self.done.get(i).is_some_and(|r| r.0 <= offset)
    }

    /// `offset` was emitted (tracked). An offset below the commit point is ignored.
    #[inline]
    pub fn emitted(&mut self, offset: i64) {
        if offset < self.committed {
            return;
        }
        self.latest_emitted = Some(self.latest_emitted.map_or(offset, |l| l.max(offset)));
        if offset < self.done_end() {
            if !self.in_done(offset) {
                self.holes.insert(offset);
            }
            return;
        }
        self.window.insert(offset, false);
    }

    /// `offset` was acked (or given up: dead-lettered). Ignored when it was never
    /// emitted or is already committed.
    #[inline]
    pub fn acked(&mut self, offset: i64) {
        if offset < self.committed {
            return;
        }
        if offset < self.done_end() {
            if self.holes.remove(&offset) {
                self.insert_done(offset);
            }
            return;
        }
        let Ok(i) = self.window.find(offset) else {
            return;
        };
        if self.window.get(i).is_some_and(|(_, acked)| acked) {
            return;
        }
        self.window.set(i, true);
        self.window_acked += 1;
        if i == 0 {
            self.settle();
        }
    }

    /// Move the window's acked front onto the acked runs.
    #[inline]
    fn settle(&mut self) {
        while let Some((offset, true)) = self.window.front() {
            self.window.pop_front();
            self.window_acked -= 1;
            match self.done.back_mut() {
                Some(last) if last.1 == offset => last.1 = offset + 1,
                _ => self.done.push_back((offset, offset + 1)),
            }
            self.done_len += 1;
        }
    }

    /// Add `offset` (an acked hole) to the acked runs.
    fn insert_done(&mut self, offset: i64) {
        let i = self.done.partition_point(|r| r.1 <= offset);
        let joins_prev = i > 0 && self.done.get(i - 1).is_some_and(|r| r.1 == offset);
        let joins_next = self.done.get(i).is_some_and(|r| r.0 == offset + 1);
        match (joins_prev, joins_next) {
            (true, true) => {
                let end = self.done.remove(i).map_or(offset + 1, |r| r.1);
                if let Some(prev) = self.done.get_mut(i - 1) {
                    prev.1 = end;
                }
            }
            (true, false) => {
                if let Some(prev) = self.done.get_mut(i - 1) {
                    prev.1 = offset + 1;
                }
            }
            (false, true) => {
                if let Some(next) = self.done.get_mut(i) {
                    next.0 = offset;
                }
            }
            (false, false) => self.done.insert(i, (offset, offset + 1)),
        }
        self.done_len += 1;
    }

    /// Whether `offset` is acked and waits for a commit.
    pub fn is_acked(&self, offset: i64) -> bool {
        if offset < self.committed {
            return false;
        }
        if offset < self.done_end() {
            return self.in_done(offset);
        }
        self.window
            .find(offset)
            .is_ok_and(|i| self.window.get(i).is_some_and(|(_, acked)| acked))
    }

    /// Whether `offset` was emitted and is not committed yet.
    pub fn is_emitted(&self, offset: i64) -> bool {
        if offset < self.committed {
            return false;
        }
        if offset < self.done_end() {
            return self.in_done(offset) || self.holes.contains(&offset);
        }
        self.window.find(offset).is_ok()
    }

    /// Whether `offset` is done: committed, or acked.
    #[inline]
    pub fn is_done(&self, offset: i64) -> bool {
        offset < self.committed || self.is_acked(offset)
    }

    /// Emitted offsets not committed yet (what `max.uncommitted.offsets` bounds).
    #[inline]
    pub fn uncommitted(&self) -> usize {
        self.done_len + self.holes.len() + self.window.len()
    }

    /// The `n`-th (1-based) uncommitted emitted offset, in offset order: the offset at
    /// the `max.uncommitted.offsets` limit.
    pub fn nth_uncommitted(&self, n: usize) -> Option<i64> {
        let mut k = n.checked_sub(1)?;
        let mut holes = self.holes.iter().copied().peekable();
        for &(start, end) in &self.done {
            while let Some(h) = holes.next_if(|h| *h < start) {
                if k == 0 {
                    return Some(h);
                }
                k -= 1;
            }
            let len = span(start, end);
            if k < len {
                return i64::try_from(k).ok().map(|k| start + k);
            }
            k -= len;
        }
        for h in holes {
            if k == 0 {
                return Some(h);
            }
            k -= 1;
        }
        self.window.get(k).map(|(o, _)| o)
    }

    /// The offset the partition can be committed to now (every emitted offset below it
    /// acked, never-emitted ones skipped), or `None` when nothing new is committable.
    #[inline]
    pub fn next_commit(&self) -> Option<i64> {
        match self.holes.first() {
            None => self.done.back().map(|r| r.1),
            // Up to the acked run below the lowest hole.
            Some(&hole) => {
                let i = self.done.partition_point(|r| r.1 <= hole);
                i.checked_sub(1).and_then(|i| self.done.get(i)).map(|r| r.1)
            }
        }
    }

    /// Forget everything below `offset` (ahead of the commit point); returns how many
    /// acked offsets that was.
    fn forget_below(&mut self, offset: i64) -> usize {
        let mut covered = 0;
        while let Some(run) = self.done.front_mut() {
            if run.1 <= offset {
                covered += span(run.0, run.1);
                self.done.pop_front();
            } else {
                if run.0 < offset {
                    covered += span(run.0, offset);
                    run.0 = offset;
                }
                break;
            }
        }
        self.done_len -= covered;
        if !self.holes.is_empty() {
            self.holes = self.holes.split_off(&offset);
        }
        while let Some((o, acked)) = self.window.front() {
            if o >= offset {
                break;
            }
            self.window.pop_front();
            if acked {
                self.window_acked -= 1;
                covered += 1;
            }
        }
        self.committed = offset;
        self.settle();
        covered
    }

    /// The partition was committed up to `offset` (exclusive): forget everything below
    /// it. Returns how many acked offsets the commit covered.
    pub fn commit(&mut self, offset: i64) -> usize {
        self.has_committed = true;
        if offset <= self.committed {
            return 0;
        }
        self.forget_below(offset)
    }

    /// Move the commit point forward to `offset` without a commit (the broker reset the
    /// partition past records that no longer exist). No effect when `offset` is not
    /// ahead of it.
    pub fn skip_to(&mut self, offset: i64) {
        if offset > self.committed {
            self.forget_below(offset);
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
            self.uncommitted(),
            self.done_len + self.window_acked
        )
    }
}
