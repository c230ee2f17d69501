//! Topology actions: submit, kill, activate, deactivate, rebalance, stats.

use std::collections::BTreeMap;

use squall_runtime::config::Config;
use squall_runtime::spec::TopologyDef;

use super::lifecycle::{self, LifecycleEvent, Outcome};
use super::{Cluster, State, Topo};
use crate::error::{ClusterError, StoreError};
use crate::model::{PendingRebalance, TopologyRecord};
use crate::plan::{configured_workers, plan};
use squall_runtime::cluster::auth::topology_secret::TopologySecret;
use squall_runtime::cluster::protocol::TopologyStatus;
use squall_runtime::cluster::protocol::{ActionResponse, ArtifactHash, RebalanceRequest};

/// Longest accepted topology name.
const MAX_NAME_LEN: usize = 128;

/// A topology to store: what [`Cluster::submit`] takes.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The declaration nimbus plans from: the YAML's, or the one the artifact resolved
    /// from its `topologySource`.
    pub def: TopologyDef,
    /// The YAML as submitted (workers load it).
    pub yaml: String,
    /// The artifact's resolved declaration, for a `topologySource` topology.
    pub resolved_yaml: Option<String>,
    /// The topology binary.
    pub artifact: ArtifactHash,
    /// The resources archive (stored like an artifact), if any.
    pub resources: Option<ArtifactHash>,
    /// The submitting token's name (its owner).
    pub owner: Option<String>,
}

/// A bad request unless `name` is a usable topology name.
pub fn check_name(name: &str) -> Result<(), ClusterError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() {
        return Err(ClusterError::bad_request(
            "the topology name is empty: give `name` in the request or in the YAML",
        ));
    }
    if name.len() > MAX_NAME_LEN || !name.chars().all(ok_char) {
        return Err(ClusterError::bad_request(format!(
            "invalid topology name '{name}': use at most {MAX_NAME_LEN} letters, digits, '-' \
             and '_'"
        )));
    }
    Ok(())
}

/// The transition of `t` on `event`, or a conflict naming the topology.
pub(super) fn transition(t: &Topo, event: LifecycleEvent) -> Result<Outcome, ClusterError> {
    lifecycle::next(t.record.status, event)
        .map_err(|refused| ClusterError::Conflict(refused.for_topology(&t.record.name)))
}

fn respond(t: &Topo, message: String) -> ActionResponse {
    ActionResponse {
        name: t.record.name.clone(),
        id: t.record.id.clone(),
        status: t.record.status,
        message,
    }
}

impl Cluster {
    /// Who may act on topology `name_or_id` (its name, or its id as Storm's paths give
    /// it; `None`: there is no such topology).
    pub fn topology_acl(&self, name_or_id: &str) -> Option<crate::auth::acl::TopologyAcl> {
        let st = self.lock();
        let t = super::views::find(&st, name_or_id)?;
        Some(crate::auth::acl::TopologyAcl::of(
            &t.record.id,
            t.record.owner.as_deref(),
            &t.def,
        ))
    }

    /// Whether a topology of this name exists (a cheap check before validation).
    pub fn has_topology(&self, name: &str) -> bool {
        self.lock().topologies.contains_key(name)
    }

    /// Store a submitted topology (already validated by its artifact) and schedule it.
    pub fn submit(
        &self,
        name: &str,
        submission: Submission,
        now_ms: u64,
    ) -> Result<ActionResponse, ClusterError> {
        let Submission {
            def,
            yaml,
            resolved_yaml,
            artifact,
            resources,
            owner,
        } = submission;
        check_name(name)?;
        let plan = plan(&def, &BTreeMap::new())?;
        let mut st = self.lock_mut();
        if st.topologies.contains_key(name) {
            return Err(ClusterError::AlreadyExists(name.to_string()));
        }
        // Under the state lock, which unused-artifact collection holds too: an artifact
        // checked here stays until the record that references it is stored.
        for hash in std::iter::once(&artifact).chain(resources.as_ref()) {
            if !self.artifacts.contains(hash) {
                return Err(ClusterError::bad_request(format!(
                    "artifact {hash} is not stored (unused artifacts are deleted after \
                     nimbus.artifact.gc.grace.secs): PUT it to /api/v1/artifacts/{hash} again"
                )));
            }
        }
        let submitted_at = now_ms / 1000;
        let secret = TopologySecret::generate().map_err(StoreError::from)?;
        let record = self.store.write(|w| {
            let seq = w.next_seq()?;
            let record = TopologyRecord {
                name: name.to_string(),
                id: format!("{name}-{seq}-{submitted_at}"),
                seq,
                yaml,
                resolved_yaml,
                artifact,
                resources,
                status: TopologyStatus::Active,
                num_workers: configured_workers(&def),
                parallelism: BTreeMap::new(),
                submitted_at,
                kill_deadline_ms: None,
                rebalance: None,
                owner,
            };
            w.put_topology(&record)?;
            w.put_topology_secret(name, &secret)?;
            Ok(record)
        })?;
        tracing::info!(topology = %name, id = %record.id, workers = record.num_workers,
            executors = plan.executors.len(), "topology submitted");
        let topo = Topo {
            record,
            def,
            plan,
            assignment: Default::default(),
            stats: super::stats::TaskTable::default(),
            secret,
            log_config: Default::default(),
        };
        st.topologies.insert(name.to_string(), topo);
        self.reschedule(&mut st)?;
        let t = get(&st, name)?;
        let msg = format!(
            "submitted topology '{name}' as {}; {} of {} workers assigned",
            t.record.id,
            t.assignment.workers.len(),
            t.record.num_workers
        );
        Ok(respond(t, msg))
    }

    /// Kill: KILLED now (spouts stop), removed after `wait_secs` (default: the topology's
    /// message timeout). Killing a killed topology restarts the wait.
    pub fn kill(
        &self,
        name: &str,
        wait_secs: Option<u64>,
        now_ms: u64,
    ) -> Result<ActionResponse, ClusterError> {
        let mut st = self.lock_mut();
        let t = get(&st, name)?;
        let wait = wait_secs.unwrap_or_else(|| {
            Config::merged([&t.def.config])
                .settings()
                .message_timeout_secs
        });
        let Outcome::To(status) = transition(t, LifecycleEvent::Kill)? else {
            return Err(ClusterError::Internal(format!(
                "kill of topology '{name}' did not lead to a status"
            )));
        };
        let mut record = t.record.clone();
        record.status = status;
        record.rebalance = None;
        record.kill_deadline_ms = Some(now_ms.saturating_add(wait.saturating_mul(1000)));
        let response = ActionResponse {
            name: record.name.clone(),
            id: record.id.clone(),
            status: record.status,
            message: if wait == 0 {
                format!("killed topology '{name}'; removed")
            } else {
                format!("killed topology '{name}'; removed in {wait} s")
            },
        };
        if wait == 0 {
            self.remove(&mut st, name)?;
        } else {
            self.store.write(|w| w.put_topology(&record))?;
            if let Some(t) = st.topologies.get_mut(name) {
                t.record = record;
            }
        }
        tracing::info!(topology = %name, wait_secs = wait, "topology killed");
        Ok(response)
    }

    /// ACTIVE or INACTIVE, per Storm's transitions.
    pub fn set_active(&self, name: &str, active: bool) -> Result<ActionResponse, ClusterError> {
        let mut st = self.lock_mut();
        let t = get(&st, name)?;
        let (event, verb) = if active {
            (LifecycleEvent::Activate, "activate")
        } else {
            (LifecycleEvent::Deactivate, "deactivate")
        };
        let to = match transition(t, event)? {
            Outcome::To(to) => to,
            Outcome::Unchanged | Outcome::Remove => {
                let status = t.record.status;
                return Ok(respond(t, format!("topology '{name}' is already {status}")));
            }
        };
        let mut record = t.record.clone();
        record.status = to;
        self.store.write(|w| w.put_topology(&record))?;
        let t = get_mut(&mut st, name)?;
        t.record = record;
        tracing::info!(topology = %name, status = %to, "topology {verb}d");
        Ok(respond(t, format!("topology '{name}' is {to}")))
    }

    /// Change the number of workers and/or executors, then reschedule (at once, or after
    /// `wait_secs` spent REBALANCING).
    pub fn rebalance(
        &self,
        name: &str,
        req: &RebalanceRequest,
        now_ms: u64,
    ) -> Result<ActionResponse, ClusterError> {
        let mut st = self.lock_mut();
        let t = get(&st, name)?;
        let wait = req.wait_secs.unwrap_or(0);
        let Outcome::To(status) = transition(t, LifecycleEvent::Rebalance { wait: wait > 0 })?
        else {
            return Err(ClusterError::Internal(format!(
                "rebalance of topology '{name}' did not lead to a status"
            )));
        };
        let mut problems = Vec::new();
        if req.workers == Some(0) {
            problems.push("workers must be at least 1".to_string());
        }
        for (component, n) in &req.parallelism {
            match t.plan.components.get(component) {
                None => problems.push(format!(
                    "unknown component '{component}' (components: {})",
                    t.plan
                        .components
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Some(_) if *n == 0 => problems.push(format!(
                    "parallelism of '{component}' must be at least 1, got 0"
                )),
                Some(c) if *n > c.tasks => problems.push(format!(
                    "parallelism of '{component}' cannot be {n}: it has {} tasks (numTasks is \
                     fixed at submission; an executor runs at least one task)",
                    c.tasks
                )),
                Some(_) => {}
            }
        }
        if !problems.is_empty() {
            return Err(ClusterError::BadRequest {
                message: format!(
                    "cannot rebalance topology '{name}': {}",
                    problems.join("; ")
                ),
                details: problems,
            });
        }
        let mut record = t.record.clone();
        record.num_workers = req.workers.unwrap_or(record.num_workers);
        record
            .parallelism
            .extend(req.parallelism.iter().map(|(k, v)| (k.clone(), *v)));
        let new_plan = plan(&t.def, &record.parallelism)?;
        if wait > 0 {
            record.rebalance = Some(PendingRebalance {
                deadline_ms: now_ms.saturating_add(wait.saturating_mul(1000)),
                prev_status: record.status,
            });
        }
        record.status = status;
        self.store.write(|w| w.put_topology(&record))?;
        let t = get_mut(&mut st, name)?;
        t.record = record;
        t.plan = new_plan;
        tracing::info!(topology = %name, workers = t.record.num_workers,
            parallelism = ?t.record.parallelism, wait_secs = wait, "topology rebalanced");
        self.reschedule(&mut st)?;
        let t = get(&st, name)?;
        let msg = if wait > 0 {
            format!("topology '{name}' is REBALANCING; rescheduled in {wait} s")
        } else {
            format!(
                "topology '{name}' rebalanced: {} executors on {} workers",
                t.plan.executors.len(),
                t.assignment.workers.len()
            )
        };
        Ok(respond(t, msg))
    }
}

/// The topology `name`, or a not-found error.
pub(super) fn get<'a>(st: &'a State, name: &str) -> Result<&'a Topo, ClusterError> {
    st.topologies
        .get(name)
        .ok_or_else(|| ClusterError::TopologyNotFound(name.to_string()))
}

pub(super) fn get_mut<'a>(st: &'a mut State, name: &str) -> Result<&'a mut Topo, ClusterError> {
    st.topologies
        .get_mut(name)
        .ok_or_else(|| ClusterError::TopologyNotFound(name.to_string()))
}
