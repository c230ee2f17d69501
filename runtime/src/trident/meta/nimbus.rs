//! Metadata records kept by nimbus (cluster mode): `GET`/`PUT
//! /api/v1/topologies/{name}/trident/{key}`. Calls are synchronous for the caller — an
//! executor thread — and bounded: each attempt has a timeout, failures of the network
//! or 5xx answers are retried with a growing pause, a 4xx answer fails at once. The
//! HTTP client runs on a thread of its own (started on the first call), so a call works
//! from any thread, inside an async runtime or not. Requests carry the protocol version
//! header and, from a worker, its credential (see [`NimbusMetaStore::with_credential`]).

use crate::cluster::auth::tls::ClientTrust;
use std::sync::OnceLock;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::{MetaError, MetaKey, MetaStore, check_size};
use crate::cluster::auth::worker_credential::WorkerCredential;
use crate::cluster::protocol::trident::{
    MAX_META_BODY_BYTES, TridentMetaPut, TridentMetaValue, encode_segment, meta_path,
};
use crate::engine::backoff::Backoff;

/// How hard a call tries before it gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call (at least 1).
    pub attempts: u32,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Pause before the second attempt; doubled before each further one.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts of at most 5 s, pauses of 0.2, 0.4 and 0.8 s: a call gives up after
    /// about 21 s.
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            timeout: Duration::from_secs(5),
            backoff: Duration::from_millis(200),
        }
    }
}

impl RetryPolicy {
    /// The pause after `failures` failed attempts in a row.
    fn pause(&self, failures: u32) -> Duration {
        Backoff::new(self.backoff, self.backoff.saturating_mul(1 << 16)).delay(failures)
    }

    /// The longest a call can take.
    fn total(&self) -> Duration {
        let attempts = self.attempts.max(1);
        let pauses: Duration = (1..attempts).map(|f| self.pause(f)).sum();
        self.timeout.saturating_mul(attempts) + pauses
    }
}

#[derive(Debug)]
enum Request {
    Get,
    Put(String),
}

#[derive(Debug)]
struct Job {
    key: MetaKey,
    request: Request,
    reply: Sender<Result<Option<String>, MetaError>>,
}

/// The records of one topology (by id) at nimbus.
#[derive(Debug)]
pub struct NimbusMetaStore {
    nimbus: String,
    topology: String,
    topology_id: String,
    policy: RetryPolicy,
    credential: Option<WorkerCredential>,
    trust: ClientTrust,
    client: OnceLock<Sender<Job>>,
}

impl NimbusMetaStore {
    /// The records of topology `topology` (id `topology_id`) at the nimbus whose base
    /// URL is `nimbus` (`http://host:port`), with the default [`RetryPolicy`].
    pub fn new(nimbus: &str, topology: &str, topology_id: &str) -> NimbusMetaStore {
        NimbusMetaStore {
            nimbus: nimbus.trim_end_matches('/').to_string(),
            topology: topology.to_string(),
            topology_id: topology_id.to_string(),
            policy: RetryPolicy::default(),
            credential: None,
            trust: ClientTrust::System,
            client: OnceLock::new(),
        }
    }

    /// The same store sending `credential` (a worker's, see
    /// [`worker_credential`](crate::cluster::auth::worker_credential)) with every request.
    pub fn with_credential(mut self, credential: WorkerCredential) -> NimbusMetaStore {
        self.credential = Some(credential);
        self
    }

    /// The same store trusting `trust` for an `https://` nimbus.
    pub fn with_trust(mut self, trust: ClientTrust) -> NimbusMetaStore {
        self.trust = trust;
        self
    }

    /// The same store trying as `policy` says.
    pub fn with_policy(mut self, policy: RetryPolicy) -> NimbusMetaStore {
        self.policy = RetryPolicy {
            attempts: policy.attempts.max(1),
            ..policy
        };
        self
    }

    fn url(&self, key: &MetaKey) -> String {
        format!("{}{}", self.nimbus, meta_path(&self.topology, key.as_str()))
    }

    fn call(&self, key: &MetaKey, request: Request) -> Result<Option<String>, MetaError> {
        let unreachable = |last: String| MetaError::Unreachable {
            key: key.to_string(),
            url: self.url(key),
            attempts: self.policy.attempts,
            last,
        };
        let client = self.client.get_or_init(|| {
            let (tx, rx) = crossbeam_channel::unbounded();
            let ctx = Context {
                nimbus: self.nimbus.clone(),
                topology: self.topology.clone(),
                topology_id: self.topology_id.clone(),
                policy: self.policy,
                credential: self.credential.clone(),
                trust: self.trust.clone(),
            };
            let spawned = std::thread::Builder::new()
                .name("trident-meta".into())
                .spawn(move || serve(&ctx, &rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the trident metadata client thread");
            }
            tx
        });
        let (reply, answer) = crossbeam_channel::bounded(1);
        client
            .send(Job {
                key: key.clone(),
                request,
                reply,
            })
            .map_err(|_| unreachable("the metadata client thread is not running".into()))?;
        answer
            .recv_timeout(self.policy.total() + Duration::from_secs(5))
            .map_err(|_| unreachable("no answer from the metadata client thread".into()))?
    }
}

impl MetaStore for NimbusMetaStore {
    fn get(&self, key: &MetaKey) -> Result<Option<String>, MetaError> {
        self.call(key, Request::Get)
    }

    fn put(&self, key: &MetaKey, value: &str) -> Result<(), MetaError> {
        check_size(key, value)?;
        self.call(key, Request::Put(value.to_string())).map(|_| ())
    }

    fn describe(&self, key: &MetaKey) -> String {
        self.url(key)
    }
}

/// What the client thread needs.
struct Context {
    nimbus: String,
    topology: String,
    topology_id: String,
    policy: RetryPolicy,
    credential: Option<WorkerCredential>,
    trust: ClientTrust,
}

/// The client thread: answer jobs until every sender is gone.
fn serve(ctx: &Context, jobs: &Receiver<Job>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    // A worker's credential goes on each request (`ctx.credential`), not into the
    // client, and never in clear off loopback.
    if ctx.credential.is_some()
        && let Err(e) = crate::cluster::auth::tls::check_cleartext(&ctx.nimbus, true)
    {
        return refuse_all(ctx, jobs, &e.to_string());
    }
    let client = crate::cluster::http::client(ctx.policy.timeout, None, &ctx.trust);
    let (runtime, client) = match (runtime, client) {
        (Ok(r), Ok(c)) => (r, c),
        (Err(e), _) => return refuse_all(ctx, jobs, &format!("no async runtime: {e}")),
        (_, Err(e)) => return refuse_all(ctx, jobs, &format!("no HTTP client: {e}")),
    };
    for job in jobs.iter() {
        let answer = runtime.block_on(attempts(ctx, &client, &job));
        let _ = job.reply.send(answer);
    }
}

fn refuse_all(ctx: &Context, jobs: &Receiver<Job>, why: &str) {
    tracing::error!(error = why, "trident metadata client cannot start");
    for job in jobs.iter() {
        let _ = job.reply.send(Err(MetaError::Unreachable {
            key: job.key.to_string(),
            url: ctx.nimbus.clone(),
            attempts: 0,
            last: why.to_string(),
        }));
    }
}

/// One call, retried as the policy says.
async fn attempts(
    ctx: &Context,
    client: &reqwest::Client,
    job: &Job,
) -> Result<Option<String>, MetaError> {
    let url = format!(
        "{}{}",
        ctx.nimbus,
        meta_path(&ctx.topology, job.key.as_str())
    );
    let mut last = String::new();
    for attempt in 1..=ctx.policy.attempts {
        if attempt > 1 {
            tokio::time::sleep(ctx.policy.pause(attempt - 1)).await;
        }
        let request = match &job.request {
            Request::Get => client.get(format!(
                "{url}?topology_id={}",
                encode_segment(&ctx.topology_id)
            )),
            Request::Put(value) => {
                let body = TridentMetaPut {
                    topology_id: ctx.topology_id.clone(),
                    value: value.clone(),
                };
                client.put(&url).json(&body)
            }
        };
        let request = match &ctx.credential {
            Some(c) => request.header(reqwest::header::AUTHORIZATION, c.header_value()),
            None => request,
        };
        let sent = request.send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                last = e.to_string();
                tracing::warn!(key = %job.key, attempt, error = %last, "trident metadata call failed");
                continue;
            }
        };
        let status = resp.status();
        let body = read_capped(resp).await;
        if status.is_server_error() {
            last = format!("{status}: {}", body.unwrap_or_else(|e| e));
            tracing::warn!(key = %job.key, attempt, error = %last, "trident metadata call failed");
            continue;
        }
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                last = e;
                continue;
            }
        };
        if !status.is_success() {
            return Err(MetaError::Refused {
                key: job.key.to_string(),
                status: status.as_u16(),
                message: body,
            });
        }
        return match &job.request {
            Request::Put(_) => Ok(None),
            Request::Get => serde_json::from_str::<TridentMetaValue>(&body)
                .map(|v| v.value)
                .map_err(|e| MetaError::Corrupt {
                    at: url.clone(),
                    message: format!("nimbus's answer does not decode: {e}"),
                }),
        };
    }
    Err(MetaError::Unreachable {
        key: job.key.to_string(),
        url,
        attempts: ctx.policy.attempts,
        last,
    })
}

/// The body of an answer as text, refused past [`MAX_META_BODY_BYTES`].
async fn read_capped(mut resp: reqwest::Response) -> Result<String, String> {
    let mut buf = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > MAX_META_BODY_BYTES {
                    return Err(format!(
                        "the answer is larger than {MAX_META_BODY_BYTES} bytes"
                    ));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(format!("reading the answer: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
