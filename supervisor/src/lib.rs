//! # squall-supervisor
//!
//! One supervisor per machine: it registers with nimbus and heartbeats, pulls the
//! assignments of its slots, fetches topology artifacts by content hash (and checks
//! them), launches one worker process per assigned slot in its own process group,
//! watches the workers' exit status and heartbeats, restarts dead or hung workers with
//! backoff, stops workers whose assignment went away, holds each worker (with its
//! multi-lang subprocesses) to its topology's `topology.worker.max.memory.mb`, and
//! reports each worker's state, pid, uptime, restart count and last exit cause to nimbus.
//! Running as root, it runs each topology's workers under a uid of their own
//! ([`worker_user`]).
//!
//! Launching is behind the [`Launcher`] trait: [`OsLauncher`] starts worker processes,
//! [`InProcessLauncher`] runs workers on threads of this process (a cluster in one
//! process, for tests).

mod adopted;
mod artifacts;
mod assignment_poller;
mod cache_gc;
pub mod cli;
mod daemon;
mod error;
pub mod in_process;
mod log_poller;
mod logs;
mod long_poll;
mod memory;
mod orphans;
pub mod process;
pub mod slot;
mod state_dirs;
pub mod worker_user;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use squall_runtime::cluster::auth::pin::CaPin;
use squall_runtime::cluster::auth::tls::{ClientTrust, check_cleartext};
use squall_runtime::cluster::protocol::MAX_ARTIFACT_BYTES;
use squall_runtime::daemon::{DataDirLock, SupervisorConfig, UidRange};
use squall_runtime::engine::backoff::Backoff;
use squall_runtime::engine::clock::{self, Clock};

pub use artifacts::{ArtifactCache, FetchLimits};
pub use error::SupervisorError;
pub use in_process::{InProcessLauncher, InProcessWorkers};
pub use process::{LaunchSpec, Launcher, OsLauncher, WorkerProcess};
pub use slot::{Slot, SlotConfig};

/// Supervisor options (Storm key names in the daemon config file map onto these).
#[derive(Debug, Clone)]
pub struct SupervisorOpts {
    /// Nimbus base URL, e.g. `http://127.0.0.1:6627`.
    pub nimbus: String,
    /// CA certificates to trust for an `https://` nimbus (`nimbus.ca.file`); `None`: a
    /// join token's pin, or the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Local state: supervisor id, artifact cache, worker directories (`storm.local.dir`).
    pub data_dir: PathBuf,
    /// Slot ports (`supervisor.slots.ports`).
    pub slots: Vec<u16>,
    /// Address other workers reach this machine at.
    pub host: String,
    /// Heartbeat period to nimbus (`supervisor.heartbeat.frequency.secs`).
    pub heartbeat_interval: Duration,
    /// A running worker silent this long is killed and restarted
    /// (`supervisor.worker.timeout.secs`).
    pub worker_timeout: Duration,
    /// A new worker gets this long for its first heartbeat
    /// (`supervisor.worker.start.timeout.secs`).
    pub worker_start_timeout: Duration,
    /// SIGTERM → SIGKILL delay (`supervisor.worker.shutdown.sleep.secs`).
    pub shutdown_grace: Duration,
    /// A download that receives no byte for this long fails and is retried with backoff
    /// (`supervisor.download.idle.timeout.secs`).
    pub download_idle_timeout: Duration,
    /// The largest artifact or resources archive downloaded (larger: refused, retried
    /// with backoff); [`MAX_ARTIFACT_BYTES`], as nimbus accepts.
    pub max_artifact_bytes: u64,
    /// Delays before retrying a failed download or launch ([`slot::RETRY_BACKOFF`]).
    pub retry_backoff: Backoff,
    /// A cached artifact no slot's assignment referenced for this long is deleted
    /// (`supervisor.artifact.gc.grace.secs`).
    pub artifact_gc_grace: Duration,
    /// A topology's host-local state directory no slot has run the topology for this
    /// long is deleted (`supervisor.state.gc.grace.secs`).
    pub state_gc_grace: Duration,
    /// How long a worker outlives this supervisor before it exits by itself; a
    /// supervisor restarted on the same data directory within it adopts the worker
    /// (`supervisor.worker.orphan.grace.secs`).
    pub orphan_grace: Duration,
    /// Size cap of each worker log file (`supervisor.worker.log.max.bytes`).
    pub worker_log_max_bytes: u64,
    /// Rotated files kept per worker log (`supervisor.worker.log.files`).
    pub worker_log_files: u32,
    /// When the supervisor runs as root, the uids its workers run under, one per
    /// topology (`supervisor.worker.uid.range`); see [`worker_user`].
    pub worker_uid_range: UidRange,
    /// Whether a supervisor running as root runs its workers as root
    /// (`supervisor.worker.run.as.root`, off by default).
    pub worker_run_as_root: bool,
    /// Where time comes from (the system clock; tests drive a manual one). Hangs,
    /// backoffs and grace periods are judged on its monotonic time.
    pub clock: Arc<dyn Clock>,
    /// The supervisor's bearer token (`squall token create --role supervisor`), sent with
    /// heartbeats and artifact downloads; `None` only against an open nimbus.
    pub token: Option<squall_runtime::cluster::auth::token::Token>,
}

impl SupervisorOpts {
    /// Options with the [`SupervisorConfig`] defaults.
    pub fn new(nimbus: impl Into<String>, data_dir: PathBuf, slots: Vec<u16>) -> SupervisorOpts {
        let config = SupervisorConfig {
            data_dir,
            slots,
            ..SupervisorConfig::default()
        };
        SupervisorOpts::with_nimbus(nimbus.into(), &config)
    }

    /// Options from a daemon config (`squall supervisor` loads it from flags and a
    /// file); `None` without `nimbus.url`.
    pub fn from_config(config: &SupervisorConfig) -> Option<SupervisorOpts> {
        let nimbus = config.nimbus_url.clone()?;
        Some(SupervisorOpts::with_nimbus(nimbus, config))
    }

    fn with_nimbus(nimbus: String, config: &SupervisorConfig) -> SupervisorOpts {
        SupervisorOpts {
            nimbus: nimbus.trim_end_matches('/').to_string(),
            ca_file: config.nimbus_ca_file.clone(),
            data_dir: config.data_dir.clone(),
            slots: config.slots.clone(),
            host: config.host.clone(),
            heartbeat_interval: config.heartbeat_frequency.duration(),
            worker_timeout: config.worker_timeout.duration(),
            worker_start_timeout: config.worker_start_timeout.duration(),
            shutdown_grace: config.worker_shutdown_sleep.duration(),
            download_idle_timeout: config.download_idle_timeout.duration(),
            max_artifact_bytes: MAX_ARTIFACT_BYTES,
            retry_backoff: slot::RETRY_BACKOFF,
            artifact_gc_grace: config.artifact_gc_grace.duration(),
            state_gc_grace: config.state_gc_grace.duration(),
            orphan_grace: config.worker_orphan_grace.duration(),
            worker_log_max_bytes: config.worker_log_max_bytes,
            worker_log_files: config.worker_log_files,
            worker_uid_range: config.worker_uid_range,
            worker_run_as_root: config.worker_run_as_root,
            clock: clock::system(),
            token: None,
        }
    }
}

/// A running supervisor.
#[derive(Debug)]
pub struct SupervisorHandle {
    /// The supervisor's id.
    pub id: String,
    stop: tokio::sync::watch::Sender<bool>,
    cut_off: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// This supervisor's hold on its data directory, released when the handle goes.
    _lock: DataDirLock,
}

impl SupervisorHandle {
    /// Stop (`true`) or resume (`false`) heartbeating to nimbus while the workers keep
    /// running, as a network partition between this supervisor and nimbus would: nimbus
    /// declares it dead after its supervisor timeout and moves its workers; on resuming
    /// it learns its new assignments and stops the workers that moved. For tests.
    pub fn pause_heartbeats(&self, paused: bool) {
        let _ = self.cut_off.send(paused);
    }

    /// Stop every worker and the supervisor.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Wait until the supervisor ends (it runs until shut down).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// The supervisor id kept in `data_dir/supervisor-id` (created on first start).
fn load_id(opts: &SupervisorOpts) -> Result<String, SupervisorError> {
    let path = opts.data_dir.join("supervisor-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim().to_string();
        if !id.is_empty() {
            return Ok(id);
        }
    }
    let id = format!(
        "{}-{}-{}",
        opts.host,
        opts.slots.first().copied().unwrap_or(0),
        std::process::id()
    );
    std::fs::create_dir_all(&opts.data_dir)
        .and_then(|_| std::fs::write(&path, &id))
        .map_err(|e| SupervisorError::Io(format!("writing {}: {e}", path.display())))?;
    Ok(id)
}

/// Start a supervisor with real worker processes.
pub fn start(opts: SupervisorOpts) -> Result<SupervisorHandle, SupervisorError> {
    // Before any worker runs: cgroups for worker memory limits, where delegated.
    memory::init();
    start_with(opts, Box::new(OsLauncher))
}

/// Start a supervisor with a given process launcher (tests may use their own).
pub fn start_with(
    mut opts: SupervisorOpts,
    launcher: Box<dyn Launcher>,
) -> Result<SupervisorHandle, SupervisorError> {
    // Workers run in their own directories and a restarted supervisor recognises its
    // workers by the spec path on their command line: every path handed out is absolute.
    opts.data_dir = std::path::absolute(&opts.data_dir).map_err(|e| {
        SupervisorError::Io(format!("data directory {}: {e}", opts.data_dir.display()))
    })?;
    if opts.slots.is_empty() {
        return Err(SupervisorError::Config(
            "no slots: give at least one port".into(),
        ));
    }
    // Before anything in the directory is touched: one supervisor per data directory.
    let lock = DataDirLock::acquire(&opts.data_dir, "supervisor")?;
    let lock_file = lock.path().to_path_buf();
    let isolate =
        worker_user::isolating() && launcher.runs_as_other_users() && !opts.worker_run_as_root;
    if worker_user::isolating() && opts.worker_run_as_root {
        tracing::warn!(
            "supervisor.worker.run.as.root is set: workers run as root, so whoever may \
             submit a topology is root on this host"
        );
    }
    if isolate {
        worker_user::open_data_dir(&opts.data_dir, &lock_file).map_err(SupervisorError::Config)?;
        tracing::info!(range = %opts.worker_uid_range,
            "running as root: each topology's workers run under a uid of their own");
    } else if launcher.runs_as_other_users() {
        tracing::info!("not running as root: workers run as this supervisor's user");
    }
    let id = load_id(&opts)?;
    // Trust: the CA file, else the join token's CA pin, else the system's roots.
    let pin = opts.token.as_ref().and_then(|t| t.pin).map(CaPin);
    let trust = ClientTrust::resolve(opts.ca_file.as_deref(), pin)
        .map_err(|e| SupervisorError::Config(format!("trust in nimbus: {e}")))?;
    // Its token never crosses the network in clear.
    check_cleartext(&opts.nimbus, opts.token.is_some())
        .map_err(|e| SupervisorError::Config(e.to_string()))?;
    let http =
        squall_runtime::cluster::http::client(Duration::from_secs(10), opts.token.as_ref(), &trust)
            .map_err(|e| SupervisorError::Config(format!("http client: {e}")))?;
    let download_http = squall_runtime::cluster::http::download_client(
        Duration::from_secs(10),
        opts.token.as_ref(),
        &trust,
    )
    .map_err(|e| SupervisorError::Config(format!("http client: {e}")))?;
    let cfg = SlotConfig {
        retry_backoff: opts.retry_backoff,
        ..SlotConfig::new(
            opts.worker_timeout,
            opts.worker_start_timeout,
            opts.shutdown_grace,
        )
    };
    let (cut_off, cut_off_rx) = tokio::sync::watch::channel(false);
    let (fetched_tx, fetched_rx) = tokio::sync::mpsc::unbounded_channel();
    let (occupants, occupants_rx) = tokio::sync::watch::channel(log_poller::Occupants::new());
    let poll_http = squall_runtime::cluster::http::client(
        log_poller::POLL_HTTP_TIMEOUT,
        opts.token.as_ref(),
        &trust,
    )
    .map_err(|e| SupervisorError::Config(format!("http client: {e}")))?;
    let log_poller = log_poller::LogPoller {
        http: poll_http,
        nimbus: opts.nimbus.clone(),
        id: id.clone(),
        rotated_files: opts.worker_log_files,
        occupants: occupants_rx,
        cut_off: cut_off_rx.clone(),
    };
    let (held, held_rx) = tokio::sync::watch::channel(None);
    let poke = Arc::new(tokio::sync::Notify::new());
    let assignment_http = squall_runtime::cluster::http::client(
        assignment_poller::POLL_HTTP_TIMEOUT,
        opts.token.as_ref(),
        &trust,
    )
    .map_err(|e| SupervisorError::Config(format!("http client: {e}")))?;
    let assignment_poller = assignment_poller::AssignmentPoller {
        http: assignment_http,
        nimbus: opts.nimbus.clone(),
        id: id.clone(),
        held: held_rx,
        poke: poke.clone(),
        cut_off: cut_off_rx.clone(),
    };
    let daemon = daemon::Daemon {
        fetcher: daemon::Fetcher {
            cache: Arc::new(ArtifactCache::new(&opts.data_dir)),
            http: download_http,
            nimbus: opts.nimbus.clone(),
            limits: FetchLimits {
                idle_timeout: opts.download_idle_timeout,
                max_bytes: opts.max_artifact_bytes,
            },
        },
        cache_use: cache_gc::CacheUse::new(opts.artifact_gc_grace),
        state_use: cache_gc::CacheUse::new(opts.state_gc_grace),
        next_download: 0,
        fetched_tx,
        slots: opts.slots.iter().map(|p| Slot::new(*p, cfg)).collect(),
        workers: opts
            .slots
            .iter()
            .map(|_| daemon::Worker::default())
            .collect(),
        clock: opts.clock.clone(),
        desired: vec![None; opts.slots.len()],
        held,
        poke,
        id: id.clone(),
        launcher: Arc::new(Mutex::new(launcher)),
        http,
        worker_trust: trust.to_spec(),
        opts,
        cut_off: cut_off_rx,
        lock_file,
        isolate,
        memory_next_poll: tokio::time::Instant::now(),
        occupants,
    };
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(log_poller.run(stop_rx.clone()));
    tokio::spawn(assignment_poller.run(stop_rx.clone()));
    let task = tokio::spawn(daemon.run(stop_rx, fetched_rx));
    Ok(SupervisorHandle {
        id,
        stop,
        cut_off,
        task,
        _lock: lock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_supervisor_on_the_same_data_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let opts = SupervisorOpts::new("http://127.0.0.1:1", dir.path().join("sup"), vec![1]);
        let first = start_with(opts.clone(), Box::new(OsLauncher)).unwrap();
        let Err(e) = start_with(opts.clone(), Box::new(OsLauncher)) else {
            panic!("a second supervisor on the same directory must be refused");
        };
        assert!(
            e.to_string().contains("in use by another supervisor"),
            "{e}"
        );
        first.shutdown().await;
        let again = start_with(opts, Box::new(OsLauncher)).expect("released by shutdown");
        again.shutdown().await;
    }
}
