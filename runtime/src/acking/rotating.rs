//! A map whose entries expire after one to two rotation periods (Storm's RotatingMap).

use std::collections::VecDeque;
use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Entries live in buckets; [`RotatingMap::rotate`] drops the oldest bucket. With `n`
/// buckets rotated every period `T`, an entry expires between `(n-1)·T` and `n·T` after
/// it was last inserted.
#[derive(Debug)]
pub(crate) struct RotatingMap<K, V> {
    /// Newest bucket first.
    buckets: VecDeque<FxHashMap<K, V>>,
    len: usize,
}

impl<K: Hash + Eq, V> RotatingMap<K, V> {
    pub(crate) fn new(buckets: usize) -> RotatingMap<K, V> {
        RotatingMap {
            buckets: (0..buckets.max(2)).map(|_| FxHashMap::default()).collect(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Insert into the newest bucket (moving the key there if it was older).
    pub(crate) fn insert(&mut self, key: K, value: V) {
        self.remove(&key);
        self.buckets[0].insert(key, value);
        self.len += 1;
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.buckets.iter_mut().find_map(|b| b.get_mut(key))
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        for b in &mut self.buckets {
            if let Some(v) = b.remove(key) {
                self.len -= 1;
                return Some(v);
            }
        }
        None
    }

    /// The entry for `key`, created with `make` in the newest bucket if absent.
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let pos = self.buckets.iter().position(|b| b.contains_key(&key));
        let bucket = match pos {
            Some(i) => i,
            None => {
                self.len += 1;
                0
            }
        };
        self.buckets[bucket].entry(key).or_insert_with(make)
    }

    /// Drop the oldest bucket and return its entries.
    pub(crate) fn rotate(&mut self) -> FxHashMap<K, V> {
        let expired = self.buckets.pop_back().unwrap_or_default();
        self.len -= expired.len();
        self.buckets.push_front(FxHashMap::default());
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_all_buckets_rotate() {
        let mut m = RotatingMap::new(2);
        m.insert(1, "a");
        assert!(m.rotate().is_empty());
        assert_eq!(m.len(), 1);
        let expired = m.rotate();
        assert_eq!(expired.get(&1), Some(&"a"));
        assert!(m.is_empty());
    }

    #[test]
    fn reinsert_refreshes_and_len_stays_exact() {
        let mut m = RotatingMap::new(2);
        m.insert(1, 10);
        m.rotate();
        m.insert(1, 11);
        assert_eq!(m.len(), 1);
        assert!(m.rotate().is_empty(), "the refreshed entry must survive");
        *m.get_or_insert_with(2, || 0) += 5;
        assert_eq!(m.len(), 2);
        assert_eq!(m.remove(&2), Some(5));
        assert_eq!(m.remove(&2), None);
        assert_eq!(m.len(), 1);
    }
}
