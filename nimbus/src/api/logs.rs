//! Worker logs through nimbus (see [`squall_runtime::cluster::protocol::logs`]):
//! - `GET /api/v1/topology/{id}/logs?worker=HOST:PORT&file=log|out&tail=N|offset=O&max_bytes=M`
//!   (any reading role): queues a request for the worker's supervisor and waits for its
//!   answer ([`LOG_ANSWER_TIMEOUT`]);
//! - `GET /api/v1/supervisors/{id}/log-requests?wait_secs=N` (that supervisor's token):
//!   the long poll that hands a supervisor its requests;
//! - `POST /api/v1/supervisors/{id}/log-responses/{request_id}` (that supervisor's
//!   token): its answer.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::Uri;
use axum::http::header::CONTENT_LENGTH;
use axum::{Extension, Json};
use squall_runtime::cluster::protocol::logs::{
    LogAnswer, LogFailure, LogQuery, LogRequest, LogRequests, MAX_LOG_BYTES, MAX_POLL_WAIT_SECS,
    WorkerLog,
};

use super::supervisors::acts_as;
use super::{ApiError, AppState, blocking};
use crate::auth::Principal;
use crate::error::ClusterError;
use crate::logs::Asked;

/// How long a log request waits for its supervisor's answer.
pub const LOG_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer body a supervisor may post: [`MAX_LOG_BYTES`] of text, each byte
/// at worst a 6-byte JSON escape, plus the envelope.
const MAX_ANSWER_BODY: usize = 6 * MAX_LOG_BYTES as usize + 64 * 1024;

/// The query's parameters, or a 400 in the API's error shape.
fn params(uri: &Uri) -> Result<BTreeMap<String, String>, ClusterError> {
    Query::<BTreeMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ClusterError::bad_request(format!("bad query string: {e}")))
}

/// `GET /api/v1/topology/{id}/logs`.
pub async fn worker_log(
    State(state): State<AppState>,
    Path(topology): Path<String>,
    uri: Uri,
) -> Result<Json<WorkerLog>, ApiError> {
    let query =
        LogQuery::parse(&params(&uri)?).map_err(|e| ClusterError::bad_request(e.to_string()))?;
    let worker = query.worker.clone();
    let target = blocking(&state, move |c| c.log_target(&topology, worker.as_deref())).await?;
    if !target.alive {
        return Err(ClusterError::Unavailable(format!(
            "supervisor {} (running worker {}) is not heartbeating: its logs cannot be read now",
            target.supervisor, target.worker
        ))
        .into());
    }
    let request = LogRequest {
        id: 0,
        topology: target.topology.clone(),
        topology_id: target.topology_id.clone(),
        port: target.port,
        file: query.file,
        range: query.range,
        max_bytes: query.max_bytes,
    };
    let asked = state
        .logs
        .ask(&target.supervisor, request, LOG_ANSWER_TIMEOUT)
        .await?;
    let sup = &target.supervisor;
    match asked {
        Asked::Answered(LogAnswer::Chunk(chunk)) => Ok(Json(WorkerLog {
            worker: target.worker,
            supervisor: target.supervisor,
            file: query.file,
            chunk,
        })),
        Asked::Answered(LogAnswer::Failed { kind, message }) => {
            let message = format!("supervisor {sup}, worker {}: {message}", target.worker);
            Err(match kind {
                LogFailure::NotFound => ClusterError::NotFound(message),
                LogFailure::Refused => ClusterError::Forbidden(message),
                LogFailure::Unreadable => ClusterError::Unavailable(message),
            }
            .into())
        }
        Asked::TimedOut { taken: false } => Err(ClusterError::UpstreamTimeout(format!(
            "supervisor {sup} did not pick up the log request within {}s: it is not polling \
             nimbus for log requests (stopped, cut off, or a version without log serving)",
            LOG_ANSWER_TIMEOUT.as_secs()
        ))
        .into()),
        Asked::TimedOut { taken: true } => Err(ClusterError::UpstreamTimeout(format!(
            "supervisor {sup} took the log request but did not answer within {}s",
            LOG_ANSWER_TIMEOUT.as_secs()
        ))
        .into()),
    }
}

/// `GET /api/v1/supervisors/{id}/log-requests?wait_secs=N` (default and most:
/// [`MAX_POLL_WAIT_SECS`]).
pub async fn poll(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(supervisor): Path<String>,
    uri: Uri,
) -> Result<Json<LogRequests>, ApiError> {
    acts_as(&state, &who, &supervisor, "poll the log requests of").await?;
    let params = params(&uri)?;
    if let Some(unknown) = params.keys().find(|k| k.as_str() != "wait_secs") {
        return Err(ClusterError::bad_request(format!(
            "unknown parameter '{}'; known: wait_secs",
            unknown.chars().take(64).collect::<String>()
        ))
        .into());
    }
    let wait = match params.get("wait_secs") {
        None => MAX_POLL_WAIT_SECS,
        Some(w) => w
            .parse::<u64>()
            .map_err(|_| ClusterError::bad_request("wait_secs must be a non-negative integer"))?,
    };
    let wait = Duration::from_secs(wait.min(MAX_POLL_WAIT_SECS));
    Ok(Json(state.logs.poll(&supervisor, wait).await))
}

/// `POST /api/v1/supervisors/{id}/log-responses/{request_id}`.
pub async fn answer(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((supervisor, request)): Path<(String, String)>,
    req: Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    acts_as(&state, &who, &supervisor, "answer the log requests of").await?;
    let id: u64 = request.parse().map_err(|_| {
        ClusterError::bad_request(format!(
            "a log request id is a number, not '{}'",
            request.chars().take(64).collect::<String>()
        ))
    })?;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = super::body::read_limited(
        req.into_body(),
        MAX_ANSWER_BODY,
        declared,
        state.body_timeout,
    )
    .await?;
    let answer: LogAnswer = serde_json::from_slice(&body)
        .map_err(|e| ClusterError::bad_request(format!("invalid log answer: {e}")))?;
    state.logs.answer(&supervisor, id, answer)?;
    Ok(Json(serde_json::json!({ "accepted": id })))
}
