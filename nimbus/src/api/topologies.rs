//! `/api/v1/topologies`: submit, list, status, kill, activate, deactivate, rebalance,
//! stats.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::{ApiError, AppState, JsonBody, OptionalJsonBody, blocking};
use crate::artifacts::check_hash;
use crate::cluster::check_name;
use crate::error::ClusterError;
use crate::plan::{parse_yaml, plan};
use crate::protocol::{
    ActionResponse, KillRequest, RebalanceRequest, StatsReport, SubmitRequest, TopologyInfo,
    TopologyList,
};
use crate::unix_ms;
use crate::validate::validate_with_artifact;

/// Submit: check the request, the YAML's structure and the artifact, have the artifact
/// validate the topology, then store and schedule it (201).
pub async fn submit(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SubmitRequest>,
) -> Result<(StatusCode, Json<ActionResponse>), ApiError> {
    check_hash(&req.artifact)?;
    let def = parse_yaml(&req.yaml)?;
    let name = req.name.clone().unwrap_or_else(|| def.name.clone());
    check_name(&name)?;
    if state.cluster.has_topology(&name) {
        return Err(ClusterError::AlreadyExists(name).into());
    }
    let artifacts = state.cluster.artifacts();
    if !artifacts.contains(&req.artifact) {
        return Err(ClusterError::bad_request(format!(
            "artifact {} is not uploaded: PUT the binary to /api/v1/artifacts/{} first",
            req.artifact, req.artifact
        ))
        .into());
    }
    // Cheap checks first: the task count bound, before running anything.
    plan(&def, &Default::default())?;
    validate_with_artifact(
        &artifacts.path(&req.artifact),
        &req.artifact,
        &req.yaml,
        &state.tmp_dir,
        state.validate_timeout,
    )
    .await?;
    let response = blocking(&state, move |c| {
        c.submit(&name, def, req.yaml, req.artifact, unix_ms())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// Every topology.
pub async fn list(State(state): State<AppState>) -> Json<TopologyList> {
    Json(state.cluster.list(unix_ms()))
}

/// One topology's record, assignment, worker reports and stats.
pub async fn status(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TopologyInfo>, ApiError> {
    Ok(Json(state.cluster.status(&name, unix_ms())?))
}

/// Kill, removing the topology after `wait_secs`.
pub async fn kill(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OptionalJsonBody(req): OptionalJsonBody<KillRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    let response = blocking(&state, move |c| c.kill(&name, req.wait_secs, unix_ms())).await?;
    state.wake.notify_one();
    Ok(Json(response))
}

/// INACTIVE -> ACTIVE.
pub async fn activate(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ActionResponse>, ApiError> {
    Ok(Json(
        blocking(&state, move |c| c.set_active(&name, true)).await?,
    ))
}

/// ACTIVE -> INACTIVE.
pub async fn deactivate(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ActionResponse>, ApiError> {
    Ok(Json(
        blocking(&state, move |c| c.set_active(&name, false)).await?,
    ))
}

/// New worker count and/or executor counts.
pub async fn rebalance(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OptionalJsonBody(req): OptionalJsonBody<RebalanceRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    let response = blocking(&state, move |c| c.rebalance(&name, &req, unix_ms())).await?;
    state.wake.notify_one();
    Ok(Json(response))
}

/// A worker's component counters (204).
pub async fn stats(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(report): JsonBody<StatsReport>,
) -> Result<StatusCode, ApiError> {
    state.cluster.record_stats(&name, report)?;
    Ok(StatusCode::NO_CONTENT)
}
