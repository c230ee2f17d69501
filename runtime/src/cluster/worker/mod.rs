//! Worker processes: a topology binary started by a supervisor as
//! `<artifact> worker --spec FILE`. A worker runs the executors nimbus assigned to its
//! slot, listens on the slot port for tuples from other workers, sends to the workers
//! that hold the other tasks, heartbeats to its supervisor (a file it rewrites every
//! second), follows the topology's activation and reports its statistics to nimbus.
//! It stops cleanly on SIGTERM.
//!
//! [`spawn_in_process`] runs the same worker on a thread of the calling process, for
//! clusters in one process (tests).

mod in_process;
pub mod log_level;
pub mod orphan;

pub use in_process::{InProcessWorker, WorkerControl, spawn_in_process, spawn_in_process_with};

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;

use crate::api::ids::TaskId;
use crate::api::registry::Registry;
use crate::cluster::auth::tls::ClientTrust;
use crate::cluster::auth::topology_secret::TopologySecret;
use crate::cluster::auth::worker_credential::WorkerCredential;
use crate::cluster::net::{Identity, Listener, NetConfig, RemoteDestination, TaskRouter};
use crate::cluster::protocol::{SlotAssignment, StatsAck, TaskStats, WorkerSpec, WorkerStats};
use crate::cluster::wire::SchemaTable;
use crate::engine::{Engine, EngineSpec};
use crate::topology::config::TOPOLOGY_STATE_DIR;
use crate::topology::plan::{ExecutorPlan, TaskPlan};
use crate::topology::yaml;
use crate::trident::meta::NimbusMetaStore;

/// Why a worker could not start.
#[derive(Debug, Error)]
pub enum WorkerError {
    /// The spec file is missing or malformed.
    #[error("worker spec {path}: {message}")]
    Spec {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The topology in the spec is invalid for this binary's components.
    #[error("topology: {0}")]
    Topology(String),
    /// The assignment does not fit the topology.
    #[error("assignment: {0}")]
    Assignment(String),
    /// Starting executors or connections failed.
    #[error("{0}")]
    Start(String),
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn resolve(loc: &str) -> Result<SocketAddr, WorkerError> {
    loc.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| WorkerError::Assignment(format!("cannot resolve worker address '{loc}'")))
}

/// This worker's executors, from the assignment's task ranges.
fn my_executors(plan: &TaskPlan, a: &SlotAssignment) -> Result<Vec<ExecutorPlan>, WorkerError> {
    let owner = plan.task_components();
    a.executors
        .iter()
        .map(|[first, last]| {
            let tasks: Vec<TaskId> = (*first..=*last).map(TaskId).collect();
            let component = owner.get(&TaskId(*first)).ok_or_else(|| {
                WorkerError::Assignment(format!("task {first} is not in the topology"))
            })?;
            if tasks.iter().any(|t| owner.get(t) != Some(component)) {
                return Err(WorkerError::Assignment(format!(
                    "executor [{first}, {last}] spans more than component '{component}'"
                )));
            }
            Ok(ExecutorPlan {
                component: component.clone(),
                tasks,
            })
        })
        .collect()
}

/// Run a worker from its spec file until SIGTERM; returns the exit code.
pub fn run(registry: &Registry, spec_path: &Path) -> i32 {
    // Dropped last: what is printed below still reaches the log files.
    let _logs = crate::cluster::logs::capture_worker(spec_path);
    match start_and_wait(registry, spec_path, None) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("worker failed: {e}");
            eprintln!("error: {e}");
            1
        }
    }
}

/// Run the worker of `spec_path` until it is told to stop: by SIGTERM for a worker
/// process (`control` is `None`), through `control` for an in-process one.
fn start_and_wait(
    registry: &Registry,
    spec_path: &Path,
    control: Option<&WorkerControl>,
) -> Result<(), WorkerError> {
    let spec_err = |message: String| WorkerError::Spec {
        path: spec_path.display().to_string(),
        message,
    };
    // The incarnation: every total reported is counted since this moment.
    let started_at_ms = unix_millis();
    let text = std::fs::read_to_string(spec_path).map_err(|e| spec_err(e.to_string()))?;
    let spec: WorkerSpec = serde_json::from_str(&text).map_err(|e| spec_err(e.to_string()))?;
    let nimbus_trust = ClientTrust::from_spec(spec.nimbus_trust.as_ref())
        .map_err(|e| spec_err(format!("trust in nimbus: {e}")))?;
    let a = &spec.assignment;
    let parsed =
        yaml::parse_str(&a.yaml, None).map_err(|e| WorkerError::Topology(e.to_string()))?;
    // A `topologySource` is built again here, as in `validate`: the registry to run with
    // is the binary's plus the builder's components.
    let (mut topo, registry) = crate::topology::source::validate(&parsed, registry)
        .map_err(|e| WorkerError::Topology(e.to_string()))?;
    if let Some(dir) = &spec.resources_dir {
        crate::cluster::resources::set_resources_dir(&mut topo, Path::new(dir), true);
    }
    if let Some(dir) = &spec.state_dir {
        let value = serde_yaml::Value::String(dir.clone());
        topo.set_config_everywhere(TOPOLOGY_STATE_DIR, value, true);
    }
    let registry = &registry;
    let plan = TaskPlan::new(&topo);
    let executors = my_executors(&plan, a)?;
    let my_task = executors
        .first()
        .and_then(|e| e.tasks.first())
        .ok_or_else(|| WorkerError::Assignment("no executors assigned".into()))?;
    let my_loc = a
        .task_locations
        .get(&my_task.0)
        .cloned()
        .unwrap_or_else(|| format!("127.0.0.1:{}", a.port));
    let my_addr = resolve(&my_loc)?;

    let schemas = Arc::new(
        SchemaTable::from_topology(&topo).map_err(|e| WorkerError::Topology(e.to_string()))?,
    );
    let secret = read_secret(&spec, spec_path)?;
    let credential = WorkerCredential::derive(&a.topology_id, &secret);
    let frame_mac = crate::cluster::auth::frame_mac::frame_mac_enabled();
    if !frame_mac {
        tracing::warn!(
            "{} is set: data frames between workers carry no MAC (benchmarks only)",
            crate::cluster::auth::frame_mac::BENCH_NO_FRAME_MAC_ENV
        );
    }
    let identity = Identity {
        topology_id: a.topology_id.clone(),
        worker_id: format!("{}:{}", spec.supervisor, a.port),
        schemas,
        secret,
        frame_mac,
    };
    let cfg = NetConfig::default();

    // One outgoing connection per other worker.
    let mut links: BTreeMap<String, RemoteDestination> = BTreeMap::new();
    let mut remote = BTreeMap::new();
    for (task, loc) in &a.task_locations {
        if *loc == my_loc {
            continue;
        }
        let task = *task;
        if !links.contains_key(loc) {
            let link = RemoteDestination::connect(resolve(loc)?, identity.clone(), cfg.clone())
                .map_err(|e| WorkerError::Start(format!("connection to {loc}: {e}")))?;
            links.insert(loc.clone(), link);
        }
        if let Some(link) = links.get(loc) {
            remote.insert(TaskId(task), link.destination());
        }
    }

    // Spouts wait until every link is up (as Storm workers do), then follow the status.
    let initially_active = a.status.spouts_run();
    let engine = Engine::start(EngineSpec {
        topo: &topo,
        topology_id: a.topology_id.clone(),
        plan: &plan,
        registry,
        executors,
        remote,
        capture: false,
        trident_meta: Some(Arc::new(
            NimbusMetaStore::new(&spec.nimbus, &a.topology, &a.topology_id)
                .with_trust(nimbus_trust.clone())
                .with_credential(credential.clone()),
        )),
        clock: control.map_or_else(crate::engine::clock::system, |c| c.clock().clone()),
    })
    .map_err(|e| WorkerError::Start(e.to_string()))?;
    engine.run.set_active(false);
    if let Some(control) = control {
        control.attach(&engine.run);
    }
    let listener = Listener::bind(
        SocketAddr::new(my_addr.ip(), a.port),
        identity,
        cfg,
        Arc::new(TaskRouter::new(engine.local.clone())),
    )
    .map_err(|e| WorkerError::Start(format!("listening on port {}: {e}", a.port)))?;
    tracing::info!(topology = %a.topology, port = a.port, "worker running; connecting to peers");
    let run = engine.run.clone();
    if control.is_none() {
        let run = run.clone();
        engine.rt.spawn(async move {
            if let Err(e) = crate::cluster::daemon::stop_signal().await {
                tracing::error!("cannot watch SIGTERM: {e}");
                return;
            }
            tracing::info!("worker told to stop");
            run.request_stop();
        });
    }
    // A worker process watches its supervisor (an in-process one lives and dies with it).
    let heartbeat = Path::new(&spec.heartbeat_file).to_path_buf();
    let mut supervisor = supervisor_watch(&spec, &heartbeat).filter(|_| control.is_none());
    let mut orphaned = |run: &crate::engine::run_state::RunState| {
        let why = supervisor.as_mut()?.check(std::time::Instant::now())?;
        tracing::warn!("worker exiting by itself: {why}");
        run.request_stop();
        Some(())
    };
    for link in links.values() {
        while !link.wait_connected(Duration::from_secs(1)) {
            if engine.run.stopping() || orphaned(&engine.run).is_some() {
                break;
            }
            tracing::info!(peer = %link.peer(), "waiting for the link to {}", link.peer());
        }
    }
    engine.run.set_active(initially_active);

    engine.rt.spawn(report_loop(
        spec.clone(),
        credential,
        run.clone(),
        engine.stats.clone(),
        started_at_ms,
        control.is_none(),
    ));

    // Heartbeat to the supervisor until told to stop.
    while !run.stopping() {
        if orphaned(&run).is_some() {
            break;
        }
        if control.is_some_and(WorkerControl::heartbeats_paused) {
            run.wait(std::time::Instant::now() + Duration::from_secs(1));
            continue;
        }
        let tmp = heartbeat.with_extension("tmp");
        if std::fs::write(&tmp, unix_millis().to_string())
            .and_then(|_| std::fs::rename(&tmp, &heartbeat))
            .is_err()
        {
            tracing::warn!(file = %heartbeat.display(), "cannot write the heartbeat");
        }
        run.wait(std::time::Instant::now() + Duration::from_secs(1));
    }
    // Executors first: a listener thread blocked on a full executor queue is freed when
    // the queue closes.
    engine.stop();
    let received = listener.stats();
    listener.shutdown();
    tracing::info!(?received, "worker stopped; incoming connections");
    for (_, link) in links {
        let (peer, sent) = (link.peer(), link.stats());
        link.shutdown();
        tracing::info!(%peer, ?sent, "link closed");
    }
    Ok(())
}

/// The topology secret of the worker of `spec` (the file its supervisor wrote).
fn read_secret(spec: &WorkerSpec, spec_path: &Path) -> Result<TopologySecret, WorkerError> {
    let file = spec
        .topology_secret_file
        .as_deref()
        .ok_or_else(|| WorkerError::Spec {
            path: spec_path.display().to_string(),
            message: "no `topology_secret_file`: this worker needs its topology's secret \
                      (a supervisor of this version writes it)"
                .into(),
        })?;
    TopologySecret::read_file(Path::new(file)).map_err(|e| WorkerError::Spec {
        path: spec_path.display().to_string(),
        message: e.to_string(),
    })
}

/// The watch of the supervisor that started the worker of `spec`, if the spec names its
/// lock file.
fn supervisor_watch(spec: &WorkerSpec, heartbeat: &Path) -> Option<orphan::SupervisorWatch> {
    let lock = spec.supervisor_lock.as_ref()?;
    let grace = spec.orphan_grace_ms.map_or_else(
        || {
            crate::cluster::daemon::SupervisorConfig::default()
                .worker_orphan_grace
                .duration()
        },
        Duration::from_millis,
    );
    let dir = heartbeat.parent()?.to_path_buf();
    Some(orphan::SupervisorWatch::new(lock.into(), dir, grace))
}

/// Every second: report this worker's task counters to nimbus and follow the topology's
/// status from the answer; with `exit_unassigned`, stop the worker once nimbus has said
/// long enough that it is no longer assigned (see [`orphan::AssignmentWatch`]).
async fn report_loop(
    spec: WorkerSpec,
    credential: WorkerCredential,
    run: Arc<crate::engine::run_state::RunState>,
    stats: Vec<Arc<crate::engine::stats::TaskStats>>,
    started_at_ms: u64,
    exit_unassigned: bool,
) {
    let trust = match ClientTrust::from_spec(spec.nimbus_trust.as_ref()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("cannot report to nimbus: {e}");
            return;
        }
    };
    // The credential goes on each request (`send_stats`), not into the client, and
    // never in clear off loopback.
    if let Err(e) = crate::cluster::auth::tls::check_cleartext(&spec.nimbus, true) {
        tracing::error!("cannot report to nimbus: {e}");
        return;
    }
    let http = match crate::cluster::http::client(Duration::from_secs(5), None, &trust) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("cannot report to nimbus: http client: {e}");
            return;
        }
    };
    let a = &spec.assignment;
    let url = format!(
        "{}/api/v1/topologies/{}/stats",
        spec.nimbus.trim_end_matches('/'),
        a.topology
    );
    let mut assignment = orphan::AssignmentWatch::default();
    // The last reporting error, logged at warn when it first appears (a refused
    // certificate pin, say, must not hide at debug), at debug while it repeats.
    let mut failing: Option<String> = None;
    // The log filter nimbus sets (`squall set-log-level`), expired here too.
    let mut log_filter = log_level::Follower::new();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if run.stopping() {
            return;
        }
        if let Some(change) = log_filter.tick(unix_millis()) {
            log_level::apply(&change);
        }
        let report = WorkerStats {
            topology_id: a.topology_id.clone(),
            supervisor: spec.supervisor.clone(),
            port: a.port,
            tasks: stats.iter().map(|s| task_stats(s)).collect(),
            started_at_ms,
        };
        let answer = match send_stats(&http, &url, &credential, &report).await {
            Ok(ack) => {
                if failing.take().is_some() {
                    tracing::info!("reporting stats to nimbus works again");
                }
                run.set_active(ack.status.spouts_run());
                if let Some(change) = log_filter.follow(ack.log_filter.as_ref(), unix_millis()) {
                    log_level::apply(&change);
                }
                orphan::NimbusAnswer::Assigned
            }
            Err(StatsRefused::NotAssigned(why)) => orphan::NimbusAnswer::NotAssigned(why),
            Err(StatsRefused::Other(e)) => {
                if failing.as_deref() == Some(e.as_str()) {
                    tracing::debug!("reporting stats: {e}");
                } else {
                    tracing::warn!("cannot report stats to nimbus: {e}");
                    failing = Some(e);
                }
                orphan::NimbusAnswer::Unknown
            }
        };
        if !exit_unassigned {
            continue;
        }
        if let Some(why) = assignment.observe(answer, std::time::Instant::now()) {
            tracing::warn!("worker exiting by itself: {why}");
            run.request_stop();
            return;
        }
    }
}

/// Why a stats report got no [`StatsAck`].
enum StatsRefused {
    /// Nimbus itself (its protocol header on the answer) said `not_assigned`.
    NotAssigned(String),
    /// Anything else: no answer, another refusal, a body that does not parse.
    Other(String),
}

/// The most of an error answer's body read.
const MAX_ERROR_BODY: usize = 64 * 1024;

async fn send_stats(
    http: &reqwest::Client,
    url: &str,
    credential: &WorkerCredential,
    report: &WorkerStats,
) -> Result<StatsAck, StatsRefused> {
    let other = |e: String| StatsRefused::Other(e);
    let resp = http
        .post(url)
        .header(reqwest::header::AUTHORIZATION, credential.header_value())
        .json(report)
        .send()
        .await
        .map_err(|e| other(e.to_string()))?;
    crate::cluster::http::check_answer(&resp).map_err(|e| other(e.to_string()))?;
    let from_nimbus = resp
        .headers()
        .contains_key(crate::cluster::protocol::VERSION_HEADER);
    let status = resp.status();
    if !status.is_success() {
        let body = read_capped(resp, MAX_ERROR_BODY).await;
        if from_nimbus
            && let Ok(e) = serde_json::from_slice::<crate::cluster::protocol::ErrorBody>(&body)
            && e.code == Some(crate::cluster::protocol::ErrorCode::NotAssigned)
        {
            return Err(StatsRefused::NotAssigned(e.error));
        }
        // Nimbus no longer takes this worker's credential: its topology's secret was
        // rotated (a supervisor was revoked) or the topology is gone. Its supervisor
        // replaces it with a worker holding the new secret, or is gone itself.
        if from_nimbus && status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(StatsRefused::NotAssigned(
                "nimbus no longer accepts this worker's credential (its topology's secret \
                 was rotated, or the topology is gone)"
                    .to_string(),
            ));
        }
        let body = String::from_utf8_lossy(&body);
        return Err(other(format!("nimbus answered {status}: {body}")));
    }
    resp.json::<StatsAck>()
        .await
        .map_err(|e| other(e.to_string()))
}

/// At most `max` bytes of an answer's body (what a read error leaves out is lost).
async fn read_capped(mut resp: reqwest::Response, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = max.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= max {
            break;
        }
    }
    out
}

/// One task's published statistics as the protocol reports them (totals since the
/// worker started; see `engine::stats`).
fn task_stats(s: &crate::engine::stats::TaskStats) -> TaskStats {
    s.report()
}
