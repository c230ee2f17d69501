//! The supervisor loop: heartbeat to nimbus, follow the assignments, watch workers.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::SupervisorOpts;
use crate::artifacts::ArtifactCache;
use crate::error::SupervisorError;
use crate::process::{LaunchSpec, Launcher};
use crate::slot::Slot;
use squall_runtime::cluster::protocol::{
    ArtifactHash, Heartbeat, HeartbeatResponse, SlotAssignment, WorkerSpec,
};

/// How often slots are checked.
const TICK: Duration = Duration::from_millis(100);

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) struct Daemon {
    pub(crate) opts: SupervisorOpts,
    pub(crate) id: String,
    pub(crate) slots: Vec<Slot>,
    pub(crate) launcher: Box<dyn Launcher>,
    pub(crate) http: reqwest::Client,
    pub(crate) artifacts: ArtifactCache,
    /// Latest assignments from nimbus, per port.
    pub(crate) desired: Vec<Option<SlotAssignment>>,
}

impl Daemon {
    fn worker_dir(&self, port: u16) -> PathBuf {
        self.opts.data_dir.join("workers").join(port.to_string())
    }

    fn heartbeat_age(&self, port: u16) -> Option<Duration> {
        let text = std::fs::read_to_string(self.worker_dir(port).join("heartbeat")).ok()?;
        let at: u64 = text.trim().parse().ok()?;
        Some(Duration::from_millis(unix_millis().saturating_sub(at)))
    }

    /// Reap exits, kill hung workers, enforce stop grace. Returns whether anything changed.
    fn watch_workers(&mut self, now: Instant) -> bool {
        let mut changed = false;
        for i in 0..self.slots.len() {
            let port = self.slots[i].port;
            if let Some(exit) = self.slots[i].reap(now) {
                tracing::warn!(port, "worker ended: {exit}");
                changed = true;
                continue;
            }
            if !self.slots[i].has_process() || self.slots[i].stopping_since.is_some() {
                self.slots[i].enforce_grace(now, self.opts.shutdown_grace);
                continue;
            }
            let uptime = self.slots[i].uptime(now);
            let hb = self.heartbeat_age(port);
            let hung = match hb {
                Some(age) => age > self.opts.worker_timeout && uptime > self.opts.worker_timeout,
                None => uptime > self.opts.worker_start_timeout,
            };
            if hung {
                tracing::warn!(port, ?hb, "worker is not heartbeating: killing it");
                self.slots[i].stop(now, true);
                self.slots[i].stopping_since = None; // a hang counts as a crash
                changed = true;
            }
        }
        changed
    }

    async fn heartbeat(&mut self) -> Result<(), SupervisorError> {
        let now = Instant::now();
        let hb = Heartbeat {
            id: self.id.clone(),
            host: self.opts.host.clone(),
            slots: self.slots.iter().map(|s| s.port).collect(),
            workers: self.slots.iter().filter_map(|s| s.report(now)).collect(),
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
                .find(|a| a.port == slot.port)
                .cloned();
        }
        Ok(())
    }

    /// Start, stop or replace workers to match the assignments.
    async fn reconcile(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let desired = self.desired[i].clone();
            let slot = &mut self.slots[i];
            match desired {
                None => {
                    if slot.has_process() {
                        tracing::info!(port = slot.port, "assignment gone: stopping worker");
                        slot.stop(now, false);
                    } else if slot.assignment.is_some() {
                        slot.assignment = None;
                        slot.restart_at = None;
                    }
                }
                Some(d) => {
                    if slot.has_process() {
                        let stale = slot
                            .assignment
                            .as_ref()
                            .is_some_and(|a| a.needs_restart_for(&d));
                        if stale {
                            tracing::info!(
                                port = slot.port,
                                "assignment changed: restarting worker"
                            );
                            slot.stop(now, false);
                        }
                        continue;
                    }
                    if slot.restart_at.is_some_and(|at| now < at) {
                        continue;
                    }
                    if let Err(e) = self.launch(i, d, now).await {
                        tracing::error!(port = self.slots[i].port, "cannot launch worker: {e}");
                        let slot = &mut self.slots[i];
                        slot.last_exit = Some(format!("launch failed: {e}"));
                        slot.restart_at = Some(now + Duration::from_secs(2));
                    }
                }
            }
        }
    }

    async fn launch(
        &mut self,
        i: usize,
        a: SlotAssignment,
        now: Instant,
    ) -> Result<(), SupervisorError> {
        let artifact = self
            .artifacts
            .fetch(&self.http, &self.opts.nimbus, &a.artifact)
            .await?;
        let port = self.slots[i].port;
        let dir = self.worker_dir(port);
        let io =
            |e: std::io::Error| SupervisorError::Io(format!("worker dir {}: {e}", dir.display()));
        std::fs::create_dir_all(&dir).map_err(io)?;
        let _ = std::fs::remove_file(dir.join("heartbeat"));
        let resources_dir = match &a.resources {
            Some(hash) => Some(
                unpack_resources(&self.artifacts, &self.http, &self.opts.nimbus, hash, &dir)
                    .await?,
            ),
            None => None,
        };
        let spec = WorkerSpec {
            nimbus: self.opts.nimbus.clone(),
            supervisor: self.id.clone(),
            assignment: a.clone(),
            heartbeat_file: dir.join("heartbeat").display().to_string(),
            resources_dir,
        };
        let spec_path = dir.join("worker.json");
        let json = serde_json::to_vec_pretty(&spec)
            .map_err(|e| SupervisorError::Io(format!("encoding worker spec: {e}")))?;
        std::fs::write(&spec_path, json).map_err(io)?;
        let process = self
            .launcher
            .launch(&LaunchSpec {
                artifact,
                args: vec![
                    "worker".into(),
                    "--spec".into(),
                    spec_path.display().to_string(),
                ],
                dir: dir.clone(),
            })
            .map_err(io)?;
        tracing::info!(port, pid = process.pid(), topology = %a.topology, "worker launched");
        if let Err(e) = std::fs::write(dir.join("pid"), process.pid().to_string()) {
            tracing::warn!(port, "cannot record the worker's pid: {e}");
        }
        self.slots[i].launched(a, process, now);
        Ok(())
    }

    /// Kill workers a previous run of this supervisor left behind (it was killed without
    /// stopping them): they hold the slot ports. A pid is only killed if its command
    /// line names this slot's spec file, so a recycled pid is left alone.
    pub(crate) fn kill_orphans(&self) {
        for slot in &self.slots {
            let dir = self.worker_dir(slot.port);
            let Some(pid) = std::fs::read_to_string(dir.join("pid"))
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            else {
                continue;
            };
            let spec = dir.join("worker.json").display().to_string();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&spec) {
                tracing::warn!(
                    port = slot.port,
                    pid,
                    "killing a worker left by a previous run"
                );
                crate::process::kill_group(pid);
            }
            let _ = std::fs::remove_file(dir.join("pid"));
        }
    }

    /// Run until `stop` turns true; then stop every worker.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        self.kill_orphans();
        let mut next_beat = Instant::now();
        loop {
            let now = Instant::now();
            let changed = self.watch_workers(now);
            if changed || now >= next_beat {
                match self.heartbeat().await {
                    Ok(()) => self.reconcile(Instant::now()).await,
                    Err(e) => tracing::warn!("heartbeat failed: {e}"),
                }
                next_beat = Instant::now() + self.opts.heartbeat_interval;
            } else {
                // Relaunch crashed workers promptly, between heartbeats.
                let due = self
                    .slots
                    .iter()
                    .any(|s| !s.has_process() && s.restart_at.is_some_and(|at| now >= at));
                if due {
                    self.reconcile(now).await;
                }
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

    async fn shutdown(&mut self) {
        let now = Instant::now();
        for s in &mut self.slots {
            s.stop(now, false);
        }
        let deadline = now + self.opts.shutdown_grace;
        loop {
            let now = Instant::now();
            let mut alive = false;
            for s in &mut self.slots {
                s.reap(now);
                if now >= deadline {
                    s.enforce_grace(now, Duration::ZERO);
                }
                alive |= s.has_process();
            }
            if !alive || now >= deadline + Duration::from_secs(2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
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
