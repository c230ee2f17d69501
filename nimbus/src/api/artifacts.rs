//! `PUT|GET|HEAD /api/v1/artifacts/{sha256}`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::body::drain;
use super::{ApiError, AppState};
use squall_runtime::cluster::protocol::ArtifactInfo;

use crate::artifacts::parse_hash;

/// Body bytes read and dropped after a refused upload, so the client gets the answer.
const DRAIN_BYTES: u64 = 16 * 1024 * 1024;

/// Store an artifact: 201 when new, 200 when it was there already; 400 when the bytes do
/// not hash to the name, 413 past the size limit.
pub async fn upload(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<ArtifactInfo>), ApiError> {
    let hash = match parse_hash(&hash) {
        Ok(h) => h,
        Err(e) => {
            drain(body, DRAIN_BYTES).await;
            return Err(e.into());
        }
    };
    let mut body = body;
    let store = state.cluster.artifacts();
    match store.put(&hash, &mut body, state.max_artifact_bytes).await {
        Ok(created) => {
            let size = store.size(&hash).await?;
            tracing::info!(artifact = %hash, size, created, "artifact stored");
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let info = ArtifactInfo {
                sha256: hash,
                size,
                created,
            };
            Ok((status, Json(info)))
        }
        Err(e) => {
            drain(body, DRAIN_BYTES).await;
            Err(e.into())
        }
    }
}

/// The artifact's bytes (`application/octet-stream`), or 404.
pub async fn download(
    State(state): State<AppState>,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    let (size, stream) = state.cluster.artifacts().open_stream(&hash).await?;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}

/// 200 with the artifact's length when it is stored, 404 otherwise.
pub async fn exists(
    State(state): State<AppState>,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash)?;
    let size = state.cluster.artifacts().size(&hash).await?;
    // A client asks before it submits (and skips the upload): keep it the grace period.
    state.cluster.artifacts().touch(&hash);
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}
