//! The HTTP/JSON API (axum). Every error answer is `{"error": "...", "details": [...]}`
//! with the status of its [`ClusterError`] class; unknown routes and methods answer in
//! the same shape.

mod artifacts;
mod body;
mod logconfig;
pub mod logs;
pub mod prometheus;
pub mod serve;
pub mod storm;
mod supervisors;
mod topologies;
mod trident;
pub mod ui;
mod version;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use tokio::sync::{Notify, Semaphore};

use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::validate::Validator;
use squall_runtime::cluster::protocol::{ErrorBody, Health, PROTOCOL_VERSION};

pub use body::{JsonBody, OptionalJsonBody};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The cluster state.
    pub cluster: Arc<Cluster>,
    /// Wakes the monitor when a deadline was set.
    pub wake: Arc<Notify>,
    /// Validates submissions.
    pub validator: Arc<dyn Validator>,
    /// Largest accepted JSON body.
    pub max_request_bytes: usize,
    /// Largest accepted artifact.
    pub max_artifact_bytes: u64,
    /// Bounds the parsing work running at once ([`off_thread`]).
    pub parsers: Arc<Semaphore>,
    /// A JSON request body must arrive whole within this time.
    pub body_timeout: std::time::Duration,
    /// Tokens, audit log, rate limits.
    pub auth: Arc<crate::auth::Auth>,
    /// SHA-256 of the cluster CA certificate's DER, when nimbus has a CA (new tokens
    /// are then printed in the join form). `None` with a certificate of the user's own
    /// PKI.
    pub ca_pin: Option<[u8; 32]>,
    /// Log requests waiting for their supervisors ([`logs`]).
    pub logs: Arc<crate::logs::LogBroker>,
    /// Supervisors' parked assignment polls ([`crate::assignment_polls`]).
    pub polls: Arc<crate::assignment_polls::AssignmentPolls>,
}

/// How many submissions (or large JSON bodies) are parsed at once; more wait their turn.
/// Each parse is bounded by the topology caps, so this bounds the memory they take.
pub const MAX_CONCURRENT_PARSES: usize = 2;

/// An error answer: a [`ClusterError`] rendered as JSON with its status.
#[derive(Debug)]
pub struct ApiError(pub ClusterError);

impl From<ClusterError> for ApiError {
    fn from(e: ClusterError) -> ApiError {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.0.status();
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
        } else {
            tracing::debug!(status = code, error = %self.0, "request refused");
        }
        let error = self.0.to_string();
        let code = self.0.code();
        let retry_after = match &self.0 {
            ClusterError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let details = match self.0 {
            ClusterError::BadRequest { details, .. } => details,
            _ => Vec::new(),
        };
        let mut response = (
            status,
            axum::Json(ErrorBody {
                error,
                details,
                code,
            }),
        )
            .into_response();
        if let Some(secs) = retry_after {
            let (name, value) = crate::auth::middleware::retry_after(secs);
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// The API router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/v1/artifacts/{sha256}",
            put(artifacts::upload)
                .get(artifacts::download)
                .head(artifacts::exists),
        )
        .route(
            "/api/v1/topologies",
            post(topologies::submit).get(topologies::list),
        )
        .route("/api/v1/topologies/{name}", get(topologies::status))
        .route("/api/v1/topologies/{name}/kill", post(topologies::kill))
        .route(
            "/api/v1/topologies/{name}/activate",
            post(topologies::activate),
        )
        .route(
            "/api/v1/topologies/{name}/deactivate",
            post(topologies::deactivate),
        )
        .route(
            "/api/v1/topologies/{name}/rebalance",
            post(topologies::rebalance),
        )
        .route(
            "/api/v1/topologies/{name}/rotate-secret",
            post(topologies::rotate_secret),
        )
        .route("/api/v1/topologies/{name}/stats", post(topologies::stats))
        .route(
            "/api/v1/topologies/{name}/metrics",
            get(topologies::metrics),
        )
        .route(
            "/api/v1/topologies/{name}/trident/{*key}",
            get(trident::get_meta).put(trident::put_meta),
        )
        // Storm's log configuration of a topology (`squall set-log-level`).
        .route(
            "/api/v1/topology/{id}/logconfig",
            get(logconfig::get).post(logconfig::post),
        )
        .route(
            "/api/v1/supervisors/heartbeat",
            post(supervisors::heartbeat),
        )
        .route("/api/v1/supervisors", get(supervisors::list))
        .route(
            "/api/v1/supervisors/{id}/assignments",
            get(supervisors::assignments),
        )
        // Worker logs, read by the supervisors for nimbus (no port of theirs is open).
        .route("/api/v1/topology/{id}/logs", get(logs::worker_log))
        .route("/api/v1/supervisors/{id}/log-requests", get(logs::poll))
        .route(
            "/api/v1/supervisors/{id}/log-responses/{request_id}",
            post(logs::answer),
        )
        .route(
            "/api/v1/tokens",
            post(crate::auth::api::create).get(crate::auth::api::list),
        )
        .route("/api/v1/tokens/{name}", delete(crate::auth::api::revoke))
        .route("/api/v1/health", get(health))
        // Prometheus (a read: any reading token).
        .route("/metrics", get(prometheus::metrics))
        // Storm's UI REST API (issue 13, part stormapi).
        .merge(storm::routes())
        // The web UI (open: its page and assets hold no data).
        .route("/", get(ui::index))
        .route("/index.html", get(ui::index))
        .route("/ui/{file}", get(ui::file))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::middleware::check,
        ))
        .layer(axum::middleware::from_fn(version::versioned))
        .with_state(state)
}

async fn health() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".to_string(),
        protocol: PROTOCOL_VERSION,
    })
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let body = ErrorBody {
        error: format!("no such endpoint: {uri} (the API is under /api/v1/)"),
        details: Vec::new(),
        code: None,
    };
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let body = ErrorBody {
        error: format!("method {method} is not allowed on {uri}"),
        details: Vec::new(),
        code: None,
    };
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

/// Run parsing work (a submitted topology's YAML, a large JSON body) on the blocking
/// pool, at most [`MAX_CONCURRENT_PARSES`] at once: the async threads keep answering
/// (`/health` among them) while a hostile submission is refused.
pub async fn off_thread<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce() -> Result<T, ClusterError> + Send + 'static,
) -> Result<T, ClusterError> {
    let _permit = state
        .parsers
        .acquire()
        .await
        .map_err(|e| ClusterError::Internal(format!("the parser pool is closed: {e}")))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClusterError::Internal(format!("parsing panicked: {e}")))?
}

/// Run a cluster operation on the blocking pool. Every handler that touches the cluster
/// state goes through here: an operation may hold the state's lock across a database
/// commit (an fsync), and a handler waiting for that lock on an async thread would stall
/// every other request that thread serves.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Cluster) -> Result<T, ClusterError> + Send + 'static,
) -> Result<T, ApiError> {
    let cluster = state.cluster.clone();
    tokio::task::spawn_blocking(move || f(&cluster))
        .await
        .map_err(|e| ClusterError::Internal(format!("cluster operation panicked: {e}")))?
        .map_err(ApiError)
}

#[cfg(test)]
mod tests;
