//! `/api/v1/supervisors`: heartbeats and the supervisor list.

use axum::extract::State;
use axum::{Extension, Json};

use super::{ApiError, AppState, JsonBody, blocking};
use crate::auth::Principal;
use crate::auth::store::Binding;
use crate::error::ClusterError;
use squall_runtime::cluster::auth::token::Role;
use squall_runtime::cluster::protocol::{Heartbeat, HeartbeatResponse, SupervisorList};

/// Longest supervisor id a token is bound to (longer heartbeats are refused anyway).
const MAX_BOUND_ID: usize = 256;

/// Record a heartbeat; answer with the supervisor's assignments. A supervisor token
/// heartbeats for one supervisor id only: bound at its first heartbeat, and an id bound
/// to one token is refused to every other (403).
pub async fn heartbeat(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    JsonBody(hb): JsonBody<Heartbeat>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    if let Principal::Token {
        role: Role::Supervisor,
        id,
        name,
    } = &who
        && !hb.id.trim().is_empty()
        && hb.id.len() <= MAX_BOUND_ID
    {
        let (auth, token_id, sup) = (state.auth.clone(), id.clone(), hb.id.clone());
        let binding =
            tokio::task::spawn_blocking(move || auth.store.bind_supervisor(&token_id, &sup))
                .await
                .map_err(|e| ClusterError::Internal(format!("binding panicked: {e}")))??;
        let refused = match binding {
            Binding::Bound => None,
            Binding::BoundElsewhere(bound) => Some(format!(
                "supervisor token '{name}' is bound to supervisor {bound}; it may not heartbeat as {}",
                hb.id
            )),
            Binding::IdTaken(owner) => Some(format!(
                "supervisor id {} belongs to supervisor token '{owner}'; token '{name}' may not heartbeat as it",
                hb.id
            )),
        };
        if let Some(message) = refused {
            tracing::warn!(supervisor = %hb.id, token = %name, "heartbeat refused: {message}");
            return Err(ClusterError::Forbidden(message).into());
        }
    }
    Ok(Json(blocking(&state, move |c| c.heartbeat(hb)).await?))
}

/// Every supervisor, with heartbeat age and slot use.
pub async fn list(State(state): State<AppState>) -> Result<Json<SupervisorList>, ApiError> {
    Ok(Json(blocking(&state, |c| Ok(c.supervisors())).await?))
}
