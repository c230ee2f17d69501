//! The cluster state machine: topologies, assignments and supervisors in memory, every
//! change written to the [`Store`] before it is applied.
//!
//! Operations are synchronous (they may wait for a database commit) and take the current
//! time as unix milliseconds, so they are tested without clocks or sleeps; the API runs
//! them on the blocking thread pool.

mod supervisors;
mod topologies;
mod trident;
mod views;

pub use topologies::{Submission, check_name};

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use squall_runtime::spec::TopologyDef;

use crate::artifacts::ArtifactStore;
use crate::error::{ClusterError, StoreError};
use crate::model::{Assignment, SupervisorInfo, TopologyRecord, TopologyStatus, WorkerReport};
use crate::plan::{TopologyPlan, parse_yaml, plan};
use crate::protocol::Counters;
use crate::scheduler::{self, Demand, SupervisorSlots};
use crate::store::Store;

/// Worker name -> component -> counters.
type WorkerStats = BTreeMap<String, BTreeMap<String, Counters>>;

/// A topology in memory.
#[derive(Debug, Clone)]
struct Topo {
    record: TopologyRecord,
    def: TopologyDef,
    plan: TopologyPlan,
    assignment: Assignment,
    stats: WorkerStats,
}

impl Topo {
    /// Killed and rebalancing topologies keep their assignment until their deadline.
    fn frozen(&self) -> bool {
        matches!(
            self.record.status,
            TopologyStatus::Killed | TopologyStatus::Rebalancing
        )
    }
}

/// A supervisor in memory.
#[derive(Debug, Clone)]
struct Sup {
    info: SupervisorInfo,
    last_heartbeat_ms: u64,
    alive: bool,
    workers: Vec<WorkerReport>,
}

#[derive(Debug, Default)]
struct State {
    topologies: BTreeMap<String, Topo>,
    supervisors: BTreeMap<String, Sup>,
}

/// The nimbus cluster state and its operations.
#[derive(Debug)]
pub struct Cluster {
    store: Store,
    artifacts: ArtifactStore,
    supervisor_timeout_ms: u64,
    state: Mutex<State>,
}

impl Cluster {
    /// Load the stored state. Known supervisors count as alive from `now_ms` on, so they
    /// have `supervisor_timeout` to heartbeat before their workers are moved.
    pub fn load(
        store: Store,
        artifacts: ArtifactStore,
        supervisor_timeout: Duration,
        now_ms: u64,
    ) -> Result<Cluster, StoreError> {
        let snap = store.load()?;
        let mut state = State::default();
        for (id, info) in snap.supervisors {
            let sup = Sup {
                info,
                last_heartbeat_ms: now_ms,
                alive: true,
                workers: Vec::new(),
            };
            state.supervisors.insert(id, sup);
        }
        for (name, record) in snap.topologies {
            // A stored record was valid when it was stored; one that no longer parses
            // (a newer nimbus wrote it?) is kept out of memory but left on disk.
            // A topologySource topology is planned from its artifact's resolved declaration.
            let declaration = record.resolved_yaml.as_deref().unwrap_or(&record.yaml);
            let def = match parse_yaml(declaration) {
                Ok(def) => def,
                Err(e) => {
                    tracing::error!(topology = %name, error = %e, "stored topology unreadable; ignored");
                    continue;
                }
            };
            let plan = match plan(&def, &record.parallelism) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(topology = %name, error = %e, "stored topology unplannable; ignored");
                    continue;
                }
            };
            let assignment = snap.assignments.get(&name).cloned().unwrap_or_default();
            tracing::info!(topology = %name, id = %record.id, status = %record.status,
                workers = assignment.workers.len(), "topology loaded");
            let topo = Topo {
                record,
                def,
                plan,
                assignment,
                stats: BTreeMap::new(),
            };
            state.topologies.insert(name, topo);
        }
        Ok(Cluster {
            store,
            artifacts,
            supervisor_timeout_ms: u64::try_from(supervisor_timeout.as_millis())
                .unwrap_or(u64::MAX),
            state: Mutex::new(state),
        })
    }

    /// The artifact files.
    pub fn artifacts(&self) -> &ArtifactStore {
        &self.artifacts
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as it was at the last
        // completed step: every change is written to the store before it is applied.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Periodic work at `now_ms`: supervisors silent for longer than the timeout are
    /// dead, killed topologies past their wait are removed, due rebalances happen, and
    /// every topology is rescheduled (a no-op when nothing changed). Returns the next
    /// time something is due (unix millis), if anything is.
    pub fn tick(&self, now_ms: u64) -> Result<Option<u64>, ClusterError> {
        let mut st = self.lock();
        for sup in st.supervisors.values_mut() {
            let silent = now_ms.saturating_sub(sup.last_heartbeat_ms);
            if sup.alive && silent > self.supervisor_timeout_ms {
                sup.alive = false;
                tracing::warn!(supervisor = %sup.info.id, silent_ms = silent,
                    "supervisor missed its heartbeats; considered dead, its slots are freed");
            }
        }
        self.run_deadlines(&mut st, now_ms)?;
        self.reschedule(&mut st)?;
        let deadlines = st.topologies.values().filter_map(|t| {
            t.record
                .kill_deadline_ms
                .or(t.record.rebalance.as_ref().map(|r| r.deadline_ms))
        });
        let deaths = st.supervisors.values().filter(|s| s.alive).map(|s| {
            s.last_heartbeat_ms
                .saturating_add(self.supervisor_timeout_ms + 1)
        });
        Ok(deadlines.chain(deaths).min())
    }

    /// Remove killed topologies and finish rebalances whose deadline passed.
    fn run_deadlines(&self, st: &mut State, now_ms: u64) -> Result<(), ClusterError> {
        let due_kills: Vec<String> = st
            .topologies
            .values()
            .filter(|t| t.record.status == TopologyStatus::Killed)
            .filter(|t| t.record.kill_deadline_ms.is_none_or(|d| d <= now_ms))
            .map(|t| t.record.name.clone())
            .collect();
        for name in due_kills {
            self.remove(st, &name)?;
        }
        let due_rebalances: Vec<String> = st
            .topologies
            .values()
            .filter(|t| t.record.status == TopologyStatus::Rebalancing)
            .filter(|t| {
                t.record
                    .rebalance
                    .as_ref()
                    .is_none_or(|r| r.deadline_ms <= now_ms)
            })
            .map(|t| t.record.name.clone())
            .collect();
        for name in due_rebalances {
            let Some(topo) = st.topologies.get_mut(&name) else {
                continue;
            };
            let mut record = topo.record.clone();
            record.status = record
                .rebalance
                .take()
                .map_or(TopologyStatus::Active, |r| r.prev_status);
            self.store.write(|w| w.put_topology(&record))?;
            tracing::info!(topology = %name, status = %record.status, "rebalance done");
            topo.record = record;
        }
        Ok(())
    }

    /// Delete a topology, its assignment and its Trident metadata.
    fn remove(&self, st: &mut State, name: &str) -> Result<(), ClusterError> {
        let id = st.topologies.get(name).map(|t| t.record.id.clone());
        self.store.write(|w| {
            w.delete_topology(name)?;
            if let Some(id) = &id {
                w.delete_trident_meta(id)?;
            }
            Ok(())
        })?;
        if let Some(t) = st.topologies.remove(name) {
            tracing::info!(topology = %name, id = %t.record.id,
                "killed topology removed; its workers are released");
        }
        Ok(())
    }

    /// Run the scheduler over every topology and store the assignments that changed.
    fn reschedule(&self, st: &mut State) -> Result<(), ClusterError> {
        let alive: Vec<SupervisorSlots> = st
            .supervisors
            .values()
            .filter(|s| s.alive)
            .map(|s| SupervisorSlots {
                id: s.info.id.clone(),
                host: s.info.host.clone(),
                ports: s.info.slots.clone(),
            })
            .collect();
        let mut order: Vec<&Topo> = st.topologies.values().collect();
        order.sort_by_key(|t| t.record.seq);
        let demands: Vec<Demand<'_>> = order
            .iter()
            .map(|t| Demand {
                num_workers: t.record.num_workers,
                executors: &t.plan.executors,
                current: &t.assignment,
                frozen: t.frozen(),
            })
            .collect();
        let computed = scheduler::schedule(&alive, &demands);
        let changed: Vec<(String, Assignment)> = order
            .iter()
            .zip(computed)
            .filter(|(t, a)| t.assignment != *a)
            .map(|(t, a)| (t.record.name.clone(), a))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        self.store.write(|w| {
            changed
                .iter()
                .try_for_each(|(name, a)| w.put_assignment(name, a))
        })?;
        for (name, a) in changed {
            let Some(topo) = st.topologies.get_mut(&name) else {
                continue;
            };
            let slots: Vec<String> = a.workers.iter().map(|w| w.slot().to_string()).collect();
            let wanted = topo.record.num_workers as usize;
            if a.workers.len() < wanted.min(topo.plan.executors.len()) {
                tracing::warn!(topology = %name, wanted, got = a.workers.len(),
                    "not enough free slots; the topology runs on fewer workers until slots appear");
            }
            tracing::info!(topology = %name, workers = ?slots, "assignment changed");
            // Stats of workers that are no longer assigned are stale (workers are named
            // `host:port` or `supervisor:port`).
            let current: HashSet<String> = a
                .workers
                .iter()
                .flat_map(|w| {
                    [
                        format!("{}:{}", w.host, w.port),
                        format!("{}:{}", w.supervisor, w.port),
                    ]
                })
                .collect();
            topo.stats.retain(|worker, _| current.contains(worker));
            topo.assignment = a;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
