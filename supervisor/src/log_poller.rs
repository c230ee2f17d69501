//! The supervisor's side of nimbus's log proxy: a task that long-polls nimbus for log
//! requests (`GET /api/v1/supervisors/{id}/log-requests?wait_secs=N`, held open by nimbus
//! until a request is queued or the wait ends), reads each requested range of a slot's
//! worker log ([`crate::logs`]) and posts the answer
//! (`POST /api/v1/supervisors/{id}/log-responses/{request_id}`). The supervisor opens no
//! port: it only calls nimbus, with its own token.
//!
//! Which topology runs in which slot comes from the daemon loop ([`Occupants`]): a
//! request for a slot that runs another topology's worker (or none) is answered
//! "not found".

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use squall_runtime::cluster::protocol::logs::{
    LogAnswer, LogFailure, LogRequest, LogRequests, MAX_POLL_WAIT_SECS, MAX_REQUESTS_PER_POLL,
    log_requests_path, log_response_path,
};
use tokio::sync::{Semaphore, watch};

use crate::logs;
use crate::long_poll::{Outage, get_json, wait_while_cut_off};

/// The worker running in a slot: its topology and its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Occupant {
    /// Topology name.
    pub(crate) topology: String,
    /// Topology id (changes on resubmission).
    pub(crate) topology_id: String,
    /// The worker directory, where its log files are.
    pub(crate) dir: PathBuf,
}

/// Slot port → its worker, as the daemon loop last saw them.
pub(crate) type Occupants = BTreeMap<u16, Occupant>;

/// How long a poll asks nimbus to hold the request open.
const POLL_WAIT_SECS: u64 = MAX_POLL_WAIT_SECS;
/// The poll's HTTP timeout: the wait plus slack for a slow answer.
pub(crate) const POLL_HTTP_TIMEOUT: Duration = Duration::from_secs(POLL_WAIT_SECS + 10);
/// The largest poll answer read: [`MAX_REQUESTS_PER_POLL`] requests of a few hundred
/// bytes each, with room to spare.
const MAX_POLL_ANSWER_BYTES: usize = 256 * 1024;
/// Files read at once.
const MAX_CONCURRENT_READS: usize = 4;

/// What the poll task needs.
pub(crate) struct LogPoller {
    /// A client with [`POLL_HTTP_TIMEOUT`] and the supervisor's token.
    pub(crate) http: reqwest::Client,
    /// Nimbus's base URL.
    pub(crate) nimbus: String,
    /// This supervisor's id.
    pub(crate) id: String,
    /// Rotated files kept per worker log (`supervisor.worker.log.files`).
    pub(crate) rotated_files: u32,
    /// The slots' workers, from the daemon loop.
    pub(crate) occupants: watch::Receiver<Occupants>,
    /// While true (a test's partition), nimbus is not called.
    pub(crate) cut_off: watch::Receiver<bool>,
}

impl LogPoller {
    /// Poll until `stop` turns true.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let reads = Arc::new(Semaphore::new(MAX_CONCURRENT_READS));
        let mut outage = Outage::new("log requests");
        loop {
            if *stop.borrow() {
                return;
            }
            if wait_while_cut_off(&mut self.cut_off, &mut stop).await {
                continue;
            }
            let polled = tokio::select! {
                p = self.poll() => p,
                _ = stop.changed() => continue,
            };
            match polled {
                Ok(batch) => {
                    outage.ended();
                    for request in batch.requests.into_iter().take(MAX_REQUESTS_PER_POLL) {
                        self.spawn_answer(request, reads.clone());
                    }
                }
                Err(e) => outage.failed(&e, &mut stop).await,
            }
        }
    }

    /// One long poll.
    async fn poll(&self) -> Result<LogRequests, String> {
        let url = format!(
            "{}{}",
            self.nimbus,
            log_requests_path(&self.id, POLL_WAIT_SECS)
        );
        get_json(&self.http, &url, MAX_POLL_ANSWER_BYTES).await
    }

    /// Read and answer `request` in a task of its own.
    fn spawn_answer(&self, request: LogRequest, reads: Arc<Semaphore>) {
        let occupant = self.occupants.borrow().get(&request.port).cloned();
        let http = self.http.clone();
        let url = format!("{}{}", self.nimbus, log_response_path(&self.id, request.id));
        let rotated_files = self.rotated_files;
        tokio::spawn(async move {
            let answer = match occupant {
                Some(o) if o.topology_id == request.topology_id => {
                    let Ok(_permit) = reads.acquire().await else {
                        return;
                    };
                    let read = tokio::task::spawn_blocking(move || {
                        logs::read(
                            &o.dir,
                            request.file,
                            request.range,
                            request.max_bytes,
                            rotated_files,
                        )
                    })
                    .await;
                    match read {
                        Ok(Ok(chunk)) => LogAnswer::Chunk(chunk),
                        Ok(Err(e)) => LogAnswer::Failed {
                            kind: e.kind(),
                            message: e.to_string(),
                        },
                        Err(e) => LogAnswer::Failed {
                            kind: LogFailure::Unreadable,
                            message: format!("the log read panicked: {e}"),
                        },
                    }
                }
                Some(o) => LogAnswer::Failed {
                    kind: LogFailure::NotFound,
                    message: format!(
                        "slot {} runs a worker of topology '{}' ({}), not of '{}' ({})",
                        request.port,
                        o.topology,
                        o.topology_id,
                        request.topology,
                        request.topology_id
                    ),
                },
                None => LogAnswer::Failed {
                    kind: LogFailure::NotFound,
                    message: format!("slot {} runs no worker", request.port),
                },
            };
            match http.post(&url).json(&answer).send().await {
                Ok(resp) if resp.status().is_success() => {}
                Ok(resp) => {
                    tracing::warn!(status = %resp.status(), "nimbus refused a log answer: POST {url}")
                }
                Err(e) => tracing::warn!(
                    "cannot post a log answer: POST {url}: {}",
                    squall_runtime::cluster::auth::tls::describe(&e)
                ),
            }
        });
    }
}
