//! What a task knows about its place in the topology.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::api::ids::TaskId;
use crate::api::tuple::Fields;
use crate::engine::clock::Clock;
use crate::engine::doorbell::Doorbell;
use crate::engine::metrics::{Counter, Gauge, MetricHistogram, MetricsRegistry};
use crate::engine::transfer::{Destination, Envelope};
use crate::topology::config::Config;
use crate::topology::yaml::Subscription;
use crate::trident::meta::MetaStore;

/// Topology-wide facts shared by every task's context.
#[derive(Debug)]
pub(crate) struct TopologyInfo {
    pub(crate) name: String,
    /// This deployment's id (Storm's storm id).
    pub(crate) id: String,
    /// Component id -> its task ids, sorted.
    pub(crate) component_tasks: BTreeMap<String, Vec<TaskId>>,
    /// Component id -> stream id -> fields.
    pub(crate) streams: BTreeMap<String, BTreeMap<String, Fields>>,
    /// Task -> component id.
    pub(crate) task_component: BTreeMap<TaskId, String>,
    /// Every subscription, in file order.
    pub(crate) subscriptions: Vec<Subscription>,
    /// Where Trident's coordination metadata lives (a worker: nimbus).
    pub(crate) trident_meta: Option<Arc<dyn MetaStore>>,
    /// Where time comes from (the system's; a test harness's manual clock).
    pub(crate) clock: Arc<dyn Clock>,
}

/// Wakes a bolt's or a spout's executor from another thread. For a bolt: soon after
/// [`Waker::wake`], the executor calls [`crate::Bolt::wake`] on each of its tasks (with
/// their collectors), between two input batches or at once if it is idle. For bolts whose
/// work arrives from their own threads (a multi-lang subprocess's emits and acks, a
/// client's callbacks). For a spout: an idle spout waits longer and longer between
/// `next_tuple` calls (up to `topology.spout.wait.max.millis`); a wake ends the wait, so
/// a spout whose data arrives on its own thread emits it at once.
///
/// Wakes are coalesced: many calls before the executor gets to it make one round of
/// `Bolt::wake` calls. A wake is never lost: if the executor's queue is full, it is busy
/// and checks the wake flag after its current batch.
#[derive(Debug, Clone)]
pub struct Waker {
    flag: Arc<AtomicBool>,
    queue: Destination,
    /// The executor's doorbell, when it parks on one (a spout).
    bell: Option<Arc<Doorbell>>,
}

impl Waker {
    /// A waker setting `flag` and sending to the executor queue of `own`.
    pub(crate) fn new(flag: Arc<AtomicBool>, own: &Destination) -> Waker {
        Waker {
            flag,
            queue: own.clone(),
            bell: own.bell.clone(),
        }
    }

    /// Ask the executor to call `Bolt::wake` (a bolt's) or `next_tuple` (a spout's) soon.
    /// Never blocks.
    #[inline]
    pub fn wake(&self) {
        if !self.flag.swap(true, Ordering::AcqRel) {
            // Full: the executor is busy and sees the flag after its current batch (a
            // spout: before its next idle wait).
            let _ = self.queue.try_send(Envelope::Wake);
        }
        // A parked spout checks the flag when rung (even if the queue was full).
        if let Some(bell) = &self.bell {
            bell.ring();
        }
    }
}

/// The context handed to `open` / `prepare`: this task, its component, the tasks of every
/// component, the merged configuration, and the task's user metrics.
#[derive(Debug, Clone)]
pub struct TopologyContext {
    info: Arc<TopologyInfo>,
    task: TaskId,
    component: String,
    config: Config,
    worker_tasks: Arc<[TaskId]>,
    waker: Option<Waker>,
    metrics: Arc<MetricsRegistry>,
}

impl TopologyContext {
    pub(crate) fn new(
        info: Arc<TopologyInfo>,
        task: TaskId,
        component: String,
        config: Config,
        worker_tasks: Arc<[TaskId]>,
    ) -> TopologyContext {
        let metrics = Arc::new(MetricsRegistry::new(format!("{component}:{task}")));
        TopologyContext {
            info,
            task,
            component,
            config,
            worker_tasks,
            waker: None,
            metrics,
        }
    }

    /// This context with the task's user metrics registry (the one its statistics
    /// report).
    pub(crate) fn with_metrics(mut self, metrics: Arc<MetricsRegistry>) -> TopologyContext {
        self.metrics = metrics;
        self
    }

    /// This context with the waker of its bolt executor.
    pub(crate) fn with_waker(mut self, waker: Waker) -> TopologyContext {
        self.waker = Some(waker);
        self
    }

    /// Topology name.
    pub fn topology_name(&self) -> &str {
        &self.info.name
    }

    /// This deployment's id (Storm's `getStormId`): in a cluster, the id nimbus gave the
    /// submission (`name-N-timestamp`, new for every submission, the same in every
    /// worker and after a worker restart); in local mode the topology config's
    /// `storm.id` when set, else `name-local-<unix ms>` (a new deployment per run).
    /// Connectors tell "this deployment's own earlier state" from another's with it
    /// (the Kafka spout's commit metadata).
    pub fn topology_id(&self) -> &str {
        &self.info.id
    }

    /// This task's id.
    pub fn this_task(&self) -> TaskId {
        self.task
    }

    /// This task's component id.
    pub fn this_component(&self) -> &str {
        &self.component
    }

    /// Index of this task among its component's tasks (0-based).
    pub fn this_task_index(&self) -> usize {
        self.component_tasks(&self.component)
            .iter()
            .position(|t| *t == self.task)
            .unwrap_or(0)
    }

    /// The sorted task ids of a component (empty for an unknown id).
    pub fn component_tasks(&self, component: &str) -> &[TaskId] {
        self.info
            .component_tasks
            .get(component)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every component id, sorted.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.info.component_tasks.keys().map(String::as_str)
    }

    /// The component a task belongs to.
    pub fn component_of(&self, task: TaskId) -> Option<&str> {
        self.info.task_component.get(&task).map(String::as_str)
    }

    /// Output fields of `component` on `stream`.
    pub fn output_fields(&self, component: &str, stream: &str) -> Option<&Fields> {
        self.info.streams.get(component)?.get(stream)
    }

    /// Every output stream of `component` with its fields, sorted by stream id.
    pub fn output_streams(&self, component: &str) -> impl Iterator<Item = (&str, &Fields)> {
        self.info
            .streams
            .get(component)
            .into_iter()
            .flatten()
            .map(|(s, f)| (s.as_str(), f))
    }

    /// Tasks running in this worker process (all tasks in local mode).
    pub fn worker_tasks(&self) -> &[TaskId] {
        &self.worker_tasks
    }

    /// This component's merged configuration (defaults < topology < component).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every subscription of the topology (who reads which stream of whom, and how):
    /// Storm's `getSources` / `getTargets`.
    pub fn subscriptions(&self) -> &[Subscription] {
        &self.info.subscriptions
    }

    /// Where Trident's coordination metadata (the master coordinator's commit log, the
    /// spouts' batch offsets) is kept: nimbus's durable store in a cluster worker, so
    /// that it survives the coordinator moving to another supervisor; `None` in local
    /// mode, where Trident falls back to the files its topology names.
    pub fn trident_meta(&self) -> Option<&Arc<dyn MetaStore>> {
        self.info.trident_meta.as_ref()
    }

    /// Where this topology's timing comes from: the system clock, or the manual clock of
    /// a test harness (`squall::LocalCluster`). Components that schedule by time (Trident's
    /// batch emit interval) read it here, so a harness can drive them deterministically.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.info.clock
    }

    /// A handle that wakes this task's executor: a bolt's calls [`crate::Bolt::wake`], a
    /// spout's ends its idle wait and calls `next_tuple` (see [`Waker`]). `None` outside
    /// a running topology.
    pub fn waker(&self) -> Option<Waker> {
        self.waker.clone()
    }

    /// The counter `name` of this task, registered on first use (asking again returns
    /// the same counter). Reported with the task's statistics as a total since the
    /// worker started. Get the handle once (in `open`/`prepare`) and keep it: `inc`
    /// and `add` are one atomic addition.
    ///
    /// A name must be 1 to [`MAX_METRIC_NAME_CHARS`](crate::cluster::protocol::stats::MAX_METRIC_NAME_CHARS)
    /// characters of `A-Z a-z 0-9 _ . : -`, and a task has at most
    /// [`MAX_USER_METRICS_PER_TASK`](crate::cluster::protocol::stats::MAX_USER_METRICS_PER_TASK)
    /// metrics: an invalid name, one over the cap or one registered as another kind
    /// gets a handle that records nothing, and an error is logged.
    ///
    /// ```no_run
    /// # use squall_runtime::TopologyContext;
    /// # fn prepare(ctx: &TopologyContext) {
    /// let words = ctx.counter("words.seen");
    /// words.inc();
    /// ctx.gauge("cache.size").set(42.0);
    /// ctx.histogram("batch.bytes").record(1500);
    /// # }
    /// ```
    pub fn counter(&self, name: &str) -> Counter {
        self.metrics.counter(name)
    }

    /// The gauge `name` of this task (the latest value set is reported); see
    /// [`TopologyContext::counter`] for names and limits.
    pub fn gauge(&self, name: &str) -> Gauge {
        self.metrics.gauge(name)
    }

    /// The histogram `name` of this task (every value recorded, reported with
    /// percentiles); see [`TopologyContext::counter`] for names and limits.
    pub fn histogram(&self, name: &str) -> MetricHistogram {
        self.metrics.histogram(name)
    }

    /// A handle on this task's user metrics registry, for registering metrics after
    /// `open`/`prepare` (once their names are known) or from a helper thread; the same
    /// names and limits as [`TopologyContext::counter`].
    pub fn metrics_registry(&self) -> Arc<MetricsRegistry> {
        self.metrics.clone()
    }

    /// This task's user metrics registry.
    pub(crate) fn metrics(&self) -> &Arc<MetricsRegistry> {
        &self.metrics
    }
}
