//! A map whose entries expire after a number of rotations (Storm's RotatingMap).
//!
//! Storm keeps `n` hash maps and drops the oldest on each rotation, so every lookup
//! probes up to `n` maps. Here one map holds each entry with the rotation count at its
//! last insert; a rotation scans the map once for expired entries. Lookups cost one
//! probe, and rotations happen once per message timeout.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Entries expire on the `buckets`-th rotation after their last insert: with rotations
/// every period `T`, between `(buckets-1)·T` and `buckets·T` after it.
#[derive(Debug)]
pub(crate) struct RotatingMap<K, V> {
    map: FxHashMap<K, (V, u64)>,
    epoch: u64,
    buckets: u64,
}

impl<K: Hash + Eq, V> RotatingMap<K, V> {
    pub(crate) fn new(buckets: u64) -> RotatingMap<K, V> {
        RotatingMap {
            map: FxHashMap::default(),
            epoch: 0,
            buckets: buckets.max(2),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Insert, or replace and refresh.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, key: K, value: V) {
        self.map.insert(key, (value, self.epoch));
    }

    #[inline]
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key).map(|(v, _)| v)
    }

    /// The entry for `key`, created with `make` if absent; `refresh` restarts its expiry.
    #[inline]
    pub(crate) fn entry(&mut self, key: K, refresh: bool, make: impl FnOnce() -> V) -> &mut V {
        let epoch = self.epoch;
        let slot = self.map.entry(key).or_insert_with(|| (make(), epoch));
        if refresh {
            slot.1 = epoch;
        }
        &mut slot.0
    }

    /// One period passed: remove and return the entries that expire now.
    pub(crate) fn rotate(&mut self) -> Vec<(K, V)> {
        self.epoch += 1;
        let (epoch, buckets) = (self.epoch, self.buckets);
        self.map
            .extract_if(|_, (_, at)| epoch - *at >= buckets)
            .map(|(k, (v, _))| (k, v))
            .collect()
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
        assert_eq!(expired, vec![(1, "a")]);
        assert!(m.is_empty());
    }

    #[test]
    fn reinsert_and_refresh_restart_expiry() {
        let mut m = RotatingMap::new(2);
        m.insert(1, 10);
        m.insert(2, 20);
        m.rotate();
        m.insert(1, 11);
        *m.entry(2, true, || 0) += 1;
        assert_eq!(m.len(), 2);
        assert!(m.rotate().is_empty(), "refreshed entries must survive");
        *m.entry(3, false, || 0) += 5;
        assert_eq!(m.len(), 3);
        assert_eq!(m.remove(&3), Some(5));
        assert_eq!(m.remove(&3), None);
        let mut expired = m.rotate();
        expired.sort();
        assert_eq!(expired, vec![(1, 11), (2, 21)]);
    }
}
