//! `/api/v1/topologies/{name}/trident/{key}`: Trident coordination metadata (Storm's
//! `/transactional` ZooKeeper nodes). `GET` answers a `TridentMetaValue` (value `null`
//! when nothing is stored); `PUT` with a `TridentMetaPut` stores a value (204). Bodies
//! past the limit are refused (413) before they are read.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_LENGTH;
use squall_runtime::cluster::protocol::trident::{
    MAX_META_BODY_BYTES, TridentMetaPut, TridentMetaQuery, TridentMetaValue,
};

use super::body::read_limited;
use super::{ApiError, AppState, blocking};
use crate::error::ClusterError;

/// The topology name and key of the path, or a bad request in the API's error shape.
fn name_and_key(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, String), ApiError> {
    let Path(pair) = path.map_err(|e| ClusterError::bad_request(e.body_text()))?;
    Ok(pair)
}

/// Read a value.
pub async fn get_meta(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<TridentMetaQuery>, QueryRejection>,
) -> Result<Json<TridentMetaValue>, ApiError> {
    let (name, key) = name_and_key(path)?;
    let Query(query) = query.map_err(|e| ClusterError::bad_request(e.body_text()))?;
    let value = blocking(&state, move |c| {
        c.trident_meta(&name, &key, query.topology_id.as_deref())
    })
    .await?;
    Ok(Json(value))
}

/// Store a value, durably, before answering.
pub async fn put_meta(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    let (name, key) = name_and_key(path)?;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bytes = read_limited(
        req.into_body(),
        MAX_META_BODY_BYTES,
        declared,
        state.body_timeout,
    )
    .await?;
    let put: TridentMetaPut = serde_json::from_slice(&bytes)
        .map_err(|e| ClusterError::bad_request(format!("invalid trident metadata body: {e}")))?;
    blocking(&state, move |c| c.put_trident_meta(&name, &key, &put)).await?;
    Ok(StatusCode::NO_CONTENT)
}
