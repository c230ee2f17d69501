//! `GET /api/v1/topology/{id}/lag`: Kafka spout lag, by spout id, in Storm's shape
//! (`TopologySpoutLag`): built from the lag gauges the spout tasks report with their
//! user metrics ([`squall_runtime::cluster::protocol::lag`]). A topology without a
//! Kafka spout answers `{}` (as Storm); stale values carry `errorInfo`.

use axum::Json;
use axum::extract::{Path, State};
use squall_runtime::cluster::protocol::Window;
use squall_runtime::cluster::protocol::lag::{SpoutLag, spout_lags};
use std::collections::BTreeMap;

use super::{StormError, blocking};
use crate::api::AppState;

/// Storm's lag map; 404 for an unknown topology.
pub async fn lag(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BTreeMap<String, SpoutLag>>, StormError> {
    let metrics = blocking(&state, move |c| {
        let name = c.resolve(&id)?;
        c.metrics(&name, Window::AllTime, c.wall_millis())
    })
    .await?;
    Ok(Json(spout_lags(&metrics.user_metrics)))
}
