//! `GET /api/v1/cluster/summary`: supervisors, slots, topologies, executors and tasks.

use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::format::VERSION;
use super::{StormError, blocking};
use crate::api::AppState;
use crate::auth::Principal;

/// The caller's name as Storm's `user` (null on an open nimbus).
pub fn user(who: &Principal) -> Value {
    match who {
        Principal::Open => Value::Null,
        p => json!(p.name()),
    }
}

/// Storm's cluster summary. Resources are not scheduled: memory and CPU figures are 0.
pub async fn summary(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, StormError> {
    let (sups, topologies) =
        blocking(&state, |c| Ok((c.supervisors(), c.list(c.wall_millis())))).await?;
    let live: Vec<_> = sups.supervisors.iter().filter(|s| s.alive).collect();
    let slots_total: usize = live.iter().map(|s| s.slots.len()).sum();
    let slots_used: usize = live.iter().map(|s| s.used_slots.len()).sum();
    let tasks: u64 = topologies
        .topologies
        .iter()
        .map(|t| u64::from(t.num_tasks))
        .sum();
    let executors: u64 = topologies
        .topologies
        .iter()
        .map(|t| u64::from(t.num_executors))
        .sum();
    Ok(Json(json!({
        "user": user(&who),
        "stormVersion": VERSION,
        "stormVersionInfo": {
            "version": VERSION,
            "revision": "",
            "branch": "",
            "date": "",
            "srcChecksum": "",
        },
        "supervisors": live.len(),
        "topologies": topologies.topologies.len(),
        "slotsTotal": slots_total,
        "slotsUsed": slots_used,
        "slotsFree": slots_total.saturating_sub(slots_used),
        "executorsTotal": executors,
        "tasksTotal": tasks,
        "schedulerDisplayResource": false,
        "totalMem": 0.0,
        "totalCpu": 0.0,
        "availMem": 0.0,
        "availCpu": 0.0,
        "fragmentedMem": 0.0,
        "fragmentedCpu": 0.0,
        "memAssignedPercentUtil": "0.0",
        "cpuAssignedPercentUtil": "0.0",
        "availGenerics": "",
        "totalGenerics": "",
        "bugtracker-url": null,
        "central-log-url": null,
    })))
}
