//! Who is calling nimbus and what they may do: the token store ([`store`]), the
//! request check every request but `GET /api/v1/health` passes ([`middleware`]), the
//! per-route permissions and topology ACLs ([`acl`]), the audit log ([`audit`]), the
//! per-token rate limits ([`rate`]), the slowing of failed authentications
//! ([`failures`]), and the token management endpoints ([`api`]).

pub mod acl;
pub mod api;
pub mod audit;
pub mod failures;
pub mod middleware;
pub mod rate;
pub mod secret;
pub mod store;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use squall_runtime::cluster::auth::token::Role;
use squall_runtime::daemon::Authentication;

use crate::error::StoreError;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A bearer token of the store.
    Token {
        /// Its name (what owners, `topology.users` and the audit log name).
        name: String,
        /// Its role.
        role: Role,
        /// Its id.
        id: String,
    },
    /// A worker, with the per-topology credential of this topology id.
    Worker {
        /// The topology id the credential is valid for.
        topology_id: String,
    },
    /// Anyone, with `nimbus.authentication: none`: may do everything.
    Open,
    /// SEAM(dataplane): a request without credentials to a worker route (stats, Trident
    /// metadata), let through while workers have no per-topology credential yet (see
    /// [`middleware::WORKERS_WITHOUT_CREDENTIALS`]). It may do nothing else.
    UncredentialedWorker,
}

impl Principal {
    /// The name the audit log and ACL messages use.
    pub fn name(&self) -> String {
        match self {
            Principal::Token { name, .. } => name.clone(),
            Principal::Worker { topology_id } => format!("worker:{topology_id}"),
            Principal::Open => "anonymous".to_string(),
            Principal::UncredentialedWorker => "worker:uncredentialed".to_string(),
        }
    }

    /// The role, for a token.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Token { role, .. } => Some(*role),
            _ => None,
        }
    }

    /// Whether it may do anything (an admin token, or an open nimbus).
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Principal::Open
                | Principal::Token {
                    role: Role::Admin,
                    ..
                }
        )
    }

    /// The owner recorded for a topology it submits (`None` on an open nimbus).
    pub fn owner_name(&self) -> Option<String> {
        match self {
            Principal::Token { name, .. } => Some(name.clone()),
            _ => None,
        }
    }
}

/// Authentication settings (`nimbus.authentication`, `nimbus.auth.*`,
/// `nimbus.audit.log.max.bytes`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthOpts {
    /// Tokens, or open.
    pub mode: Authentication,
    /// Mutating requests per second per principal.
    pub rate_per_sec: f64,
    /// The bucket's size.
    pub rate_burst: f64,
    /// The audit log rotates past this size.
    pub audit_max_bytes: u64,
    /// Delay added per recent failed authentication from one address.
    pub failure_delay_step: Duration,
    /// Most delay a failed authentication gets.
    pub failure_delay_max: Duration,
}

impl Default for AuthOpts {
    fn default() -> AuthOpts {
        let c = squall_runtime::daemon::NimbusConfig::default();
        AuthOpts {
            mode: c.authentication,
            rate_per_sec: c.auth_rate_per_sec as f64,
            rate_burst: c.auth_rate_burst as f64,
            audit_max_bytes: c.audit_log_max_bytes,
            failure_delay_step: failures::DELAY_STEP,
            failure_delay_max: failures::DELAY_MAX,
        }
    }
}

/// Everything the request check needs, shared by every request.
#[derive(Debug)]
pub struct Auth {
    /// The settings.
    pub opts: AuthOpts,
    /// The tokens.
    pub store: store::TokenStore,
    /// The audit log.
    pub audit: audit::AuditLog,
    /// Per-principal token buckets.
    pub rate: rate::RateLimiter,
    /// Recent failed authentications by address.
    pub failures: failures::Failures,
}

impl Auth {
    /// Open (or create) the token store, the cluster secret, the admin token file and
    /// the audit log in `dir`; a new admin token is written in the join form when
    /// `ca_pin` is given. Blocking: call it off the async threads.
    pub fn open(
        dir: &Path,
        opts: AuthOpts,
        now_secs: u64,
        ca_pin: Option<[u8; 32]>,
    ) -> Result<Arc<Auth>, StoreError> {
        secret::ensure_cluster_secret(dir)?;
        let store = store::TokenStore::open(dir)?;
        if opts.mode == Authentication::Token {
            store.ensure_admin(dir, now_secs, ca_pin)?;
        } else {
            tracing::warn!(
                "nimbus.authentication is none: ANYONE who can reach nimbus may submit code \
                 that every supervisor runs, kill topologies and register supervisors; use \
                 it only on a machine of your own"
            );
        }
        let audit = audit::AuditLog::open(&dir.join(audit::AUDIT_FILE), opts.audit_max_bytes)?;
        Ok(Arc::new(Auth {
            rate: rate::RateLimiter::new(opts.rate_per_sec, opts.rate_burst),
            failures: failures::Failures::new(opts.failure_delay_step, opts.failure_delay_max),
            opts,
            store,
            audit,
        }))
    }
}
