//! The bolt side's barrier (Storm's `BaseStatefulBoltExecutor.shouldProcessTransaction`
//! and its `lastTxid`): a checkpoint action for a txid is handled once it has arrived
//! from every upstream task of the `$checkpoint` stream; an action for a txid older
//! than the last handled one is ignored.

use std::collections::HashMap;

use super::{Action, Checkpoint};

/// What to do with one arriving checkpoint tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Every upstream task sent it and it is not older than the last handled txid:
    /// handle it, then call [`Barrier::handled`].
    Handle,
    /// Not every upstream task sent it yet: ack this copy and wait.
    Wait,
    /// Complete, but for a txid older than the last handled one: ack it, do nothing.
    Stale,
}

/// Counts the copies of each checkpoint action over the upstream tasks.
#[derive(Debug, Clone)]
pub struct Barrier {
    /// Number of upstream tasks on the checkpoint stream (at least 1).
    sources: usize,
    /// Copies seen of actions not complete yet.
    counts: HashMap<Checkpoint, usize>,
    /// The last handled txid (`i64::MIN`: none; after a ROLLBACK of `t`, `t - 1`).
    last_txid: i64,
}

/// At most this many incomplete actions are remembered: copies lost upstream (a
/// failed checkpoint) must not grow the map without bound.
const MAX_OPEN: usize = 64;

impl Barrier {
    /// A barrier over `sources` upstream tasks (the sum of the tasks of every component
    /// this bolt reads `$checkpoint` from).
    pub fn new(sources: usize) -> Barrier {
        Barrier {
            sources: sources.max(1),
            counts: HashMap::new(),
            last_txid: i64::MIN,
        }
    }

    /// The number of upstream tasks.
    pub fn sources(&self) -> usize {
        self.sources
    }

    /// The last handled txid, if any.
    pub fn last_txid(&self) -> Option<i64> {
        (self.last_txid != i64::MIN).then_some(self.last_txid)
    }

    /// One copy of `cp` arrived from an upstream task.
    pub fn arrive(&mut self, cp: Checkpoint) -> Arrival {
        let count = self.counts.entry(cp).or_insert(0);
        *count += 1;
        if *count < self.sources {
            if self.counts.len() > MAX_OPEN {
                self.prune();
            }
            return Arrival::Wait;
        }
        self.counts.remove(&cp);
        if cp.txid >= self.last_txid {
            Arrival::Handle
        } else {
            Arrival::Stale
        }
    }

    /// `cp` (for which [`Barrier::arrive`] said [`Arrival::Handle`]) was handled
    /// without error: later actions for older txids are stale. After a ROLLBACK of
    /// `t` the last txid is `t - 1` (the re-sent INITSTATE of `t - 1` is handled).
    pub fn handled(&mut self, cp: Checkpoint) {
        self.last_txid = match cp.action {
            Action::Rollback => cp.txid - 1,
            _ => cp.txid,
        };
        self.prune();
    }

    /// Forget incomplete actions of txids older than the last handled one (they can
    /// only be stale), and the oldest ones beyond [`MAX_OPEN`].
    fn prune(&mut self) {
        let last = self.last_txid;
        self.counts.retain(|cp, _| cp.txid >= last);
        while self.counts.len() > MAX_OPEN {
            let Some(oldest) = self.counts.keys().min_by_key(|cp| cp.txid).copied() else {
                break;
            };
            self.counts.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(txid: i64, action: Action) -> Checkpoint {
        Checkpoint { txid, action }
    }

    #[test]
    fn one_source_handles_at_once() {
        let mut b = Barrier::new(1);
        assert_eq!(b.arrive(cp(-1, Action::InitState)), Arrival::Handle);
        b.handled(cp(-1, Action::InitState));
        assert_eq!(b.last_txid(), Some(-1));
    }

    #[test]
    fn waits_for_every_source() {
        let mut b = Barrier::new(3);
        let p = cp(4, Action::Prepare);
        assert_eq!(b.arrive(p), Arrival::Wait);
        // Another action of the same txid counts apart.
        assert_eq!(b.arrive(cp(4, Action::Commit)), Arrival::Wait);
        assert_eq!(b.arrive(p), Arrival::Wait);
        assert_eq!(b.arrive(p), Arrival::Handle);
        b.handled(p);
        // The count restarts: a re-sent PREPARE needs every copy again.
        assert_eq!(b.arrive(p), Arrival::Wait);
        assert_eq!(b.sources(), 3);
    }

    #[test]
    fn older_txids_are_stale() {
        let mut b = Barrier::new(1);
        assert_eq!(b.arrive(cp(5, Action::Commit)), Arrival::Handle);
        b.handled(cp(5, Action::Commit));
        assert_eq!(b.arrive(cp(4, Action::Commit)), Arrival::Stale);
        // The same txid again is handled (a replayed COMMIT).
        assert_eq!(b.arrive(cp(5, Action::Commit)), Arrival::Handle);
    }

    #[test]
    fn rollback_lets_the_previous_txid_through() {
        let mut b = Barrier::new(1);
        b.handled(cp(6, Action::Prepare));
        assert_eq!(b.arrive(cp(6, Action::Rollback)), Arrival::Handle);
        b.handled(cp(6, Action::Rollback));
        assert_eq!(b.last_txid(), Some(5));
        assert_eq!(b.arrive(cp(5, Action::InitState)), Arrival::Handle);
        assert_eq!(b.arrive(cp(4, Action::InitState)), Arrival::Stale);
    }

    #[test]
    fn zero_sources_counts_as_one_and_open_actions_are_bounded() {
        let b = Barrier::new(0);
        assert_eq!(b.sources(), 1);
        let mut b = Barrier::new(2);
        for t in 0..1000 {
            assert_eq!(b.arrive(cp(t, Action::Prepare)), Arrival::Wait);
        }
        assert!(b.counts.len() <= MAX_OPEN + 1);
        b.handled(cp(990, Action::Prepare));
        assert!(b.counts.keys().all(|c| c.txid >= 990));
    }
}
