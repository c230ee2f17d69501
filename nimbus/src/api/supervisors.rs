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
    if !hb.id.trim().is_empty() && hb.id.len() <= MAX_BOUND_ID {
        acts_as(&state, &who, &hb.id, "heartbeat as").await?;
    }
    Ok(Json(blocking(&state, move |c| c.heartbeat(hb)).await?))
}

/// Check that `who` may act as supervisor `supervisor` (`doing`: "heartbeat as", …): a
/// supervisor token is bound to the first supervisor id it acts as, and an id bound to
/// one token is refused to every other (403). Admins (and an open nimbus) may act as
/// any supervisor; the other roles never reach here (see [`crate::auth::acl`]).
pub(super) async fn acts_as(
    state: &AppState,
    who: &Principal,
    supervisor: &str,
    doing: &str,
) -> Result<(), ApiError> {
    let Principal::Token {
        role: Role::Supervisor,
        id,
        name,
    } = who
    else {
        return Ok(());
    };
    if supervisor.trim().is_empty() || supervisor.len() > MAX_BOUND_ID {
        return Err(ClusterError::bad_request(format!(
            "a supervisor id is 1 to {MAX_BOUND_ID} bytes"
        ))
        .into());
    }
    let (auth, token_id, sup) = (state.auth.clone(), id.clone(), supervisor.to_string());
    let binding = tokio::task::spawn_blocking(move || auth.store.bind_supervisor(&token_id, &sup))
        .await
        .map_err(|e| ClusterError::Internal(format!("binding panicked: {e}")))??;
    let refused = match binding {
        Binding::Bound => None,
        Binding::BoundElsewhere(bound) => Some(format!(
            "supervisor token '{name}' is bound to supervisor {bound}; it may not {doing} \
             {supervisor}"
        )),
        Binding::IdTaken(owner) => Some(format!(
            "supervisor id {supervisor} belongs to supervisor token '{owner}'; token '{name}' \
             may not {doing} it"
        )),
    };
    if let Some(message) = refused {
        tracing::warn!(%supervisor, token = %name, "refused: {message}");
        return Err(ClusterError::Forbidden(message).into());
    }
    Ok(())
}

/// Every supervisor, with heartbeat age and slot use.
pub async fn list(State(state): State<AppState>) -> Result<Json<SupervisorList>, ApiError> {
    Ok(Json(blocking(&state, |c| Ok(c.supervisors())).await?))
}
