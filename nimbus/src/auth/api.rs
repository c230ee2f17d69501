//! `/api/v1/tokens` (admin only; see [`squall_runtime::cluster::protocol::tokens`]).
//! Revoking a supervisor's token evicts that supervisor at once: its slots leave the
//! cluster and its workers are rescheduled elsewhere.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use squall_runtime::cluster::auth::token::Role;
use squall_runtime::cluster::protocol::tokens::{
    TokenCreateRequest, TokenCreated, TokenList, TokenView,
};

use crate::api::{ApiError, AppState, JsonBody, blocking};
use crate::error::ClusterError;

/// Make a token (201); the answer holds its text, shown this once (in the join form,
/// with the cluster CA's pin, when nimbus has a CA).
pub async fn create(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<TokenCreateRequest>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    let auth = state.auth.clone();
    let now = state.cluster.wall_millis() / 1000;
    let pin = state.ca_pin;
    let created = tokio::task::spawn_blocking(move || {
        let mut token = auth.store.create(&req.name, req.role, now)?;
        token.pin = pin;
        let view = TokenView {
            name: req.name.clone(),
            role: req.role,
            id: token.id.clone(),
            created_at: now,
            supervisor_id: None,
        };
        tracing::info!(name = %req.name, role = %req.role, id = %token.id, "token created");
        Ok::<_, ClusterError>(TokenCreated {
            token: view,
            text: token.to_text().expose().clone(),
        })
    })
    .await
    .map_err(|e| ClusterError::Internal(format!("token creation panicked: {e}")))??;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Every token (never a secret).
pub async fn list(State(state): State<AppState>) -> Json<TokenList> {
    Json(TokenList {
        tokens: state.auth.store.list(),
    })
}

/// Revoke a token; a supervisor's token evicts its supervisor.
pub async fn revoke(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let auth = state.auth.clone();
    let record = tokio::task::spawn_blocking(move || auth.store.revoke(&name))
        .await
        .map_err(|e| ClusterError::Internal(format!("token revocation panicked: {e}")))??;
    tracing::info!(name = %record.name, role = %record.role, id = %record.id, "token revoked");
    if record.role == Role::Supervisor
        && let Some(sup) = record.supervisor_id.clone()
    {
        let affected = blocking(&state, move |c| c.evict_supervisor(&sup)).await?;
        for topology in &affected {
            // SEAM(dataplane): `state.cluster.rotate_topology_secret(topology)` here, so
            // the evicted supervisor's workers can no longer talk to the new ones.
            tracing::info!(%topology, "topology had workers on the evicted supervisor; \
                its secret is to be rotated (dataplane)");
        }
        state.wake.notify_one();
    }
    Ok(Json(record.view()))
}
