//! [`OffsetSet`]: a partition's offsets in flight — added mostly in ascending order,
//! removed in any order.
//!
//! Backed by an [`OffsetWindow`] whose removed offsets stay as tombstones until they
//! reach either end (so removing keeps the window dense and finding O(1)); when
//! tombstones outnumber live offsets four to one behind a long-lived offset, they are
//! swept out.

use super::window::OffsetWindow;

/// Tombstones are swept when the window holds this many slots and at least four times
/// as many as live offsets.
const SWEEP_MIN: usize = 1024;

/// A set of offsets (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
pub(crate) struct OffsetSet {
    /// Every live offset (`true`) and some removed ones (`false`).
    slots: OffsetWindow<bool>,
    live: usize,
}

impl OffsetSet {
    /// Add `offset`; false if it is there already.
    #[inline]
    pub(crate) fn insert(&mut self, offset: i64) -> bool {
        match self.slots.find(offset) {
            Ok(i) => {
                if self.slots.get(i).is_some_and(|(_, live)| live) {
                    return false;
                }
                self.slots.set(i, true);
            }
            Err(i) => self.slots.insert_at(i, offset, true),
        }
        self.live += 1;
        true
    }

    /// Remove `offset`; false if it was not there.
    #[inline]
    pub(crate) fn remove(&mut self, offset: i64) -> bool {
        let Ok(i) = self.slots.find(offset) else {
            return false;
        };
        if !self.slots.get(i).is_some_and(|(_, live)| live) {
            return false;
        }
        self.slots.set(i, false);
        self.live -= 1;
        while self.slots.front().is_some_and(|(_, live)| !live) {
            self.slots.pop_front();
        }
        while self.slots.back().is_some_and(|(_, live)| !live) {
            self.slots.pop_back();
        }
        if self.slots.len() >= SWEEP_MIN && self.slots.len() / 4 >= self.live {
            self.slots.retain(|live| live);
        }
        true
    }

    /// Whether `offset` is in the set.
    #[inline]
    pub(crate) fn contains(&self, offset: i64) -> bool {
        self.slots
            .find(offset)
            .is_ok_and(|i| self.slots.get(i).is_some_and(|(_, live)| live))
    }

    /// Number of offsets in the set.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Whether the set is empty.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;

    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn behaves_as_a_set() {
        let mut s = OffsetSet::default();
        assert!(s.insert(5) && s.insert(6) && s.insert(7));
        assert!(!s.insert(6));
        assert!(s.remove(6));
        assert!(!s.remove(6));
        assert!(!s.contains(6) && s.contains(5) && s.contains(7));
        assert!(s.insert(6), "a tombstone comes back to life");
        assert!(s.insert(2), "below the lowest");
        assert_eq!(s.len(), 4);
        for o in [2, 5, 6, 7] {
            assert!(s.remove(o));
        }
        assert!(s.is_empty());
        assert_eq!(s.slots.len(), 0, "no tombstones left at the ends");
    }

    /// Random inserts (mostly ascending, some re-inserted) and removes against a
    /// `BTreeSet`, with a long-lived offset at the front so tombstones are swept.
    #[test]
    fn matches_a_btreeset() {
        let mut rng = SmallRng::seed_from_u64(17);
        for round in 0..20 {
            let (mut s, mut r) = (OffsetSet::default(), BTreeSet::new());
            assert!(s.insert(-1) && r.insert(-1), "held until the end");
            let mut next = 0i64;
            for _ in 0..5_000 {
                let o = match rng.random_range(0..10) {
                    0..4 => {
                        next += rng.random_range(1..=(1 + round % 3));
                        next
                    }
                    4 => rng.random_range(-3..=next + 2),
                    _ => {
                        let live: Vec<i64> = r.range(0..).take(8).copied().collect();
                        if live.is_empty() {
                            continue;
                        }
                        let o = live[rng.random_range(0..live.len())];
                        assert_eq!(s.remove(o), r.remove(&o), "remove {o}");
                        assert!(
                            s.slots.len() < SWEEP_MIN || s.slots.len() / 4 < s.len(),
                            "tombstones swept"
                        );
                        continue;
                    }
                };
                assert_eq!(s.insert(o), r.insert(o), "insert {o}");
                let probe = rng.random_range(-3..=next + 2);
                assert_eq!(s.contains(probe), r.contains(&probe), "contains {probe}");
                assert_eq!(s.len(), r.len());
            }
            for o in r.iter() {
                assert!(s.contains(*o));
            }
        }
    }
}
