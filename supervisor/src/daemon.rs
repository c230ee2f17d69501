//! The supervisor loop: heartbeat to nimbus, feed each slot's state machine what it
//! observes (assignments, process exits, heartbeat files, time, finished downloads) and
//! carry out the actions it returns (download, launch, SIGTERM, SIGKILL).
//!
//! The loop never waits on the network or the disk for long: a download runs in a task of
//! its own and comes back as an event ([`Fetched`]), so heartbeats to nimbus and the other
//! slots go on during a large or slow transfer; file reads and writes go through
//! `tokio::fs` or the blocking pool (a launch, which writes the spec and starts the
//! process, runs there too).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use squall_runtime::engine::clock::Clock;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::SupervisorOpts;
use crate::artifacts::{ArtifactCache, FetchLimits};
use crate::cache_gc::CacheUse;
use crate::error::SupervisorError;
use crate::memory::usage::Usage;
use crate::process::{LaunchSpec, Launcher, WorkerProcess};
use crate::slot::{Action, Event, Phase, Slot};
use crate::state_dirs;
use crate::worker_user::{self, WorkerUser};
use squall_runtime::cluster::auth::topology_secret::SECRET_FILE;
use squall_runtime::cluster::protocol::{
    ASSIGNMENT_PROTOCOL, ArtifactHash, AssignmentVersion, Heartbeat, HeartbeatResponse,
    MAX_HEARTBEAT_ANSWER_BYTES, RestartRecord, SlotAssignment, VERSION_HEADER, WorkerLogs,
    WorkerReport, WorkerSpec,
};

/// The worker spec file in a worker directory.
pub(crate) const SPEC_FILE: &str = "worker.json";
/// How often slots are checked.
const TICK: Duration = Duration::from_millis(100);
/// How often slots are checked while shutting down.
const SHUTDOWN_TICK: Duration = Duration::from_millis(50);
/// How long after the stop grace a shutdown waits for killed workers to exit.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(2);
/// The most of a heartbeat file read (it holds one number).
const MAX_HEARTBEAT_BYTES: u64 = 64;

/// What the daemon holds for a slot beside its state machine: the process, the download
/// in flight and what the last download prepared.
#[derive(Default)]
pub(crate) struct Worker {
    pub(crate) process: Option<Box<dyn WorkerProcess>>,
    /// The topology and uid its process runs under, when workers run under uids of
    /// their own (see [`crate::worker_user`]).
    pub(crate) run_as: Option<(String, u32)>,
    /// Its topology's memory limit (see [`crate::memory`]).
    pub(crate) memory: crate::memory::SlotMemory,
    prepared: Option<Prepared>,
    download: Option<InFlight>,
}

/// A download task and its number (a result with another number is stale).
struct InFlight {
    id: u64,
    task: JoinHandle<()>,
}

/// A downloaded assignment, ready to launch.
struct Prepared {
    artifact_hash: ArtifactHash,
    artifact: PathBuf,
    resources: Option<ArtifactHash>,
    resources_dir: Option<String>,
}

/// A download task's outcome, sent back to the loop.
pub(crate) struct Fetched {
    slot: usize,
    id: u64,
    artifact: ArtifactHash,
    result: Result<Prepared, SupervisorError>,
}

/// What a download task needs, cheap to clone into it.
#[derive(Clone)]
pub(crate) struct Fetcher {
    /// The cache (shared with the tasks).
    pub(crate) cache: Arc<ArtifactCache>,
    /// A client without an overall timeout (the idle timeout bounds a transfer).
    pub(crate) http: reqwest::Client,
    /// Nimbus's base URL.
    pub(crate) nimbus: String,
    /// Size and idle bounds.
    pub(crate) limits: FetchLimits,
}

pub(crate) struct Daemon {
    pub(crate) opts: SupervisorOpts,
    pub(crate) id: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) slots: Vec<Slot>,
    pub(crate) workers: Vec<Worker>,
    /// Shared with the blocking pool, where launches run.
    pub(crate) launcher: Arc<Mutex<Box<dyn Launcher>>>,
    pub(crate) http: reqwest::Client,
    /// How workers trust nimbus (in their spec): as this supervisor does.
    pub(crate) worker_trust: Option<squall_runtime::cluster::auth::tls::TrustSpec>,
    pub(crate) fetcher: Fetcher,
    /// When each cached artifact was last used, for the cache's garbage collection.
    pub(crate) cache_use: CacheUse<ArtifactHash>,
    /// When each topology's state directory was last used by a slot (by topology id).
    pub(crate) state_use: CacheUse<String>,
    /// Numbers downloads.
    pub(crate) next_download: u64,
    /// Download tasks report here.
    pub(crate) fetched_tx: mpsc::UnboundedSender<Fetched>,
    /// Latest assignments from nimbus, per port.
    pub(crate) desired: Vec<Option<SlotAssignment>>,
    /// The version of `desired` (`None`: none yet, or to be fetched whole again); shared
    /// with the assignment poller ([`crate::assignment_poller`]).
    pub(crate) held: watch::Sender<Option<AssignmentVersion>>,
    /// Poked by the assignment poller when nimbus's version moved: heartbeat now.
    pub(crate) poke: Arc<tokio::sync::Notify>,
    /// While true, the supervisor does not heartbeat (see
    /// [`crate::SupervisorHandle::pause_heartbeats`]).
    pub(crate) cut_off: watch::Receiver<bool>,
    /// The data directory's lock file (absolute), which workers watch.
    pub(crate) lock_file: PathBuf,
    /// Whether workers run under uids of their own (the supervisor runs as root and its
    /// launcher starts processes); see [`crate::worker_user`].
    pub(crate) isolate: bool,
    /// When the workers' memory is measured next (see [`crate::memory`]).
    pub(crate) memory_next_poll: tokio::time::Instant,
    /// Which worker each slot runs, for the log poller ([`crate::log_poller`]).
    pub(crate) occupants: watch::Sender<crate::log_poller::Occupants>,
}

impl Daemon {
    pub(crate) fn worker_dir(&self, port: u16) -> PathBuf {
        self.opts.data_dir.join("workers").join(port.to_string())
    }

    pub(crate) fn launcher(&self) -> MutexGuard<'_, Box<dyn Launcher>> {
        self.launcher.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Feed `event` to slot `i`, carry out the actions, and feed their outcomes back.
    /// Returns whether the state reported to nimbus changed.
    pub(crate) async fn apply(&mut self, i: usize, event: Event) -> bool {
        let mut changed = false;
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            let now = self.clock.now();
            let port = self.slots[i].port();
            let placeholder = Slot::new(port, self.slots[i].config());
            let slot = std::mem::replace(&mut self.slots[i], placeholder);
            let before = slot.reported_state();
            let (slot, actions) = slot.next(event, now);
            let after = slot.reported_state();
            self.slots[i] = slot;
            if before != after {
                tracing::debug!(port, from = %before, to = %after, "slot state");
                changed = true;
            }
            for action in actions {
                if let Some(outcome) = self.execute(i, action).await {
                    queue.push_back(outcome);
                }
            }
            if !matches!(self.slots[i].phase(), Phase::Downloading { .. }) {
                self.cancel_download(i);
            }
        }
        changed
    }

    /// Stop slot `i`'s download, if one is in flight.
    fn cancel_download(&mut self, i: usize) {
        if let Some(d) = self.workers[i].download.take() {
            d.task.abort();
        }
    }

    /// Start fetching the files of `a` for slot `i` in a task of its own; the outcome
    /// comes back as a [`Fetched`].
    fn start_download(&mut self, i: usize, a: SlotAssignment) {
        self.cancel_download(i);
        self.workers[i].prepared = None;
        self.next_download += 1;
        let id = self.next_download;
        let fetcher = self.fetcher.clone();
        let dir = self.worker_dir(self.slots[i].port());
        let tx = self.fetched_tx.clone();
        let task = tokio::spawn(async move {
            let result = fetcher.prepare(&a, &dir).await;
            let _ = tx.send(Fetched {
                slot: i,
                id,
                artifact: a.artifact,
                result,
            });
        });
        self.workers[i].download = Some(InFlight { id, task });
    }

    /// A download task finished: feed its outcome to its slot (unless it is stale).
    /// Returns whether the state reported to nimbus changed.
    async fn finish_download(&mut self, done: Fetched) -> bool {
        let i = done.slot;
        if self.workers[i].download.as_ref().map(|d| d.id) != Some(done.id) {
            return false;
        }
        self.workers[i].download = None;
        let port = self.slots[i].port();
        let event = match done.result {
            Ok(prepared) => {
                let now = self.clock.now();
                self.cache_use.cached(prepared.artifact_hash, now);
                if let Some(r) = prepared.resources {
                    self.cache_use.cached(r, now);
                }
                self.workers[i].prepared = Some(prepared);
                Event::Downloaded {
                    artifact: done.artifact,
                }
            }
            Err(e) => {
                tracing::error!(port, artifact = %done.artifact, "cannot fetch the worker's files: {e}");
                Event::DownloadFailed(e.to_string())
            }
        };
        self.apply(i, event).await
    }

    /// Carry out one action of slot `i`; returns the event that reports its outcome.
    async fn execute(&mut self, i: usize, action: Action) -> Option<Event> {
        let port = self.slots[i].port();
        match action {
            Action::Download(a) => {
                self.start_download(i, a);
                None
            }
            Action::Launch(a) => Some(match self.launch(i, &a).await {
                Ok(pid) => Event::Launched { pid },
                Err(e) => {
                    tracing::error!(port, topology = %a.topology, "cannot launch worker: {e}");
                    Event::LaunchFailed(e.to_string())
                }
            }),
            Action::Terminate(reason) => {
                if let Some(p) = self.workers[i].process.as_mut() {
                    tracing::info!(port, pid = p.pid(), %reason, "stopping worker");
                    p.terminate();
                }
                None
            }
            Action::Kill(reason) => {
                if let Some(p) = self.workers[i].process.as_mut() {
                    tracing::warn!(port, pid = p.pid(), %reason, "killing worker");
                    p.kill();
                }
                None
            }
        }
    }

    /// What slot `i`'s process shows: its exit, or its heartbeat file's value.
    async fn observe(&mut self, i: usize) -> Option<Event> {
        let port = self.slots[i].port();
        let process = self.workers[i].process.as_mut()?;
        if let Some(exit) = process.try_wait() {
            tracing::warn!(port, pid = process.pid(), "worker ended: {exit}");
            self.workers[i].process = None;
            let exit = self.explain_exit(i, exit).await;
            return Some(Event::Exited(exit));
        }
        let file = self.worker_dir(port).join("heartbeat");
        read_heartbeat(file).await.map(Event::Heartbeat)
    }

    /// Observe every slot and let time pass. Returns whether a reported state changed.
    async fn watch_workers(&mut self) -> bool {
        let mut changed = false;
        for i in 0..self.slots.len() {
            if let Some(event) = self.observe(i).await {
                changed |= self.apply(i, event).await;
            }
            changed |= self.apply(i, Event::Tick).await;
        }
        changed
    }

    /// The report for nimbus (None for an empty slot): `now` and `wall_ms` are the same
    /// moment on the monotonic and the wall clock; `usage` holds the workers' figures.
    fn report(
        &self,
        slot: &Slot,
        now: Instant,
        wall_ms: u64,
        usage: &HashMap<u32, Usage>,
    ) -> Option<WorkerReport> {
        let a = slot.assignment()?;
        let figures = slot.pid().and_then(|pid| usage.get(&pid));
        let restart_history = slot
            .restart_history()
            .map(|(at, how)| RestartRecord {
                time_ms: wall_ms.saturating_sub(
                    u64::try_from(now.saturating_duration_since(at).as_millis())
                        .unwrap_or(u64::MAX),
                ),
                cause: how.to_string(),
            })
            .collect();
        Some(WorkerReport {
            port: slot.port(),
            topology: a.topology.clone(),
            pid: slot.pid(),
            state: slot.reported_state(),
            uptime_secs: slot.uptime(now).as_secs(),
            restarts: slot.restarts(),
            last_exit: slot.last_exit().map(str::to_string),
            rss_bytes: figures.map(|f| f.rss_bytes),
            cpu_ms: figures.map(|f| f.cpu_ms),
            restart_history,
        })
    }

    async fn heartbeat(&mut self) -> Result<(), SupervisorError> {
        let usage = self.worker_usage().await;
        let now = self.clock.now();
        let wall_ms = self.clock.wall_millis();
        let held = *self.held.borrow();
        let hb = Heartbeat {
            id: self.id.clone(),
            host: self.opts.host.clone(),
            slots: self.slots.iter().map(Slot::port).collect(),
            workers: self
                .slots
                .iter()
                .filter_map(|s| self.report(s, now, wall_ms, &usage))
                .collect(),
            assignment_version: held,
        };
        let url = format!("{}/api/v1/supervisors/heartbeat", self.opts.nimbus);
        let resp = self.http.post(&url).json(&hb).send().await.map_err(|e| {
            let e = squall_runtime::cluster::auth::tls::describe(&e);
            SupervisorError::Nimbus(format!("POST {url}: {e}"))
        })?;
        squall_runtime::cluster::http::check_answer(&resp)
            .map_err(|e| SupervisorError::Nimbus(format!("POST {url}: {e}")))?;
        if let Some(theirs) = answer_version(&resp)
            && theirs < ASSIGNMENT_PROTOCOL
        {
            return Err(SupervisorError::Nimbus(format!(
                "POST {url}: nimbus speaks Squall cluster protocol {theirs}; this supervisor \
                 needs {ASSIGNMENT_PROTOCOL} or later (versioned assignments): supervisor and \
                 nimbus ship together, upgrade nimbus"
            )));
        }
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            if status == reqwest::StatusCode::UNAUTHORIZED
                || status == reqwest::StatusCode::FORBIDDEN
            {
                // Nimbus does not accept this supervisor (its token was revoked, or is
                // bound to another supervisor id): it runs none of the cluster's work.
                let running = self.desired.iter().filter(|d| d.is_some()).count();
                self.desired.iter_mut().for_each(|d| *d = None);
                self.held.send_replace(None);
                tracing::error!(
                    assignments_dropped = running,
                    "nimbus refused this supervisor's credential ({status}); its workers are stopped: {body}"
                );
                return Err(SupervisorError::Refused(format!("POST {url}: {status}")));
            }
            return Err(SupervisorError::Nimbus(format!(
                "POST {url}: {status}: {body}"
            )));
        }
        let body = read_capped(resp, MAX_HEARTBEAT_ANSWER_BYTES)
            .await
            .map_err(|e| SupervisorError::Nimbus(format!("POST {url}: {e}")))?;
        let answer: HeartbeatResponse = serde_json::from_slice(&body)
            .map_err(|e| SupervisorError::Nimbus(format!("POST {url}: bad answer: {e}")))?;
        let Some(assignments) = answer.assignments else {
            if held != Some(answer.version) {
                // "Unchanged" from a version this supervisor does not hold: ask for the
                // whole assignments next time.
                self.held.send_replace(None);
                return Err(SupervisorError::Nimbus(format!(
                    "POST {url}: nimbus answered \"unchanged\" at version {} for version {}",
                    answer.version,
                    held.map_or_else(|| "none".to_string(), |v| v.to_string())
                )));
            }
            return Ok(());
        };
        let assigned = assignments
            .into_slots()
            .map_err(|e| SupervisorError::Nimbus(format!("POST {url}: {e}")))?;
        for (i, slot) in self.slots.iter().enumerate() {
            self.desired[i] = assigned.iter().find(|a| a.port == slot.port()).cloned();
        }
        tracing::debug!(version = %answer.version, slots = assigned.len(), "assignments received");
        self.held.send_replace(Some(answer.version));
        Ok(())
    }

    /// Tell the log poller which worker each slot runs now.
    fn publish_occupants(&self) {
        let now: crate::log_poller::Occupants = self
            .slots
            .iter()
            .filter_map(|s| {
                let a = s.assignment()?;
                let occupant = crate::log_poller::Occupant {
                    topology: a.topology.clone(),
                    topology_id: a.topology_id.clone(),
                    dir: self.worker_dir(s.port()),
                };
                Some((s.port(), occupant))
            })
            .collect();
        self.occupants.send_if_modified(|o| {
            let changed = *o != now;
            if changed {
                *o = now;
            }
            changed
        });
    }

    /// Feed every slot nimbus's latest assignment for it.
    async fn reconcile(&mut self) {
        for i in 0..self.slots.len() {
            let desired = self.desired[i].clone();
            self.apply(i, Event::Assigned(desired)).await;
        }
    }

    /// Start a worker for `a` in slot `i` (downloaded before); returns its pid. The spec
    /// file is written and the process started on the blocking pool.
    async fn launch(&mut self, i: usize, a: &SlotAssignment) -> Result<u32, SupervisorError> {
        let prepared = self.workers[i]
            .prepared
            .take()
            .filter(|p| p.artifact_hash == a.artifact)
            .ok_or_else(|| {
                SupervisorError::Artifact(format!("{} is not downloaded", a.artifact))
            })?;
        let port = self.slots[i].port();
        let dir = self.worker_dir(port);
        let memory_limit_mb = self.workers[i].memory.limit(a);
        // The secret goes to a file of its own (0600), never into the spec.
        let mut assignment = a.clone();
        let secret = assignment.topology_secret.take().ok_or_else(|| {
            SupervisorError::Artifact(format!(
                "nimbus sent no topology secret for '{}' (an older nimbus?): its worker \
                 cannot authenticate to its peers",
                a.topology
            ))
        })?;
        let secret_path = dir.join(SECRET_FILE);
        let state_dir = state_dirs::of(&self.opts.data_dir, &a.topology_id)
            .map_err(SupervisorError::Artifact)?;
        self.state_use
            .cached(a.topology_id.clone(), self.clock.now());
        let spec = WorkerSpec {
            nimbus: self.opts.nimbus.clone(),
            supervisor: self.id.clone(),
            assignment,
            topology_secret_file: Some(secret_path.display().to_string()),
            heartbeat_file: dir.join("heartbeat").display().to_string(),
            resources_dir: prepared.resources_dir,
            state_dir: Some(state_dir.display().to_string()),
            supervisor_lock: Some(self.lock_file.display().to_string()),
            orphan_grace_ms: Some(
                u64::try_from(self.opts.orphan_grace.as_millis()).unwrap_or(u64::MAX),
            ),
            logs: Some(WorkerLogs {
                dir: dir.display().to_string(),
                max_bytes: self.opts.worker_log_max_bytes,
                files: self.opts.worker_log_files,
            }),
            nimbus_trust: self.worker_trust.clone(),
        };
        let json = serde_json::to_vec_pretty(&spec)
            .map_err(|e| SupervisorError::Io(format!("encoding worker spec: {e}")))?;
        let launcher = self.launcher.clone();
        let artifact = prepared.artifact;
        let user = self.worker_user(i, &a.topology_id)?;
        let topology = a.topology_id.clone();
        let process = tokio::task::spawn_blocking(move || {
            let io = |e: std::io::Error| {
                SupervisorError::Io(format!("worker dir {}: {e}", dir.display()))
            };
            std::fs::create_dir_all(&dir).map_err(io)?;
            if user.is_some() && worker_user::clear_other_topology(&dir, SPEC_FILE, &topology).map_err(io)? {
                tracing::info!(port, %topology, "removed what another topology's worker left in the slot directory");
            }
            secret
                .write_file(&secret_path)
                .map_err(|e| SupervisorError::Io(e.to_string()))?;
            let _ = std::fs::remove_file(dir.join("heartbeat"));
            let spec_path = dir.join(SPEC_FILE);
            // The directory belongs to the worker's uid, which could have left a link
            // at this name for a (root) supervisor to write through.
            squall_runtime::cluster::private_file::replace(&spec_path, &json, 0o644)
                .map_err(io)?;
            // Everything the worker needs (secret, spec) is in `dir` by now and is handed
            // over with it.
            if let Some(u) = user {
                worker_user::hand_over(&dir, u).map_err(io)?;
            }
            state_dirs::prepare(&state_dir, user).map_err(|e| {
                SupervisorError::Io(format!("state dir {}: {e}", state_dir.display()))
            })?;
            let launch = LaunchSpec {
                artifact,
                args: vec![
                    "worker".into(),
                    "--spec".into(),
                    spec_path.display().to_string(),
                ],
                dir: dir.clone(),
                user,
                memory_limit_mb,
            };
            let mut launcher = launcher.lock().unwrap_or_else(PoisonError::into_inner);
            launcher.launch(&launch).map_err(io)
        })
        .await
        .map_err(|e| SupervisorError::Io(format!("launching worker: {e}")))??;
        let pid = process.pid();
        tracing::info!(port, pid, topology = %a.topology, uid = user.map(|u| u.uid), "worker launched");
        self.workers[i].process = Some(process);
        self.workers[i].run_as = user.map(|u| (a.topology_id.clone(), u.uid));
        Ok(pid)
    }

    /// The uid and gid slot `i`'s worker of the topology `topology` (its id, which
    /// changes on resubmission) runs under: `None` when workers do not run under uids of
    /// their own (not root, or workers on threads); otherwise chosen by
    /// [`worker_user::choose_uid`] against the other slots' running workers.
    fn worker_user(&self, i: usize, topology: &str) -> Result<Option<WorkerUser>, SupervisorError> {
        if !self.isolate {
            return Ok(None);
        }
        let others: Vec<(String, u32)> = self
            .workers
            .iter()
            .enumerate()
            .filter(|(j, w)| *j != i && w.process.is_some())
            .filter_map(|(_, w)| w.run_as.clone())
            .collect();
        worker_user::choose_uid(self.opts.worker_uid_range, topology, &others)
            .map(|uid| Some(WorkerUser::of(uid)))
            .map_err(SupervisorError::Config)
    }

    /// Delete cached artifacts no slot has used for the grace period, and the state
    /// directories of topologies no slot has run for theirs.
    async fn collect_garbage(&mut self) {
        self.collect_state_dirs().await;
        let referenced: Vec<ArtifactHash> = self
            .slots
            .iter()
            .filter_map(Slot::assignment)
            .chain(self.desired.iter().flatten())
            .flat_map(|a| std::iter::once(a.artifact).chain(a.resources))
            .collect();
        let now = self.clock.now();
        for hash in self.cache_use.expired(referenced, now) {
            match self.fetcher.cache.remove(&hash).await {
                Ok(()) => tracing::info!(artifact = %hash, "unused cached artifact deleted"),
                Err(e) => {
                    tracing::warn!(artifact = %hash, "cannot delete an unused cached artifact: {e}")
                }
            }
        }
    }

    /// Delete the state directories of topologies no slot has run for
    /// `supervisor.state.gc.grace.secs`.
    async fn collect_state_dirs(&mut self) {
        let referenced: Vec<String> = self
            .slots
            .iter()
            .filter_map(Slot::assignment)
            .chain(self.desired.iter().flatten())
            .map(|a| a.topology_id.clone())
            .collect();
        let now = self.clock.now();
        for topology in self.state_use.expired(referenced, now) {
            let data_dir = self.opts.data_dir.clone();
            let id = topology.clone();
            let removed =
                tokio::task::spawn_blocking(move || state_dirs::remove(&data_dir, &id)).await;
            match removed {
                Ok(Ok(())) => tracing::info!(%topology, "unused topology state directory deleted"),
                Ok(Err(e)) => tracing::warn!(
                    %topology,
                    "cannot delete an unused topology state directory: {e}"
                ),
                Err(e) => tracing::warn!(
                    %topology,
                    "cannot delete an unused topology state directory: {e}"
                ),
            }
        }
    }

    /// Note the topology state directories already here (as used now).
    async fn scan_state_dirs(&mut self) {
        let data_dir = self.opts.data_dir.clone();
        match tokio::task::spawn_blocking(move || state_dirs::scan(&data_dir)).await {
            Ok(Ok(found)) => {
                let now = self.clock.now();
                for id in found {
                    self.state_use.cached(id, now);
                }
            }
            Ok(Err(e)) => tracing::warn!("cannot read the state directories: {e}"),
            Err(e) => tracing::warn!("cannot read the state directories: {e}"),
        }
    }

    /// Note the artifacts already in the cache (as used now), removing partial downloads.
    async fn scan_cache(&mut self) {
        let cache = self.fetcher.cache.clone();
        match tokio::task::spawn_blocking(move || cache.scan()).await {
            Ok(Ok(found)) => {
                let now = self.clock.now();
                for hash in found {
                    self.cache_use.cached(hash, now);
                }
            }
            Ok(Err(e)) => tracing::warn!("cannot read the artifact cache: {e}"),
            Err(e) => tracing::warn!("cannot read the artifact cache: {e}"),
        }
    }

    /// Run until `stop` turns true; then stop every worker. Download tasks report on
    /// `fetched`.
    pub(crate) async fn run(
        mut self,
        mut stop: watch::Receiver<bool>,
        mut fetched: mpsc::UnboundedReceiver<Fetched>,
    ) {
        self.adopt_orphans().await;
        self.scan_cache().await;
        self.scan_state_dirs().await;
        let mut next_beat = self.clock.now();
        let mut changed = false;
        let poke = self.poke.clone();
        loop {
            changed |= self.watch_workers().await;
            changed |= self.watch_memory().await;
            self.collect_garbage().await;
            // While cut off from nimbus (a test's partition), nothing is sent or heard.
            let cut_off = *self.cut_off.borrow();
            if !cut_off && (changed || self.clock.now() >= next_beat) {
                match self.heartbeat().await {
                    Ok(()) => self.reconcile().await,
                    // Refused: every assignment was dropped; stop the workers now.
                    Err(e @ SupervisorError::Refused(_)) => {
                        tracing::warn!("heartbeat failed: {e}");
                        self.reconcile().await;
                    }
                    Err(e) => tracing::warn!("heartbeat failed: {e}"),
                }
                next_beat = self.clock.now() + self.opts.heartbeat_interval;
            }
            self.publish_occupants();
            changed = false;
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                Some(done) = fetched.recv() => changed = self.finish_download(done).await,
                // Nimbus's assignment version moved: heartbeat now for the assignments.
                () = poke.notified() => changed = true,
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
        }
        for i in 0..self.workers.len() {
            self.cancel_download(i);
        }
        self.shutdown().await;
    }

    /// SIGTERM every worker, SIGKILL those still there after the grace, and wait
    /// (bounded, in real time whatever the clock) for them to exit.
    async fn shutdown(&mut self) {
        for i in 0..self.slots.len() {
            self.apply(i, Event::Shutdown).await;
        }
        let give_up = tokio::time::Instant::now() + self.opts.shutdown_grace + SHUTDOWN_SLACK;
        let mut forced = false;
        loop {
            self.watch_workers().await;
            if self.workers.iter().all(|w| w.process.is_none()) {
                break;
            }
            let left = give_up.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                tracing::warn!("workers still running after the shutdown wait");
                break;
            }
            // Past the grace in real time: kill whatever the slot clock says.
            if !forced && left <= SHUTDOWN_SLACK {
                forced = true;
                for w in &mut self.workers {
                    if let Some(p) = w.process.as_mut() {
                        p.kill();
                    }
                }
            }
            tokio::time::sleep(SHUTDOWN_TICK).await;
        }
    }
}

/// The protocol version nimbus stamped on `resp`, if it is a number.
fn answer_version(resp: &reqwest::Response) -> Option<u32> {
    resp.headers()
        .get(VERSION_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `resp`'s body, refused past `max` bytes (checked on the declared length first, then
/// on each chunk as it arrives).
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, String> {
    let too_big = || format!("the answer is larger than {max} bytes");
    let declared = resp.content_length().unwrap_or(0);
    if declared > max as u64 {
        return Err(too_big());
    }
    let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(max));
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The value a worker last wrote to its heartbeat file `path`, if any.
async fn read_heartbeat(path: PathBuf) -> Option<u64> {
    let file = tokio::fs::File::open(path).await.ok()?;
    let mut text = String::new();
    file.take(MAX_HEARTBEAT_BYTES)
        .read_to_string(&mut text)
        .await
        .ok()?;
    text.trim().parse().ok()
}

impl Fetcher {
    /// Fetch the artifact and resources of `a`, unpacking the resources afresh into
    /// `worker_dir/resources`.
    async fn prepare(
        &self,
        a: &SlotAssignment,
        worker_dir: &std::path::Path,
    ) -> Result<Prepared, SupervisorError> {
        let artifact = self
            .cache
            .fetch(&self.http, &self.nimbus, &a.artifact, self.limits)
            .await?;
        tokio::fs::create_dir_all(worker_dir).await.map_err(|e| {
            SupervisorError::Io(format!("worker dir {}: {e}", worker_dir.display()))
        })?;
        let resources_dir = match &a.resources {
            Some(hash) => Some(self.unpack_resources(hash, worker_dir).await?),
            None => None,
        };
        Ok(Prepared {
            artifact_hash: a.artifact,
            artifact,
            resources: a.resources,
            resources_dir,
        })
    }

    /// Fetch the resources archive `hash` (cached like artifacts) and unpack it afresh
    /// into `worker_dir/resources`, streaming from the cached file on the blocking pool;
    /// returns that directory, absolute.
    async fn unpack_resources(
        &self,
        hash: &ArtifactHash,
        worker_dir: &std::path::Path,
    ) -> Result<String, SupervisorError> {
        let archive = self
            .cache
            .fetch(&self.http, &self.nimbus, hash, self.limits)
            .await?;
        let dest = std::path::absolute(worker_dir.join("resources"))
            .map_err(|e| SupervisorError::Io(format!("resources {hash}: {e}")))?;
        let target = dest.clone();
        let hash_text = hash.to_string();
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&archive)
                .map_err(|e| SupervisorError::Io(format!("resources {hash_text}: {e}")))?;
            squall_runtime::resources::unpack(
                std::io::BufReader::new(file),
                &target,
                squall_runtime::resources::MAX_RESOURCES_BYTES,
            )
            .map_err(|e| SupervisorError::Artifact(format!("resources {hash_text}: {e}")))
        })
        .await
        .map_err(|e| SupervisorError::Io(format!("unpacking resources {hash}: {e}")))??;
        tracing::info!(resources = %hash, dir = %dest.display(), "resources unpacked");
        Ok(dest.display().to_string())
    }
}
