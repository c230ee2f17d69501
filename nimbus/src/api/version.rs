//! The cluster protocol version on every exchange: each answer carries nimbus's version;
//! a request that names an incompatible one is refused (400) with both versions, and the
//! daemon endpoints (supervisor heartbeats, worker stats) must name one. Requests without
//! a version from people (curl, a browser) are served as the current version.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use squall_runtime::cluster::protocol::{
    ASSIGNMENT_PROTOCOL, ErrorBody, PROTOCOL_VERSION, VERSION_HEADER, check_version,
};

/// Paths only cluster processes call: they must send their version.
fn daemon_only(path: &str) -> bool {
    path == "/api/v1/supervisors/heartbeat"
        || (path.starts_with("/api/v1/topologies/") && path.ends_with("/stats"))
}

/// Paths of the assignment exchange, which changed meaning in [`ASSIGNMENT_PROTOCOL`]:
/// a supervisor of an older version is refused there.
fn assignment_exchange(path: &str) -> bool {
    path == "/api/v1/supervisors/heartbeat"
        || (path.starts_with("/api/v1/supervisors/") && path.ends_with("/assignments"))
}

/// Why a supervisor speaking `theirs` cannot heartbeat to this nimbus, if it cannot.
fn too_old_for_assignments(theirs: u32) -> Option<String> {
    (theirs < ASSIGNMENT_PROTOCOL).then(|| {
        format!(
            "the supervisor speaks Squall cluster protocol {theirs}; this nimbus speaks \
             {PROTOCOL_VERSION} and its heartbeats need {ASSIGNMENT_PROTOCOL} or later \
             (versioned assignments): supervisor and nimbus ship together, upgrade the \
             supervisor"
        )
    })
}

/// The middleware: check the caller's version, stamp nimbus's on the answer.
pub async fn versioned(request: Request, next: Next) -> Response {
    let sent = request.headers().get(VERSION_HEADER);
    let path = request.uri().path();
    let refusal = match sent {
        Some(v) => match check_version(v.to_str().ok()) {
            Ok(theirs) if assignment_exchange(path) => too_old_for_assignments(theirs),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        },
        None if daemon_only(path) || assignment_exchange(path) => {
            check_version(None).err().map(|e| e.to_string())
        }
        None => None,
    };
    let mut response = match refusal {
        Some(e) => {
            tracing::warn!(path = %request.uri().path(), "refused: {e}");
            let body = ErrorBody {
                error: e,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervisors_before_versioned_assignments_are_refused_on_the_assignment_exchange() {
        assert!(assignment_exchange("/api/v1/supervisors/heartbeat"));
        assert!(assignment_exchange("/api/v1/supervisors/s1/assignments"));
        assert!(!assignment_exchange("/api/v1/supervisors/s1/log-requests"));
        assert!(!assignment_exchange("/api/v1/topologies"));
        let refused = too_old_for_assignments(2).unwrap_or_default();
        assert!(refused.contains("protocol 2"), "{refused}");
        assert!(refused.contains("upgrade the supervisor"), "{refused}");
        assert_eq!(too_old_for_assignments(ASSIGNMENT_PROTOCOL), None);
        assert_eq!(too_old_for_assignments(PROTOCOL_VERSION), None);
    }
}
