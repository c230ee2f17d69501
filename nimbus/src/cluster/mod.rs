//! The cluster state machine: topologies, assignments and supervisors in memory, every
//! change written to the [`Store`] before it is applied.
//!
//! Operations are synchronous (they may wait for a database commit); the API runs them on
//! the blocking thread pool. Time comes from an injected [`Clock`], so they are tested
//! with a manual clock and no sleeps: supervisor liveness is judged on its *monotonic*
//! time (an NTP step of the wall clock cannot declare every supervisor dead), while what
//! is stored or shown (kill and rebalance deadlines, submission times) is wall time,
//! passed as unix milliseconds to the topology actions (see [`Cluster::wall_millis`]).

mod book;
pub mod lifecycle;
mod logconfig;
mod logs;
mod metrics;
mod secrets;
mod stats;
mod supervisors;
mod topologies;
mod trident;
mod views;

pub use logs::LogTarget;
pub use metrics::{MetricsSnapshot, TopologySnapshot};
pub use topologies::{Submission, check_name};
pub use views::{StreamEdge, TopologyShape};

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use squall_runtime::cluster::auth::topology_secret::TopologySecret;
use squall_runtime::engine::clock::Clock;
use squall_runtime::spec::TopologyDef;

use self::lifecycle::{LifecycleEvent, Outcome};

use crate::artifacts::ArtifactStore;
use crate::assignment_polls::VersionBoard;
use crate::error::{ClusterError, StoreError};
use crate::model::{Assignment, SlotId, SupervisorInfo, TopologyRecord};
use crate::plan::{TopologyPlan, parse_yaml, plan};
use crate::scheduler::{self, Demand, SupervisorSlots};
use crate::store::Store;
use squall_runtime::cluster::protocol::{ArtifactHash, TopologyStatus, WorkerReport};

/// A topology in memory.
#[derive(Debug, Clone)]
struct Topo {
    record: TopologyRecord,
    def: TopologyDef,
    plan: TopologyPlan,
    assignment: Assignment,
    stats: stats::TaskTable,
    /// The topology's secret (sent only in its slots' assignments; never shown).
    secret: TopologySecret,
    /// Its log configuration (`squall set-log-level`).
    log_config: logconfig::LogConfig,
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
    /// When its last heartbeat arrived (monotonic).
    last_heartbeat: Instant,
    alive: bool,
    workers: Vec<WorkerReport>,
    /// Since when it has been alive without a break, as nimbus saw it (monotonic): its
    /// uptime in Storm's supervisor summary.
    since: Instant,
}

#[derive(Debug)]
struct State {
    topologies: BTreeMap<String, Topo>,
    supervisors: BTreeMap<String, Sup>,
    /// What supervisors were sent, and their versions.
    book: book::Book,
}

impl State {
    /// Publish what changed to the assignment book (see [`book::Book::publish`]).
    fn publish(&mut self) -> usize {
        let State {
            topologies,
            supervisors,
            book,
        } = self;
        book.publish(topologies, supervisors)
    }
}

/// The state's lock held by an operation that may change it: whatever it changed is
/// published to the assignment book when the guard goes (on every path out, errors
/// included: publishing compares, so publishing nothing new is a no-op).
struct Publishing<'a>(MutexGuard<'a, State>);

impl Deref for Publishing<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl DerefMut for Publishing<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.0
    }
}

impl Drop for Publishing<'_> {
    fn drop(&mut self) {
        self.0.publish();
    }
}

/// The nimbus cluster state and its operations.
#[derive(Debug)]
pub struct Cluster {
    store: Store,
    artifacts: ArtifactStore,
    supervisor_timeout: Duration,
    /// Most supervisors tracked at once (a heartbeat from a new id beyond it is refused).
    max_supervisors: usize,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// When this nimbus loaded its state (monotonic): its uptime.
    started: Instant,
}

impl Cluster {
    /// Load the stored state. Known supervisors count as alive from now on, so they have
    /// `supervisor_timeout` to heartbeat before their workers are moved.
    pub fn load(
        store: Store,
        artifacts: ArtifactStore,
        supervisor_timeout: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Cluster, StoreError> {
        let mut snap = store.load()?;
        let mut log_configs = store.log_configs::<logconfig::LogConfig>()?;
        let now = clock.now();
        let board = Arc::new(VersionBoard::default());
        let mut state = State {
            topologies: BTreeMap::new(),
            supervisors: BTreeMap::new(),
            book: book::Book::new(rand::random(), board),
        };
        for (id, info) in snap.supervisors {
            let sup = Sup {
                info,
                last_heartbeat: now,
                alive: true,
                workers: Vec::new(),
                since: now,
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
            let secret = match snap.secrets.remove(&name) {
                Some(s) => s,
                None => {
                    // Stored by a nimbus without topology secrets: give it one now (its
                    // workers restart with it).
                    let s = TopologySecret::generate()?;
                    store.write(|w| w.put_topology_secret(&name, &s))?;
                    tracing::info!(topology = %name, "topology had no secret; created one");
                    s
                }
            };
            tracing::info!(topology = %name, id = %record.id, status = %record.status,
                workers = assignment.workers.len(), "topology loaded");
            // A log configuration of an earlier submission of this name is not its own.
            let log_config = log_configs
                .remove(&name)
                .filter(|c| c.topology_id == record.id)
                .unwrap_or_default();
            let topo = Topo {
                record,
                def,
                plan,
                assignment,
                stats: stats::TaskTable::default(),
                secret,
                log_config,
            };
            state.topologies.insert(name, topo);
        }
        state.publish();
        Ok(Cluster {
            store,
            artifacts,
            supervisor_timeout,
            max_supervisors: supervisors::MAX_SUPERVISORS,
            clock,
            state: Mutex::new(state),
            started: now,
        })
    }

    /// The artifact files.
    pub fn artifacts(&self) -> &ArtifactStore {
        &self.artifacts
    }

    /// Wall-clock now (unix millis) of the cluster's clock: what callers pass to the
    /// topology actions.
    pub fn wall_millis(&self) -> u64 {
        self.clock.wall_millis()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as it was at the last
        // completed step: every change is written to the store before it is applied.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state's lock, for an operation that may change what supervisors are sent.
    fn lock_mut(&self) -> Publishing<'_> {
        Publishing(self.lock())
    }

    /// Every supervisor's assignment version, where their long polls wait.
    pub fn board(&self) -> Arc<VersionBoard> {
        self.lock().book.board().clone()
    }

    /// Run `f` holding the state's lock, as an operation stuck in a slow commit would.
    #[cfg(test)]
    pub(crate) fn while_locked<T>(&self, f: impl FnOnce() -> T) -> T {
        let _held = self.lock();
        f()
    }

    /// Periodic work: supervisors silent (on monotonic time) for longer than the timeout
    /// are dead, killed topologies past their wait are removed, due rebalances happen,
    /// and every topology is rescheduled (a no-op when nothing changed). Returns how soon
    /// something is due next, if anything is.
    pub fn tick(&self) -> Result<Option<Duration>, ClusterError> {
        let now = self.clock.now();
        let now_ms = self.clock.wall_millis();
        let mut st = self.lock_mut();
        for sup in st.supervisors.values_mut() {
            let silent = now.saturating_duration_since(sup.last_heartbeat);
            if sup.alive && silent > self.supervisor_timeout {
                sup.alive = false;
                tracing::warn!(supervisor = %sup.info.id, silent_ms = silent.as_millis(),
                    "supervisor missed its heartbeats; considered dead, its slots are freed");
            }
        }
        self.run_deadlines(&mut st, now_ms)?;
        self.reschedule(&mut st)?;
        self.forget_dead_supervisors(&mut st, now)?;
        self.collect_artifacts(&st);
        let deadlines = st.topologies.values().filter_map(|t| {
            let due_ms =
                t.record
                    .kill_deadline_ms
                    .or(t.record.rebalance.as_ref().map(|r| r.deadline_ms))?;
            Some(Duration::from_millis(due_ms.saturating_sub(now_ms)))
        });
        let deaths = st.supervisors.values().filter(|s| s.alive).map(|s| {
            let dies_at = s.last_heartbeat + self.supervisor_timeout + Duration::from_millis(1);
            dies_at.saturating_duration_since(now)
        });
        Ok(deadlines.chain(deaths).min())
    }

    /// Delete the artifacts no stored topology references once their grace is over
    /// (under the state lock: a submission cannot reference one in between).
    fn collect_artifacts(&self, st: &State) {
        let referenced: BTreeSet<ArtifactHash> = st
            .topologies
            .values()
            .flat_map(|t| std::iter::once(t.record.artifact).chain(t.record.resources))
            .collect();
        for hash in self.artifacts.collect(&referenced) {
            tracing::info!(artifact = %hash, "unused artifact deleted");
        }
    }

    /// Remove killed topologies and finish rebalances whose wait is over (wall time:
    /// the deadlines are stored and survive a restart).
    fn run_deadlines(&self, st: &mut State, now_ms: u64) -> Result<(), ClusterError> {
        let due: Vec<(String, LifecycleEvent)> = st
            .topologies
            .values()
            .filter_map(|t| {
                let r = &t.record;
                let event = match r.status {
                    TopologyStatus::Killed if r.kill_deadline_ms.is_none_or(|d| d <= now_ms) => {
                        LifecycleEvent::KillWaitOver
                    }
                    TopologyStatus::Rebalancing
                        if r.rebalance.as_ref().is_none_or(|p| p.deadline_ms <= now_ms) =>
                    {
                        LifecycleEvent::RebalanceWaitOver {
                            prev: r
                                .rebalance
                                .as_ref()
                                .map_or(TopologyStatus::Active, |p| p.prev_status),
                        }
                    }
                    _ => return None,
                };
                Some((r.name.clone(), event))
            })
            .collect();
        for (name, event) in due {
            let Some(topo) = st.topologies.get(&name) else {
                continue;
            };
            match lifecycle::next(topo.record.status, event) {
                Ok(Outcome::Remove) => self.remove(st, &name)?,
                Ok(Outcome::To(status)) => {
                    let mut record = topo.record.clone();
                    record.status = status;
                    record.rebalance = None;
                    self.store.write(|w| w.put_topology(&record))?;
                    tracing::info!(topology = %name, status = %record.status, "rebalance done");
                    if let Some(topo) = st.topologies.get_mut(&name) {
                        topo.record = record;
                    }
                }
                Ok(Outcome::Unchanged) => {}
                Err(refused) => {
                    tracing::error!(topology = %name, "{}", refused.for_topology(&name))
                }
            }
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
            let slots: Vec<String> = a
                .workers
                .iter()
                .map(|w| SlotId::of(w).to_string())
                .collect();
            let wanted = topo.record.num_workers as usize;
            if a.workers.len() < wanted.min(topo.plan.executors.len()) {
                tracing::warn!(topology = %name, wanted, got = a.workers.len(),
                    "not enough free slots; the topology runs on fewer workers until slots appear");
            }
            tracing::info!(topology = %name, workers = ?slots, "assignment changed");
            stats::forget_moved_tasks(&mut topo.stats, &a.workers);
            topo.assignment = a;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
