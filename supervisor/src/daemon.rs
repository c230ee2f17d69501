//! The supervisor loop: heartbeat to nimbus, feed each slot's state machine what it
//! observes (assignments, process exits, heartbeat files, time) and carry out the actions
//! it returns (download, launch, SIGTERM, SIGKILL).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use squall_runtime::engine::clock::Clock;
use tokio::sync::watch;

use crate::SupervisorOpts;
use crate::artifacts::ArtifactCache;
use crate::error::SupervisorError;
use crate::process::{LaunchSpec, Launcher, WorkerProcess};
use crate::slot::{Action, Event, Slot};
use squall_runtime::cluster::protocol::{
    ArtifactHash, Heartbeat, HeartbeatResponse, SlotAssignment, WorkerLogs, WorkerReport,
    WorkerSpec,
};

/// The worker spec file in a worker directory.
const SPEC_FILE: &str = "worker.json";
/// How often slots are checked.
const TICK: Duration = Duration::from_millis(100);
/// How often slots are checked while shutting down.
const SHUTDOWN_TICK: Duration = Duration::from_millis(50);
/// How long after the stop grace a shutdown waits for killed workers to exit.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(2);

/// What the daemon holds for a slot beside its state machine: the process and what the
/// last download prepared.
#[derive(Default)]
pub(crate) struct Worker {
    process: Option<Box<dyn WorkerProcess>>,
    prepared: Option<Prepared>,
}

/// A downloaded assignment, ready to launch.
struct Prepared {
    artifact_hash: ArtifactHash,
    artifact: PathBuf,
    resources_dir: Option<String>,
}

pub(crate) struct Daemon {
    pub(crate) opts: SupervisorOpts,
    pub(crate) id: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) slots: Vec<Slot>,
    pub(crate) workers: Vec<Worker>,
    pub(crate) launcher: Box<dyn Launcher>,
    pub(crate) http: reqwest::Client,
    pub(crate) artifacts: ArtifactCache,
    /// Latest assignments from nimbus, per port.
    pub(crate) desired: Vec<Option<SlotAssignment>>,
    /// While true, the supervisor does not heartbeat (see
    /// [`crate::SupervisorHandle::pause_heartbeats`]).
    pub(crate) cut_off: watch::Receiver<bool>,
}

impl Daemon {
    fn worker_dir(&self, port: u16) -> PathBuf {
        self.opts.data_dir.join("workers").join(port.to_string())
    }

    /// The value the worker last wrote to its heartbeat file, if any.
    fn read_heartbeat(&self, port: u16) -> Option<u64> {
        let text = std::fs::read_to_string(self.worker_dir(port).join("heartbeat")).ok()?;
        text.trim().parse().ok()
    }

    /// Feed `event` to slot `i`, carry out the actions, and feed their outcomes back.
    /// Returns whether the state reported to nimbus changed.
    async fn apply(&mut self, i: usize, event: Event) -> bool {
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
        }
        changed
    }

    /// Carry out one action of slot `i`; returns the event that reports its outcome.
    async fn execute(&mut self, i: usize, action: Action) -> Option<Event> {
        let port = self.slots[i].port();
        match action {
            Action::Download(a) => Some(match self.download(i, &a).await {
                Ok(()) => Event::Downloaded {
                    artifact: a.artifact,
                },
                Err(e) => {
                    tracing::error!(port, topology = %a.topology, "cannot fetch the worker's files: {e}");
                    Event::DownloadFailed(e.to_string())
                }
            }),
            Action::Launch(a) => Some(match self.launch(i, &a) {
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
    fn observe(&mut self, i: usize) -> Option<Event> {
        let port = self.slots[i].port();
        let process = self.workers[i].process.as_mut()?;
        if let Some(exit) = process.try_wait() {
            tracing::warn!(port, pid = process.pid(), "worker ended: {exit}");
            self.workers[i].process = None;
            return Some(Event::Exited(exit));
        }
        self.read_heartbeat(port).map(Event::Heartbeat)
    }

    /// Observe every slot and let time pass. Returns whether a reported state changed.
    async fn watch_workers(&mut self) -> bool {
        let mut changed = false;
        for i in 0..self.slots.len() {
            if let Some(event) = self.observe(i) {
                changed |= self.apply(i, event).await;
            }
            changed |= self.apply(i, Event::Tick).await;
        }
        changed
    }

    /// The report for nimbus (None for an empty slot).
    fn report(&self, slot: &Slot, now: Instant) -> Option<WorkerReport> {
        let a = slot.assignment()?;
        Some(WorkerReport {
            port: slot.port(),
            topology: a.topology.clone(),
            pid: slot.pid(),
            state: slot.reported_state(),
            uptime_secs: slot.uptime(now).as_secs(),
            restarts: slot.restarts(),
            last_exit: slot.last_exit().map(str::to_string),
        })
    }

    async fn heartbeat(&mut self) -> Result<(), SupervisorError> {
        let now = self.clock.now();
        let hb = Heartbeat {
            id: self.id.clone(),
            host: self.opts.host.clone(),
            slots: self.slots.iter().map(Slot::port).collect(),
            workers: self
                .slots
                .iter()
                .filter_map(|s| self.report(s, now))
                .collect(),
        };
        let url = format!("{}/api/v1/supervisors/heartbeat", self.opts.nimbus);
        let resp = self
            .http
            .post(&url)
            .json(&hb)
            .send()
            .await
            .map_err(|e| SupervisorError::Nimbus(format!("POST {url}: {e}")))?;
        squall_runtime::cluster::http::check_answer(&resp)
            .map_err(|e| SupervisorError::Nimbus(format!("POST {url}: {e}")))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            return Err(SupervisorError::Nimbus(format!(
                "POST {url}: {status}: {body}"
            )));
        }
        let answer: HeartbeatResponse = resp
            .json()
            .await
            .map_err(|e| SupervisorError::Nimbus(format!("POST {url}: bad answer: {e}")))?;
        for (i, slot) in self.slots.iter().enumerate() {
            self.desired[i] = answer
                .assignments
                .iter()
                .find(|a| a.port == slot.port())
                .cloned();
        }
        Ok(())
    }

    /// Feed every slot nimbus's latest assignment for it.
    async fn reconcile(&mut self) {
        for i in 0..self.slots.len() {
            let desired = self.desired[i].clone();
            self.apply(i, Event::Assigned(desired)).await;
        }
    }

    /// Fetch the artifact and resources of `a` for slot `i`.
    async fn download(&mut self, i: usize, a: &SlotAssignment) -> Result<(), SupervisorError> {
        self.workers[i].prepared = None;
        let artifact = self
            .artifacts
            .fetch(&self.http, &self.opts.nimbus, &a.artifact)
            .await?;
        let dir = self.worker_dir(self.slots[i].port());
        std::fs::create_dir_all(&dir)
            .map_err(|e| SupervisorError::Io(format!("worker dir {}: {e}", dir.display())))?;
        let resources_dir = match &a.resources {
            Some(hash) => Some(
                unpack_resources(&self.artifacts, &self.http, &self.opts.nimbus, hash, &dir)
                    .await?,
            ),
            None => None,
        };
        self.workers[i].prepared = Some(Prepared {
            artifact_hash: a.artifact,
            artifact,
            resources_dir,
        });
        Ok(())
    }

    /// Start a worker for `a` in slot `i` (downloaded before); returns its pid.
    fn launch(&mut self, i: usize, a: &SlotAssignment) -> Result<u32, SupervisorError> {
        let prepared = self.workers[i]
            .prepared
            .take()
            .filter(|p| p.artifact_hash == a.artifact)
            .ok_or_else(|| {
                SupervisorError::Artifact(format!("{} is not downloaded", a.artifact))
            })?;
        let port = self.slots[i].port();
        let dir = self.worker_dir(port);
        let io =
            |e: std::io::Error| SupervisorError::Io(format!("worker dir {}: {e}", dir.display()));
        std::fs::create_dir_all(&dir).map_err(io)?;
        let _ = std::fs::remove_file(dir.join("heartbeat"));
        let spec = WorkerSpec {
            nimbus: self.opts.nimbus.clone(),
            supervisor: self.id.clone(),
            assignment: a.clone(),
            heartbeat_file: dir.join("heartbeat").display().to_string(),
            resources_dir: prepared.resources_dir,
            logs: Some(WorkerLogs {
                dir: dir.display().to_string(),
                max_bytes: self.opts.worker_log_max_bytes,
                files: self.opts.worker_log_files,
            }),
        };
        let spec_path = dir.join(SPEC_FILE);
        let json = serde_json::to_vec_pretty(&spec)
            .map_err(|e| SupervisorError::Io(format!("encoding worker spec: {e}")))?;
        std::fs::write(&spec_path, json).map_err(io)?;
        let process = self
            .launcher
            .launch(&LaunchSpec {
                artifact: prepared.artifact,
                args: vec![
                    "worker".into(),
                    "--spec".into(),
                    spec_path.display().to_string(),
                ],
                dir: dir.clone(),
            })
            .map_err(io)?;
        let pid = process.pid();
        tracing::info!(port, pid, topology = %a.topology, "worker launched");
        self.workers[i].process = Some(process);
        Ok(pid)
    }

    /// Have the launcher stop workers a previous run of this supervisor left behind
    /// (it was killed without stopping them): they hold the slot ports.
    pub(crate) fn kill_orphans(&mut self) {
        for i in 0..self.slots.len() {
            let dir = self.worker_dir(self.slots[i].port());
            self.launcher.reap_orphan(&dir, &dir.join(SPEC_FILE));
        }
    }

    /// Run until `stop` turns true; then stop every worker.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        self.kill_orphans();
        let mut next_beat = self.clock.now();
        loop {
            let changed = self.watch_workers().await;
            // While cut off from nimbus (a test's partition), nothing is sent or heard.
            let cut_off = *self.cut_off.borrow();
            if !cut_off && (changed || self.clock.now() >= next_beat) {
                match self.heartbeat().await {
                    Ok(()) => self.reconcile().await,
                    Err(e) => tracing::warn!("heartbeat failed: {e}"),
                }
                next_beat = self.clock.now() + self.opts.heartbeat_interval;
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
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

/// Fetch the resources archive `hash` (cached like artifacts) and unpack it afresh
/// into `worker_dir/resources`; returns that directory, absolute.
async fn unpack_resources(
    artifacts: &ArtifactCache,
    http: &reqwest::Client,
    nimbus: &str,
    hash: &ArtifactHash,
    worker_dir: &std::path::Path,
) -> Result<String, SupervisorError> {
    let archive = artifacts.fetch(http, nimbus, hash).await?;
    let bytes = std::fs::read(&archive)
        .map_err(|e| SupervisorError::Io(format!("resources {hash}: {e}")))?;
    let dest = std::path::absolute(worker_dir.join("resources"))
        .map_err(|e| SupervisorError::Io(format!("resources {hash}: {e}")))?;
    let target = dest.clone();
    tokio::task::spawn_blocking(move || {
        squall_runtime::resources::unpack(
            &bytes,
            &target,
            squall_runtime::resources::MAX_RESOURCES_BYTES,
        )
    })
    .await
    .map_err(|e| SupervisorError::Io(format!("unpacking resources {hash}: {e}")))?
    .map_err(|e| SupervisorError::Artifact(format!("resources {hash}: {e}")))?;
    tracing::info!(resources = %hash, dir = %dest.display(), "resources unpacked");
    Ok(dest.display().to_string())
}
