//! The acker's pending trees: an open-addressing table keyed by root id, whose entries
//! expire after a number of rotations (Storm's acker `RotatingMap`).
//!
//! Each record is 32 bytes stored inline (two per cache line), found by linear probing
//! from a multiplicative hash of the root, and removed by backward shifting (no
//! tombstones, so probe runs stay short however many trees come and go). The table
//! stays at most half full. Storm keeps `n` hash maps and drops the oldest on each
//! rotation; here each record holds the rotation count at its creation (or last
//! refresh), and a rotation rebuilds the table without the expired ones, once per
//! message timeout.

/// Slot flags.
const OCCUPIED: u32 = 1;
const FAILED: u32 = 2;
const HAS_SPOUT: u32 = 4;

/// Smallest table (slots).
const MIN_SLOTS: usize = 64;

/// One tree's record.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct Tree {
    root: u64,
    /// XOR of every edge id seen for the tree.
    pub(crate) val: u64,
    spout_task: u32,
    slot: u32,
    /// Rotation count at creation or last refresh.
    epoch: u32,
    flags: u32,
}

impl Tree {
    /// The spout task that emitted the root and its pending-slot index, once the init
    /// arrived.
    #[inline]
    pub(crate) fn spout(&self) -> Option<(u32, u32)> {
        (self.flags & HAS_SPOUT != 0).then_some((self.spout_task, self.slot))
    }

    /// Record the spout task and slot (from the init).
    #[inline]
    pub(crate) fn set_spout(&mut self, task: u32, slot: u32) {
        self.spout_task = task;
        self.slot = slot;
        self.flags |= HAS_SPOUT;
    }

    /// Whether a tuple of the tree failed.
    #[inline]
    pub(crate) fn failed(&self) -> bool {
        self.flags & FAILED != 0
    }

    /// Mark the tree failed.
    #[inline]
    pub(crate) fn set_failed(&mut self) {
        self.flags |= FAILED;
    }
}

/// Pending trees, each expiring on the `buckets`-th rotation after its creation or last
/// refresh: with rotations every period `T`, between `(buckets-1)·T` and `buckets·T`.
#[derive(Debug)]
pub(crate) struct TreeTable {
    slots: Vec<Tree>,
    /// `slots.len() - 1` (a power of two minus one).
    mask: usize,
    /// `64 - log2(slots.len())`: the hash's top bits index the table.
    shift: u32,
    len: usize,
    epoch: u32,
    buckets: u32,
}

impl TreeTable {
    pub(crate) fn new(buckets: u32) -> TreeTable {
        TreeTable::with_slots(MIN_SLOTS, 0, buckets.max(2))
    }

    fn with_slots(slots: usize, epoch: u32, buckets: u32) -> TreeTable {
        let slots = slots.next_power_of_two().max(MIN_SLOTS);
        TreeTable {
            slots: vec![Tree::default(); slots],
            mask: slots - 1,
            shift: 64 - slots.trailing_zeros(),
            len: 0,
            epoch,
            buckets,
        }
    }

    /// Trees held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The slot a root's probe starts at (roots are random, but not necessarily in
    /// their low bits: multiply and take the top bits).
    #[inline]
    fn home(&self, root: u64) -> usize {
        (root.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The index of `root`'s record, created (empty, expiring from now) if absent;
    /// `refresh` restarts its expiry.
    #[inline]
    pub(crate) fn find_or_insert(&mut self, root: u64, refresh: bool) -> usize {
        let mut i = self.home(root);
        loop {
            let s = &mut self.slots[i];
            if s.flags & OCCUPIED == 0 {
                break;
            }
            if s.root == root {
                if refresh {
                    s.epoch = self.epoch;
                }
                return i;
            }
            i = (i + 1) & self.mask;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.resize(self.slots.len() * 2);
            return self.find_or_insert(root, refresh);
        }
        self.len += 1;
        self.slots[i] = Tree {
            root,
            epoch: self.epoch,
            flags: OCCUPIED,
            ..Tree::default()
        };
        i
    }

    /// Load the first slot of `root`'s probe and return a word of it: called for the
    /// next messages of a batch before they are handled, so their cache misses overlap
    /// instead of stalling one after the other (a prefetch without `unsafe`).
    #[inline]
    pub(crate) fn touch(&self, root: u64) -> u64 {
        self.slots[self.home(root)].root
    }

    /// The record at `i` (from [`find_or_insert`](Self::find_or_insert)).
    #[inline]
    pub(crate) fn at(&mut self, i: usize) -> &mut Tree {
        &mut self.slots[i]
    }

    /// The root of the record at `i`.
    #[cfg(test)]
    fn root_at(&self, i: usize) -> u64 {
        self.slots[i].root
    }

    /// Remove the record at `i`, shifting back the records whose probe ran through it.
    #[inline]
    pub(crate) fn remove_at(&mut self, mut i: usize) {
        self.len -= 1;
        let mask = self.mask;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s.flags & OCCUPIED == 0 {
                break;
            }
            // The record at j may fill the hole at i if i lies on its probe path
            // (cyclically in [home, j)).
            let home = self.home(s.root);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(i) & mask) {
                self.slots[i] = s;
                i = j;
            }
        }
        self.slots[i].flags = 0;
    }

    /// Rebuild into `slots` slots, keeping the records `keep` accepts.
    fn rebuild(&mut self, slots: usize, keep: impl Fn(&Tree) -> bool) {
        let mut next = TreeTable::with_slots(slots, self.epoch, self.buckets);
        for t in &self.slots {
            if t.flags & OCCUPIED != 0 && keep(t) {
                let mut i = next.home(t.root);
                while next.slots[i].flags & OCCUPIED != 0 {
                    i = (i + 1) & next.mask;
                }
                next.slots[i] = *t;
                next.len += 1;
            }
        }
        *self = next;
    }

    #[cold]
    fn resize(&mut self, slots: usize) {
        self.rebuild(slots, |_| true);
    }

    /// One period passed: drop the records that expire now; returns how many. The table
    /// shrinks when it became mostly empty.
    pub(crate) fn rotate(&mut self) -> usize {
        self.epoch = self.epoch.wrapping_add(1);
        let (epoch, buckets) = (self.epoch, self.buckets);
        let expired = |t: &Tree| epoch.wrapping_sub(t.epoch) >= buckets;
        let dropped = self
            .slots
            .iter()
            .filter(|t| t.flags & OCCUPIED != 0 && expired(t))
            .count();
        let live = self.len - dropped;
        let mut slots = self.slots.len();
        while slots > MIN_SLOTS && live * 8 < slots {
            slots /= 2;
        }
        if dropped > 0 || slots != self.slots.len() {
            self.rebuild(slots, |t| !expired(t));
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_all_buckets_rotate_unless_refreshed() {
        let mut t = TreeTable::new(2);
        let a = t.find_or_insert(1, false);
        t.at(a).val = 10;
        t.find_or_insert(2, false);
        assert_eq!(t.rotate(), 0);
        t.find_or_insert(2, true);
        let a = t.find_or_insert(1, false);
        assert_eq!(t.at(a).val, 10, "found again, not recreated");
        assert_eq!(t.rotate(), 1, "1 expires; 2 was refreshed");
        assert_eq!(t.len(), 1);
        let b = t.find_or_insert(2, false);
        assert_eq!(t.root_at(b), 2);
        assert_eq!(t.rotate(), 1);
        assert_eq!(t.len(), 0);
    }

    /// Against a reference map: random inserts, updates and removals, with colliding
    /// homes (a small table, sequential and random roots), growth and shrinking.
    #[test]
    fn matches_a_hash_map_under_churn() {
        use std::collections::HashMap;
        let mut t = TreeTable::new(3);
        let mut reference: HashMap<u64, u64> = HashMap::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut rand = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..200_000u64 {
            let r = rand();
            // Keys from a small range, so inserts and removals hit the same ones.
            let root = if r % 3 == 0 { r % 512 } else { (r >> 8) % 4096 };
            let i = t.find_or_insert(root, false);
            assert_eq!(t.root_at(i), root);
            let want = reference.entry(root).or_insert(0);
            assert_eq!(t.at(i).val, *want, "step {step}");
            if r % 5 < 2 {
                t.remove_at(i);
                reference.remove(&root);
            } else {
                t.at(i).val ^= step;
                *want ^= step;
            }
            assert_eq!(t.len(), reference.len());
        }
        for (&root, &val) in &reference {
            let i = t.find_or_insert(root, false);
            assert_eq!(t.at(i).val, val);
        }
        assert_eq!(t.len(), reference.len(), "every key was found, none added");
        for _ in 0..3 {
            t.rotate();
        }
        assert_eq!(t.len(), 0);
        assert_eq!(t.slots.len(), MIN_SLOTS, "an empty table shrinks");
    }
}
