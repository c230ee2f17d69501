//! The cluster protocol version on every exchange: each answer carries nimbus's version;
//! a request that names an incompatible one is refused (400) with both versions, and the
//! daemon endpoints (supervisor heartbeats, worker stats) must name one. Requests without
//! a version from people (curl, a browser) are served as the current version.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use squall_runtime::cluster::protocol::{
    ErrorBody, PROTOCOL_VERSION, VERSION_HEADER, check_version,
};

/// Paths only cluster processes call: they must send their version.
fn daemon_only(path: &str) -> bool {
    path == "/api/v1/supervisors/heartbeat"
        || (path.starts_with("/api/v1/topologies/") && path.ends_with("/stats"))
}

/// The middleware: check the caller's version, stamp nimbus's on the answer.
pub async fn versioned(request: Request, next: Next) -> Response {
    let sent = request.headers().get(VERSION_HEADER);
    let refusal = match sent {
        Some(v) => check_version(v.to_str().ok()).err(),
        None if daemon_only(request.uri().path()) => check_version(None).err(),
        None => None,
    };
    let mut response = match refusal {
        Some(e) => {
            tracing::warn!(path = %request.uri().path(), "refused: {e}");
            let body = ErrorBody {
                error: e.to_string(),
                details: Vec::new(),
                code: None,
            };
            (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
        }
        None => next.run(request).await,
    };
    response
        .headers_mut()
        .insert(VERSION_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    response
}
