//! Storm's even scheduler, as a pure function of the alive supervisors and the topologies.
//!
//! For each topology, in the order given:
//! 1. its current workers stay where they are when their supervisor is alive, the port is
//!    still one of its slots, their executors are still executors of the topology, and
//!    their executor count fits the ideal even split of the executors over the workers it
//!    can have (`min(workers wanted, free + kept slots, executors)`); other workers are
//!    freed (Storm's DefaultScheduler "bad slots");
//! 2. the missing workers take free slots one at a time from the supervisor holding the
//!    fewest of this topology's workers, then with the most free slots, then by id (lowest
//!    port first), which spreads a topology evenly over supervisors;
//! 3. the executors not kept are dealt round robin, in task order, over the new workers.
//!
//! A topology that nothing changed for keeps its assignment as it is; one that cannot get
//! all its workers gets as many as there are, and grows when slots appear (a later call
//! sees more free slots). Frozen topologies (killed or rebalancing) keep their assignment
//! untouched and their slots stay taken.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::model::{Assignment, SlotId};
use squall_runtime::cluster::protocol::{Executor, WorkerAssignment};

/// An alive supervisor and its slot ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorSlots {
    /// Supervisor id.
    pub id: String,
    /// Host it reported.
    pub host: String,
    /// Slot ports.
    pub ports: Vec<u16>,
}

/// One topology to schedule.
#[derive(Debug, Clone, Copy)]
pub struct Demand<'a> {
    /// Workers wanted.
    pub num_workers: u32,
    /// Every executor of the topology.
    pub executors: &'a [Executor],
    /// Its assignment so far.
    pub current: &'a Assignment,
    /// Keep `current` as it is (killed or rebalancing topologies).
    pub frozen: bool,
}

/// Compute the assignment of every topology in `demands` (same order) on `supervisors`.
pub fn schedule(supervisors: &[SupervisorSlots], demands: &[Demand<'_>]) -> Vec<Assignment> {
    let mut pool = Pool::new(supervisors);
    // Every slot a topology holds now is taken before anyone schedules, so that no
    // topology takes a slot from another one; the first claimant of a slot wins.
    let mut claims: Vec<Vec<&WorkerAssignment>> = Vec::with_capacity(demands.len());
    for d in demands {
        let mut mine = Vec::new();
        for w in &d.current.workers {
            if pool.take(&SlotId::of(w)) {
                mine.push(w);
            }
        }
        claims.push(mine);
    }
    demands
        .iter()
        .zip(claims)
        .map(|(d, mine)| {
            if d.frozen {
                d.current.clone()
            } else {
                schedule_one(&mut pool, d, mine)
            }
        })
        .collect()
}

/// Schedule one topology whose alive current workers are `mine` (already taken from `pool`).
fn schedule_one(pool: &mut Pool, d: &Demand<'_>, mine: Vec<&WorkerAssignment>) -> Assignment {
    let all: HashSet<Executor> = d.executors.iter().copied().collect();
    let mut seen: HashSet<Executor> = HashSet::new();
    let mut valid = Vec::new();
    for w in mine {
        let ok = !w.executors.is_empty()
            && w.executors
                .iter()
                .all(|e| all.contains(e) && seen.insert(*e));
        if ok {
            valid.push(w);
        } else {
            pool.release(&SlotId::of(w));
        }
    }
    let available = pool.free_count() + valid.len();
    let target = (d.num_workers as usize)
        .min(available)
        .min(d.executors.len());
    let mut ideal = even_split(d.executors.len(), target);
    let mut workers: Vec<WorkerAssignment> = Vec::new();
    for w in valid {
        match ideal.get_mut(&w.executors.len()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                workers.push(w.clone());
            }
            _ => pool.release(&SlotId::of(w)),
        }
    }
    let kept: HashSet<Executor> = workers
        .iter()
        .flat_map(|w| w.executors.iter().copied())
        .collect();
    let mut rest: Vec<Executor> = d
        .executors
        .iter()
        .copied()
        .filter(|e| !kept.contains(e))
        .collect();
    rest.sort_unstable();
    rest.dedup();
    let needed = target.saturating_sub(workers.len());
    let mut fresh: Vec<WorkerAssignment> = Vec::with_capacity(needed);
    for _ in 0..needed {
        let Some((slot, host)) = pool.pick(&workers, &fresh) else {
            break;
        };
        fresh.push(WorkerAssignment {
            supervisor: slot.supervisor,
            host,
            port: slot.port,
            executors: Vec::new(),
        });
    }
    if !fresh.is_empty() {
        let n = fresh.len();
        for (i, e) in rest.into_iter().enumerate() {
            fresh[i % n].executors.push(e);
        }
    }
    workers.extend(fresh);
    for w in &mut workers {
        w.executors.sort_unstable();
    }
    workers.sort_by(|a, b| (&a.supervisor, a.port).cmp(&(&b.supervisor, b.port)));
    Assignment { workers }
}

/// Storm's `integerDivided`: how many workers get how many executors when `executors`
/// are split as evenly as possible over `workers` (count -> number of workers).
pub fn even_split(executors: usize, workers: usize) -> BTreeMap<usize, usize> {
    let mut out = BTreeMap::new();
    if workers == 0 {
        return out;
    }
    let (base, extra) = (executors / workers, executors % workers);
    if extra > 0 {
        out.insert(base + 1, extra);
    }
    if workers > extra {
        out.insert(base, workers - extra);
    }
    out
}

/// The free slots of the alive supervisors.
struct Pool {
    /// Supervisor id -> (host, free ports ascending).
    free: BTreeMap<String, (String, BTreeSet<u16>)>,
    /// Every slot that exists.
    exists: HashSet<SlotId>,
}

impl Pool {
    fn new(supervisors: &[SupervisorSlots]) -> Pool {
        let mut free = BTreeMap::new();
        let mut exists = HashSet::new();
        for s in supervisors {
            let ports: BTreeSet<u16> = s.ports.iter().copied().collect();
            for p in &ports {
                exists.insert(SlotId {
                    supervisor: s.id.clone(),
                    port: *p,
                });
            }
            free.insert(s.id.clone(), (s.host.clone(), ports));
        }
        Pool { free, exists }
    }

    /// Take a slot; false when it does not exist or is already taken.
    fn take(&mut self, slot: &SlotId) -> bool {
        self.free
            .get_mut(&slot.supervisor)
            .is_some_and(|(_, ports)| ports.remove(&slot.port))
    }

    /// Give a taken slot back (no-op for slots that do not exist).
    fn release(&mut self, slot: &SlotId) {
        if self.exists.contains(slot)
            && let Some((_, ports)) = self.free.get_mut(&slot.supervisor)
        {
            ports.insert(slot.port);
        }
    }

    fn free_count(&self) -> usize {
        self.free.values().map(|(_, p)| p.len()).sum()
    }

    /// Take the next slot for a topology that has `kept` and `fresh` workers already:
    /// on the supervisor with fewest of them, then most free slots, then lowest id.
    fn pick(
        &mut self,
        kept: &[WorkerAssignment],
        fresh: &[WorkerAssignment],
    ) -> Option<(SlotId, String)> {
        let mine = |id: &str| {
            kept.iter()
                .chain(fresh)
                .filter(|w| w.supervisor == id)
                .count()
        };
        let (id, (host, ports)) = self
            .free
            .iter_mut()
            .filter(|(_, (_, ports))| !ports.is_empty())
            .min_by_key(|(id, (_, ports))| (mine(id), usize::MAX - ports.len()))?;
        let port = ports.pop_first()?;
        Some((
            SlotId {
                supervisor: id.clone(),
                port,
            },
            host.clone(),
        ))
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
