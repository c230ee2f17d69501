//! # squall-nimbus
//!
//! The master of a Squall cluster, as Storm's nimbus: it accepts topology submissions over
//! an HTTP/JSON API, has each topology's artifact validate it (or, in a cluster in one
//! process, a [`validate::Validator`] of the caller's), stores topologies,
//! assignments and artifacts durably in its data directory, schedules executors onto
//! supervisor slots with Storm's even scheduler, moves work off supervisors that stop
//! heartbeating, and serves kill / activate / deactivate / rebalance / list / status.
//!
//! [`start`] runs it inside the caller's tokio runtime and returns a [`NimbusHandle`]:
//!
//! ```no_run
//! # async fn demo() -> Result<(), squall_nimbus::NimbusError> {
//! let opts = squall_nimbus::NimbusOpts::new("/var/lib/squall/nimbus".into());
//! let nimbus = squall_nimbus::start(opts).await?;
//! println!("nimbus listening on http://{}", nimbus.addr());
//! nimbus.shutdown().await
//! # }
//! ```
//!
//! Data directory layout (the directory is mode 0700: submitted code validated on this
//! machine must not read it): `nimbus.redb` (topology records, assignments, supervisors,
//! Trident coordination metadata; mode 0600), `artifacts/<sha256>` (topology binaries,
//! mode 0755), `cluster.secret` and `tokens.json` (mode 0600: the cluster secret, the
//! token store), `admin.token` (mode 0600: the admin token, made at first start),
//! `audit.log` (every mutating request). Validation scratch directories go to the system
//! temporary directory (see [`validate::sandbox`]).

pub mod api;
pub mod artifacts;
pub mod assignment_polls;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod error;
pub mod logs;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod plan;
pub mod scheduler;
pub mod store;
pub mod tls;
pub mod validate;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use squall_runtime::daemon::{DataDirLock, NimbusConfig};
use squall_runtime::engine::clock::{self, Clock};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use error::{ClusterError, NimbusError, StoreError};

/// Nimbus settings.
#[derive(Debug, Clone)]
pub struct NimbusOpts {
    /// Data directory (created if missing).
    pub data_dir: PathBuf,
    /// Address to listen on (port 0: any free port; see [`NimbusHandle::addr`]).
    pub listen: SocketAddr,
    /// A supervisor silent for longer than this is dead and its workers are moved.
    pub supervisor_timeout: Duration,
    /// Period of the monitor (liveness, kill and rebalance deadlines, rescheduling).
    pub monitor_interval: Duration,
    /// Largest accepted JSON request body (larger: 413).
    pub max_request_bytes: usize,
    /// Largest accepted artifact upload (larger: 413).
    pub max_artifact_bytes: u64,
    /// The HTTP server's limits: header and body timeouts, most connections
    /// (`nimbus.http.*`).
    pub http: api::serve::HttpLimits,
    /// How long `<artifact> validate` may run before the submission is refused.
    pub validate_timeout: Duration,
    /// The unprivileged user `<artifact> validate` runs as when nimbus runs as root
    /// (`nimbus.validate.user`); see [`validate::sandbox`].
    pub validate_user: String,
    /// How submissions are validated (`None`: by running their artifact,
    /// [`validate::ArtifactValidator`] with `validate_timeout`; a cluster in one process
    /// uses [`validate::RegistryValidator`]).
    pub validator: Option<Arc<dyn validate::Validator>>,
    /// An artifact no stored topology references is deleted once it was last uploaded
    /// or asked about this long ago (`nimbus.artifact.gc.grace.secs`).
    pub artifact_gc_grace: Duration,
    /// TLS: when HTTPS is served, extra certificate names, a custom certificate
    /// (`nimbus.tls*`).
    pub tls: tls::TlsOpts,
    /// Where time comes from (the system clock; tests drive a manual one). Supervisor
    /// liveness is judged on its monotonic time, stored deadlines on its wall time.
    pub clock: Arc<dyn Clock>,
    /// Authentication: tokens (the default) or open, rate limits, audit log size.
    pub auth: auth::AuthOpts,
}

impl NimbusOpts {
    /// The [`NimbusConfig`] defaults with this data directory; JSON bodies up to 4 MiB,
    /// artifacts up to 1 GiB, validation by the artifact, up to 30 s.
    pub fn new(data_dir: PathBuf) -> NimbusOpts {
        NimbusOpts::from_config(&NimbusConfig {
            data_dir,
            ..NimbusConfig::default()
        })
    }

    /// Options from a daemon config (`squall nimbus` loads it from flags and a file).
    pub fn from_config(config: &NimbusConfig) -> NimbusOpts {
        NimbusOpts {
            data_dir: config.data_dir.clone(),
            listen: config.listen,
            supervisor_timeout: config.supervisor_timeout.duration(),
            monitor_interval: config.monitor_freq.duration(),
            max_request_bytes: 4 * 1024 * 1024,
            max_artifact_bytes: squall_runtime::cluster::protocol::MAX_ARTIFACT_BYTES,
            http: api::serve::HttpLimits {
                header_timeout: config.http_header_timeout.duration(),
                body_timeout: config.http_body_timeout.duration(),
                max_connections: usize::try_from(config.http_max_connections).unwrap_or(usize::MAX),
            },
            validate_timeout: Duration::from_secs(30),
            validate_user: config.validate_user.clone(),
            validator: None,
            artifact_gc_grace: config.artifact_gc_grace.duration(),
            tls: tls::TlsOpts {
                mode: config.tls,
                san: config.tls_san.clone(),
                cert: config.tls_cert.clone(),
                key: config.tls_key.clone(),
            },
            clock: clock::system(),
            auth: auth::AuthOpts {
                mode: config.authentication,
                rate_per_sec: config.auth_rate_per_sec as f64,
                rate_burst: config.auth_rate_burst as f64,
                audit_max_bytes: config.audit_log_max_bytes,
                ..auth::AuthOpts::default()
            },
        }
    }
}

/// A running nimbus. Dropping it stops the server and the monitor (without waiting for
/// them); [`NimbusHandle::shutdown`] waits, and releases the database file.
#[derive(Debug)]
pub struct NimbusHandle {
    addr: SocketAddr,
    https: bool,
    ca_pin: Option<squall_runtime::cluster::auth::pin::CaPin>,
    /// This nimbus's hold on its data directory, released when the handle goes.
    _lock: DataDirLock,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<Result<(), std::io::Error>>>,
    monitor: Option<JoinHandle<()>>,
}

impl NimbusHandle {
    /// The address the API is served on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API's base URL, `https://<addr>` when it serves HTTPS, else `http://<addr>`.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The pin of nimbus's own CA (`None` with a certificate of the user's PKI).
    pub fn ca_pin(&self) -> Option<squall_runtime::cluster::auth::pin::CaPin> {
        self.ca_pin
    }

    /// Stop serving (in-flight requests finish), stop the monitor, and wait for both.
    pub async fn shutdown(mut self) -> Result<(), NimbusError> {
        let _ = self.stop.send(true);
        if let Some(monitor) = self.monitor.take() {
            let _ = monitor.await;
        }
        if let Some(server) = self.server.take() {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(NimbusError::Serve(e)),
                Err(e) => return Err(NimbusError::Serve(std::io::Error::other(e))),
            }
        }
        tracing::info!(addr = %self.addr, "nimbus stopped");
        Ok(())
    }
}

impl Drop for NimbusHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Open the data directory, load the state, bind `opts.listen` and start serving.
pub async fn start(opts: NimbusOpts) -> Result<NimbusHandle, NimbusError> {
    let dir = opts.data_dir.clone();
    // Before anything in the directory is touched: one nimbus per data directory.
    let lock = DataDirLock::acquire(&dir, "nimbus")?;
    let io = |path: PathBuf| move |source| StoreError::Io { path, source };
    // Before anything is stored: refuse to start rather than run artifacts as root.
    let sandbox = match &opts.validator {
        Some(_) => None,
        None => Some(validate::Sandbox::for_user(
            &opts.validate_user,
            validate::sandbox::LIMITS.for_timeout(opts.validate_timeout),
        )?),
    };
    // Where validation scratch went before it moved out of the data directory.
    let tmp_dir = dir.join("tmp");
    // The CA first: its pin is known before anything else starts (the certificate names
    // the listen address's IP, whatever port is bound).
    let nimbus_tls = {
        let (tls_opts, dir, listen) = (opts.tls.clone(), dir.clone(), opts.listen);
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|source| tls::TlsSetupError::Io {
                path: dir.clone(),
                source,
            })?;
            tls::setup(&tls_opts, &dir, listen)
        })
        .await
        .map_err(|e| NimbusError::Serve(std::io::Error::other(e)))??
    };
    let (cluster, auth) = {
        let (dir, tmp_dir, timeout) = (dir.clone(), tmp_dir.clone(), opts.supervisor_timeout);
        let gc_grace = opts.artifact_gc_grace;
        let clock = opts.clock.clone();
        let auth_opts = opts.auth.clone();
        let ca_pin = nimbus_tls.ca_pin.map(|p| p.0);
        tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            std::fs::create_dir_all(&dir).map_err(io(dir.clone()))?;
            // Nobody but nimbus's user reads the data directory (validated artifacts run
            // as another user, workers of a supervisor sharing it too).
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io(dir.clone()))?;
            // With the CA pin, the admin token is written in the join form.
            let auth = auth::Auth::open(&dir, auth_opts, clock.wall_millis() / 1000, ca_pin)?;
            // Validation scratch of an older nimbus is garbage.
            let _ = std::fs::remove_dir_all(&tmp_dir);
            let artifacts =
                artifacts::ArtifactStore::open(&dir.join("artifacts"), clock.clone(), gc_grace)?;
            let db = dir.join("nimbus.redb");
            let store = store::Store::open(&db)?;
            std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600))
                .map_err(io(db.clone()))?;
            Ok((
                cluster::Cluster::load(store, artifacts, timeout, clock)?,
                auth,
            ))
        })
        .await
        .map_err(|e| NimbusError::Serve(std::io::Error::other(e)))??
    };
    let cluster = Arc::new(cluster);
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| NimbusError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| NimbusError::Bind {
        addr: opts.listen,
        source,
    })?;
    let wake = Arc::new(Notify::new());
    let validator = opts.validator.clone().unwrap_or_else(|| {
        Arc::new(validate::ArtifactValidator {
            tmp_root: std::env::temp_dir(),
            timeout: opts.validate_timeout,
            sandbox: sandbox
                .unwrap_or_else(|| validate::Sandbox::same_user(validate::sandbox::LIMITS)),
        })
    });
    let (stop, stop_rx) = watch::channel(false);
    let state = api::AppState {
        logs: Arc::new(logs::LogBroker::new(stop_rx.clone())),
        polls: Arc::new(assignment_polls::AssignmentPolls::new(
            cluster.board(),
            assignment_polls::MAX_PARKED_POLLS,
            stop_rx.clone(),
        )),
        cluster: cluster.clone(),
        wake: wake.clone(),
        validator,
        max_request_bytes: opts.max_request_bytes,
        max_artifact_bytes: opts.max_artifact_bytes,
        parsers: Arc::new(tokio::sync::Semaphore::new(api::MAX_CONCURRENT_PARSES)),
        body_timeout: opts.http.body_timeout,
        auth,
        ca_pin: nimbus_tls.ca_pin.map(|p| p.0),
    };
    let monitor = tokio::spawn(monitor::run(
        cluster,
        opts.monitor_interval,
        wake,
        stop_rx.clone(),
    ));
    let app = api::router(state);
    let https = nimbus_tls.acceptor.is_some();
    let server = tokio::spawn(api::serve::serve(
        listener,
        app,
        opts.http,
        nimbus_tls.acceptor,
        stop_rx,
    ));
    tracing::info!(%addr, https, data_dir = %dir.display(), "nimbus started");
    Ok(NimbusHandle {
        addr,
        https,
        ca_pin: nimbus_tls.ca_pin,
        _lock: lock,
        stop,
        server: Some(server),
        monitor: Some(monitor),
    })
}
