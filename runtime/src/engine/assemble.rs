//! Assembling executors: component instances from the registry, their contexts,
//! collectors with groupers for every subscription, and the queues that connect them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::api::collector::{BoltCollector, Emitter, OutStream, SpoutCollector};
use crate::api::context::{TopologyContext, TopologyInfo, Waker};
use crate::api::error::RunError;
use crate::api::ids::TaskId;
use crate::api::registry::{ComponentArgs, Registry};
use crate::api::tuple::{Fields, StreamSchema};
use crate::engine::acking::AckerState;
use crate::engine::executor::{AckerExecutor, BoltExecutor, BoltTask, SpoutExecutor, SpoutTask};
use crate::engine::grouping::Grouper;
use crate::engine::metrics::inputs::InputTracker;
use crate::engine::run_state::RunState;
use crate::engine::stats::{QueueGauge, StatsLayout, StreamCounts, TaskStats};
use crate::engine::transfer::{Destination, Inbox, Outbox};
use crate::topology::config::Config;
use crate::topology::plan::{ExecutorPlan, TaskPlan};
use crate::topology::yaml::{ComponentKind, Grouping, ValidComponent, ValidTopology};

/// An executor ready to be started on its own thread.
pub(crate) enum Executor {
    Spout(SpoutExecutor),
    Bolt(BoltExecutor),
    Acker(AckerExecutor),
}

/// Everything the executors of one process share while being assembled.
pub(crate) struct Assembly<'a> {
    pub(crate) topo: &'a ValidTopology,
    pub(crate) plan: &'a TaskPlan,
    pub(crate) registry: &'a Registry,
    pub(crate) run: Arc<RunState>,
    /// Queue of the executor running each task.
    pub(crate) task_queues: BTreeMap<TaskId, Destination>,
    pub(crate) info: Arc<TopologyInfo>,
    pub(crate) worker_tasks: Arc<[TaskId]>,
    pub(crate) capture: bool,
}

/// Per-component merged config (defaults < topology < component).
pub(crate) fn component_config(c: &ValidComponent) -> Config {
    Config::merged([&c.config])
}

/// Capacity of an executor queue in tuples: `topology.executor.receive.buffer.size`
/// (the queue counts tuples, not batches; see `engine::queue`).
pub(crate) fn queue_capacity(config: &Config) -> usize {
    config.settings().receive_buffer_size.max(1)
}

/// The shared topology facts every context refers to.
pub(crate) fn topology_info(
    topo: &ValidTopology,
    id: String,
    plan: &TaskPlan,
    trident_meta: Option<Arc<dyn crate::trident::meta::MetaStore>>,
    clock: Arc<dyn crate::engine::clock::Clock>,
) -> Arc<TopologyInfo> {
    Arc::new(TopologyInfo {
        name: topo.name.clone(),
        id,
        component_tasks: plan.component_tasks.clone(),
        streams: topo
            .components
            .iter()
            .map(|c| {
                let streams = c
                    .streams
                    .iter()
                    .map(|s| (s.id.clone(), Fields::new(s.fields.iter().cloned())))
                    .collect();
                (c.def.id.clone(), streams)
            })
            .collect(),
        task_component: plan.task_components(),
        subscriptions: topo.subscriptions.clone(),
        trident_meta,
        clock,
    })
}

impl Assembly<'_> {
    fn component(&self, id: &str) -> Result<&ValidComponent, RunError> {
        self.topo
            .component(id)
            .ok_or_else(|| RunError::Config(format!("executor for unknown component '{id}'")))
    }

    /// The output streams of one task of `c`, with a grouper per subscription.
    fn out_streams(&self, c: &ValidComponent, task: TaskId) -> Vec<OutStream> {
        let is_local = |t: TaskId| self.worker_tasks.binary_search(&t).is_ok();
        c.streams
            .iter()
            .map(|decl| {
                let schema = StreamSchema::intern(
                    &c.def.id,
                    &decl.id,
                    &Fields::new(decl.fields.iter().cloned()),
                );
                let mut groupers = Vec::new();
                let mut direct_targets = Vec::new();
                for (k, sub) in self.topo.subscriptions.iter().enumerate() {
                    if sub.from != c.def.id || sub.stream != decl.id {
                        continue;
                    }
                    let targets = self
                        .plan
                        .component_tasks
                        .get(&sub.to)
                        .cloned()
                        .unwrap_or_default();
                    if sub.grouping == Grouping::Direct {
                        direct_targets.extend(targets);
                    } else {
                        let seed = (u64::from(task.0) << 32) ^ k as u64;
                        groupers.push(Grouper::new(&sub.grouping, targets, is_local, seed));
                    }
                }
                OutStream {
                    schema,
                    direct: decl.direct,
                    groupers,
                    direct_targets,
                    counts: StreamCounts::default(),
                }
            })
            .collect()
    }

    /// The inputs (source component, stream) of bolt `c`, in subscription order; the
    /// tick stream last when it has ticks.
    fn inputs(&self, c: &ValidComponent, config: &Config) -> Vec<(String, String)> {
        let mut inputs: Vec<(String, String)> = Vec::new();
        for sub in self.topo.subscriptions.iter().filter(|s| s.to == c.def.id) {
            if !inputs
                .iter()
                .any(|(f, s)| *f == sub.from && *s == sub.stream)
            {
                inputs.push((sub.from.clone(), sub.stream.clone()));
            }
        }
        if config.settings().tick_tuple_freq_secs.is_some() {
            inputs.push((
                crate::SYSTEM_COMPONENT.to_string(),
                crate::TICK_STREAM.to_string(),
            ));
        }
        inputs
    }

    /// The statistics of `task` (of `component`), with these output streams and inputs.
    fn task_stats(
        &self,
        task: TaskId,
        component: &str,
        outputs: Vec<String>,
        inputs: Vec<(String, String)>,
    ) -> Arc<TaskStats> {
        let own = self.task_queues.get(&task);
        let layout = StatsLayout {
            outputs,
            inputs,
            queue: own.map(|d| QueueGauge {
                occupancy: d.occupancy().clone(),
            }),
            upstream_blocked: own.map(|d| d.blocked.clone()).unwrap_or_default(),
        };
        Arc::new(TaskStats::with_layout(task, component, layout))
    }

    fn emitter(
        &self,
        c: &ValidComponent,
        task: TaskId,
        config: &Config,
        inputs: Vec<(String, String)>,
    ) -> (Emitter, Arc<TaskStats>) {
        let streams = self.out_streams(c, task);
        let mut dests: Vec<TaskId> = streams
            .iter()
            .flat_map(|s| {
                s.groupers
                    .iter()
                    .flat_map(|g| g.targets().iter().copied())
                    .chain(s.direct_targets.iter().copied())
            })
            .collect();
        dests.sort_unstable();
        dests.dedup();
        let settings = config.settings();
        let mut outbox = Outbox::new(
            dests
                .into_iter()
                .filter_map(|t| self.task_queues.get(&t).map(|q| (t, q.clone()))),
            self.acker_destinations(),
            if settings.batch_flush_interval_millis == 0 {
                1
            } else {
                settings.producer_batch_size
            },
            self.run.clone(),
        );
        outbox.send_when_idle(settings.batch_flush_when_idle);
        let outputs = streams.iter().map(|s| s.schema.stream.clone()).collect();
        let stats = self.task_stats(task, &c.def.id, outputs, inputs);
        let em = Emitter::new(
            task,
            streams,
            outbox,
            stats.clone(),
            self.capture,
            settings.debug,
        );
        (em, stats)
    }

    fn acker_destinations(&self) -> Vec<(TaskId, Destination)> {
        self.plan
            .acker_tasks()
            .iter()
            .filter_map(|t| self.task_queues.get(t).map(|d| (*t, d.clone())))
            .collect()
    }

    /// The acker executor for `plan` (one task) and its statistics.
    fn acker(&self, plan: &ExecutorPlan, inbox: Inbox) -> (Executor, Arc<TaskStats>) {
        let settings = Config::merged([&self.topo.config]).settings();
        let spouts = self
            .topo
            .components
            .iter()
            .filter(|c| c.kind == ComponentKind::Spout)
            .flat_map(|c| {
                self.plan
                    .component_tasks
                    .get(&c.def.id)
                    .into_iter()
                    .flatten()
            })
            .filter_map(|t| self.task_queues.get(t).map(|d| (*t, d.clone())))
            .collect();
        let task = plan.tasks.first().copied().unwrap_or(TaskId(0));
        let stats = self.task_stats(task, crate::ACKER_COMPONENT, vec![], vec![]);
        let exec = Executor::Acker(AckerExecutor {
            task,
            stats: stats.clone(),
            state: AckerState::default(),
            inbox,
            spouts,
            run: self.run.clone(),
            timeout: settings
                .enable_message_timeouts
                .then(|| Duration::from_secs(settings.message_timeout_secs)),
            flush_every: Duration::from_millis(settings.batch_flush_interval_millis),
        });
        (exec, stats)
    }

    /// Build one executor and the statistics handles of its tasks.
    pub(crate) fn executor(
        &self,
        plan: &ExecutorPlan,
        inbox: Inbox,
    ) -> Result<(Executor, Vec<Arc<TaskStats>>), RunError> {
        if plan.component == crate::ACKER_COMPONENT {
            let (exec, stats) = self.acker(plan, inbox);
            return Ok((exec, vec![stats]));
        }
        let c = self.component(&plan.component)?;
        let config = component_config(c);
        let settings = config.settings();
        let acking = !self.plan.acker_tasks().is_empty();
        let flush_every = Duration::from_millis(settings.batch_flush_interval_millis);
        let args = ComponentArgs::new(&c.def.id, &c.def.constructor_args, &config);
        let factory_err = |source| RunError::Factory {
            component: c.def.id.clone(),
            source,
        };
        let mut all_stats = Vec::new();
        let ctx = |task| {
            TopologyContext::new(
                self.info.clone(),
                task,
                c.def.id.clone(),
                config.clone(),
                self.worker_tasks.clone(),
            )
        };
        let exec = match c.kind {
            ComponentKind::Spout => {
                let mut tasks = Vec::new();
                let wake = Arc::new(std::sync::atomic::AtomicBool::new(false));
                for &id in &plan.tasks {
                    let spout = self
                        .registry
                        .create_spout(&c.def.class_name, &args)
                        .map_err(factory_err)?;
                    let (mut em, stats) = self.emitter(c, id, &config, vec![]);
                    em.outbox.drain_while_blocked(inbox.drain());
                    let mut task_ctx = ctx(id).with_metrics(stats.metrics.clone());
                    all_stats.push(stats);
                    if let Some(own) = self.task_queues.get(&id) {
                        task_ctx = task_ctx.with_waker(Waker::new(wake.clone(), own));
                    }
                    tasks.push(SpoutTask {
                        id,
                        spout,
                        collector: SpoutCollector::new(em, settings.stats_sample_rate),
                        ctx: task_ctx,
                        exhausted: false,
                    });
                }
                Executor::Spout(SpoutExecutor {
                    tasks,
                    inbox,
                    run: self.run.clone(),
                    flush_every,
                    max_pending: settings.max_spout_pending.unwrap_or(usize::MAX),
                    timeout: (acking && settings.enable_message_timeouts)
                        .then(|| Duration::from_secs(settings.message_timeout_secs)),
                    wait_max: Duration::from_millis(settings.spout_wait_max_millis),
                    wake,
                })
            }
            ComponentKind::Bolt => {
                let mut tasks = Vec::new();
                let wake = Arc::new(std::sync::atomic::AtomicBool::new(false));
                for &id in &plan.tasks {
                    let bolt = self
                        .registry
                        .create_bolt(&c.def.class_name, &args)
                        .map_err(factory_err)?;
                    let inputs = self.inputs(c, &config);
                    let (em, stats) = self.emitter(c, id, &config, inputs.clone());
                    let mut task_ctx = ctx(id).with_metrics(stats.metrics.clone());
                    all_stats.push(stats);
                    let tracker = InputTracker::new(inputs, settings.stats_sample_rate, id.0);
                    if let Some(own) = self.task_queues.get(&id) {
                        task_ctx = task_ctx.with_waker(Waker::new(wake.clone(), own));
                    }
                    tasks.push(BoltTask {
                        id,
                        bolt,
                        collector: BoltCollector::new(em, tracker),
                        ctx: task_ctx,
                    });
                }
                Executor::Bolt(BoltExecutor {
                    tasks,
                    inbox,
                    run: self.run.clone(),
                    flush_every,
                    wake,
                })
            }
        };
        Ok((exec, all_stats))
    }
}
