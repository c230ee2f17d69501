//! Local mode: the whole topology in this process, one thread per executor, until a
//! duration ends or every spout is exhausted and every tuple processed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::api::error::RunError;
use crate::api::registry::Registry;
use crate::api::tuple::Values;
use crate::engine::stats::{ComponentReports, TaskStats};
use crate::engine::{Engine, EngineSpec, reports};
use crate::topology::plan::TaskPlan;
use crate::topology::yaml::ValidTopology;

/// Called about once a second with the totals so far and the time since start.
pub type ProgressFn<'a> = Box<dyn FnMut(&ComponentReports, Duration) + 'a>;

/// Options of a local run.
#[derive(Default)]
pub struct LocalOptions<'a> {
    /// Stop after this long; `None`: only when the topology completes.
    pub duration: Option<Duration>,
    /// Record every emitted tuple (for tests; costs a clone per emit).
    pub capture: bool,
    /// Progress callback (the CLI's live line).
    pub progress: Option<ProgressFn<'a>>,
    /// Stop (and report) on Ctrl-C / SIGINT instead of dying.
    pub stop_on_interrupt: bool,
}

/// What a local run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Topology name.
    pub topology: String,
    /// Totals per component id.
    pub components: ComponentReports,
    /// Wall time from start (after every component was opened) to stop.
    pub elapsed_secs: f64,
    /// Whether every spout was exhausted and every tuple processed.
    pub completed: bool,
    /// Emitted values per component and stream, when capturing.
    #[serde(skip)]
    pub captured: BTreeMap<String, BTreeMap<String, Vec<Values>>>,
}

impl RunReport {
    /// Values emitted by `component` on `stream` (empty if none or not capturing).
    pub fn emitted(&self, component: &str, stream: &str) -> &[Values] {
        self.captured
            .get(component)
            .and_then(|s| s.get(stream))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Run `topo` in this process. Returns the totals per component; with
/// `options.capture`, also every emitted tuple.
pub fn run_local(
    registry: &Registry,
    topo: &ValidTopology,
    options: LocalOptions<'_>,
) -> Result<RunReport, RunError> {
    run_local_with_stats(registry, topo, options).map(|(report, _)| report)
}

/// The deployment id of a local run: the topology config's `storm.id` when set (a test
/// that restarts a topology as the same deployment sets it), else `name-local-<unix ms>`.
fn local_topology_id(topo: &ValidTopology) -> String {
    if let Some(id) = topo
        .config
        .get(STORM_ID)
        .and_then(serde_yaml::Value::as_str)
    {
        return id.to_string();
    }
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{}-local-{ms}", topo.name)
}

/// The config key naming a local run's deployment id (Storm's `storm.id`).
pub const STORM_ID: &str = "storm.id";

/// [`run_local`], also returning every task's statistics (what a worker would report).
pub(crate) fn run_local_with_stats(
    registry: &Registry,
    topo: &ValidTopology,
    mut options: LocalOptions<'_>,
) -> Result<(RunReport, Vec<Arc<TaskStats>>), RunError> {
    let plan = TaskPlan::new(topo);
    let engine = Engine::start(EngineSpec {
        topo,
        topology_id: local_topology_id(topo),
        plan: &plan,
        registry,
        executors: plan.executors.clone(),
        remote: BTreeMap::new(),
        capture: options.capture,
        trident_meta: None,
        clock: crate::engine::clock::system(),
    })?;
    let run = engine.run.clone();

    let start = Instant::now();
    let deadline = options.duration.map(|d| start + d);
    let mut next_progress = start + Duration::from_secs(1);
    if options.stop_on_interrupt {
        let run = run.clone();
        engine.rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("interrupted: stopping");
                run.request_stop();
            }
        });
    }
    let completed = loop {
        if run.complete() {
            break true;
        }
        let now = Instant::now();
        if run.stopping() || deadline.is_some_and(|d| now >= d) {
            break false;
        }
        if now >= next_progress {
            if let Some(p) = options.progress.as_mut() {
                p(&engine.reports(topo), now - start);
            }
            next_progress += Duration::from_secs(1);
        }
        let until = deadline.map_or(next_progress, |d| d.min(next_progress));
        run.wait(until);
    };
    let elapsed = start.elapsed();
    let ran = engine.started.elapsed();
    let stats = engine.stop();

    let mut captured: BTreeMap<String, BTreeMap<String, Vec<Values>>> = BTreeMap::new();
    if options.capture {
        for s in &stats {
            let mut cap = s.captured.lock().unwrap_or_else(|p| p.into_inner());
            for (stream, values) in cap.drain(..) {
                captured
                    .entry(s.component.clone())
                    .or_default()
                    .entry(stream)
                    .or_default()
                    .push(values);
            }
        }
    }
    let report = RunReport {
        topology: topo.name.clone(),
        components: reports(topo, &stats, ran),
        elapsed_secs: elapsed.as_secs_f64(),
        completed,
        captured,
    };
    Ok((report, stats))
}
