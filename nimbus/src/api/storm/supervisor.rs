//! `GET /api/v1/supervisor/summary`: every live supervisor with its slots.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::format::{VERSION, pretty_secs};
use super::{StormError, blocking};
use crate::api::AppState;

/// Storm's supervisor summary. A supervisor's uptime is how long nimbus has heard from
/// it without a break (supervisors do not report their start time); resources are not
/// scheduled, so memory and CPU are 0.
pub async fn summary(State(state): State<AppState>) -> Result<Json<Value>, StormError> {
    let (sups, uptimes) =
        blocking(&state, |c| Ok((c.supervisors(), c.supervisor_uptimes()))).await?;
    let supervisors: Vec<Value> = sups
        .supervisors
        .iter()
        .filter(|s| s.alive)
        .map(|s| {
            let up = uptimes.get(&s.id).copied().unwrap_or(0);
            json!({
                "id": s.id,
                "host": s.host,
                "uptime": pretty_secs(up),
                "uptimeSeconds": up,
                "blacklisted": false,
                "slotsTotal": s.slots.len(),
                "slotsUsed": s.used_slots.len(),
                "slotsFree": s.free_slots.len(),
                "totalMem": 0.0,
                "totalCpu": 0.0,
                "usedMem": 0.0,
                "usedCpu": 0.0,
                "availMem": 0.0,
                "availCpu": 0.0,
                "version": VERSION,
                "logLink": "",
                "totalGenericResources": "",
                "usedGenericResources": "",
                "availGenericResources": "",
            })
        })
        .collect();
    Ok(Json(json!({
        "supervisors": supervisors,
        "schedulerDisplayResource": false,
    })))
}
