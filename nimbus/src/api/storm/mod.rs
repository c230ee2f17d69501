//! Storm's UI REST API (`/api/v1/cluster/summary`, `/api/v1/topology/{id}`, ...), for
//! the tools and scripts written against Storm: the same paths, field names and JSON
//! types as Storm's UI daemon (`docs/STORM-UI-REST-API.md`, `UIHelpers.java`), built
//! from nimbus's views ([`crate::cluster::Cluster::metrics`], `status`, `list`,
//! `supervisors`). One module per resource; `{id}` is a topology id (as Storm) or a
//! name. Every route passes the authentication middleware: reads need a reading role,
//! actions `Act` on the topology ([`crate::auth::acl::classify`]).
//!
//! Errors answer Storm's shape, `{"error": "404 Not Found", "errorMessage": "..."}`,
//! with the status of the [`ClusterError`] (Storm answers 500 for every error).

mod actions;
mod cluster;
mod component;
mod format;
mod lag;
mod nimbus;
mod supervisor;
mod topology;
mod topology_summary;
mod visualization;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use squall_runtime::cluster::protocol::Window;

use super::AppState;
use crate::cluster::Cluster;
use crate::error::ClusterError;

/// Storm's routes, merged into the API router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cluster/summary", get(cluster::summary))
        .route("/api/v1/supervisor/summary", get(supervisor::summary))
        .route("/api/v1/nimbus/summary", get(nimbus::summary))
        .route("/api/v1/topology/summary", get(topology_summary::summary))
        .route("/api/v1/topology/{id}", get(topology::page))
        .route(
            "/api/v1/topology/{id}/component/{component}",
            get(component::page),
        )
        .route("/api/v1/topology/{id}/lag", get(lag::lag))
        .route(
            "/api/v1/topology/{id}/visualization",
            get(visualization::visualization),
        )
        .route("/api/v1/topology/{id}/activate", post(actions::activate))
        .route(
            "/api/v1/topology/{id}/deactivate",
            post(actions::deactivate),
        )
        .route(
            "/api/v1/topology/{id}/rebalance/{wait}",
            post(actions::rebalance),
        )
        .route("/api/v1/topology/{id}/kill/{wait}", post(actions::kill))
}

/// An error in Storm's shape: `{"error": "<code> <reason>", "errorMessage": "..."}`.
#[derive(Debug)]
pub enum StormError {
    /// A cluster operation failed: its status and message.
    Cluster(ClusterError),
    /// The topology exists but has no such component (404).
    NoComponent {
        /// The topology's name.
        topology: String,
        /// The component asked for.
        component: String,
    },
}

impl From<ClusterError> for StormError {
    fn from(e: ClusterError) -> StormError {
        StormError::Cluster(e)
    }
}

impl From<super::ApiError> for StormError {
    fn from(e: super::ApiError) -> StormError {
        StormError::Cluster(e.0)
    }
}

impl IntoResponse for StormError {
    fn into_response(self) -> Response {
        let (code, message) = match self {
            StormError::Cluster(e) => (e.status(), e.to_string()),
            StormError::NoComponent {
                topology,
                component,
            } => (
                404,
                format!(
                    "topology '{topology}' has no component '{}'",
                    component.chars().take(128).collect::<String>()
                ),
            ),
        };
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %message, "Storm API request failed");
        } else {
            tracing::debug!(status = code, error = %message, "Storm API request refused");
        }
        let body = serde_json::json!({
            "error": format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error")
            ),
            "errorMessage": message,
        });
        (status, axum::Json(body)).into_response()
    }
}

/// The query parameters of Storm's stats pages.
#[derive(Debug, Default, Deserialize)]
pub struct StatsQuery {
    /// `600`, `10800`, `86400` or `:all-time` (Storm's default).
    #[serde(default)]
    pub window: Option<String>,
    /// `1`/`true`: include the system components and streams (`__acker`, `__ack_*`).
    #[serde(default)]
    pub sys: Option<String>,
}

impl StatsQuery {
    /// The window asked for (default: all time, as Storm); a bad one is a 400.
    pub fn window(&self) -> Result<Window, ClusterError> {
        match self.window.as_deref() {
            None | Some("") => Ok(Window::AllTime),
            Some(w) => w
                .parse::<Window>()
                .map_err(|e| ClusterError::bad_request(e.to_string())),
        }
    }

    /// Whether system components and streams are shown; a bad value is a 400.
    pub fn sys(&self) -> Result<bool, ClusterError> {
        match self.sys.as_deref() {
            None | Some("" | "0" | "false") => Ok(false),
            Some("1" | "true") => Ok(true),
            Some(other) => Err(ClusterError::bad_request(format!(
                "sys must be 1 or 0, not '{}'",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// Whether `id` is a system component or stream (Storm's `Utils.isSystemId`).
pub fn is_system(id: &str) -> bool {
    id.starts_with("__")
}

/// Run `f` on the blocking pool (the cluster's lock may wait for a commit), answering
/// a failure in Storm's error shape.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Cluster) -> Result<T, ClusterError> + Send + 'static,
) -> Result<T, StormError> {
    super::blocking(state, f).await.map_err(StormError::from)
}

#[cfg(test)]
mod tests;
