//! The check every request but `GET /api/v1/health` passes, in order: authenticate the
//! bearer token (401, slowed per source address, logged with the peer and never the
//! token), authorize the route and topology ([`super::acl`], 403), rate-limit mutations
//! per principal ([`super::rate`], 429 with `Retry-After`), run the handler, and write
//! every mutating request to the audit log (but the routine ones that succeed, which it
//! counts: [`super::audit::Routine`]).

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use squall_runtime::cluster::auth::credentials::HOW_TO_AUTHENTICATE;
use squall_runtime::cluster::auth::token::Token;
use squall_runtime::cluster::auth::worker_credential::WORKER_BEARER_PREFIX;
use squall_runtime::daemon::Authentication;

use super::acl::{self, Need, TopologyAcl};
use super::audit::{AuditRecord, Routine};
use super::{Auth, Principal};
use crate::api::{ApiError, AppState};
use crate::error::ClusterError;

/// What the `Authorization` header says, before a worker credential is checked.
enum Claim {
    /// A caller already known.
    Known(Principal),
    /// A worker credential, checked against its topology's secret (which takes the
    /// cluster state's lock: on the blocking pool).
    Worker(String),
}

/// The middleware (see the module docs).
pub async fn check(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let need = acl::classify(&method, &path);
    if need == Need::Open {
        return next.run(req).await;
    }
    let auth = state.auth.clone();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let mutation = acl::is_mutation(&method);
    let audit = |who: Option<&Principal>, status: u16| {
        if mutation {
            auth.audit.write(&AuditRecord {
                ts_ms: state.cluster.wall_millis(),
                who: who.map_or_else(|| "-".to_string(), Principal::name),
                role: who.and_then(Principal::role).map(|r| r.to_string()),
                peer: peer.map_or_else(|| "-".to_string(), |p| p.to_string()),
                method: method.to_string(),
                path: path.clone(),
                status,
            });
        }
    };
    let claim = authenticate(&auth, req.headers());
    let principal = match claim {
        Ok(Claim::Known(p)) => Ok(p),
        Ok(Claim::Worker(bearer)) => {
            match crate::api::blocking(&state, move |c| Ok(c.worker_credential_topology(&bearer)))
                .await
            {
                Ok(Some(topology_id)) => Ok(Principal::Worker { topology_id }),
                Ok(None) => Err("the worker credential is not valid".to_string()),
                Err(e) => return e.into_response(),
            }
        }
        Err(reason) => Err(reason),
    };
    let principal = match principal {
        Ok(p) => p,
        Err(reason) => {
            let delay = match peer {
                Some(p) => auth.failures.fail(p.ip(), Instant::now()),
                None => auth.opts.failure_delay_max,
            };
            tracing::warn!(peer = ?peer, %method, %path, delay_ms = delay.as_millis(),
                "authentication failed: {reason}");
            tokio::time::sleep(delay).await;
            audit(None, 401);
            return unauthorized(reason);
        }
    };
    let acl = match &need {
        Need::Act(name) | Need::WorkerOf { topology: name, .. } => {
            let name = name.clone();
            match crate::api::blocking(&state, move |c| Ok(c.topology_acl(&name))).await {
                Ok(acl) => acl,
                Err(e) => return e.into_response(),
            }
        }
        _ => None,
    };
    if let Err(e) = acl::check(&principal, &need, acl.as_ref()) {
        tracing::info!(who = %principal.name(), %method, %path, "refused: {e}");
        audit(Some(&principal), e.status());
        return ApiError(e).into_response();
    }
    if mutation
        && let Principal::Token { name, .. } = &principal
        && let Err(wait) = auth.rate.take(name, Instant::now())
    {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        audit(Some(&principal), 429);
        tracing::warn!(who = %name, %method, %path, "rate limited");
        return ApiError(ClusterError::TooManyRequests {
            message: format!(
                "token '{name}' made more than nimbus.auth.rate.burst mutating requests \
                 at nimbus.auth.rate.per.sec; retry after {secs} s"
            ),
            retry_after_secs: secs.max(1),
        })
        .into_response();
    }
    req.extensions_mut().insert(principal.clone());
    let response = next.run(req).await;
    match response.extensions().get::<Routine>() {
        // Routine and successful: counted, summarised now and then (see `audit`).
        Some(kind) if response.status().is_success() => {
            auth.audit.routine(*kind, state.cluster.wall_millis());
        }
        _ => audit(Some(&principal), response.status().as_u16()),
    }
    response
}

/// Who the request is, or why it is not authenticated (never containing the token).
fn authenticate(auth: &Auth, headers: &HeaderMap) -> Result<Claim, String> {
    if auth.opts.mode == Authentication::None {
        return Ok(Claim::Known(Principal::Open));
    }
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err("no Authorization header".to_string());
    };
    let bearer = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| "the Authorization header is not `Bearer <token>`".to_string())?
        .trim();
    if bearer.starts_with(WORKER_BEARER_PREFIX) {
        return Ok(Claim::Worker(bearer.to_string()));
    }
    let token = Token::parse(bearer).map_err(|e| e.to_string())?;
    let record = auth.store.authenticate(&token).ok_or_else(|| {
        format!(
            "token id {} is unknown, revoked, or its secret is wrong",
            token.id
        )
    })?;
    Ok(Claim::Known(Principal::Token {
        name: record.name,
        role: record.role,
        id: record.id,
    }))
}

/// The 401 answer: it says how to authenticate.
fn unauthorized(reason: String) -> Response {
    let mut response = ApiError(ClusterError::Unauthorized(format!(
        "authentication required ({reason}): {HOW_TO_AUTHENTICATE}"
    )))
    .into_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The `Retry-After` header of a 429 (set by [`crate::api::ApiError`]).
pub fn retry_after(secs: u64) -> (axum::http::HeaderName, HeaderValue) {
    (RETRY_AFTER, HeaderValue::from(secs))
}

impl TopologyAcl {
    /// The ACL of a stored topology.
    pub fn of(
        id: &str,
        owner: Option<&str>,
        def: &squall_runtime::spec::TopologyDef,
    ) -> TopologyAcl {
        let users = def
            .config
            .get(squall_runtime::topology::config::TOPOLOGY_USERS)
            .and_then(|v| v.as_sequence())
            .map(|s| {
                s.iter()
                    .filter_map(|u| u.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        TopologyAcl {
            id: id.to_string(),
            owner: owner.map(str::to_string),
            users,
        }
    }
}
