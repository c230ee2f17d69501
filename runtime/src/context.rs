//! What a task knows about its place in the topology.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::Config;
use crate::ids::TaskId;
use crate::tuple::Fields;

/// Topology-wide facts shared by every task's context.
#[derive(Debug)]
pub(crate) struct TopologyInfo {
    pub(crate) name: String,
    /// Component id -> its task ids, sorted.
    pub(crate) component_tasks: BTreeMap<String, Vec<TaskId>>,
    /// Component id -> stream id -> fields.
    pub(crate) streams: BTreeMap<String, BTreeMap<String, Fields>>,
    /// Task -> component id.
    pub(crate) task_component: BTreeMap<TaskId, String>,
}

/// The context handed to `open` / `prepare`: this task, its component, the tasks of every
/// component, and the merged configuration.
#[derive(Debug, Clone)]
pub struct TopologyContext {
    info: Arc<TopologyInfo>,
    task: TaskId,
    component: String,
    config: Config,
    worker_tasks: Arc<[TaskId]>,
}

impl TopologyContext {
    pub(crate) fn new(
        info: Arc<TopologyInfo>,
        task: TaskId,
        component: String,
        config: Config,
        worker_tasks: Arc<[TaskId]>,
    ) -> TopologyContext {
        TopologyContext {
            info,
            task,
            component,
            config,
            worker_tasks,
        }
    }

    /// Topology name.
    pub fn topology_name(&self) -> &str {
        &self.info.name
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

    /// Tasks running in this worker process (all tasks in local mode).
    pub fn worker_tasks(&self) -> &[TaskId] {
        &self.worker_tasks
    }

    /// This component's merged configuration (defaults < topology < component).
    pub fn config(&self) -> &Config {
        &self.config
    }
}
