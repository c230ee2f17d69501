//! `GET /api/v1/nimbus/summary`: this nimbus (there is one, always the leader).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::HOST;
use serde_json::{Value, json};

use super::format::{VERSION, pretty_secs};
use super::{StormError, blocking};
use crate::api::AppState;

/// Storm's nimbus summary: one nimbus, the leader, at the host and port the request was
/// sent to.
pub async fn summary(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, StormError> {
    let up = blocking(&state, |c| Ok(c.uptime_secs())).await?;
    let (host, port) = host_port(&headers);
    Ok(Json(json!({
        "nimbuses": [{
            "host": host,
            "port": port,
            "status": "Leader",
            "version": VERSION,
            "nimbusUpTime": pretty_secs(up),
            "nimbusUpTimeSeconds": up,
            "nimbusLogLink": "",
        }]
    })))
}

/// The host and port of the request's `Host` header (`localhost`, 80 without one).
fn host_port(headers: &HeaderMap) -> (String, u16) {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let authority = host.parse::<axum::http::uri::Authority>().ok();
    match authority {
        Some(a) => (a.host().to_string(), a.port_u16().unwrap_or(80)),
        None => ("localhost".to_string(), 80),
    }
}
