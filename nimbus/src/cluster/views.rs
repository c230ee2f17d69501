//! Read-only views for the API: topology list and status, supervisor list.

use std::collections::{BTreeMap, BTreeSet};

use squall_runtime::cluster::protocol::{
    SupervisorList, SupervisorView, TopologyInfo, TopologyList, TopologySummary, WorkerView,
};

use super::stats::{component_stats, task_stats};
use super::topologies::get;
use super::{Cluster, Topo};
use crate::error::ClusterError;

fn summary(t: &Topo, now_ms: u64) -> TopologySummary {
    TopologySummary {
        name: t.record.name.clone(),
        id: t.record.id.clone(),
        status: t.record.status,
        num_workers: t.record.num_workers,
        assigned_workers: u32::try_from(t.assignment.workers.len()).unwrap_or(u32::MAX),
        num_tasks: t.plan.num_tasks(),
        num_executors: u32::try_from(t.plan.executors.len()).unwrap_or(u32::MAX),
        uptime_secs: (now_ms / 1000).saturating_sub(t.record.submitted_at),
    }
}

impl Cluster {
    /// Every topology, by name.
    pub fn list(&self, now_ms: u64) -> TopologyList {
        let st = self.lock();
        TopologyList {
            topologies: st.topologies.values().map(|t| summary(t, now_ms)).collect(),
        }
    }

    /// One topology: record, assignment, worker reports and stats.
    pub fn status(&self, name: &str, now_ms: u64) -> Result<TopologyInfo, ClusterError> {
        let st = self.lock();
        let t = get(&st, name)?;
        let mut workers = Vec::new();
        // Reports of dead supervisors are stale: left out.
        for sup in st.supervisors.values().filter(|s| s.alive) {
            for r in &sup.workers {
                if r.topology == t.record.name || r.topology == t.record.id {
                    workers.push(WorkerView {
                        supervisor: sup.info.id.clone(),
                        report: r.clone(),
                    });
                }
            }
        }
        Ok(TopologyInfo {
            summary: summary(t, now_ms),
            artifact: t.record.artifact,
            submitted_at: t.record.submitted_at,
            parallelism: t.record.parallelism.clone(),
            kill_deadline_ms: t.record.kill_deadline_ms,
            rebalance_deadline_ms: t.record.rebalance.as_ref().map(|r| r.deadline_ms),
            components: component_stats(t),
            assignment: t.assignment.workers.clone(),
            workers,
            tasks: task_stats(t),
        })
    }

    /// Every supervisor nimbus knows, by id.
    pub fn supervisors(&self) -> SupervisorList {
        let now = self.clock.now();
        let st = self.lock();
        let mut used: BTreeMap<&str, BTreeSet<u16>> = BTreeMap::new();
        for t in st.topologies.values() {
            for w in &t.assignment.workers {
                used.entry(w.supervisor.as_str())
                    .or_default()
                    .insert(w.port);
            }
        }
        let supervisors = st
            .supervisors
            .values()
            .map(|s| {
                let mine = used.get(s.info.id.as_str());
                let is_used = |p: &u16| mine.is_some_and(|u| u.contains(p));
                SupervisorView {
                    id: s.info.id.clone(),
                    host: s.info.host.clone(),
                    alive: s.alive,
                    last_heartbeat_secs_ago: now
                        .saturating_duration_since(s.last_heartbeat)
                        .as_secs_f64(),
                    slots: s.info.slots.clone(),
                    used_slots: s.info.slots.iter().copied().filter(is_used).collect(),
                    free_slots: s
                        .info
                        .slots
                        .iter()
                        .copied()
                        .filter(|p| !is_used(p))
                        .collect(),
                    workers: s.workers.clone(),
                }
            })
            .collect();
        SupervisorList { supervisors }
    }
}
