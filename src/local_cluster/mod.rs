//! A Squall cluster in one process, for tests — after Storm's `LocalCluster`: a nimbus,
//! `N` supervisors and their workers, all in the calling process, on loopback, on a
//! [`ManualClock`] the test moves. Scheduling, reassignment, worker restarts and the slot
//! state machine run for real (the same nimbus and supervisor code, the same HTTP API,
//! real worker engines and TCP links between workers), but deterministically and in
//! milliseconds: nothing that depends on time happens until the test
//! [advances](LocalCluster::advance) the clock.
//!
//! - Workers run on threads ([`squall_supervisor::InProcessLauncher`]); no artifact is
//!   ever run (a placeholder is uploaded) and nimbus validates submissions against the
//!   cluster's [`Registry`] ([`squall_nimbus::validate::RegistryValidator`]).
//! - Faults: [`LocalCluster::crash_worker`], [`LocalCluster::hang_worker`],
//!   [`LocalCluster::pause_heartbeats`] (a supervisor cut off from nimbus),
//!   [`LocalCluster::stop_supervisor`] (a machine going down).
//! - What stays real time: the supervisors' loop (every 100 ms), nimbus's monitor
//!   (every 20 ms), the workers' heartbeat files and stats reports (every second). Wait
//!   for their effects with [`LocalCluster::wait_until`] (bounded polling), never with
//!   sleeps.
//!
//! ```no_run
//! use std::time::Duration;
//! use squall::local_cluster::{LocalCluster, stock_registry};
//! use squall_runtime::cluster::protocol::SlotState;
//!
//! # async fn demo() -> Result<(), squall::LocalClusterError> {
//! let mut cluster = LocalCluster::builder()
//!     .supervisors(2)
//!     .slots_per_supervisor(2)
//!     .registry(stock_registry())
//!     .start()
//!     .await?;
//! cluster.submit(include_str!("../../topologies/wordcount.yaml")).await?;
//! let limit = Duration::from_secs(10);
//! let info = cluster
//!     .wait_for_status("wordcount", "its worker running", limit, |t| {
//!         t.workers.iter().any(|w| w.report.state == SlotState::Running)
//!     })
//!     .await?;
//! let on = info.assignment[0].supervisor.clone();
//! let i = if Some(on.as_str()) == cluster.supervisor_id(0) { 0 } else { 1 };
//!
//! // Cut that supervisor off from nimbus: nothing moves until the clock passes
//! // nimbus's supervisor timeout (10 s by default); then its worker moves.
//! cluster.pause_heartbeats(i, true)?;
//! cluster.advance(Duration::from_secs(11)).await?;
//! cluster
//!     .wait_for_status("wordcount", "the worker moved", limit, |t| {
//!         t.assignment.iter().all(|w| w.supervisor != on)
//!     })
//!     .await?;
//!
//! // Worker faults: a crash (restarted by its slot, with backoff on the clock).
//! let moved = cluster.status("wordcount").await?.assignment[0].port;
//! cluster.crash_worker(1 - i, moved)?;
//! cluster.shutdown().await;
//! # Ok(())
//! # }
//! //! ```

mod builder;
mod error;

pub use builder::LocalClusterBuilder;
pub use error::LocalClusterError;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use squall_nimbus::NimbusHandle;
use squall_runtime::Registry;
use squall_runtime::client::Nimbus;
use squall_runtime::cluster::auth::credentials::ADMIN_TOKEN_FILE;
use squall_runtime::cluster::protocol::{ActionResponse, TopologyInfo};
use squall_runtime::engine::clock::ManualClock;
use squall_supervisor::{InProcessWorkers, SupervisorHandle};

pub use squall_supervisor::in_process::SIMULATED_CRASH;

/// The artifact uploaded with every submission: in-process workers never run it (and
/// were it run, it would do nothing and fail).
const PLACEHOLDER_ARTIFACT: &[u8] =
    b"#!/bin/false\n# squall LocalCluster placeholder: workers run in-process\n";
/// How often [`LocalCluster::wait_until`] probes (real time).
const POLL: Duration = Duration::from_millis(20);
/// How long [`LocalCluster::advance`] waits, after each step, for the supervisors'
/// heartbeats at the new time (real time).
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// One supervisor of the cluster.
#[derive(Debug)]
struct Supervisor {
    id: String,
    slots: Vec<u16>,
    /// `None` once stopped.
    handle: Option<SupervisorHandle>,
    workers: InProcessWorkers,
    paused: bool,
}

/// A nimbus, supervisors and their workers in this process (see the [module
/// documentation](self)). Call [`LocalCluster::shutdown`] at the end; dropping it
/// instead stops the workers but leaves the daemons to the end of the tokio runtime.
#[derive(Debug)]
pub struct LocalCluster {
    clock: Arc<ManualClock>,
    supervisor_timeout: Duration,
    artifact: PathBuf,
    client: Nimbus,
    nimbus: Option<NimbusHandle>,
    supervisors: Vec<Supervisor>,
    /// Holds every data directory; removed on drop.
    _dir: tempfile::TempDir,
}

impl LocalCluster {
    /// A builder with the defaults: 2 supervisors of 2 slots, an empty registry.
    pub fn builder() -> LocalClusterBuilder {
        LocalClusterBuilder::default()
    }

    /// The cluster's clock (nimbus's and every supervisor's). Prefer
    /// [`LocalCluster::advance`] to moving it directly: it keeps live supervisors alive.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// Let `d` pass on the cluster's clock, in steps of at most half the supervisor
    /// timeout; after each step, wait until every running supervisor whose heartbeats
    /// are not paused has heartbeated at the new time. So only silent supervisors can
    /// miss the timeout, whatever `d` is. Backoffs, hang and start timeouts, kill and
    /// rebalance waits fall due as the clock passes them.
    pub async fn advance(&self, d: Duration) -> Result<(), LocalClusterError> {
        let max_step = (self.supervisor_timeout / 2).max(Duration::from_millis(1));
        let mut left = d;
        while !left.is_zero() {
            let step = left.min(max_step);
            self.clock.advance(step);
            left -= step;
            self.settle().await?;
        }
        Ok(())
    }

    /// Wait until every running, unpaused supervisor heartbeated at the clock's now.
    async fn settle(&self) -> Result<(), LocalClusterError> {
        let live: Vec<&str> = self
            .supervisors
            .iter()
            .filter(|s| s.handle.is_some() && !s.paused)
            .map(|s| s.id.as_str())
            .collect();
        self.wait_until(
            "the live supervisors to heartbeat after the clock moved",
            SETTLE_LIMIT,
            || async {
                let list = self.client.supervisors().await.ok()?;
                live.iter()
                    .all(|id| {
                        list.supervisors
                            .iter()
                            .any(|s| s.id == *id && s.last_heartbeat_secs_ago == 0.0)
                    })
                    .then_some(())
            },
        )
        .await
    }

    /// Nimbus's base URL (`http://127.0.0.1:PORT`), for other clients or the CLI.
    pub fn nimbus_url(&self) -> String {
        self.nimbus
            .as_ref()
            .map(NimbusHandle::url)
            .unwrap_or_default()
    }

    /// The file holding the admin token of the cluster's nimbus (mode 0600), for other
    /// clients: `squall list --token-file FILE`, or an HTTP client's bearer token.
    pub fn admin_token_file(&self) -> PathBuf {
        self._dir.path().join("nimbus").join(ADMIN_TOKEN_FILE)
    }

    /// A typed client of nimbus (kill, activate, rebalance, list, …).
    pub fn nimbus(&self) -> &Nimbus {
        &self.client
    }

    /// Submit the topology `yaml` (its components from the cluster's registry).
    pub async fn submit(&self, yaml: &str) -> Result<ActionResponse, LocalClusterError> {
        Ok(self
            .client
            .submit_yaml(yaml, &self.artifact, None, None)
            .await?)
    }

    /// Nimbus's view of topology `name`: assignment, worker reports, counters.
    pub async fn status(&self, name: &str) -> Result<TopologyInfo, LocalClusterError> {
        Ok(self.client.status(name).await?)
    }

    /// The id supervisor `i` registered under (what assignments and worker reports
    /// name).
    pub fn supervisor_id(&self, i: usize) -> Option<&str> {
        self.supervisors.get(i).map(|s| s.id.as_str())
    }

    /// Supervisor `i`'s slot ports.
    pub fn slots(&self, i: usize) -> &[u16] {
        self.supervisors.get(i).map_or(&[], |s| s.slots.as_slice())
    }

    fn running(&self, i: usize) -> Result<&Supervisor, LocalClusterError> {
        self.supervisors
            .get(i)
            .filter(|s| s.handle.is_some())
            .ok_or(LocalClusterError::NoSupervisor(i))
    }

    /// Stop supervisor `i` and its workers, as a machine going down: nimbus is not
    /// told, it notices when the supervisor timeout passes on the clock.
    pub async fn stop_supervisor(&mut self, i: usize) -> Result<(), LocalClusterError> {
        let handle = self
            .supervisors
            .get_mut(i)
            .and_then(|s| s.handle.take())
            .ok_or(LocalClusterError::NoSupervisor(i))?;
        handle.shutdown().await;
        Ok(())
    }

    /// Cut supervisor `i` off from nimbus (`true`: no heartbeats, its workers keep
    /// running) or reconnect it (`false`).
    pub fn pause_heartbeats(&mut self, i: usize, paused: bool) -> Result<(), LocalClusterError> {
        let sup = self
            .supervisors
            .get_mut(i)
            .filter(|s| s.handle.is_some())
            .ok_or(LocalClusterError::NoSupervisor(i))?;
        if let Some(h) = &sup.handle {
            h.pause_heartbeats(paused);
        }
        sup.paused = paused;
        Ok(())
    }

    /// Make the worker on supervisor `i`'s `port` die now: its supervisor sees it end
    /// with [`SIMULATED_CRASH`] and restarts it (after the backoff, on the clock).
    pub fn crash_worker(&self, i: usize, port: u16) -> Result<(), LocalClusterError> {
        if self.running(i)?.workers.crash(port) {
            Ok(())
        } else {
            Err(LocalClusterError::NoWorker {
                supervisor: i,
                port,
            })
        }
    }

    /// Make the worker on supervisor `i`'s `port` hang (`true`: it runs on but stops
    /// heartbeating, so its supervisor restarts it once the worker timeout passes on
    /// the clock) or recover (`false`).
    pub fn hang_worker(&self, i: usize, port: u16, hung: bool) -> Result<(), LocalClusterError> {
        if self.running(i)?.workers.hang(port, hung) {
            Ok(())
        } else {
            Err(LocalClusterError::NoWorker {
                supervisor: i,
                port,
            })
        }
    }

    /// Poll `probe` every 20 ms (real time) until it returns `Some`, at most `limit`;
    /// the error names `what` was awaited.
    pub async fn wait_until<T, F, Fut>(
        &self,
        what: &str,
        limit: Duration,
        mut probe: F,
    ) -> Result<T, LocalClusterError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let start = Instant::now();
        loop {
            if let Some(v) = probe().await {
                return Ok(v);
            }
            if start.elapsed() >= limit {
                return Err(LocalClusterError::Timeout {
                    what: what.to_string(),
                    limit,
                    last: "the probe never answered".to_string(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Poll topology `name`'s status until `done` holds (at most `limit`, real time);
    /// returns that status. On timeout the error shows the last status's workers and
    /// assignment.
    pub async fn wait_for_status(
        &self,
        name: &str,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&TopologyInfo) -> bool,
    ) -> Result<TopologyInfo, LocalClusterError> {
        let start = Instant::now();
        loop {
            let last = match self.status(name).await {
                Ok(info) if done(&info) => return Ok(info),
                Ok(info) => format!(
                    "assignment {:?}, workers {:?}",
                    info.assignment
                        .iter()
                        .map(|w| format!("{}:{}", w.supervisor, w.port))
                        .collect::<Vec<_>>(),
                    info.workers
                ),
                Err(e) => e.to_string(),
            };
            if start.elapsed() >= limit {
                return Err(LocalClusterError::Timeout {
                    what: format!("topology '{name}': {what}"),
                    limit,
                    last,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stop every supervisor (and so every worker), then nimbus; the data directories
    /// are removed.
    pub async fn shutdown(mut self) {
        for s in &mut self.supervisors {
            if let Some(h) = s.handle.take() {
                h.shutdown().await;
            }
        }
        if let Some(n) = self.nimbus.take()
            && let Err(e) = n.shutdown().await
        {
            tracing::warn!("local cluster: nimbus shutdown: {e}");
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        // Worker threads would outlive the daemons' tasks: stop them.
        for s in &self.supervisors {
            s.workers.stop_all();
        }
    }
}

/// The registry of the stock `squall` binary (the components of `squall-topologies`),
/// what most local clusters run.
pub fn stock_registry() -> Registry {
    let mut registry = Registry::new();
    squall_topologies::register(&mut registry);
    registry
}
