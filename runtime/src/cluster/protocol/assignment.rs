//! Versioned assignments between nimbus and a supervisor (protocol 3): a heartbeat names
//! the [`AssignmentVersion`] the supervisor holds; nimbus answers with its current
//! version and, only when that differs, the supervisor's [`SupervisorAssignments`]: its
//! slots, and once per topology the topology's workers (`host:port` and executor
//! ranges), from which the supervisor builds each slot's task locations
//! ([`SupervisorAssignments::into_slots`], capped before anything is expanded).
//!
//! A supervisor learns that its version moved without waiting for its next heartbeat
//! through a long poll ([`assignment_poll_path`]), answered with an [`AssignmentPoll`]
//! as soon as the version differs from the one it names, or after the wait.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::supervisor::{Executor, SlotAssignment};
use super::{ArtifactHash, TopologyStatus};
use crate::cluster::addr::host_port;
use crate::cluster::auth::topology_secret::TopologySecret;

/// Task id -> `host:port`.
type TaskLocations = BTreeMap<u32, String>;

/// The first protocol version whose heartbeats carry assignment versions: a supervisor
/// and a nimbus on either side of it cannot work together (they ship together), and
/// each refuses the other with a message naming both versions.
pub const ASSIGNMENT_PROTOCOL: u32 = 3;

/// The most slots an answer may assign one supervisor.
pub const MAX_ASSIGNED_SLOTS: usize = 1024;
/// The most workers one topology of an answer may list.
pub const MAX_TOPOLOGY_WORKERS: usize = 1 << 16;
/// The most executor ranges one topology of an answer may list (over all its workers).
pub const MAX_TOPOLOGY_EXECUTORS: usize = 1 << 20;
/// The most tasks one topology of an answer may cover (checked before the ranges are
/// expanded into task locations).
pub const MAX_TOPOLOGY_TASKS: u64 = 1 << 20;
/// The largest heartbeat answer body a supervisor reads.
pub const MAX_HEARTBEAT_ANSWER_BYTES: usize = 64 << 20;
/// The longest wait an assignment poll may ask for (and the default).
pub const MAX_ASSIGNMENT_WAIT_SECS: u64 = 25;
/// The longest [`AssignmentVersion`] text accepted.
const MAX_VERSION_CHARS: usize = 48;

/// The version of one supervisor's assignments as one nimbus incarnation holds them:
/// `epoch` is drawn at random when nimbus starts (so a version from an earlier nimbus
/// never matches), `seq` moves whenever anything the supervisor's workers see changes.
/// Only equality means anything: nimbus answers "unchanged" when the version a
/// supervisor names is its current one. Written `epoch.seq` (hex, decimal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssignmentVersion {
    /// The nimbus incarnation.
    pub epoch: u64,
    /// The change counter within it.
    pub seq: u64,
}

impl fmt::Display for AssignmentVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}.{}", self.epoch, self.seq)
    }
}

/// A text that is not an [`AssignmentVersion`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an assignment version is `EPOCH.SEQ` (hex, decimal), at most {MAX_VERSION_CHARS} characters"
)]
pub struct BadAssignmentVersion;

impl FromStr for AssignmentVersion {
    type Err = BadAssignmentVersion;

    /// ```
    /// use squall_runtime::cluster::protocol::AssignmentVersion;
    /// let v: AssignmentVersion = "ff.7".parse().unwrap();
    /// assert_eq!((v.epoch, v.seq), (255, 7));
    /// assert_eq!(v.to_string(), "ff.7");
    /// assert!("7".parse::<AssignmentVersion>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_VERSION_CHARS {
            return Err(BadAssignmentVersion);
        }
        let (epoch, seq) = s.split_once('.').ok_or(BadAssignmentVersion)?;
        Ok(AssignmentVersion {
            epoch: u64::from_str_radix(epoch, 16).map_err(|_| BadAssignmentVersion)?,
            seq: seq.parse().map_err(|_| BadAssignmentVersion)?,
        })
    }
}

impl Serialize for AssignmentVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AssignmentVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Nimbus's answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatResponse {
    /// The version of this supervisor's assignments nimbus holds now.
    pub version: AssignmentVersion,
    /// This supervisor's assignments at `version`; `None` ("unchanged") when the
    /// heartbeat named `version` already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignments: Option<SupervisorAssignments>,
}

impl HeartbeatResponse {
    /// Each slot's full assignment ([`SupervisorAssignments::into_slots`]); `Ok(None)`
    /// when the answer says "unchanged".
    pub fn into_slots(self) -> Result<Option<Vec<SlotAssignment>>, BadAssignment> {
        self.assignments
            .map(SupervisorAssignments::into_slots)
            .transpose()
    }
}

/// Everything one supervisor runs: its slots, and each of their topologies once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorAssignments {
    /// Its assigned slots, by port.
    pub slots: Vec<SlotRef>,
    /// The topologies of those slots (shared by nimbus between the answers of every
    /// supervisor of the topology).
    pub topologies: Vec<Arc<TopologyAssignment>>,
}

/// One assigned slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotRef {
    /// Slot port.
    pub port: u16,
    /// The topology's name (one of [`SupervisorAssignments::topologies`]).
    pub topology: String,
    /// This worker's executors.
    pub executors: Vec<Executor>,
}

/// What every worker of a topology needs, sent once per topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyAssignment {
    /// Topology name.
    pub topology: String,
    /// Topology id (`name-counter-secs`; changes on resubmission).
    pub topology_id: String,
    /// Topology status.
    pub status: TopologyStatus,
    /// The topology binary.
    pub artifact: ArtifactHash,
    /// The topology's resources archive, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ArtifactHash>,
    /// The topology YAML.
    pub yaml: String,
    /// The topology's secret (only to the supervisors running one of its slots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_secret: Option<TopologySecret>,
    /// Every worker of the topology, sorted by (host, port).
    pub workers: Vec<WorkerLocation>,
}

/// One worker of a topology: where it listens and what it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerLocation {
    /// Host its peers reach it at.
    pub host: String,
    /// Its slot port.
    pub port: u16,
    /// Its executors.
    pub executors: Vec<Executor>,
}

/// An answer a supervisor cannot use (nimbus sent something outside the caps, or
/// inconsistent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad assignment from nimbus: {0}")]
pub struct BadAssignment(pub String);

impl TopologyAssignment {
    /// Check the caps and ranges before anything is expanded.
    fn check(&self) -> Result<(), BadAssignment> {
        let bad = |m: String| Err(BadAssignment(format!("topology '{}': {m}", self.topology)));
        if self.workers.len() > MAX_TOPOLOGY_WORKERS {
            return bad(format!(
                "{} workers, more than {MAX_TOPOLOGY_WORKERS}",
                self.workers.len()
            ));
        }
        let mut ranges = 0usize;
        let mut tasks = 0u64;
        for w in &self.workers {
            ranges = ranges.saturating_add(w.executors.len());
            if ranges > MAX_TOPOLOGY_EXECUTORS {
                return bad(format!("more than {MAX_TOPOLOGY_EXECUTORS} executors"));
            }
            for [first, last] in &w.executors {
                if first > last {
                    return bad(format!("executor [{first}, {last}] is not a range"));
                }
                tasks = tasks.saturating_add(u64::from(last - first) + 1);
            }
            if tasks > MAX_TOPOLOGY_TASKS {
                return bad(format!("more than {MAX_TOPOLOGY_TASKS} tasks"));
            }
        }
        Ok(())
    }

    /// Task id -> `host:port` of the worker running it (an IPv6 host in brackets).
    /// Uncapped: call on a checked assignment (nimbus builds them from its plans).
    pub fn task_locations(&self) -> BTreeMap<u32, String> {
        let mut out = BTreeMap::new();
        for w in &self.workers {
            let at = host_port(&w.host, w.port);
            for [first, last] in &w.executors {
                for task in *first..=*last {
                    out.insert(task, at.clone());
                }
            }
        }
        out
    }
}

impl SupervisorAssignments {
    /// Each slot's full assignment (what a worker reads from its spec), after checking
    /// every cap: slots, workers, executor ranges and tasks per topology, and that each
    /// slot names a topology of the answer.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use squall_runtime::cluster::protocol::*;
    /// let topo = TopologyAssignment {
    ///     topology: "wc".into(), topology_id: "wc-1-1".into(),
    ///     status: TopologyStatus::Active, artifact: ArtifactHash::of_bytes(b"bin"),
    ///     resources: None, yaml: "name: wc".into(), topology_secret: None,
    ///     workers: vec![
    ///         WorkerLocation { host: "a".into(), port: 6700, executors: vec![[1, 2]] },
    ///         WorkerLocation { host: "b".into(), port: 6700, executors: vec![[3, 3]] },
    ///     ],
    /// };
    /// let mine = SupervisorAssignments {
    ///     slots: vec![SlotRef { port: 6700, topology: "wc".into(), executors: vec![[1, 2]] }],
    ///     topologies: vec![Arc::new(topo)],
    /// };
    /// let slots = mine.into_slots().unwrap();
    /// assert_eq!(slots[0].workers_total, 2);
    /// assert_eq!(slots[0].task_locations[&3], "b:6700");
    /// ```
    pub fn into_slots(self) -> Result<Vec<SlotAssignment>, BadAssignment> {
        if self.slots.len() > MAX_ASSIGNED_SLOTS {
            return Err(BadAssignment(format!(
                "{} slots, more than {MAX_ASSIGNED_SLOTS}",
                self.slots.len()
            )));
        }
        if self.topologies.len() > self.slots.len() {
            return Err(BadAssignment(format!(
                "{} topologies for {} slots",
                self.topologies.len(),
                self.slots.len()
            )));
        }
        let mut by_name: BTreeMap<&str, (&TopologyAssignment, Option<TaskLocations>)> =
            BTreeMap::new();
        for t in &self.topologies {
            t.check()?;
            if by_name.insert(&t.topology, (t, None)).is_some() {
                return Err(BadAssignment(format!(
                    "topology '{}' listed twice",
                    t.topology
                )));
            }
        }
        let mut out = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let Some((t, locations)) = by_name.get_mut(slot.topology.as_str()) else {
                return Err(BadAssignment(format!(
                    "slot {} names topology '{}', which the answer does not hold",
                    slot.port, slot.topology
                )));
            };
            if slot.executors.len() > MAX_TOPOLOGY_EXECUTORS {
                return Err(BadAssignment(format!(
                    "slot {}: more than {MAX_TOPOLOGY_EXECUTORS} executors",
                    slot.port
                )));
            }
            let task_locations = locations.get_or_insert_with(|| t.task_locations()).clone();
            out.push(SlotAssignment {
                topology: t.topology.clone(),
                topology_id: t.topology_id.clone(),
                status: t.status,
                port: slot.port,
                artifact: t.artifact,
                yaml: t.yaml.clone(),
                executors: slot.executors.clone(),
                task_locations,
                workers_total: u32::try_from(t.workers.len()).unwrap_or(u32::MAX),
                resources: t.resources,
                topology_secret: t.topology_secret.clone(),
            });
        }
        Ok(out)
    }
}

/// `GET /api/v1/supervisors/{id}/assignments?after=VERSION&wait_secs=N`: answered as soon
/// as the supervisor's version differs from `after`, or after the wait with the same
/// version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentPoll {
    /// The supervisor's version nimbus holds now.
    pub version: AssignmentVersion,
}

/// The path of a supervisor's assignment poll (its id percent-encoded as a segment).
///
/// ```
/// use squall_runtime::cluster::protocol::{assignment_poll_path, AssignmentVersion};
/// let v = AssignmentVersion { epoch: 10, seq: 3 };
/// assert_eq!(
///     assignment_poll_path("s 1", Some(v), 25),
///     "/api/v1/supervisors/s%201/assignments?wait_secs=25&after=a.3"
/// );
/// ```
pub fn assignment_poll_path(
    supervisor: &str,
    after: Option<AssignmentVersion>,
    wait_secs: u64,
) -> String {
    let mut path = format!(
        "/api/v1/supervisors/{}/assignments?wait_secs={wait_secs}",
        super::trident::encode_segment(supervisor)
    );
    if let Some(v) = after {
        path.push_str(&format!("&after={v}"));
    }
    path
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn topo(workers: Vec<WorkerLocation>) -> TopologyAssignment {
        TopologyAssignment {
            topology: "t".into(),
            topology_id: "t-1-1".into(),
            status: TopologyStatus::Active,
            artifact: ArtifactHash::of_bytes(b"x"),
            resources: None,
            yaml: "name: t".into(),
            topology_secret: None,
            workers,
        }
    }

    fn worker(host: &str, port: u16, executors: Vec<Executor>) -> WorkerLocation {
        WorkerLocation {
            host: host.into(),
            port,
            executors,
        }
    }

    #[test]
    fn versions_round_trip_as_text_and_json() {
        let v = AssignmentVersion {
            epoch: u64::MAX,
            seq: u64::MAX,
        };
        assert_eq!(v.to_string().parse::<AssignmentVersion>().unwrap(), v);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<AssignmentVersion>(&json).unwrap(), v);
        for bad in ["", ".", "x.1", "1.x", "1.-1", &"1".repeat(60)] {
            assert!(bad.parse::<AssignmentVersion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unchanged_answer_is_tiny_and_carries_no_assignments() {
        let answer = HeartbeatResponse {
            version: AssignmentVersion {
                epoch: 0x1234_5678_9abc_def0,
                seq: 42,
            },
            assignments: None,
        };
        let json = serde_json::to_string(&answer).unwrap();
        assert!(json.len() < 64, "{json}");
        assert_eq!(
            serde_json::from_str::<HeartbeatResponse>(&json).unwrap(),
            answer
        );
        // An answer in the form of protocol 2 (a list) is not one.
        assert!(serde_json::from_str::<HeartbeatResponse>(r#"{"assignments":[]}"#).is_err());
    }

    #[test]
    fn slots_are_expanded_with_their_topology_locations_once() {
        let t = topo(vec![
            worker("a", 6700, vec![[1, 2], [5, 5]]),
            worker("::1", 6701, vec![[3, 4]]),
        ]);
        let mine = SupervisorAssignments {
            slots: vec![
                SlotRef {
                    port: 6700,
                    topology: "t".into(),
                    executors: vec![[1, 2], [5, 5]],
                },
                SlotRef {
                    port: 6701,
                    topology: "t".into(),
                    executors: vec![[3, 4]],
                },
            ],
            topologies: vec![Arc::new(t)],
        };
        let slots = mine.into_slots().unwrap();
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0].task_locations.len(), 5);
        assert_eq!(slots[0].task_locations, slots[1].task_locations);
        assert_eq!(slots[1].task_locations[&3], "[::1]:6701");
        assert_eq!(slots[0].task_locations[&5], "a:6700");
        assert_eq!(slots[1].executors, vec![[3, 4]]);
        assert_eq!(slots[1].workers_total, 2);
    }

    #[test]
    fn answers_outside_the_caps_are_refused_before_expansion() {
        let slot = |topology: &str| SlotRef {
            port: 6700,
            topology: topology.into(),
            executors: vec![[1, 1]],
        };
        let refused = |slots: Vec<SlotRef>, topologies: Vec<TopologyAssignment>| {
            SupervisorAssignments {
                slots,
                topologies: topologies.into_iter().map(Arc::new).collect(),
            }
            .into_slots()
            .unwrap_err()
            .to_string()
        };
        // A range over every u32 would be 4 billion task locations.
        let huge = topo(vec![worker("a", 1, vec![[0, u32::MAX]])]);
        assert!(refused(vec![slot("t")], vec![huge]).contains("tasks"));
        let backwards = topo(vec![worker("a", 1, vec![[5, 1]])]);
        assert!(refused(vec![slot("t")], vec![backwards]).contains("not a range"));
        let unknown = topo(vec![worker("a", 1, vec![[1, 1]])]);
        assert!(refused(vec![slot("other")], vec![unknown]).contains("does not hold"));
        let twice = topo(vec![worker("a", 1, vec![[1, 1]])]);
        assert!(refused(vec![slot("t"), slot("t")], vec![twice.clone(), twice]).contains("twice"));
        let many = topo(vec![worker("a", 1, vec![[1, 1]]); MAX_TOPOLOGY_WORKERS + 1]);
        assert!(refused(vec![slot("t")], vec![many]).contains("workers"));
        let slots = vec![slot("t"); MAX_ASSIGNED_SLOTS + 1];
        assert!(refused(slots, vec![topo(Vec::new())]).contains("slots"));
        assert!(refused(vec![], vec![topo(Vec::new())]).contains("topologies for 0 slots"));
    }
}
