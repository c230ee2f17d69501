//! The master batch coordinator's state machine: transaction ids and attempts, how many
//! batches are in flight and how often a new one starts, commits strictly in txid
//! order, and what a failure redoes. Pure and synchronous (time is passed in), so it is
//! tested without threads or sleeps; the coordinator spout of the stream layer drives it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

/// One attempt at a batch: the txid stays the same on replay, the attempt grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransactionAttempt {
    /// Transaction id, from 1.
    pub txid: u64,
    /// Attempt number for this txid, from 0.
    pub attempt: u32,
}

impl fmt::Display for TransactionAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.txid, self.attempt)
    }
}

/// What the coordinator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start processing this batch (Storm's `$batch`).
    Start(TransactionAttempt),
    /// Commit this batch's state updates (Storm's `$commit`); only ever the lowest txid.
    Commit(TransactionAttempt),
    /// The batch is committed (Storm's `$success`).
    Success(TransactionAttempt),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Processing,
    Processed,
    Committing,
}

/// Batches in flight and the commit cursor.
#[derive(Debug)]
pub struct BatchCoordinator {
    max_pending: usize,
    interval: Duration,
    /// Lowest txid not yet committed.
    current: u64,
    /// Next txid never started.
    next_new: u64,
    /// Active txids (each at its latest attempt).
    active: BTreeMap<u64, (u32, Phase)>,
    /// Latest attempt number handed out per txid below `next_new`.
    attempts: BTreeMap<u64, u32>,
    last_new: Option<Instant>,
}

impl BatchCoordinator {
    /// At most `max_pending` batches in flight (Storm: `topology.max.spout.pending`, 1
    /// when unset) and at most one new batch per `interval`
    /// (`topology.trident.batch.emit.interval.millis`, 500 ms by default).
    pub fn new(max_pending: usize, interval: Duration) -> BatchCoordinator {
        BatchCoordinator {
            max_pending: max_pending.max(1),
            interval,
            current: 1,
            next_new: 1,
            active: BTreeMap::new(),
            attempts: BTreeMap::new(),
            last_new: None,
        }
    }

    /// Batches in flight.
    pub fn in_flight(&self) -> usize {
        self.active.len()
    }

    /// The lowest txid not yet committed.
    pub fn current(&self) -> u64 {
        self.current
    }

    fn is_latest(&self, ta: TransactionAttempt) -> bool {
        self.active
            .get(&ta.txid)
            .is_some_and(|(a, _)| *a == ta.attempt)
    }

    /// Commit the lowest txid if it is processed and not committing yet.
    fn try_commit(&mut self, out: &mut Vec<Action>) {
        if let Some((attempt, phase)) = self.active.get_mut(&self.current)
            && *phase == Phase::Processed
        {
            *phase = Phase::Committing;
            out.push(Action::Commit(TransactionAttempt {
                txid: self.current,
                attempt: *attempt,
            }));
        }
    }

    /// Whether a new batch may start now (below the pending limit, interval over).
    pub fn wants_new(&self, now: Instant) -> bool {
        self.active.len() < self.max_pending
            && self
                .last_new
                .is_none_or(|t| now.saturating_duration_since(t) >= self.interval)
    }

    /// Restart discarded txids (with a new attempt) and, if `allow_new` (the spouts
    /// have data), start a new batch when the pending limit and the emit interval allow.
    pub fn poll(&mut self, now: Instant, allow_new: bool) -> Vec<Action> {
        let mut out = Vec::new();
        // Redo what a failure discarded, in txid order, before anything new.
        for txid in self.current..self.next_new {
            if self.active.len() >= self.max_pending {
                return out;
            }
            if self.active.contains_key(&txid) {
                continue;
            }
            // Attempts are only compared for equality (the latest one counts), so
            // wrapping after u32::MAX attempts of one txid is harmless: the verdict of
            // an attempt 2^32 attempts old is long gone.
            let attempt = self.attempts.get(&txid).map_or(0, |a| a.wrapping_add(1));
            self.attempts.insert(txid, attempt);
            self.active.insert(txid, (attempt, Phase::Processing));
            out.push(Action::Start(TransactionAttempt { txid, attempt }));
        }
        if allow_new && self.wants_new(now) {
            let txid = self.next_new;
            self.next_new += 1;
            self.attempts.insert(txid, 0);
            self.active.insert(txid, (0, Phase::Processing));
            self.last_new = Some(now);
            out.push(Action::Start(TransactionAttempt { txid, attempt: 0 }));
        }
        out
    }

    /// Every tuple of the batch was processed (its tree acked). Stale attempts are
    /// ignored. May ask to commit, but only for the lowest txid.
    pub fn batch_processed(&mut self, ta: TransactionAttempt) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.is_latest(ta) {
            return out;
        }
        if let Some((_, phase)) = self.active.get_mut(&ta.txid)
            && *phase == Phase::Processing
        {
            *phase = Phase::Processed;
        }
        self.try_commit(&mut out);
        out
    }

    /// The commit of `ta` finished: report success, move the cursor, and commit the
    /// next txid if it is processed already.
    pub fn commit_done(&mut self, ta: TransactionAttempt) -> Vec<Action> {
        let mut out = Vec::new();
        if ta.txid != self.current
            || !self.is_latest(ta)
            || self.active.get(&ta.txid).map(|(_, p)| *p) != Some(Phase::Committing)
        {
            return out;
        }
        self.active.remove(&ta.txid);
        self.attempts.remove(&ta.txid);
        self.current += 1;
        out.push(Action::Success(ta));
        self.try_commit(&mut out);
        out
    }

    /// The batch (or its commit) failed: it and every later active txid are discarded
    /// and will be started again, with new attempt numbers, by the next [`poll`].
    ///
    /// [`poll`]: BatchCoordinator::poll
    pub fn failed(&mut self, ta: TransactionAttempt) {
        if !self.is_latest(ta) {
            return;
        }
        let later: Vec<u64> = self.active.range(ta.txid..).map(|(t, _)| *t).collect();
        for t in later {
            self.active.remove(&t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ta(txid: u64, attempt: u32) -> TransactionAttempt {
        TransactionAttempt { txid, attempt }
    }

    fn started(actions: &[Action]) -> Vec<TransactionAttempt> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Start(t) => Some(*t),
                _ => None,
            })
            .collect()
    }

    /// Start `n` batches, one per interval.
    fn start_n(c: &mut BatchCoordinator, t0: Instant, n: u64) -> Instant {
        let mut now = t0;
        for i in 1..=n {
            assert_eq!(started(&c.poll(now, true)), vec![ta(i, 0)]);
            now += Duration::from_millis(500);
        }
        now
    }

    #[test]
    fn txids_start_at_one_one_per_interval_up_to_max_pending() {
        let t0 = Instant::now();
        let mut c = BatchCoordinator::new(2, Duration::from_millis(500));
        assert_eq!(started(&c.poll(t0, true)), vec![ta(1, 0)]);
        assert!(
            c.poll(t0 + Duration::from_millis(100), true).is_empty(),
            "interval not over"
        );
        assert_eq!(
            started(&c.poll(t0 + Duration::from_millis(500), true)),
            vec![ta(2, 0)]
        );
        assert!(
            c.poll(t0 + Duration::from_secs(5), true).is_empty(),
            "2 pending: at the limit"
        );
        assert_eq!(c.in_flight(), 2);
    }

    #[test]
    fn commits_are_strictly_in_txid_order_even_when_later_batches_finish_first() {
        let t0 = Instant::now();
        let mut c = BatchCoordinator::new(3, Duration::from_millis(500));
        start_n(&mut c, t0, 3);
        assert!(c.batch_processed(ta(3, 0)).is_empty());
        assert!(c.batch_processed(ta(2, 0)).is_empty());
        assert_eq!(c.batch_processed(ta(1, 0)), vec![Action::Commit(ta(1, 0))]);
        assert_eq!(
            c.commit_done(ta(1, 0)),
            vec![Action::Success(ta(1, 0)), Action::Commit(ta(2, 0))]
        );
        // A commit done for a txid that is not committing changes nothing.
        assert!(c.commit_done(ta(3, 0)).is_empty());
        assert_eq!(
            c.commit_done(ta(2, 0)),
            vec![Action::Success(ta(2, 0)), Action::Commit(ta(3, 0))]
        );
        assert_eq!(c.commit_done(ta(3, 0)), vec![Action::Success(ta(3, 0))]);
        assert_eq!((c.current(), c.in_flight()), (4, 0));
    }

    #[test]
    fn a_failure_replays_the_same_txid_and_redoes_every_later_batch() {
        let t0 = Instant::now();
        let mut c = BatchCoordinator::new(3, Duration::from_millis(500));
        let now = start_n(&mut c, t0, 3);
        assert!(c.batch_processed(ta(3, 0)).is_empty());
        c.failed(ta(2, 0));
        assert_eq!(c.in_flight(), 1, "2 and 3 discarded, 1 still runs");
        // Redone at once (no interval), same txids, next attempts, in order.
        assert_eq!(started(&c.poll(now, true)), vec![ta(2, 1), ta(3, 1)]);
        // Verdicts for the old attempts are ignored.
        assert!(c.batch_processed(ta(3, 0)).is_empty());
        c.failed(ta(3, 0));
        assert_eq!(c.in_flight(), 3);
        // Everything then commits in order.
        assert_eq!(c.batch_processed(ta(1, 0)), vec![Action::Commit(ta(1, 0))]);
        c.batch_processed(ta(2, 1));
        assert_eq!(
            c.commit_done(ta(1, 0)),
            vec![Action::Success(ta(1, 0)), Action::Commit(ta(2, 1))]
        );
    }

    #[test]
    fn an_attempt_counter_at_u32_max_wraps_without_panic_and_stale_verdicts_are_ignored() {
        let t0 = Instant::now();
        let mut c = BatchCoordinator::new(1, Duration::ZERO);
        assert_eq!(started(&c.poll(t0, true)), vec![ta(1, 0)]);
        c.attempts.insert(1, u32::MAX - 1);
        c.active.insert(1, (u32::MAX - 1, Phase::Processing));
        c.failed(ta(1, u32::MAX - 1));
        assert_eq!(started(&c.poll(t0, true)), vec![ta(1, u32::MAX)]);
        c.failed(ta(1, u32::MAX));
        assert_eq!(started(&c.poll(t0, true)), vec![ta(1, 0)]);
        assert!(c.batch_processed(ta(1, u32::MAX)).is_empty(), "stale");
        assert_eq!(c.batch_processed(ta(1, 0)), vec![Action::Commit(ta(1, 0))]);
        assert_eq!(c.commit_done(ta(1, 0)), vec![Action::Success(ta(1, 0))]);
    }

    #[test]
    fn a_failed_commit_is_replayed_too() {
        let t0 = Instant::now();
        let mut c = BatchCoordinator::new(1, Duration::ZERO);
        assert_eq!(started(&c.poll(t0, true)), vec![ta(1, 0)]);
        assert_eq!(c.batch_processed(ta(1, 0)), vec![Action::Commit(ta(1, 0))]);
        c.failed(ta(1, 0));
        assert_eq!(started(&c.poll(t0, true)), vec![ta(1, 1)]);
        assert_eq!(c.batch_processed(ta(1, 1)), vec![Action::Commit(ta(1, 1))]);
        assert_eq!(c.commit_done(ta(1, 1)), vec![Action::Success(ta(1, 1))]);
        assert_eq!(started(&c.poll(t0, true)), vec![ta(2, 0)]);
    }
}
