//! Supervisors' assignment long polls (`GET /api/v1/supervisors/{id}/assignments`):
//! a poll parks until the supervisor's assignment version differs from the one it names,
//! or its wait ends, or nimbus stops, and answers with the current version (the
//! supervisor then heartbeats at once for the assignments). Polls wait on the
//! [`VersionBoard`] (a watch per supervisor, set by the cluster's assignment book), never
//! on the cluster state's lock.
//!
//! Bounded: at most `max_parked` polls are parked at once (more are refused, 429 with
//! `Retry-After`), and a supervisor has one: a newer poll of the same supervisor ends
//! the older one (its connection is likely gone), so a reconnecting supervisor never
//! fills the table with its own stale polls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use squall_runtime::cluster::protocol::{AssignmentPoll, AssignmentVersion};
use tokio::sync::{Notify, watch};

use crate::error::ClusterError;

/// The most polls parked at once by default (one per supervisor nimbus tracks).
pub const MAX_PARKED_POLLS: usize = 10_000;

#[derive(Debug)]
struct Entry {
    version: watch::Sender<AssignmentVersion>,
    /// The newest poll's number: an older poll ends when it sees a newer one.
    newest_poll: u64,
    /// Wakes the older polls when a newer one arrives.
    superseded: Arc<Notify>,
}

/// Every supervisor's current assignment version, with a watch each.
#[derive(Debug, Default)]
pub struct VersionBoard {
    entries: Mutex<HashMap<String, Entry>>,
}

impl VersionBoard {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Set supervisor `id`'s version (waking its poll if it moved).
    pub fn set(&self, id: &str, version: AssignmentVersion) {
        let mut entries = self.lock();
        match entries.get(id) {
            Some(e) => {
                e.version.send_if_modified(|v| {
                    let moved = *v != version;
                    *v = version;
                    moved
                });
            }
            None => {
                let entry = Entry {
                    version: watch::Sender::new(version),
                    newest_poll: 0,
                    superseded: Arc::new(Notify::new()),
                };
                entries.insert(id.to_string(), entry);
            }
        }
    }

    /// Forget supervisor `id` (its poll ends).
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Supervisor `id`'s current version.
    pub fn get(&self, id: &str) -> Option<AssignmentVersion> {
        self.lock().get(id).map(|e| *e.version.borrow())
    }

    /// Supervisors on the board.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the board is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The parked polls; see the module docs.
#[derive(Debug)]
pub struct AssignmentPolls {
    board: Arc<VersionBoard>,
    parked: AtomicUsize,
    max_parked: usize,
    stop: watch::Receiver<bool>,
}

/// Counts a parked poll while it lives.
struct Parked<'a>(&'a AtomicUsize);

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resolves when `stop` turns true (never when its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl AssignmentPolls {
    /// Polls on `board`, at most `max_parked` at once, ended when `stop` turns true.
    pub fn new(
        board: Arc<VersionBoard>,
        max_parked: usize,
        stop: watch::Receiver<bool>,
    ) -> AssignmentPolls {
        AssignmentPolls {
            board,
            parked: AtomicUsize::new(0),
            max_parked,
            stop,
        }
    }

    /// Polls parked now.
    pub fn parked(&self) -> usize {
        self.parked.load(Ordering::Acquire)
    }

    /// Wait up to `wait` for supervisor `id`'s version to differ from `after` (`None`:
    /// answer at once); answer with its version then. Refused when the supervisor is
    /// not registered (404: heartbeat first) or `max_parked` polls are parked (429).
    pub async fn wait(
        &self,
        id: &str,
        after: Option<AssignmentVersion>,
        wait: Duration,
    ) -> Result<AssignmentPoll, ClusterError> {
        let n = self.parked.fetch_add(1, Ordering::AcqRel);
        let _parked = Parked(&self.parked);
        if n >= self.max_parked {
            return Err(ClusterError::TooManyRequests {
                message: format!(
                    "nimbus already holds {} assignment polls, its limit; the supervisor \
                     heartbeats on its own interval meanwhile",
                    self.max_parked
                ),
                retry_after_secs: 5,
            });
        }
        let (mut rx, ticket, superseded) = {
            let mut entries = self.board.lock();
            let Some(e) = entries.get_mut(id) else {
                return Err(ClusterError::NotFound(format!(
                    "supervisor {id} is not registered: it heartbeats first"
                )));
            };
            e.newest_poll += 1;
            e.superseded.notify_waiters();
            (e.version.subscribe(), e.newest_poll, e.superseded.clone())
        };
        let current = |rx: &watch::Receiver<AssignmentVersion>| AssignmentPoll {
            version: *rx.borrow(),
        };
        if after.is_none_or(|a| a != *rx.borrow_and_update()) {
            return Ok(current(&rx));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let newer = superseded.notified();
            if self
                .board
                .lock()
                .get(id)
                .is_none_or(|e| e.newest_poll != ticket)
            {
                return Ok(current(&rx));
            }
            tokio::select! {
                changed = rx.changed() => {
                    // Moved, or the supervisor was forgotten (sender gone): answer now.
                    if changed.is_err() || after != Some(*rx.borrow_and_update()) {
                        return Ok(current(&rx));
                    }
                }
                () = newer => {}
                () = tokio::time::sleep_until(deadline) => return Ok(current(&rx)),
                () = stopped(self.stop.clone()) => return Ok(current(&rx)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const V1: AssignmentVersion = AssignmentVersion { epoch: 7, seq: 1 };
    const V2: AssignmentVersion = AssignmentVersion { epoch: 7, seq: 2 };
    const LONG: Duration = Duration::from_secs(600);
    /// Bounds every wait of these tests: a poll that did not wake would take `LONG`.
    const BOUND: Duration = Duration::from_secs(10);

    fn polls(max: usize) -> (watch::Sender<bool>, Arc<VersionBoard>, Arc<AssignmentPolls>) {
        let (stop, rx) = watch::channel(false);
        let board = Arc::new(VersionBoard::default());
        let polls = Arc::new(AssignmentPolls::new(board.clone(), max, rx));
        (stop, board, polls)
    }

    async fn until_parked(p: &AssignmentPolls, n: usize) {
        tokio::time::timeout(BOUND, async {
            while p.parked() != n {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{} polls parked, not {n}", p.parked()));
    }

    #[tokio::test]
    async fn a_poll_answers_at_once_when_behind_and_as_soon_as_the_version_moves() {
        let (_stop, board, p) = polls(4);
        assert_eq!(
            p.wait("s1", Some(V1), LONG).await.unwrap_err().status(),
            404
        );
        board.set("s1", V1);
        // Behind (or holding nothing): at once.
        let got = p.wait("s1", None, LONG).await.unwrap();
        assert_eq!(got.version, V1);
        board.set("s1", V2);
        assert_eq!(p.wait("s1", Some(V1), LONG).await.unwrap().version, V2);
        // Current: parked until it moves.
        let parked = {
            let p = p.clone();
            tokio::spawn(async move { p.wait("s1", Some(V2), LONG).await })
        };
        until_parked(&p, 1).await;
        // Another supervisor's change does not wake it.
        board.set("s2", V1);
        board.set("s1", V2);
        assert_eq!(p.parked(), 1);
        let v3 = AssignmentVersion { epoch: 7, seq: 3 };
        board.set("s1", v3);
        let got = tokio::time::timeout(BOUND, parked).await.unwrap().unwrap();
        assert_eq!(got.unwrap().version, v3);
        assert_eq!(p.parked(), 0);
        // A short wait ends with the same version.
        let got = p.wait("s1", Some(v3), Duration::from_millis(50)).await;
        assert_eq!(got.unwrap().version, v3);
    }

    #[tokio::test]
    async fn parked_polls_are_bounded_and_a_newer_poll_ends_the_older_one() {
        let (stop, board, p) = polls(2);
        for id in ["s1", "s2", "s3"] {
            board.set(id, V1);
        }
        let park = |id: &'static str| {
            let p = p.clone();
            tokio::spawn(async move { p.wait(id, Some(V1), LONG).await })
        };
        let first = park("s1");
        until_parked(&p, 1).await;
        // The same supervisor again: the older poll ends (answered, version unchanged).
        let second = park("s1");
        let ended = tokio::time::timeout(BOUND, first).await.unwrap().unwrap();
        assert_eq!(ended.unwrap().version, V1);
        until_parked(&p, 1).await;
        let third = park("s2");
        until_parked(&p, 2).await;
        // Full: refused with a retry hint, nothing parked for it.
        let e = p.wait("s3", Some(V1), LONG).await.unwrap_err();
        assert_eq!(e.status(), 429, "{e}");
        assert!(e.to_string().contains("assignment polls"), "{e}");
        assert_eq!(p.parked(), 2);
        // Forgetting a supervisor ends its poll; stopping nimbus ends the rest.
        board.remove("s1");
        let got = tokio::time::timeout(BOUND, second).await.unwrap().unwrap();
        assert_eq!(got.unwrap().version, V1);
        stop.send(true).unwrap();
        let got = tokio::time::timeout(BOUND, third).await.unwrap().unwrap();
        assert_eq!(got.unwrap().version, V1);
        assert_eq!(p.parked(), 0);
        assert_eq!(board.len(), 2);
    }
}
