//! Worker statistics: accepted only from the workers of a topology's current assignment,
//! for their own tasks, and kept per task, so a component's totals count each task once.

use std::collections::BTreeMap;

use squall_runtime::ACKER_COMPONENT;
use squall_runtime::cluster::protocol::stats::{MAX_ERROR_CHARS, MAX_TASKS_PER_REPORT};
use squall_runtime::cluster::protocol::{
    ComponentRole, ComponentStats, Counters, StatsAck, TaskStats, WorkerAssignment, WorkerStats,
};

use super::topologies::get_mut;
use super::{Cluster, Topo};
use crate::error::ClusterError;
use crate::model::SlotId;

/// The latest counters of each task of a topology, with the slot that reported them.
pub(super) type TaskTable = BTreeMap<u32, (SlotId, TaskStats)>;

impl Cluster {
    /// Keep a worker's latest task counters; answer with the status it must follow.
    pub fn record_stats(&self, name: &str, report: WorkerStats) -> Result<StatsAck, ClusterError> {
        if report.tasks.len() > MAX_TASKS_PER_REPORT {
            return Err(ClusterError::TooLarge(format!(
                "a stats report may hold at most {MAX_TASKS_PER_REPORT} tasks, not {}",
                report.tasks.len()
            )));
        }
        let mut st = self.lock();
        let t = get_mut(&mut st, name).map_err(|e| match e {
            ClusterError::TopologyNotFound(_) => ClusterError::NotAssigned(format!(
                "topology '{name}' does not exist (killed?): worker {}:{} is not assigned",
                report.supervisor, report.port
            )),
            e => e,
        })?;
        if report.topology_id != t.record.id {
            return Err(ClusterError::NotAssigned(format!(
                "stats for topology id '{}', but '{name}' is now '{}': the reporting worker \
                 belongs to an earlier submission",
                report.topology_id, t.record.id
            )));
        }
        let worker = t
            .assignment
            .workers
            .iter()
            .find(|w| w.supervisor == report.supervisor && w.port == report.port)
            .ok_or_else(|| {
                ClusterError::NotAssigned(format!(
                    "worker {}:{} is not assigned to topology '{name}'; its stats are refused",
                    report.supervisor, report.port
                ))
            })?;
        check_tasks(t, worker, &report.tasks)?;
        let slot = SlotId::of(worker);
        for mut task in report.tasks {
            if let Some(e) = task.last_error.as_mut()
                && e.chars().count() > MAX_ERROR_CHARS
            {
                *e = e.chars().take(MAX_ERROR_CHARS).collect();
            }
            t.stats.insert(task.task, (slot.clone(), task));
        }
        Ok(StatsAck {
            status: t.record.status,
            log_filter: t.log_config.filter(self.wall_millis()),
        })
    }
}

/// Every task must run on the reporting worker and name its own component.
fn check_tasks(
    t: &Topo,
    worker: &WorkerAssignment,
    tasks: &[TaskStats],
) -> Result<(), ClusterError> {
    for task in tasks {
        if !worker.runs_task(task.task) {
            return Err(ClusterError::bad_request(format!(
                "task {} does not run on worker {}:{}",
                task.task, worker.supervisor, worker.port
            )));
        }
        if !t.plan.components.contains_key(&task.component) {
            return Err(ClusterError::bad_request(format!(
                "task {} names component '{}', which topology '{}' does not have",
                task.task,
                task.component.chars().take(128).collect::<String>(),
                t.record.name
            )));
        }
    }
    Ok(())
}

/// Drop the counters of tasks that no longer run on the slot that reported them.
pub(super) fn forget_moved_tasks(table: &mut TaskTable, workers: &[WorkerAssignment]) {
    table.retain(|task, (slot, _)| {
        workers
            .iter()
            .any(|w| w.supervisor == slot.supervisor && w.port == slot.port && w.runs_task(*task))
    });
}

/// Every component of `t` (the acker included) with its tasks' counters summed.
pub(super) fn component_stats(t: &Topo) -> BTreeMap<String, ComponentStats> {
    let role = |id: &str| {
        if id == ACKER_COMPONENT {
            ComponentRole::Acker
        } else if t.def.spouts.iter().any(|s| s.id == id) {
            ComponentRole::Spout
        } else {
            ComponentRole::Bolt
        }
    };
    let mut out: BTreeMap<String, ComponentStats> = t
        .plan
        .components
        .iter()
        .map(|(id, p)| {
            let stats = ComponentStats {
                kind: role(id),
                tasks: p.tasks,
                executors: p.executors,
                reporting_tasks: 0,
                counters: Counters::default(),
                last_error: None,
            };
            (id.clone(), stats)
        })
        .collect();
    for (_, task) in t.stats.values() {
        if let Some(c) = out.get_mut(&task.component) {
            c.reporting_tasks += 1;
            c.counters.add(&task.counters);
            if task.last_error.is_some() {
                c.last_error.clone_from(&task.last_error);
            }
        }
    }
    out
}

/// The latest counters of every task that reported, by task id.
pub(super) fn task_stats(t: &Topo) -> Vec<TaskStats> {
    t.stats.values().map(|(_, s)| s.clone()).collect()
}
