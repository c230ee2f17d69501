//! `GET /api/v1/topology/{id}/lag`: Kafka spout lag, by spout id. There are no Kafka
//! spouts yet, so the map is empty (Storm's answer for a topology without one).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value};

use super::{StormError, blocking};
use crate::api::AppState;

/// Storm's lag map: empty (no Kafka spouts); 404 for an unknown topology.
pub async fn lag(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, StormError> {
    blocking(&state, move |c| c.resolve(&id)).await?;
    Ok(Json(Value::Object(Map::new())))
}
