//! The log broker: log requests queued per supervisor until that supervisor's long poll
//! takes them, and the callers waiting for the answers (see
//! [`squall_runtime::cluster::protocol::logs`] for the exchange).
//!
//! Everything is bounded: at most [`MAX_PENDING_PER_SUPERVISOR`] requests wait per
//! supervisor (more are refused, 503), a caller waits at most its timeout (504), a poll
//! hands out at most [`MAX_REQUESTS_PER_POLL`] requests, and a supervisor's queue is
//! removed once nothing waits in it and nobody polls it. A caller that goes away (its
//! client disconnected, or it timed out) takes its request out of the queue.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use squall_runtime::cluster::protocol::logs::{
    LogAnswer, LogRequest, LogRequests, MAX_REQUESTS_PER_POLL,
};
use tokio::sync::{Notify, oneshot, watch};

use crate::error::ClusterError;

/// The most log requests waiting (queued or taken, not yet answered) per supervisor.
pub const MAX_PENDING_PER_SUPERVISOR: usize = 32;

/// One supervisor's requests.
#[derive(Debug, Default)]
struct Queue {
    /// Not yet taken by a poll.
    queued: VecDeque<LogRequest>,
    /// Every request not yet answered, with where its answer goes.
    waiting: HashMap<u64, oneshot::Sender<LogAnswer>>,
    /// Wakes a poll when a request is queued.
    wake: Arc<Notify>,
    /// Polls in progress.
    pollers: usize,
}

impl Queue {
    fn idle(&self) -> bool {
        self.waiting.is_empty() && self.queued.is_empty() && self.pollers == 0
    }
}

/// The log requests of every supervisor; see the module docs.
#[derive(Debug)]
pub struct LogBroker {
    queues: Mutex<HashMap<String, Queue>>,
    next_id: AtomicU64,
    stop: watch::Receiver<bool>,
}

/// What waiting for an answer ended with.
#[derive(Debug)]
pub enum Asked {
    /// The supervisor answered.
    Answered(LogAnswer),
    /// No answer in time; `taken` says whether the supervisor had taken the request.
    TimedOut {
        /// Whether a poll took it.
        taken: bool,
    },
}

/// Takes a caller's request out of its queue when the caller stops waiting.
struct Forget<'a> {
    broker: &'a LogBroker,
    supervisor: &'a str,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        let mut queues = self.broker.lock();
        if let Some(q) = queues.get_mut(self.supervisor) {
            q.waiting.remove(&self.id);
            q.queued.retain(|r| r.id != self.id);
            if q.idle() {
                queues.remove(self.supervisor);
            }
        }
    }
}

/// Counts a poll in progress while it lives.
struct Polling<'a> {
    broker: &'a LogBroker,
    supervisor: &'a str,
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        let mut queues = self.broker.lock();
        if let Some(q) = queues.get_mut(self.supervisor) {
            q.pollers = q.pollers.saturating_sub(1);
            if q.idle() {
                queues.remove(self.supervisor);
            }
        }
    }
}

/// Resolves when `stop` turns true (never when its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl LogBroker {
    /// A broker whose waits end when `stop` turns true (nimbus is stopping).
    pub fn new(stop: watch::Receiver<bool>) -> LogBroker {
        LogBroker {
            queues: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            stop,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Queue>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue `request` (its id is set here) for `supervisor` and wait up to `timeout`
    /// for the answer. Refused (503) when [`MAX_PENDING_PER_SUPERVISOR`] wait already,
    /// or when nimbus stops.
    pub async fn ask(
        &self,
        supervisor: &str,
        mut request: LogRequest,
        timeout: Duration,
    ) -> Result<Asked, ClusterError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        request.id = id;
        let (tx, rx) = oneshot::channel();
        {
            let mut queues = self.lock();
            let q = queues.entry(supervisor.to_string()).or_default();
            if q.waiting.len() >= MAX_PENDING_PER_SUPERVISOR {
                return Err(ClusterError::Unavailable(format!(
                    "supervisor {supervisor} already has {MAX_PENDING_PER_SUPERVISOR} log \
                     requests waiting; try again in a few seconds"
                )));
            }
            q.waiting.insert(id, tx);
            q.queued.push_back(request);
            q.wake.notify_one();
        }
        let _forget = Forget {
            broker: self,
            supervisor,
            id,
        };
        tokio::select! {
            answer = tokio::time::timeout(timeout, rx) => match answer {
                Ok(Ok(answer)) => Ok(Asked::Answered(answer)),
                Ok(Err(_)) => Err(ClusterError::Internal(format!(
                    "the log request to supervisor {supervisor} was dropped"
                ))),
                Err(_) => {
                    let taken = self
                        .lock()
                        .get(supervisor)
                        .is_none_or(|q| q.queued.iter().all(|r| r.id != id));
                    Ok(Asked::TimedOut { taken })
                }
            },
            () = stopped(self.stop.clone()) => Err(ClusterError::Unavailable(
                "nimbus is stopping".to_string(),
            )),
        }
    }

    /// The requests queued for `supervisor`, waiting up to `wait` for one to be queued
    /// (empty when none was, or nimbus stops).
    pub async fn poll(&self, supervisor: &str, wait: Duration) -> LogRequests {
        let wake = {
            let mut queues = self.lock();
            let q = queues.entry(supervisor.to_string()).or_default();
            q.pollers += 1;
            q.wake.clone()
        };
        let _polling = Polling {
            broker: self,
            supervisor,
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = wake.notified();
            {
                let mut queues = self.lock();
                if let Some(q) = queues.get_mut(supervisor)
                    && !q.queued.is_empty()
                {
                    let n = q.queued.len().min(MAX_REQUESTS_PER_POLL);
                    return LogRequests {
                        requests: q.queued.drain(..n).collect(),
                    };
                }
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => return LogRequests::default(),
                () = stopped(self.stop.clone()) => return LogRequests::default(),
            }
        }
    }

    /// Hand `answer` to the caller waiting for request `id` of `supervisor`; refused
    /// when no such request waits (it timed out, or was never this supervisor's).
    pub fn answer(&self, supervisor: &str, id: u64, answer: LogAnswer) -> Result<(), ClusterError> {
        let tx = self
            .lock()
            .get_mut(supervisor)
            .and_then(|q| q.waiting.remove(&id));
        let Some(tx) = tx else {
            return Err(ClusterError::NotFound(format!(
                "no log request {id} of supervisor {supervisor} is waiting for an answer (it \
                 timed out, or was not sent to this supervisor)"
            )));
        };
        // The caller may have just given up: nothing to do then.
        let _ = tx.send(answer);
        Ok(())
    }

    /// How many supervisors have a queue (for tests: idle queues are removed).
    pub fn queues(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use squall_runtime::cluster::protocol::logs::{LogChunk, LogFile, LogRange};

    fn request() -> LogRequest {
        LogRequest {
            id: 0,
            topology: "t".into(),
            topology_id: "t-1".into(),
            port: 6700,
            file: LogFile::Log,
            range: LogRange::Tail { lines: 1 },
            max_bytes: 10,
        }
    }

    fn broker() -> (watch::Sender<bool>, Arc<LogBroker>) {
        let (stop, rx) = watch::channel(false);
        (stop, Arc::new(LogBroker::new(rx)))
    }

    #[tokio::test]
    async fn a_poll_returns_as_soon_as_a_request_is_queued_and_the_answer_reaches_the_caller() {
        let (_stop, b) = broker();
        let poller = {
            let b = b.clone();
            tokio::spawn(async move { b.poll("s1", Duration::from_secs(60)).await })
        };
        let asker = {
            let b = b.clone();
            tokio::spawn(async move { b.ask("s1", request(), Duration::from_secs(60)).await })
        };
        // Bounded: a poll that did not wake would take 60 s.
        let got = tokio::time::timeout(Duration::from_secs(10), poller)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.requests.len(), 1);
        let id = got.requests[0].id;
        // Another supervisor may not answer it.
        let e = b.answer("s2", id, LogAnswer::Chunk(LogChunk::default()));
        assert!(e.unwrap_err().to_string().contains("no log request"));
        b.answer("s1", id, LogAnswer::Chunk(LogChunk::default()))
            .unwrap();
        let asked = asker.await.unwrap().unwrap();
        assert!(matches!(asked, Asked::Answered(LogAnswer::Chunk(_))));
        assert_eq!(b.queues(), 0, "idle queues are removed");
    }

    #[tokio::test]
    async fn unanswered_requests_time_out_and_the_queue_is_bounded() {
        let (_stop, b) = broker();
        // What is tested is the timeout itself: a short one.
        let timeout = Duration::from_millis(300);
        let mut askers = Vec::new();
        for _ in 0..MAX_PENDING_PER_SUPERVISOR {
            let b = b.clone();
            askers.push(tokio::spawn(async move {
                b.ask("s1", request(), timeout).await
            }));
        }
        tokio::task::yield_now().await;
        while b.lock().get("s1").map_or(0, |q| q.waiting.len()) < MAX_PENDING_PER_SUPERVISOR {
            tokio::task::yield_now().await;
        }
        let e = b
            .ask("s1", request(), Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 503, "{e}");
        assert!(e.to_string().contains("32 log requests waiting"), "{e}");
        // Nobody polls: each times out, never taken.
        for a in askers {
            assert!(matches!(
                a.await.unwrap().unwrap(),
                Asked::TimedOut { taken: false }
            ));
        }
        assert_eq!(b.queues(), 0);
        // A poll with nothing queued ends empty at its deadline.
        assert!(b.poll("s1", timeout).await.requests.is_empty());
        assert_eq!(b.queues(), 0);
    }

    #[tokio::test]
    async fn stopping_ends_polls_and_waits() {
        let (stop, b) = broker();
        let poller = {
            let b = b.clone();
            tokio::spawn(async move { b.poll("s1", Duration::from_secs(600)).await })
        };
        let asker = {
            let b = b.clone();
            tokio::spawn(async move { b.ask("s2", request(), Duration::from_secs(600)).await })
        };
        while b.queues() < 2 {
            tokio::task::yield_now().await;
        }
        stop.send(true).unwrap();
        let polled = tokio::time::timeout(Duration::from_secs(10), poller).await;
        assert!(polled.unwrap().unwrap().requests.is_empty());
        let asked = tokio::time::timeout(Duration::from_secs(10), asker).await;
        assert_eq!(asked.unwrap().unwrap().unwrap_err().status(), 503);
    }
}
