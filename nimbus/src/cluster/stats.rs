//! Worker statistics: accepted only from the workers of a topology's current assignment,
//! for their own tasks, and kept per task, so a component's totals count each task once.
//! Reports carry totals since the worker started; each task's differences go into its
//! rolling windows ([`TaskSeries`]), so all-time counts stay exact across worker
//! restarts and task moves.

use std::collections::BTreeMap;

use squall_runtime::ACKER_COMPONENT;
use squall_runtime::cluster::protocol::stats::{
    MAX_ERROR_CHARS, MAX_ERRORS_PER_TASK, MAX_METRIC_NAME_CHARS, MAX_TASKS_PER_REPORT,
    MAX_USER_METRICS_PER_TASK,
};
use squall_runtime::cluster::protocol::{
    ComponentError, ComponentRole, ComponentStats, Counters, ErrorRecord, StatsAck, TaskStats,
    WorkerAssignment, WorkerStats,
};

use super::topologies::get_mut;
use super::{Cluster, Topo};
use crate::error::ClusterError;
use crate::metrics::rollup::TaskSeries;
use crate::model::SlotId;

/// The metrics of a topology's tasks: dropped with the topology.
#[derive(Debug, Clone, Default)]
pub(crate) struct TaskTable {
    /// Every task that ever reported, by task id (a task that moved keeps its windows).
    pub(crate) tasks: BTreeMap<u32, TaskSeries>,
    /// The most recent errors of each component (at most [`MAX_ERRORS_PER_TASK`]),
    /// oldest first, without duplicates.
    pub(crate) errors: BTreeMap<String, Vec<ComponentError>>,
}

impl TaskTable {
    /// Keep `error` of `component` unless already kept; the newest ten stay.
    fn add_error(&mut self, component: &str, error: ComponentError) {
        let list = self.errors.entry(component.to_string()).or_default();
        let seen = list.iter().any(|e| {
            e.task == error.task
                && e.error.time_ms == error.error.time_ms
                && e.error.error == error.error.error
        });
        if seen {
            return;
        }
        list.push(error);
        list.sort_by_key(|e| (e.error.time_ms, e.task));
        let extra = list.len().saturating_sub(MAX_ERRORS_PER_TASK);
        list.drain(..extra);
    }
}

impl TaskTable {
    /// Keep a task's `last_error` (from a worker without error records) unless that task
    /// already has an error of that text kept.
    fn add_last_error(
        &mut self,
        component: &str,
        task: u32,
        host: &str,
        port: u16,
        text: &str,
        now_ms: u64,
    ) {
        let known = self
            .errors
            .get(component)
            .is_some_and(|l| l.iter().any(|e| e.task == task && e.error.error == text));
        if !known {
            let error = ComponentError {
                task,
                host: host.to_string(),
                port,
                error: ErrorRecord {
                    time_ms: now_ms,
                    error: text.to_string(),
                },
            };
            self.add_error(component, error);
        }
    }
}

/// `text` cut to at most `max` characters.
fn cut(text: &mut String, max: usize) {
    if text.chars().count() > max {
        *text = text.chars().take(max).collect();
    }
}

/// Apply the per-task caps of the protocol to a row from outside.
fn cap_row(task: &mut TaskStats) {
    if let Some(e) = task.last_error.as_mut() {
        cut(e, MAX_ERROR_CHARS);
    }
    let extra = task.errors.len().saturating_sub(MAX_ERRORS_PER_TASK);
    task.errors.drain(..extra);
    for e in &mut task.errors {
        cut(&mut e.error, MAX_ERROR_CHARS);
    }
    task.metrics.truncate(MAX_USER_METRICS_PER_TASK);
    for m in &mut task.metrics {
        cut(&mut m.name, MAX_METRIC_NAME_CHARS);
    }
}

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
        let host = worker.host.clone();
        let now_ms = self.clock.wall_millis();
        for mut task in report.tasks {
            cap_row(&mut task);
            for e in &task.errors {
                let error = ComponentError {
                    task: task.task,
                    host: host.clone(),
                    port: slot.port,
                    error: e.clone(),
                };
                t.stats.add_error(&task.component, error);
            }
            if task.errors.is_empty()
                && let Some(text) = &task.last_error
            {
                // A worker that reports only its last error: kept once, as of now.
                t.stats
                    .add_last_error(&task.component, task.task, &host, slot.port, text, now_ms);
            }
            let series = t
                .stats
                .tasks
                .entry(task.task)
                .or_insert_with(|| TaskSeries::new(&task.component));
            series.component.clone_from(&task.component);
            series.record(&slot, report.started_at_ms, task, now_ms);
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

/// Forget the latest totals of tasks that no longer run on the slot that reported them
/// (their windows stay: their new worker's totals are added to them).
pub(super) fn forget_moved_tasks(table: &mut TaskTable, workers: &[WorkerAssignment]) {
    for (task, series) in &mut table.tasks {
        let moved = series.current.as_ref().is_some_and(|b| {
            !workers.iter().any(|w| {
                w.supervisor == b.slot.supervisor && w.port == b.slot.port && w.runs_task(*task)
            })
        });
        if moved {
            series.current = None;
        }
    }
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
    for series in t.stats.tasks.values() {
        if let Some(c) = out.get_mut(&series.component) {
            // All-time counts: exact across worker restarts and moves.
            c.counters.add(&series.windows.all_time().counters);
            if let Some(b) = &series.current {
                c.reporting_tasks += 1;
                if b.totals.last_error.is_some() {
                    c.last_error.clone_from(&b.totals.last_error);
                }
            }
        }
    }
    out
}

/// The latest report of every task running where it reported from, by task id, with
/// its all-time counters.
pub(super) fn task_stats(t: &Topo) -> Vec<TaskStats> {
    t.stats
        .tasks
        .values()
        .filter_map(|s| {
            let b = s.current.as_ref()?;
            let mut row = b.totals.clone();
            row.counters = s.windows.all_time().counters;
            Some(row)
        })
        .collect()
}
