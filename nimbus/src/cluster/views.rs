//! Read-only views for the API: topology list and status, supervisor list, the
//! topology a Storm path names ([`Cluster::resolve`]) and what Storm's pages show
//! besides the metrics ([`TopologyShape`]).

use std::collections::{BTreeMap, BTreeSet};

use squall_runtime::cluster::protocol::{
    SupervisorList, SupervisorView, TopologyInfo, TopologyList, TopologySummary, WorkerView,
};

use squall_runtime::config::Config;
use squall_runtime::plan::TaskPlan;
use squall_runtime::spec::GroupingKind;

use super::stats::{component_stats, task_stats};
use super::topologies::get;
use super::{Cluster, State, Topo};
use crate::error::ClusterError;

/// The topology `name_or_id` names: the one of that name, else the one of that id.
///
/// Names come first, so a path that works with a name today keeps naming the same
/// topology; the auth check ([`Cluster::topology_acl`]) and the handlers resolve alike.
pub(super) fn find<'a>(st: &'a State, name_or_id: &str) -> Option<&'a Topo> {
    st.topologies
        .get(name_or_id)
        .or_else(|| st.topologies.values().find(|t| t.record.id == name_or_id))
}

/// What Storm's topology and component pages show that the metrics and status views do
/// not: the owner, the message timeout, the configuration, and which component each
/// task belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct TopologyShape {
    /// Topology name.
    pub name: String,
    /// Topology id.
    pub id: String,
    /// The token that submitted it.
    pub owner: Option<String>,
    /// `topology.message.timeout.secs` (default included).
    pub message_timeout_secs: u64,
    /// The topology's `config:` map, as JSON (keys the YAML set).
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Task id -> component id, for every task of the current plan.
    pub task_components: BTreeMap<u32, String>,
    /// Every subscription of the declaration (the DAG's edges), in declaration order.
    pub streams: Vec<StreamEdge>,
}

/// One subscription: bolt `to` reads stream `stream` of `from` with a grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEdge {
    /// The emitting component.
    pub from: String,
    /// The subscribing bolt.
    pub to: String,
    /// The stream id.
    pub stream: String,
    /// The grouping as Storm names it (`shuffle`, `fields`, `local_or_shuffle`, ...).
    pub grouping: String,
    /// The grouping's fields (`fields`, `partial_key`).
    pub fields: Vec<String>,
}

/// Storm's name of a grouping (the field of its Thrift `Grouping` union).
fn grouping_name(kind: GroupingKind) -> &'static str {
    match kind {
        GroupingKind::Shuffle => "shuffle",
        GroupingKind::LocalOrShuffle => "local_or_shuffle",
        GroupingKind::Fields => "fields",
        GroupingKind::PartialKey => "partial_key",
        GroupingKind::All => "all",
        GroupingKind::Global => "global",
        GroupingKind::None => "none",
        GroupingKind::Direct => "direct",
        GroupingKind::Custom => "custom",
    }
}

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
    /// The name of the topology `name_or_id` names (Storm's paths give ids; a name is
    /// accepted too): the topology of that name, else the one of that id.
    pub fn resolve(&self, name_or_id: &str) -> Result<String, ClusterError> {
        let st = self.lock();
        find(&st, name_or_id)
            .map(|t| t.record.name.clone())
            .ok_or_else(|| ClusterError::TopologyNotFound(name_or_id.to_string()))
    }

    /// Seconds since this nimbus loaded its state.
    pub fn uptime_secs(&self) -> u64 {
        self.clock
            .now()
            .saturating_duration_since(self.started)
            .as_secs()
    }

    /// Seconds each live supervisor has been alive without a break (as nimbus saw it),
    /// by id.
    pub fn supervisor_uptimes(&self) -> BTreeMap<String, u64> {
        let now = self.clock.now();
        let st = self.lock();
        st.supervisors
            .values()
            .filter(|s| s.alive)
            .map(|s| {
                let up = now.saturating_duration_since(s.since).as_secs();
                (s.info.id.clone(), up)
            })
            .collect()
    }

    /// Topology `name`'s owner, message timeout, configuration and task components.
    pub fn shape(&self, name: &str) -> Result<TopologyShape, ClusterError> {
        let st = self.lock();
        let t = get(&st, name)?;
        let plan = TaskPlan::from_def(&t.def, &t.record.parallelism);
        let task_components = plan
            .component_tasks
            .iter()
            .flat_map(|(c, tasks)| tasks.iter().map(move |task| (task.0, c.clone())))
            .collect();
        let config = t
            .def
            .config
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(v).ok()?)))
            .collect();
        Ok(TopologyShape {
            name: t.record.name.clone(),
            id: t.record.id.clone(),
            owner: t.record.owner.clone(),
            message_timeout_secs: Config::merged([&t.def.config])
                .settings()
                .message_timeout_secs,
            config,
            task_components,
            streams: t
                .def
                .streams
                .iter()
                .map(|s| StreamEdge {
                    from: s.from.clone(),
                    to: s.to.clone(),
                    stream: s.grouping.stream_id.clone(),
                    grouping: grouping_name(s.grouping.kind).to_string(),
                    fields: s.grouping.args.clone(),
                })
                .collect(),
        })
    }

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
