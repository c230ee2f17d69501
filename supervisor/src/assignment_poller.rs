//! The supervisor's assignment long poll: a task that asks nimbus
//! (`GET /api/v1/supervisors/{id}/assignments?after=V&wait_secs=N`, held open by nimbus
//! until this supervisor's assignment version differs from `V` or the wait ends) and,
//! when the version moved, pokes the daemon loop, which heartbeats at once and gets the
//! new assignments in the answer. A new topology thus reaches the supervisor in a round
//! trip instead of up to a heartbeat interval later; the heartbeats stay what keeps it
//! alive and what carries the assignments.
//!
//! The poll starts from the version the daemon holds (it waits for the first heartbeat
//! to have one), then from the last version nimbus answered, so a version the daemon
//! has not caught up with yet is not reported twice.

use std::sync::Arc;
use std::time::Duration;

use squall_runtime::cluster::protocol::{
    AssignmentPoll, AssignmentVersion, MAX_ASSIGNMENT_WAIT_SECS, assignment_poll_path,
};
use tokio::sync::{Notify, watch};

use crate::long_poll::{Outage, get_json, wait_while_cut_off};

/// The poll's HTTP timeout: the wait plus slack for a slow answer.
pub(crate) const POLL_HTTP_TIMEOUT: Duration = Duration::from_secs(MAX_ASSIGNMENT_WAIT_SECS + 15);
/// The largest poll answer read (it holds one version).
const MAX_POLL_ANSWER_BYTES: usize = 4096;

/// What the poll task needs.
pub(crate) struct AssignmentPoller {
    /// A client with [`POLL_HTTP_TIMEOUT`] and the supervisor's token.
    pub(crate) http: reqwest::Client,
    /// Nimbus's base URL.
    pub(crate) nimbus: String,
    /// This supervisor's id.
    pub(crate) id: String,
    /// The version the daemon holds (from its last heartbeat answer).
    pub(crate) held: watch::Receiver<Option<AssignmentVersion>>,
    /// Wakes the daemon loop for a heartbeat now.
    pub(crate) poke: Arc<Notify>,
    /// While true (a test's partition), nimbus is not called.
    pub(crate) cut_off: watch::Receiver<bool>,
}

/// What a poll answer asks of the poller: `Some(v)`: the version moved to `v` (poke the
/// daemon, poll after `v`); `None`: unchanged, poll again.
pub(crate) fn moved(
    after: AssignmentVersion,
    answer: &AssignmentPoll,
) -> Option<AssignmentVersion> {
    (answer.version != after).then_some(answer.version)
}

impl AssignmentPoller {
    /// Poll until `stop` turns true.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut after: Option<AssignmentVersion> = None;
        let mut outage = Outage::new("assignments");
        loop {
            if *stop.borrow() {
                return;
            }
            if wait_while_cut_off(&mut self.cut_off, &mut stop).await {
                continue;
            }
            // Start from what the daemon holds; wait for it to hold something.
            let held = *self.held.borrow_and_update();
            let from = match after.or(held) {
                Some(v) => v,
                None => {
                    tokio::select! {
                        r = self.held.changed() => if r.is_err() { return },
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            };
            let polled = tokio::select! {
                p = self.poll(from) => p,
                _ = stop.changed() => continue,
            };
            match polled {
                Ok(answer) => {
                    outage.ended();
                    if let Some(v) = moved(from, &answer) {
                        tracing::debug!(version = %v, "assignment version moved; heartbeating now");
                        self.poke.notify_one();
                    }
                    after = Some(answer.version);
                }
                Err(e) => {
                    // A fresh start from the daemon's version after an outage (nimbus may
                    // have restarted: a new epoch).
                    after = None;
                    outage.failed(&e, &mut stop).await;
                }
            }
        }
    }

    /// One long poll.
    async fn poll(&self, after: AssignmentVersion) -> Result<AssignmentPoll, String> {
        let url = format!(
            "{}{}",
            self.nimbus,
            assignment_poll_path(&self.id, Some(after), MAX_ASSIGNMENT_WAIT_SECS)
        );
        get_json(&self.http, &url, MAX_POLL_ANSWER_BYTES).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_version_that_differs_pokes_the_daemon() {
        let v1 = AssignmentVersion { epoch: 1, seq: 1 };
        let v2 = AssignmentVersion { epoch: 1, seq: 2 };
        let other_nimbus = AssignmentVersion { epoch: 9, seq: 1 };
        assert_eq!(moved(v1, &AssignmentPoll { version: v1 }), None);
        assert_eq!(moved(v1, &AssignmentPoll { version: v2 }), Some(v2));
        assert_eq!(
            moved(
                v1,
                &AssignmentPoll {
                    version: other_nimbus
                }
            ),
            Some(other_nimbus)
        );
    }
}
