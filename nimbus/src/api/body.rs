//! Request bodies: read with a size limit (413 past it), parsed as JSON (400 naming the
//! problem and its line and column).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_LENGTH;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::error::ClusterError;

/// Past the limit, up to this many more bytes are read and dropped before answering 413,
/// so that a client still sending gets the answer rather than a reset connection.
const DRAIN_BYTES: u64 = 16 * 1024 * 1024;

/// Read all of `body` within `timeout`, refusing it when it is longer than `limit`
/// bytes or arrives too slowly (a client trickling a body must not hold a connection
/// and its buffer for ever).
pub async fn read_limited(
    body: Body,
    limit: usize,
    declared: Option<u64>,
    timeout: Duration,
) -> Result<Bytes, ClusterError> {
    match tokio::time::timeout(timeout, read_all(body, limit, declared)).await {
        Ok(read) => read,
        Err(_) => Err(ClusterError::Timeout(format!(
            "the request body did not arrive within {timeout:?}"
        ))),
    }
}

/// Read all of `body`, refusing it when it is longer than `limit` bytes.
async fn read_all(body: Body, limit: usize, declared: Option<u64>) -> Result<Bytes, ClusterError> {
    let too_large = || {
        ClusterError::TooLarge(format!(
            "request body is larger than the limit of {limit} bytes"
        ))
    };
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body, DRAIN_BYTES).await;
        return Err(too_large());
    }
    let mut body = body;
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(body_error)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                drain(body, DRAIN_BYTES).await;
                return Err(too_large());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

/// What a failed read of a request body is answered with: 408 when it stopped arriving
/// (see [`super::serve`]), else 400.
pub fn body_error(e: axum::Error) -> ClusterError {
    let message = format!("cannot read the request body: {e}");
    let inner = e.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
    while let Some(err) = source {
        if err.is::<super::serve::BodyTimeout>() {
            return ClusterError::Timeout(message);
        }
        source = err.source();
    }
    ClusterError::bad_request(message)
}

/// Read and drop up to `max` more bytes of `body`.
pub async fn drain(mut body: Body, max: u64) {
    let mut seen = 0u64;
    while seen < max {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    seen += data.len() as u64;
                }
            }
            _ => break,
        }
    }
}

fn declared_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ClusterError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let kind = if e.is_data() {
            "invalid request"
        } else {
            "malformed JSON in the request body"
        };
        ClusterError::bad_request(format!("{kind}: {e}"))
    })
}

/// Bodies longer than this are parsed on the blocking pool ([`super::off_thread`]): a
/// few MiB of JSON take milliseconds the async threads owe to other requests.
const OFF_THREAD_JSON_BYTES: usize = 64 * 1024;

/// Parse `bytes` as JSON, off the async threads when they are many.
async fn parse_body<T: DeserializeOwned + Send + 'static>(
    state: &AppState,
    bytes: Bytes,
) -> Result<T, ClusterError> {
    if bytes.len() <= OFF_THREAD_JSON_BYTES {
        return parse(&bytes);
    }
    super::off_thread(state, move || parse(&bytes)).await
}

/// A JSON request's body, read within the request size cap and the body timeout.
async fn read_json_request(req: Request, state: &AppState) -> Result<Bytes, ClusterError> {
    let declared = declared_length(&req);
    read_limited(
        req.into_body(),
        state.max_request_bytes,
        declared,
        state.body_timeout,
    )
    .await
}

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_json_request(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ClusterError::bad_request(
                "the request body is empty: a JSON object is expected",
            )
            .into());
        }
        Ok(JsonBody(parse_body(state, bytes).await?))
    }
}

/// A JSON request body of type `T`, or `T::default()` when the body is empty.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default + Send + 'static> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_json_request(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        Ok(OptionalJsonBody(parse_body(state, bytes).await?))
    }
}
