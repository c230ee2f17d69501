//! The assignment book: what nimbus has published to supervisors, and the version of
//! each supervisor's assignments (see [`squall_runtime::cluster::protocol::assignment`]).
//!
//! Each topology's view (its id, status, artifact, YAML, secret and every worker with its
//! executor ranges) is built once per change and shared, behind an `Arc`, by the answers
//! of all its supervisors; each supervisor's slot list is rebuilt only when one of its
//! topologies changed. [`Book::publish`] runs at the end of every operation that may
//! change the state (it compares, so it need not know what changed); a heartbeat then
//! answers from the book in O(its slots) under the state lock, and "unchanged" when the
//! supervisor already holds its version. The versions are mirrored on the
//! [`VersionBoard`], where the supervisors' long polls wait without the state lock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use squall_runtime::cluster::protocol::{
    AssignmentVersion, HeartbeatResponse, SlotRef, SupervisorAssignments, TopologyAssignment,
    WorkerLocation,
};

use super::{Sup, Topo};
use crate::assignment_polls::VersionBoard;
use crate::model::Assignment;

/// A topology as last published.
#[derive(Debug)]
struct Published {
    /// The assignment it was built from.
    assignment: Assignment,
    /// What its supervisors are sent.
    view: Arc<TopologyAssignment>,
}

impl Published {
    fn of(t: &Topo) -> Published {
        let workers = t
            .assignment
            .workers
            .iter()
            .map(|w| WorkerLocation {
                host: w.host.clone(),
                port: w.port,
                executors: w.executors.clone(),
            })
            .collect();
        let view = TopologyAssignment {
            topology: t.record.name.clone(),
            topology_id: t.record.id.clone(),
            status: t.record.status,
            artifact: t.record.artifact,
            resources: t.record.resources,
            yaml: t.record.yaml.clone(),
            topology_secret: Some(t.secret.clone()),
            workers,
        };
        Published {
            assignment: t.assignment.clone(),
            view: Arc::new(view),
        }
    }

    /// Whether `t` would publish the same view.
    fn matches(&self, t: &Topo) -> bool {
        let v = &self.view;
        v.topology_id == t.record.id
            && v.status == t.record.status
            && v.artifact == t.record.artifact
            && v.resources == t.record.resources
            && v.yaml == t.record.yaml
            && v.topology_secret.as_ref() == Some(&t.secret)
            && self.assignment == t.assignment
    }

    fn supervisors(&self) -> impl Iterator<Item = &String> {
        self.assignment.workers.iter().map(|w| &w.supervisor)
    }
}

/// One supervisor's published assignments.
#[derive(Debug, Clone)]
struct Mine {
    version: AssignmentVersion,
    slots: Vec<SlotRef>,
    topologies: Vec<Arc<TopologyAssignment>>,
}

/// See the module docs.
#[derive(Debug)]
pub(super) struct Book {
    epoch: u64,
    seq: u64,
    topologies: BTreeMap<String, Published>,
    supervisors: BTreeMap<String, Mine>,
    board: Arc<VersionBoard>,
}

impl Book {
    /// An empty book of a nimbus incarnation `epoch` (random: a version of an earlier
    /// nimbus never matches one of this one).
    pub(super) fn new(epoch: u64, board: Arc<VersionBoard>) -> Book {
        Book {
            epoch,
            seq: 0,
            topologies: BTreeMap::new(),
            supervisors: BTreeMap::new(),
            board,
        }
    }

    /// The board the versions are mirrored on.
    pub(super) fn board(&self) -> &Arc<VersionBoard> {
        &self.board
    }

    /// Bring the book up to the state: topologies whose view changed are rebuilt, and
    /// every supervisor that runs (or ran) one of their workers gets a new version.
    /// Returns how many supervisors got one.
    pub(super) fn publish(
        &mut self,
        topologies: &BTreeMap<String, Topo>,
        supervisors: &BTreeMap<String, Sup>,
    ) -> usize {
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let gone: Vec<String> = self
            .topologies
            .keys()
            .filter(|n| !topologies.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(p) = self.topologies.remove(&name) {
                touched.extend(p.supervisors().cloned());
            }
        }
        for (name, t) in topologies {
            if self.topologies.get(name).is_some_and(|p| p.matches(t)) {
                continue;
            }
            let new = Published::of(t);
            touched.extend(new.supervisors().cloned());
            if let Some(old) = self.topologies.insert(name.clone(), new) {
                touched.extend(old.supervisors().cloned());
            }
        }
        // New supervisors get a version (their empty assignments); forgotten ones lose it.
        touched.extend(
            supervisors
                .keys()
                .filter(|id| !self.supervisors.contains_key(*id))
                .cloned(),
        );
        let forgotten: Vec<String> = self
            .supervisors
            .keys()
            .filter(|id| !supervisors.contains_key(*id))
            .cloned()
            .collect();
        for id in forgotten {
            self.supervisors.remove(&id);
            self.board.remove(&id);
        }
        touched.retain(|id| supervisors.contains_key(id));
        if touched.is_empty() {
            return 0;
        }
        self.seq += 1;
        let version = AssignmentVersion {
            epoch: self.epoch,
            seq: self.seq,
        };
        let mut mine: BTreeMap<&str, Mine> = touched
            .iter()
            .map(|id| {
                let m = Mine {
                    version,
                    slots: Vec::new(),
                    topologies: Vec::new(),
                };
                (id.as_str(), m)
            })
            .collect();
        for p in self.topologies.values() {
            for w in &p.assignment.workers {
                let Some(m) = mine.get_mut(w.supervisor.as_str()) else {
                    continue;
                };
                m.slots.push(SlotRef {
                    port: w.port,
                    topology: p.view.topology.clone(),
                    executors: w.executors.clone(),
                });
                if !m.topologies.iter().any(|t| Arc::ptr_eq(t, &p.view)) {
                    m.topologies.push(p.view.clone());
                }
            }
        }
        let n = mine.len();
        for (id, mut m) in mine {
            m.slots.sort_by_key(|s| s.port);
            self.board.set(id, version);
            self.supervisors.insert(id.to_string(), m);
        }
        n
    }

    /// The answer to supervisor `id`, which holds `held`: "unchanged" when `held` is its
    /// current version, else its assignments (clones of `Arc`s and its slot list).
    pub(super) fn answer(&self, id: &str, held: Option<AssignmentVersion>) -> HeartbeatResponse {
        let Some(m) = self.supervisors.get(id) else {
            // Not published yet (cannot happen after a heartbeat registered it): nothing.
            return HeartbeatResponse {
                version: AssignmentVersion {
                    epoch: self.epoch,
                    seq: 0,
                },
                assignments: Some(SupervisorAssignments::default()),
            };
        };
        if held == Some(m.version) {
            return HeartbeatResponse {
                version: m.version,
                assignments: None,
            };
        }
        HeartbeatResponse {
            version: m.version,
            assignments: Some(SupervisorAssignments {
                slots: m.slots.clone(),
                topologies: m.topologies.clone(),
            }),
        }
    }
}
