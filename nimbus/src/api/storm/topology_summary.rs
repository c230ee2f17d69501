//! `GET /api/v1/topology/summary`: every topology.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use squall_runtime::cluster::protocol::TopologySummary;

use super::format::{VERSION, encode, pretty_secs};
use super::{StormError, blocking};
use crate::api::AppState;

/// One topology as Storm's summaries show it (resources are not scheduled: 0).
pub fn topology_map(t: &TopologySummary, owner: Option<&str>) -> Value {
    json!({
        "id": t.id,
        "encodedId": encode(&t.id),
        "owner": owner,
        "name": t.name,
        "status": t.status.to_string(),
        "uptime": pretty_secs(t.uptime_secs),
        "uptimeSeconds": t.uptime_secs,
        "tasksTotal": t.num_tasks,
        "workersTotal": t.assigned_workers,
        "executorsTotal": t.num_executors,
        "replicationCount": 1,
        "schedulerInfo": null,
        "requestedMemOnHeap": 0.0,
        "requestedMemOffHeap": 0.0,
        "requestedTotalMem": 0.0,
        "requestedCpu": 0.0,
        "assignedMemOnHeap": 0.0,
        "assignedMemOffHeap": 0.0,
        "assignedTotalMem": 0.0,
        "assignedCpu": 0.0,
        "requestedGenericResources": "",
        "assignedGenericResources": "",
        "topologyVersion": null,
        "stormVersion": VERSION,
        "workersRequested": t.num_workers,
    })
}

/// Storm's topology summary.
pub async fn summary(State(state): State<AppState>) -> Result<Json<Value>, StormError> {
    let rows = blocking(&state, |c| {
        let list = c.list(c.wall_millis());
        Ok(list
            .topologies
            .into_iter()
            .map(|t| {
                let owner = c.topology_acl(&t.name).and_then(|a| a.owner);
                (t, owner)
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let topologies: Vec<Value> = rows
        .iter()
        .map(|(t, owner)| topology_map(t, owner.as_deref()))
        .collect();
    Ok(Json(json!({
        "topologies": topologies,
        "schedulerDisplayResource": false,
    })))
}
