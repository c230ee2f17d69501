//! `/api/v1/topologies/{name}/trident/{key}`: Trident coordination metadata (Storm's
//! `/transactional` ZooKeeper nodes). `GET` answers a `TridentMetaValue` (value `null`
//! when nothing is stored); `PUT` with a `TridentMetaPut` stores a value (204). Bodies
//! past the limit are refused (413) before they are read.

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_LENGTH;
use squall_runtime::cluster::protocol::trident::{
    MAX_META_BODY_BYTES, TridentMetaPut, TridentMetaQuery, TridentMetaValue,
};

use super::body::read_limited;
use super::{ApiError, AppState, blocking};
use crate::error::ClusterError;

/// Read a value.
pub async fn get_meta(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    Query(query): Query<TridentMetaQuery>,
) -> Result<Json<TridentMetaValue>, ApiError> {
    let value = blocking(&state, move |c| {
        c.trident_meta(&name, &key, query.topology_id.as_deref())
    })
    .await?;
    Ok(Json(value))
}

/// Store a value, durably, before answering.
pub async fn put_meta(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bytes = read_limited(req.into_body(), MAX_META_BODY_BYTES, declared).await?;
    let put: TridentMetaPut = serde_json::from_slice(&bytes)
        .map_err(|e| ClusterError::bad_request(format!("invalid trident metadata body: {e}")))?;
    blocking(&state, move |c| c.put_trident_meta(&name, &key, &put)).await?;
    Ok(StatusCode::NO_CONTENT)
}
