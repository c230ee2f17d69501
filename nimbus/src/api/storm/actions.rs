//! Storm's topology actions: `POST /api/v1/topology/{id}/activate`, `/deactivate`,
//! `/rebalance/{wait-time}` (optional body `{"rebalanceOptions": {"numWorkers": n,
//! "executors": {component: n}}}`) and `/kill/{wait-time}`, each answering
//! `{"topologyOperation": "...", "topologyId": "...", "status": "success"}`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use squall_runtime::cluster::protocol::{ActionResponse, RebalanceRequest};

use super::{StormError, blocking};
use crate::api::{AppState, OptionalJsonBody};
use crate::error::ClusterError;

/// Storm's answer to an action.
fn done(operation: &str, r: &ActionResponse) -> Json<Value> {
    Json(json!({
        "topologyOperation": operation,
        "topologyId": r.id,
        "status": "success",
    }))
}

/// A `{wait-time}` path segment: whole seconds.
fn wait_secs(text: &str) -> Result<u64, ClusterError> {
    text.parse().map_err(|_| {
        ClusterError::bad_request(format!(
            "wait-time must be a whole number of seconds, not '{}'",
            text.chars().take(32).collect::<String>()
        ))
    })
}

/// INACTIVE -> ACTIVE.
pub async fn activate(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, StormError> {
    let r = blocking(&state, move |c| c.set_active(&c.resolve(&id)?, true)).await?;
    Ok(done("activate", &r))
}

/// ACTIVE -> INACTIVE.
pub async fn deactivate(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, StormError> {
    let r = blocking(&state, move |c| c.set_active(&c.resolve(&id)?, false)).await?;
    Ok(done("deactivate", &r))
}

/// Kill: KILLED now, removed after `wait` seconds.
pub async fn kill(
    State(state): State<AppState>,
    Path((id, wait)): Path<(String, String)>,
) -> Result<Json<Value>, StormError> {
    let wait = wait_secs(&wait)?;
    let r = blocking(&state, move |c| {
        c.kill(&c.resolve(&id)?, Some(wait), c.wall_millis())
    })
    .await?;
    state.wake.notify_one();
    Ok(done("kill", &r))
}

/// Storm's rebalance body (other keys, such as Storm UI's `callback`, are ignored).
#[derive(Debug, Default, Deserialize)]
pub struct RebalanceBody {
    /// The options (all optional).
    #[serde(default, rename = "rebalanceOptions")]
    pub options: Option<RebalanceOptions>,
}

/// Storm's `rebalanceOptions`.
#[derive(Debug, Default, Deserialize)]
pub struct RebalanceOptions {
    /// New number of workers.
    #[serde(default, rename = "numWorkers")]
    pub num_workers: Option<Count>,
    /// New executors per component.
    #[serde(default)]
    pub executors: BTreeMap<String, Count>,
}

/// A count as Storm's UI sends it: a number, or a string of one (`"5"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Count {
    /// `5`.
    Number(u32),
    /// `"5"`.
    Text(String),
}

impl Count {
    fn get(&self, what: &str) -> Result<u32, ClusterError> {
        match self {
            Count::Number(n) => Ok(*n),
            Count::Text(t) => t.trim().parse().map_err(|_| {
                ClusterError::bad_request(format!(
                    "{what} must be a whole number, not '{}'",
                    t.chars().take(32).collect::<String>()
                ))
            }),
        }
    }
}

/// Rebalance: REBALANCING for `wait` seconds (at once with 0), then rescheduled with
/// the new worker and executor counts.
pub async fn rebalance(
    State(state): State<AppState>,
    Path((id, wait)): Path<(String, String)>,
    OptionalJsonBody(body): OptionalJsonBody<RebalanceBody>,
) -> Result<Json<Value>, StormError> {
    let wait = wait_secs(&wait)?;
    let options = body.options.unwrap_or_default();
    let workers = options
        .num_workers
        .as_ref()
        .map(|n| n.get("numWorkers"))
        .transpose()?;
    let parallelism = options
        .executors
        .iter()
        .map(|(c, n)| Ok((c.clone(), n.get(&format!("executors of '{c}'"))?)))
        .collect::<Result<BTreeMap<_, _>, ClusterError>>()?;
    let req = RebalanceRequest {
        workers,
        parallelism,
        wait_secs: Some(wait),
    };
    let r = blocking(&state, move |c| {
        c.rebalance(&c.resolve(&id)?, &req, c.wall_millis())
    })
    .await?;
    state.wake.notify_one();
    Ok(done("rebalance", &r))
}
