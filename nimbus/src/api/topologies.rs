//! `/api/v1/topologies`: submit, list, status, kill, activate, deactivate, rebalance,
//! stats.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use std::sync::Arc;

use super::{ApiError, AppState, JsonBody, OptionalJsonBody, blocking, off_thread};
use crate::cluster::{Submission, check_name};
use crate::error::ClusterError;
use crate::plan::{parse_yaml, plan};
use squall_runtime::cluster::protocol::{
    ActionResponse, KillRequest, RebalanceRequest, StatsAck, SubmitRequest, TopologyInfo,
    TopologyList, TopologyMetrics, Window, WorkerStats,
};
use squall_runtime::spec::TopologyDef;

/// Submit: check the request, the YAML's structure and the artifact, have the artifact
/// validate the topology (and, for a `topologySource`, resolve it into the spouts, bolts
/// and streams nimbus plans from), then store and schedule it (201).
pub async fn submit(
    State(state): State<AppState>,
    axum::Extension(who): axum::Extension<crate::auth::Principal>,
    JsonBody(mut req): JsonBody<SubmitRequest>,
) -> Result<(StatusCode, Json<ActionResponse>), ApiError> {
    // Parsing is bounded by the topology caps but may take a second: off the async
    // threads (the closure shares the text through an `Arc`).
    let yaml: Arc<str> = Arc::from(std::mem::take(&mut req.yaml));
    let def = {
        let yaml = yaml.clone();
        off_thread(&state, move || parse_yaml(&yaml)).await?
    };
    let sourced = def.topology_source.is_some();
    // A topologySource file may leave its name to the builder: known after validation.
    let early_name = match &req.name {
        Some(n) => Some(n.clone()),
        None if sourced && def.name.trim().is_empty() => None,
        None => Some(def.name.clone()),
    };
    if let Some(name) = &early_name {
        check_name(name)?;
        let n = name.clone();
        if blocking(&state, move |c| Ok(c.has_topology(&n))).await? {
            return Err(ClusterError::AlreadyExists(name.clone()).into());
        }
    }
    let artifacts = state.cluster.artifacts();
    if !artifacts.contains(&req.artifact) {
        return Err(ClusterError::bad_request(format!(
            "artifact {} is not uploaded: PUT the binary to /api/v1/artifacts/{} first",
            req.artifact, req.artifact
        ))
        .into());
    }
    if let Some(r) = req.resources.as_ref().filter(|r| !artifacts.contains(r)) {
        return Err(ClusterError::bad_request(format!(
            "resources archive {r} is not uploaded: PUT it to /api/v1/artifacts/{r} first"
        ))
        .into());
    }
    // Cheap checks first: the task count bound, before running anything.
    if !sourced {
        let def = def.clone();
        off_thread(&state, move || plan(&def, &Default::default()).map(drop)).await?;
    }
    let resolved = state
        .validator
        .validate(
            &artifacts.path(&req.artifact),
            &req.artifact.to_string(),
            &yaml,
            sourced,
        )
        .await?;
    let def = match &resolved {
        Some(text) => {
            let text = text.clone();
            off_thread(&state, move || {
                let def = parse_resolved(&text)?;
                plan(&def, &Default::default())?;
                Ok(def)
            })
            .await?
        }
        None => def,
    };
    let name = match early_name {
        Some(name) => name,
        None => {
            check_name(&def.name)?;
            def.name.clone()
        }
    };
    let response = blocking(&state, move |c| {
        c.submit(
            &name,
            Submission {
                def,
                yaml: yaml.to_string(),
                resolved_yaml: resolved,
                artifact: req.artifact,
                resources: req.resources,
                owner: who.owner_name(),
            },
            c.wall_millis(),
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// The declaration an artifact resolved from a `topologySource`: it must parse and hold
/// no `topologySource` of its own.
fn parse_resolved(text: &str) -> Result<TopologyDef, ClusterError> {
    let def = parse_yaml(text).map_err(|e| {
        ClusterError::bad_request(format!(
            "the artifact's resolved topology declaration is unreadable: {e}"
        ))
    })?;
    if def.topology_source.is_some() {
        return Err(ClusterError::bad_request(
            "the artifact's resolved topology declaration still has a topologySource",
        ));
    }
    Ok(def)
}

/// Every topology.
pub async fn list(State(state): State<AppState>) -> Result<Json<TopologyList>, ApiError> {
    Ok(Json(
        blocking(&state, |c| Ok(c.list(c.wall_millis()))).await?,
    ))
}

/// One topology's record, assignment, worker reports and stats.
pub async fn status(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TopologyInfo>, ApiError> {
    Ok(Json(
        blocking(&state, move |c| c.status(&name, c.wall_millis())).await?,
    ))
}

/// The `window` query parameter (Storm's: `600`, `10800`, `86400`, `:all-time`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct WindowQuery {
    /// The window (default: 10 minutes).
    #[serde(default)]
    pub window: Option<String>,
}

/// A topology's metrics over a window (`?window=600|10800|86400|:all-time`, default
/// 600).
pub async fn metrics(
    State(state): State<AppState>,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<WindowQuery>,
) -> Result<Json<TopologyMetrics>, ApiError> {
    let window = match q.window.as_deref() {
        None => Window::TenMinutes,
        Some(w) => w
            .parse::<Window>()
            .map_err(|e| ClusterError::bad_request(e.to_string()))?,
    };
    Ok(Json(
        blocking(&state, move |c| c.metrics(&name, window, c.wall_millis())).await?,
    ))
}

/// Kill, removing the topology after `wait_secs`.
pub async fn kill(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OptionalJsonBody(req): OptionalJsonBody<KillRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    let response = blocking(&state, move |c| {
        c.kill(&name, req.wait_secs, c.wall_millis())
    })
    .await?;
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

/// A new topology secret: its workers restart with it (admins and those who may act on
/// the topology).
pub async fn rotate_secret(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ActionResponse>, ApiError> {
    Ok(Json(
        blocking(&state, move |c| c.rotate_topology_secret(&name)).await?,
    ))
}

/// New worker count and/or executor counts.
pub async fn rebalance(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OptionalJsonBody(req): OptionalJsonBody<RebalanceRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    let response = blocking(&state, move |c| c.rebalance(&name, &req, c.wall_millis())).await?;
    state.wake.notify_one();
    Ok(Json(response))
}

/// A worker's task counters; answers with the status the worker must follow. Only a
/// worker of the topology's current assignment may report, and only for its own tasks.
pub async fn stats(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(report): JsonBody<WorkerStats>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let ack: StatsAck = blocking(&state, move |c| c.record_stats(&name, report)).await?;
    let mut response = Json(ack).into_response();
    // Routine: counted by the audit log, not written one by one.
    response
        .extensions_mut()
        .insert(crate::auth::audit::Routine::Stats);
    Ok(response)
}
