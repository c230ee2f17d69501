//! `/api/v1/supervisors`: heartbeats and the supervisor list.

use axum::Json;
use axum::extract::State;

use super::{ApiError, AppState, JsonBody, blocking};
use squall_runtime::cluster::protocol::{Heartbeat, HeartbeatResponse, SupervisorList};

/// Record a heartbeat; answer with the supervisor's assignments.
pub async fn heartbeat(
    State(state): State<AppState>,
    JsonBody(hb): JsonBody<Heartbeat>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    Ok(Json(blocking(&state, move |c| c.heartbeat(hb)).await?))
}

/// Every supervisor, with heartbeat age and slot use.
pub async fn list(State(state): State<AppState>) -> Result<Json<SupervisorList>, ApiError> {
    Ok(Json(blocking(&state, |c| Ok(c.supervisors())).await?))
}
