//! What the supervisor keeps on disk for assignments and deletes once unused: cached
//! artifacts no slot's assignment has referenced for a grace period
//! (`supervisor.artifact.gc.grace.secs`), and the host-local state of topologies no slot
//! has run for one (`supervisor.state.gc.grace.secs`). Pure bookkeeping on the
//! supervisor's monotonic clock; the daemon deletes the files.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// When each kept thing (an artifact by hash, a state directory by topology id) was
/// last referenced.
#[derive(Debug, Clone)]
pub(crate) struct CacheUse<K> {
    grace: Duration,
    last_used: HashMap<K, Instant>,
}

impl<K: Hash + Eq + Clone> CacheUse<K> {
    /// Nothing known yet.
    pub(crate) fn new(grace: Duration) -> CacheUse<K> {
        CacheUse {
            grace,
            last_used: HashMap::new(),
        }
    }

    /// `key` is kept (found at start-up or just made), used `now`.
    pub(crate) fn cached(&mut self, key: K, now: Instant) {
        self.last_used.insert(key, now);
    }

    /// The things in use now are `referenced`; returns those unused for the grace
    /// period, which are forgotten (the caller deletes them).
    pub(crate) fn expired(
        &mut self,
        referenced: impl IntoIterator<Item = K>,
        now: Instant,
    ) -> Vec<K> {
        for hash in referenced {
            if let Some(t) = self.last_used.get_mut(&hash) {
                *t = now;
            }
        }
        let grace = self.grace;
        let expired: Vec<K> = self
            .last_used
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(**t) >= grace)
            .map(|(k, _)| k.clone())
            .collect();
        for h in &expired {
            self.last_used.remove(h);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use squall_runtime::cluster::protocol::ArtifactHash;

    #[test]
    fn artifacts_unreferenced_for_the_grace_period_expire() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(600);
        let (a, b, c) = (
            ArtifactHash::of_bytes(b"a"),
            ArtifactHash::of_bytes(b"b"),
            ArtifactHash::of_bytes(b"c"),
        );
        let mut gc = CacheUse::new(grace);
        gc.cached(a, t0);
        gc.cached(b, t0);
        let at = |s: u64| t0 + Duration::from_secs(s);
        // `a` stays in use; `b` was last used at t0; `c` is not cached: nothing to do.
        assert!(gc.expired([a, c], at(300)).is_empty());
        assert!(gc.expired([a], at(599)).is_empty());
        assert_eq!(gc.expired([a], at(600)), vec![b]);
        assert!(gc.expired([], at(899)).is_empty(), "a was used at 600");
        assert_eq!(gc.expired([], at(1200)), vec![a]);
        assert!(
            gc.expired([], at(9999)).is_empty(),
            "expired ones are forgotten"
        );
    }
}
