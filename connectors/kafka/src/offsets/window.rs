//! [`OffsetWindow`]: offsets in ascending order, each with a small state, in a ring
//! buffer.
//!
//! A partition's records arrive in offset order, so the offsets the spout tracks are
//! appended at the back, mostly one after the other, and leave from the front. Then
//! appending and finding an offset are O(1): an offset's index is its distance from the
//! first one while there are no holes. Otherwise finding is a binary search, and an
//! offset below the highest one is inserted by a shift (only re-emitted or out-of-order
//! records take that path).

use std::collections::VecDeque;

/// Ascending, distinct offsets with a state `S` each.
#[derive(Debug, Clone)]
pub(crate) struct OffsetWindow<S> {
    slots: VecDeque<(i64, S)>,
}

impl<S> Default for OffsetWindow<S> {
    fn default() -> Self {
        OffsetWindow {
            slots: VecDeque::new(),
        }
    }
}

impl<S: Copy> OffsetWindow<S> {
    /// Number of offsets held.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The lowest offset and its state.
    #[inline]
    pub(crate) fn front(&self) -> Option<(i64, S)> {
        self.slots.front().copied()
    }

    /// The highest offset and its state.
    #[inline]
    pub(crate) fn back(&self) -> Option<(i64, S)> {
        self.slots.back().copied()
    }

    /// Remove the lowest offset.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<(i64, S)> {
        self.slots.pop_front()
    }

    /// Remove the highest offset.
    #[inline]
    pub(crate) fn pop_back(&mut self) -> Option<(i64, S)> {
        self.slots.pop_back()
    }

    /// The `i`-th lowest offset and its state.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<(i64, S)> {
        self.slots.get(i).copied()
    }

    /// Set the state of the `i`-th lowest offset (no effect past the end).
    #[inline]
    pub(crate) fn set(&mut self, i: usize, state: S) {
        if let Some(slot) = self.slots.get_mut(i) {
            slot.1 = state;
        }
    }

    /// The index of `offset` (`Ok`), or where it would be inserted (`Err`).
    #[inline]
    pub(crate) fn find(&self, offset: i64) -> Result<usize, usize> {
        let (Some(&(first, _)), Some(&(last, _))) = (self.slots.front(), self.slots.back()) else {
            return Err(0);
        };
        if offset < first {
            return Err(0);
        }
        if offset > last {
            // A new record, the usual case.
            return Err(self.slots.len());
        }
        // Without holes an offset sits at its distance from the first one.
        if let Some(i) = offset
            .checked_sub(first)
            .and_then(|d| usize::try_from(d).ok())
            && let Some(&(at, _)) = self.slots.get(i)
            && at == offset
        {
            return Ok(i);
        }
        self.slots.binary_search_by_key(&offset, |s| s.0)
    }

    /// Add `offset` with `state`; false (and no change) if it is held already.
    #[inline]
    pub(crate) fn insert(&mut self, offset: i64, state: S) -> bool {
        match self.find(offset) {
            Ok(_) => false,
            Err(i) => {
                self.insert_at(i, offset, state);
                true
            }
        }
    }

    /// Add `offset` with `state` at index `i`, as [`OffsetWindow::find`] answered
    /// `Err(i)` for it.
    #[inline]
    pub(crate) fn insert_at(&mut self, i: usize, offset: i64, state: S) {
        debug_assert_eq!(self.find(offset), Err(i));
        if i == self.slots.len() {
            self.slots.push_back((offset, state));
        } else {
            self.slots.insert(i, (offset, state));
        }
    }

    /// Keep only the offsets whose state `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(S) -> bool) {
        self.slots.retain(|s| keep(s.1));
    }

    /// Offsets and states, lowest first.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, S)> + '_ {
        self.slots.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_distance_and_by_search() {
        let mut w = OffsetWindow::default();
        for o in [3, 4, 5, 9, 10] {
            assert!(w.insert(o, ()));
        }
        assert!(!w.insert(4, ()), "already there");
        assert_eq!(w.find(5), Ok(2));
        assert_eq!(w.find(9), Ok(3), "past a hole: binary search");
        assert_eq!(w.find(7), Err(3));
        assert_eq!(w.find(1), Err(0));
        assert_eq!(w.find(11), Err(5));
        assert!(w.insert(7, ()));
        assert!(w.insert(1, ()));
        let all: Vec<i64> = w.iter().map(|(o, _)| o).collect();
        assert_eq!(all, [1, 3, 4, 5, 7, 9, 10]);
        assert_eq!(w.find(i64::MAX), Err(7));
        assert_eq!(w.front(), Some((1, ())));
        assert_eq!(w.back(), Some((10, ())));
    }

    #[test]
    fn extreme_offsets_do_not_overflow() {
        let mut w = OffsetWindow::default();
        assert!(w.insert(i64::MIN, 0u8));
        assert!(w.insert(i64::MAX, 1));
        assert_eq!(w.find(i64::MAX), Ok(1));
        assert_eq!(w.find(0), Err(1));
        w.set(1, 2);
        assert_eq!(w.get(1), Some((i64::MAX, 2)));
        w.retain(|s| s != 0);
        assert_eq!(w.len(), 1);
    }
}
