//! The engine of one process: the executors of its tasks on their threads, their
//! queues, the tick timer, start-up (every executor opened or prepared before any runs)
//! and bounded shutdown. Local mode runs every task in one engine; a worker process runs
//! its assigned tasks and reaches the others through remote destinations.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};

use crate::api::error::RunError;
use crate::api::ids::TaskId;
use crate::api::registry::Registry;
use crate::engine::assemble::{
    Assembly, Executor, component_config, queue_capacity, topology_info,
};
use crate::engine::executor::{Gate, TickTarget, TickTimer};
use crate::engine::run_state::RunState;
use crate::engine::stats::{ComponentReports, TaskStats, component_reports};
use crate::engine::transfer::{self, Destination, Envelope};
use crate::topology::plan::{ExecutorPlan, TaskPlan};
use crate::topology::yaml::{ComponentKind, ValidTopology};

/// How long executors get to stop before they are abandoned.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What an engine runs.
pub(crate) struct EngineSpec<'a> {
    pub(crate) topo: &'a ValidTopology,
    /// This deployment's id (see [`crate::TopologyContext::topology_id`]).
    pub(crate) topology_id: String,
    pub(crate) plan: &'a TaskPlan,
    pub(crate) registry: &'a Registry,
    /// The executors of this process.
    pub(crate) executors: Vec<ExecutorPlan>,
    /// Destinations of the tasks that run elsewhere.
    pub(crate) remote: BTreeMap<TaskId, Destination>,
    /// Record every emit (tests).
    pub(crate) capture: bool,
    /// Where Trident keeps its coordination metadata (`None`: files, local mode).
    pub(crate) trident_meta: Option<Arc<dyn crate::trident::meta::MetaStore>>,
    /// Where the topology's time comes from (components read it from their context).
    pub(crate) clock: Arc<dyn crate::engine::clock::Clock>,
}

/// A started engine.
pub(crate) struct Engine {
    pub(crate) run: Arc<RunState>,
    pub(crate) stats: Vec<Arc<TaskStats>>,
    /// Queues of the tasks of this process (to route tuples arriving from elsewhere).
    pub(crate) local: BTreeMap<TaskId, Destination>,
    pub(crate) rt: tokio::runtime::Runtime,
    /// When the executors were let go.
    pub(crate) started: Instant,
    running: Running,
}

struct Running {
    threads: Vec<(String, JoinHandle<()>)>,
    done: crossbeam_channel::Receiver<usize>,
    queues: Vec<Destination>,
    tick_stop: Option<Sender<()>>,
    tick_thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Stop every executor and wait (bounded) for their threads.
    fn stop(mut self, run: &RunState) {
        run.request_stop();
        for q in &self.queues {
            let _ = q.try_send(Envelope::Stop);
        }
        self.queues.clear();
        self.tick_stop.take();
        if let Some(t) = self.tick_thread.take() {
            let _ = t.join();
        }
        let deadline = Instant::now() + STOP_GRACE;
        let mut finished = vec![false; self.threads.len()];
        let mut left = self.threads.len();
        while left > 0 {
            match self.done.recv_deadline(deadline) {
                Ok(i) => {
                    finished[i] = true;
                    left -= 1;
                }
                Err(_) => break,
            }
        }
        for (i, (name, handle)) in self.threads.into_iter().enumerate() {
            if finished[i] {
                let _ = handle.join();
            } else {
                tracing::warn!(executor = %name, "executor did not stop within {STOP_GRACE:?}; abandoning it");
            }
        }
    }
}

/// Totals per component of `stats` (tasks that ran for `elapsed`).
pub(crate) fn reports(
    topo: &ValidTopology,
    stats: &[Arc<TaskStats>],
    elapsed: Duration,
) -> ComponentReports {
    component_reports(
        topo.components
            .iter()
            .map(|c| (c.def.id.as_str(), c.kind, c.num_tasks)),
        stats,
        elapsed,
    )
}

impl Engine {
    /// Build and start the executors of `spec`; returns once every one of them opened or
    /// prepared its tasks (or the first failure, after stopping the others).
    pub(crate) fn start(spec: EngineSpec<'_>) -> Result<Engine, RunError> {
        let EngineSpec {
            topo,
            topology_id,
            plan,
            registry,
            executors: local_executors,
            remote,
            capture,
            trident_meta,
            clock,
        } = spec;
        // The checkpoint spout never ends: a run completes when the other spouts are
        // exhausted (their trees acked, so their state committed) and nothing is queued.
        let spout_tasks: usize = local_executors
            .iter()
            .filter(|e| {
                e.component != crate::state::checkpoint::CHECKPOINT_COMPONENT
                    && topo
                        .component(&e.component)
                        .is_some_and(|c| c.kind == ComponentKind::Spout)
            })
            .map(|e| e.tasks.len())
            .sum();
        let run = Arc::new(RunState::new(spout_tasks));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("squall-async")
            .enable_all()
            .build()?;

        // One bounded queue per executor.
        let mut receivers = Vec::new();
        let mut queues = Vec::new();
        let mut task_queues = BTreeMap::new();
        for e in &local_executors {
            // System components (the acker) use the topology config.
            let config = topo
                .component(&e.component)
                .map(component_config)
                .unwrap_or_else(|| crate::Config::merged([&topo.config]));
            // Spouts park when idle and are woken by a doorbell (see `doorbell.rs`).
            let spout = topo
                .component(&e.component)
                .is_some_and(|c| c.kind == ComponentKind::Spout);
            let (dest, inbox) = if spout {
                transfer::channel_with_bell(queue_capacity(&config))
            } else {
                transfer::channel(queue_capacity(&config))
            };
            if let Some(bell) = &inbox.bell {
                run.add_bell(bell.clone());
            }
            for t in &e.tasks {
                // Each task its own blocked-time total (backpressure per task).
                task_queues.insert(*t, dest.for_task());
            }
            queues.push(dest.clone());
            receivers.push(inbox);
        }
        let local = task_queues.clone();
        let worker_tasks: Arc<[TaskId]> = task_queues.keys().copied().collect();
        for (t, d) in remote {
            task_queues.entry(t).or_insert(d);
        }
        let assembly = Assembly {
            topo,
            plan,
            registry,
            run: run.clone(),
            task_queues,
            info: topology_info(topo, topology_id, plan, trident_meta, clock),
            worker_tasks,
            capture,
        };
        let mut executors = Vec::new();
        let mut stats = Vec::new();
        for (e, rx) in local_executors.iter().zip(receivers) {
            let (exec, s) = assembly.executor(e, rx)?;
            executors.push((e, exec));
            stats.extend(s);
        }
        drop(assembly);
        // Tick targets: bolt executors whose component config asks for ticks.
        let start = Instant::now();
        let mut tick_targets = Vec::new();
        for (e, q) in local_executors.iter().zip(&queues) {
            if let Some(c) = topo.component(&e.component) {
                let freq = component_config(c).settings().tick_tuple_freq_secs;
                if let (ComponentKind::Bolt, Some(f)) = (c.kind, freq) {
                    tick_targets.push(TickTarget::new(q.clone(), f, start));
                }
            }
        }

        let gate = Arc::new(Gate::default());
        let (ready_tx, ready_rx) = bounded(executors.len().max(1));
        let (done_tx, done_rx) = bounded(executors.len().max(1));
        let mut threads = Vec::new();
        for (i, (e, exec)) in executors.into_iter().enumerate() {
            let name = format!(
                "{}-{}",
                e.component,
                e.tasks.first().map(|t| t.0).unwrap_or(0)
            );
            let (handle, ready, gate, done) = (
                rt.handle().clone(),
                ready_tx.clone(),
                gate.clone(),
                done_tx.clone(),
            );
            let thread = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    let report = ready.clone();
                    let ran =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match exec {
                            Executor::Spout(s) => s.run(handle, ready, gate),
                            Executor::Bolt(b) => b.run(handle, ready, gate),
                            Executor::Acker(a) => a.run(ready, gate),
                        }));
                    if let Err(p) = ran {
                        // A bug outside user code: make sure start-up does not wait forever.
                        let e = crate::ComponentError::from_panic(p.as_ref());
                        tracing::error!("executor thread panicked: {e}");
                        let _ = report.try_send(Err(RunError::Config(format!(
                            "executor thread panicked: {e}"
                        ))));
                    }
                    let _ = done.send(i);
                })?;
            threads.push((name, thread));
        }
        drop(ready_tx);
        let (tick_stop, tick_stop_rx) = bounded::<()>(1);
        let timer = TickTimer {
            targets: tick_targets,
            run: run.clone(),
            stop: tick_stop_rx,
        };
        let tick_thread = std::thread::Builder::new()
            .name("squall-ticks".into())
            .spawn(move || timer.run())?;
        let running = Running {
            threads,
            done: done_rx,
            queues,
            tick_stop: Some(tick_stop),
            tick_thread: Some(tick_thread),
        };

        // Wait until every executor has opened / prepared its tasks.
        let mut failure = None;
        for _ in 0..running.threads.len() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failure = Some(e);
                    break;
                }
                Err(_) => break,
            }
        }
        if let Some(e) = failure {
            gate.open(false);
            running.stop(&run);
            return Err(e);
        }
        gate.open(true);
        Ok(Engine {
            run,
            stats,
            local,
            rt,
            started: Instant::now(),
            running,
        })
    }

    /// Totals per component so far (of this process's tasks).
    pub(crate) fn reports(&self, topo: &ValidTopology) -> ComponentReports {
        reports(topo, &self.stats, self.started.elapsed())
    }

    /// Stop every executor (bounded wait) and the async runtime. The statistics keep
    /// the queue depths of the moment before.
    pub(crate) fn stop(self) -> Vec<Arc<TaskStats>> {
        for s in &self.stats {
            s.freeze_depth();
        }
        self.running.stop(&self.run);
        drop(self.rt);
        self.stats
    }
}
