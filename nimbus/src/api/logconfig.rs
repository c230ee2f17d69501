//! Storm's `GET`/`POST /api/v1/topology/{id}/logconfig` (`{id}`: the topology's id or
//! its name): a topology's named logger levels, which its workers apply at run time
//! (`squall set-log-level`). Reading needs a reading role; changing needs to be allowed
//! to act on the topology.

use axum::Json;
use axum::extract::{Path, State};
use squall_runtime::cluster::protocol::logconfig::LogConfigBody;

use super::{ApiError, AppState, JsonBody, blocking};
use crate::auth::Principal;
use crate::auth::acl::{self, Need};

/// The topology's log configuration, in Storm's shape.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LogConfigBody>, ApiError> {
    Ok(Json(
        blocking(&state, move |c| c.log_config(&id, c.wall_millis())).await?,
    ))
}

/// Change the named loggers the body names (Storm's merge; Squall's `"replace": true`
/// drops the others first); answers with the whole configuration.
pub async fn post(
    State(state): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<LogConfigBody>,
) -> Result<Json<LogConfigBody>, ApiError> {
    let answer = blocking(&state, move |c| {
        // The route's check looked the topology up by the path's text, which may be an
        // id: check again against the topology it names.
        let name = c.resolve(&id)?;
        acl::check(
            &who,
            &Need::Act(name.clone()),
            c.topology_acl(&name).as_ref(),
        )?;
        c.set_log_config(&name, &body, c.wall_millis())
    })
    .await?;
    Ok(Json(answer))
}
