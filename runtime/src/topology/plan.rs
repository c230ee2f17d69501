//! Task and executor numbering, as Storm does it: components sorted by id get
//! contiguous task ids from 1; each component's tasks are split into `parallelism`
//! contiguous runs, bigger runs first.

use std::collections::BTreeMap;

use crate::api::ids::TaskId;
use crate::topology::config::Config;
use crate::topology::yaml::{TopologyDef, ValidTopology};

/// One executor: a component and the tasks it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorPlan {
    /// Component id.
    pub component: String,
    /// Its tasks, ascending.
    pub tasks: Vec<TaskId>,
}

/// The task ids and executors of a topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPlan {
    /// Component id -> its tasks, ascending.
    pub component_tasks: BTreeMap<String, Vec<TaskId>>,
    /// Every executor, in component order.
    pub executors: Vec<ExecutorPlan>,
}

impl TaskPlan {
    /// Number the tasks and executors of `topo`, including the system acker component
    /// (`topology.acker.executors` tasks, default one per worker; none when 0).
    pub fn new(topo: &ValidTopology) -> TaskPlan {
        let ackers = Config::merged([&topo.config]).settings().acker_tasks();
        // (id, tasks, executors)
        let mut components: Vec<(&str, u32, u32)> = topo
            .components
            .iter()
            .map(|c| (c.def.id.as_str(), c.num_tasks, c.num_executors))
            .collect();
        if ackers > 0 {
            components.push((crate::ACKER_COMPONENT, ackers, ackers));
        }
        Self::number(components)
    }

    /// The plan [`TaskPlan::new`] gives once `def` is validated, computed from the raw
    /// definition (for nimbus, which cannot instantiate components): `numTasks` (default
    /// `parallelism`) tasks per component, `parallelism` executors capped at the task
    /// count, plus the acker component. `executors` overrides the executor count of a
    /// component id (`__acker` included), as a rebalance does; task ids never change.
    /// Components with no task get no executor.
    pub fn from_def(def: &TopologyDef, executors: &BTreeMap<String, u32>) -> TaskPlan {
        let ackers = Config::merged([&def.config]).settings().acker_tasks();
        let wanted = |id: &str, default: u32| executors.get(id).copied().unwrap_or(default);
        let mut components: Vec<(&str, u32, u32)> = def
            .spouts
            .iter()
            .chain(&def.bolts)
            .map(|c| {
                let tasks = c.num_tasks.unwrap_or(c.parallelism);
                (
                    c.id.as_str(),
                    tasks,
                    wanted(&c.id, c.parallelism).min(tasks),
                )
            })
            .filter(|c| c.1 > 0)
            .collect();
        if ackers > 0 {
            let acker_executors = wanted(crate::ACKER_COMPONENT, ackers).min(ackers);
            components.push((crate::ACKER_COMPONENT, ackers, acker_executors));
        }
        Self::number(components)
    }

    /// Number `(id, tasks, executors)` components in id order.
    fn number(mut components: Vec<(&str, u32, u32)>) -> TaskPlan {
        components.sort_by(|a, b| a.0.cmp(b.0));
        let mut next = 1u32;
        let mut component_tasks = BTreeMap::new();
        let mut executors = Vec::new();
        for (id, num_tasks, num_executors) in components {
            let tasks: Vec<TaskId> = (next..next + num_tasks).map(TaskId).collect();
            next += num_tasks;
            for run in split(&tasks, num_executors.max(1) as usize) {
                executors.push(ExecutorPlan {
                    component: id.to_string(),
                    tasks: run,
                });
            }
            component_tasks.insert(id.to_string(), tasks);
        }
        TaskPlan {
            component_tasks,
            executors,
        }
    }

    /// The acker tasks (empty when acking is off).
    pub fn acker_tasks(&self) -> &[TaskId] {
        self.component_tasks
            .get(crate::ACKER_COMPONENT)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Task id -> component id.
    pub fn task_components(&self) -> BTreeMap<TaskId, String> {
        self.component_tasks
            .iter()
            .flat_map(|(c, ts)| ts.iter().map(move |t| (*t, c.clone())))
            .collect()
    }
}

/// Split `tasks` into `n` contiguous runs, bigger runs first.
fn split(tasks: &[TaskId], n: usize) -> Vec<Vec<TaskId>> {
    let n = n.min(tasks.len()).max(1);
    let (base, extra) = (tasks.len() / n, tasks.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    for k in 0..n {
        let len = base + usize::from(k < extra);
        out.push(tasks[i..i + len].to_vec());
        i += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_tasks_on_two_executors_split_three_two() {
        let tasks: Vec<TaskId> = (1..=5).map(TaskId).collect();
        let runs = split(&tasks, 2);
        assert_eq!(runs, vec![tasks[..3].to_vec(), tasks[3..].to_vec()]);
    }

    #[test]
    fn more_executors_than_tasks_is_capped() {
        let tasks: Vec<TaskId> = (1..=2).map(TaskId).collect();
        assert_eq!(split(&tasks, 4).len(), 2);
    }
}
