//! [`LocalClusterBuilder`]: the shape and timeouts of a [`LocalCluster`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use squall_nimbus::NimbusOpts;
use squall_nimbus::validate::RegistryValidator;
use squall_runtime::Registry;
use squall_runtime::client::Nimbus;
use squall_runtime::engine::clock::{Clock, ManualClock, SystemClock};
use squall_supervisor::{InProcessLauncher, SupervisorOpts};

use super::{LocalCluster, LocalClusterError, PLACEHOLDER_ARTIFACT, Supervisor};

/// How often nimbus's monitor looks at the (manual) clock, in real time.
const MONITOR_INTERVAL: Duration = Duration::from_millis(20);
/// How long [`LocalClusterBuilder::start`] waits for every supervisor to register.
const REGISTER_LIMIT: Duration = Duration::from_secs(10);

/// Builds a [`LocalCluster`]: how many supervisors, slots, which components, which
/// timeouts (all on the cluster's manual clock).
#[derive(Debug, Clone)]
pub struct LocalClusterBuilder {
    supervisors: usize,
    slots_per_supervisor: usize,
    registry: Registry,
    supervisor_timeout: Duration,
    worker_timeout: Duration,
    worker_start_timeout: Duration,
    shutdown_grace: Duration,
}

impl Default for LocalClusterBuilder {
    fn default() -> Self {
        LocalClusterBuilder {
            supervisors: 2,
            slots_per_supervisor: 2,
            registry: Registry::new(),
            supervisor_timeout: Duration::from_secs(10),
            worker_timeout: Duration::from_secs(3600),
            worker_start_timeout: Duration::from_secs(3600),
            shutdown_grace: Duration::from_secs(3),
        }
    }
}

impl LocalClusterBuilder {
    /// Number of supervisors (default 2).
    pub fn supervisors(mut self, n: usize) -> Self {
        self.supervisors = n;
        self
    }

    /// Slots (worker ports) per supervisor (default 2).
    pub fn slots_per_supervisor(mut self, n: usize) -> Self {
        self.slots_per_supervisor = n;
        self
    }

    /// The components and topology builders the workers run and nimbus validates
    /// against (default: none; e.g. fill one with `squall_topologies::register`).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// A supervisor silent this long on the cluster's clock is dead and its workers
    /// move (nimbus's `supervisor_timeout`; default 10 s).
    pub fn supervisor_timeout(mut self, d: Duration) -> Self {
        self.supervisor_timeout = d;
        self
    }

    /// A running worker whose heartbeat did not change for this long on the clock is
    /// hung and restarted (`supervisor.worker.timeout.secs`). Default: one hour, so
    /// that advancing the clock never makes healthy workers look hung (in-process
    /// workers write their heartbeat every real second, whatever the clock says); set
    /// it shorter to test hangs.
    pub fn worker_timeout(mut self, d: Duration) -> Self {
        self.worker_timeout = d;
        self
    }

    /// A new worker gets this long on the clock for its first heartbeat (default: one
    /// hour, for the same reason as [`LocalClusterBuilder::worker_timeout`]).
    pub fn worker_start_timeout(mut self, d: Duration) -> Self {
        self.worker_start_timeout = d;
        self
    }

    /// Stop → kill delay of a worker, on the clock (default 3 s).
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.shutdown_grace = d;
        self
    }

    /// Start nimbus and the supervisors on loopback (nimbus on a free port, slots on
    /// free ports), in temporary directories, on a [`ManualClock`] starting at the
    /// current wall time; returns once every supervisor has registered. Needs a tokio
    /// runtime with the time and I/O drivers (e.g. `#[tokio::test]`).
    pub async fn start(self) -> Result<LocalCluster, LocalClusterError> {
        let start = |what: &str, e: &dyn std::fmt::Display| {
            LocalClusterError::Start(format!("{what}: {e}"))
        };
        if self.supervisors == 0 || self.slots_per_supervisor == 0 {
            return Err(LocalClusterError::Start(
                "a cluster needs at least one supervisor with at least one slot".into(),
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("squall-local-cluster-")
            .tempdir()
            .map_err(|e| start("temp dir", &e))?;
        let artifact = dir.path().join("artifact");
        std::fs::write(&artifact, PLACEHOLDER_ARTIFACT).map_err(|e| start("artifact", &e))?;
        let clock = ManualClock::shared(SystemClock.wall_millis());
        let shared: Arc<dyn Clock> = clock.clone();

        let mut nimbus_opts = NimbusOpts::new(dir.path().join("nimbus"));
        nimbus_opts.listen = ([127, 0, 0, 1], 0).into();
        nimbus_opts.supervisor_timeout = self.supervisor_timeout;
        nimbus_opts.monitor_interval = MONITOR_INTERVAL;
        nimbus_opts.validator = Some(Arc::new(RegistryValidator::new(self.registry.clone())));
        nimbus_opts.clock = shared.clone();
        let nimbus = squall_nimbus::start(nimbus_opts)
            .await
            .map_err(|e| start("nimbus", &e))?;
        // Token authentication is on, as in a real cluster: the cluster's own client is
        // the admin, each supervisor has a supervisor token of its own.
        let admin = squall_runtime::cluster::auth::credentials::read_file(
            &dir.path().join("nimbus").join(ADMIN_TOKEN_FILE),
            "the local cluster's nimbus",
        )
        .map_err(|e| start("admin token", &e))?;
        let client =
            Nimbus::new(&nimbus.url(), Some(&admin)).map_err(|e| start("nimbus client", &e))?;

        let ports = free_ports(self.supervisors * self.slots_per_supervisor)
            .map_err(|e| start("free ports", &e))?;
        let mut supervisors = Vec::new();
        for (i, slots) in ports.chunks(self.slots_per_supervisor).enumerate() {
            let mut opts = SupervisorOpts::new(
                nimbus.url(),
                dir.path().join(format!("supervisor-{i}")),
                slots.to_vec(),
            );
            // Every loop tick (100 ms real time): the clock alone judges liveness.
            opts.heartbeat_interval = Duration::ZERO;
            opts.worker_timeout = self.worker_timeout;
            opts.worker_start_timeout = self.worker_start_timeout;
            opts.shutdown_grace = self.shutdown_grace;
            opts.clock = shared.clone();
            let created = client
                .create_token(&format!("supervisor-{i}"), Role::Supervisor)
                .await
                .map_err(|e| start(&format!("supervisor #{i} token"), &e))?;
            opts.token =
                Some(Token::parse(&created.text).map_err(|e| start("supervisor token", &e))?);
            let launcher = InProcessLauncher::new(self.registry.clone()).with_clock(shared.clone());
            let workers = launcher.workers();
            let handle = squall_supervisor::start_with(opts, Box::new(launcher))
                .map_err(|e| start(&format!("supervisor #{i}"), &e))?;
            supervisors.push(Supervisor {
                id: handle.id.clone(),
                slots: slots.to_vec(),
                handle: Some(handle),
                workers,
                paused: false,
            });
        }
        let cluster = LocalCluster {
            clock,
            supervisor_timeout: self.supervisor_timeout,
            artifact,
            client,
            nimbus: Some(nimbus),
            supervisors,
            _dir: dir,
        };
        let ids: Vec<String> = cluster.supervisors.iter().map(|s| s.id.clone()).collect();
        cluster
            .wait_until("every supervisor to register", REGISTER_LIMIT, || async {
                let list = cluster.client.supervisors().await.ok()?;
                ids.iter()
                    .all(|id| list.supervisors.iter().any(|s| &s.id == id && s.alive))
                    .then_some(())
            })
            .await?;
        tracing::info!(url = %cluster.nimbus_url(), supervisors = ids.len(), "local cluster started");
        Ok(cluster)
    }
}

use squall_runtime::cluster::auth::credentials::ADMIN_TOKEN_FILE;
use squall_runtime::cluster::auth::token::{Role, Token};

/// `n` distinct loopback ports free right now (held together while picked, so they
/// differ; the OS hands out ports round-robin, so a parallel test rarely gets one).
fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let holders = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    holders
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}
