//! `/api/v1/supervisors`: heartbeats, the assignment long poll and the supervisor list.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::{ApiError, AppState, JsonBody, blocking};
use crate::auth::Principal;
use crate::auth::audit::Routine;
use crate::auth::store::Binding;
use crate::error::ClusterError;
use squall_runtime::cluster::auth::token::Role;
use squall_runtime::cluster::protocol::{
    AssignmentPoll, AssignmentVersion, Heartbeat, MAX_ASSIGNMENT_WAIT_SECS, SupervisorList,
};

/// Longest supervisor id a token is bound to (longer heartbeats are refused anyway).
const MAX_BOUND_ID: usize = 256;

/// Record a heartbeat; answer with the supervisor's assignments. A supervisor token
/// heartbeats for one supervisor id only: bound at its first heartbeat, and an id bound
/// to one token is refused to every other (403).
///
/// A heartbeat that changed nothing (a known, live supervisor, same host and slots) is
/// routine: the audit log counts it instead of writing it ([`Routine`]).
pub async fn heartbeat(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    JsonBody(hb): JsonBody<Heartbeat>,
) -> Result<Response, ApiError> {
    if !hb.id.trim().is_empty() && hb.id.len() <= MAX_BOUND_ID {
        acts_as(&state, &who, &hb.id, "heartbeat as").await?;
    }
    let (answer, changed) = blocking(&state, move |c| c.heartbeat_noting(hb)).await?;
    let mut response = Json(answer).into_response();
    if !changed {
        response.extensions_mut().insert(Routine::Heartbeat);
    }
    Ok(response)
}

/// `GET /api/v1/supervisors/{id}/assignments?after=VERSION&wait_secs=N`: the supervisor's
/// assignment long poll (its own token, like its heartbeats), answered with its current
/// version as soon as it differs from `after` (at once without `after`), or after
/// `wait_secs` (default and most [`MAX_ASSIGNMENT_WAIT_SECS`]). Waits without the
/// cluster state's lock, bounded in number ([`crate::assignment_polls`]).
pub async fn assignments(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(supervisor): Path<String>,
    uri: Uri,
) -> Result<Json<AssignmentPoll>, ApiError> {
    acts_as(&state, &who, &supervisor, "poll the assignments of").await?;
    let params = Query::<BTreeMap<String, String>>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| ClusterError::bad_request(format!("bad query string: {e}")))?;
    if let Some(unknown) = params
        .keys()
        .find(|k| !matches!(k.as_str(), "after" | "wait_secs"))
    {
        return Err(ClusterError::bad_request(format!(
            "unknown parameter '{}'; known: after, wait_secs",
            unknown.chars().take(64).collect::<String>()
        ))
        .into());
    }
    let after = match params.get("after") {
        None => None,
        Some(v) => Some(
            v.parse::<AssignmentVersion>()
                .map_err(|e| ClusterError::bad_request(format!("after: {e}")))?,
        ),
    };
    let wait = match params.get("wait_secs") {
        None => MAX_ASSIGNMENT_WAIT_SECS,
        Some(w) => w
            .parse::<u64>()
            .map_err(|_| ClusterError::bad_request("wait_secs must be a non-negative integer"))?,
    };
    let wait = Duration::from_secs(wait.min(MAX_ASSIGNMENT_WAIT_SECS));
    Ok(Json(state.polls.wait(&supervisor, after, wait).await?))
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
