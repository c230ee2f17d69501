//! Supervisor heartbeats: registration, liveness, worker reports, and the assignments
//! sent back.

use std::time::Instant;

use super::{Cluster, State, Sup};
use crate::error::ClusterError;
use crate::model::SupervisorInfo;
use squall_runtime::cluster::protocol::{Heartbeat, HeartbeatResponse};

/// Most slots one supervisor may declare.
const MAX_SLOTS: usize = 1024;
/// Longest accepted supervisor id or host.
const MAX_ID_LEN: usize = 256;
/// Most supervisors nimbus tracks at once, live or dead (dead ones are forgotten after
/// [`FORGET_AFTER_TIMEOUTS`] supervisor timeouts of silence).
pub(super) const MAX_SUPERVISORS: usize = 10_000;
/// A supervisor silent this many supervisor timeouts is forgotten: deleted from memory
/// and the store (it registers afresh if it ever comes back).
pub(super) const FORGET_AFTER_TIMEOUTS: u32 = 10;

fn check_heartbeat(hb: &Heartbeat) -> Result<(), ClusterError> {
    let mut problems = Vec::new();
    if hb.id.trim().is_empty() || hb.id.len() > MAX_ID_LEN {
        problems.push(format!(
            "`id` must be a non-empty supervisor id of at most {MAX_ID_LEN} characters"
        ));
    }
    if hb.host.trim().is_empty() || hb.host.len() > MAX_ID_LEN {
        problems.push(format!(
            "`host` must be a non-empty host name of at most {MAX_ID_LEN} characters"
        ));
    }
    if hb.slots.len() > MAX_SLOTS {
        problems.push(format!("at most {MAX_SLOTS} `slots` are accepted"));
    }
    if hb.slots.contains(&0) {
        problems.push("slot port 0 is not a port".to_string());
    }
    if hb.workers.len() > MAX_SLOTS {
        problems.push(format!("at most {MAX_SLOTS} `workers` are accepted"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ClusterError::BadRequest {
            message: format!("bad heartbeat: {}", problems.join("; ")),
            details: problems,
        })
    }
}

impl Cluster {
    /// Record a supervisor's heartbeat (at the clock's monotonic now) and answer with its
    /// assignment version and, unless the heartbeat names that version already, its
    /// assignments (from the assignment book: shared topology views, its slot list). A
    /// new supervisor, one that changed its slots or host, and one that was dead make
    /// nimbus reschedule first.
    pub fn heartbeat(&self, hb: Heartbeat) -> Result<HeartbeatResponse, ClusterError> {
        self.heartbeat_noting(hb).map(|(answer, _)| answer)
    }

    /// [`Cluster::heartbeat`], also saying whether the heartbeat changed the cluster (a
    /// supervisor registered, changed its host or slots, or came back from the dead):
    /// the others are routine.
    pub fn heartbeat_noting(
        &self,
        hb: Heartbeat,
    ) -> Result<(HeartbeatResponse, bool), ClusterError> {
        check_heartbeat(&hb)?;
        let now = self.clock.now();
        let mut slots = hb.slots.clone();
        slots.sort_unstable();
        slots.dedup();
        let info = SupervisorInfo {
            id: hb.id.clone(),
            host: hb.host.clone(),
            slots,
        };
        let mut st = self.lock();
        if !st.supervisors.contains_key(&hb.id) && st.supervisors.len() >= self.max_supervisors {
            return Err(ClusterError::Conflict(format!(
                "nimbus already tracks {} supervisors, its limit; supervisor '{}' is refused \
                 until dead ones are forgotten ({} supervisor timeouts of silence)",
                st.supervisors.len(),
                hb.id,
                FORGET_AFTER_TIMEOUTS
            )));
        }
        let known = st.supervisors.get(&hb.id);
        let changed = known.is_none_or(|s| s.info != info);
        let revived = known.is_some_and(|s| !s.alive);
        // Alive without a break since: kept across heartbeats, reset by a death.
        let since = known.filter(|s| s.alive).map_or(now, |s| s.since);
        if changed {
            self.store.write(|w| w.put_supervisor(&info))?;
            tracing::info!(supervisor = %info.id, host = %info.host, slots = ?info.slots,
                "supervisor registered");
        } else if revived {
            tracing::info!(supervisor = %info.id, "supervisor is back");
        }
        st.supervisors.insert(
            hb.id.clone(),
            Sup {
                info,
                last_heartbeat: now,
                alive: true,
                workers: hb.workers,
                since,
            },
        );
        if changed || revived {
            self.reschedule(&mut st)?;
            st.publish();
        }
        // Only the supervisor holding `hb.id`'s credential gets here (`auth::acl`: a
        // supervisor token is bound to one id), so the topology secrets in its answer
        // are its own slots' topologies'.
        Ok((
            st.book.answer(&hb.id, hb.assignment_version),
            changed || revived,
        ))
    }
}

impl Cluster {
    /// Evict a supervisor now (its credential was revoked): it is forgotten, in memory
    /// and in the store, its slots leave the cluster and its workers are rescheduled on
    /// the others. Returns the topologies that had workers on it (their secrets are to
    /// be rotated).
    pub fn evict_supervisor(&self, id: &str) -> Result<Vec<String>, ClusterError> {
        let mut st = self.lock_mut();
        let affected: Vec<String> = st
            .topologies
            .values()
            .filter(|t| t.assignment.workers.iter().any(|w| w.supervisor == id))
            .map(|t| t.record.name.clone())
            .collect();
        if st.supervisors.contains_key(id) {
            self.store.write(|w| w.delete_supervisor(id))?;
            st.supervisors.remove(id);
            tracing::warn!(supervisor = %id, topologies = ?affected,
                "supervisor evicted (its token was revoked); its workers are moved");
        }
        self.reschedule(&mut st)?;
        Ok(affected)
    }

    /// Delete supervisors silent for [`FORGET_AFTER_TIMEOUTS`] supervisor timeouts (their
    /// workers were moved long ago), so ids that come and go do not pile up.
    pub(super) fn forget_dead_supervisors(
        &self,
        st: &mut State,
        now: Instant,
    ) -> Result<(), ClusterError> {
        let forget_after = self.supervisor_timeout * FORGET_AFTER_TIMEOUTS;
        let gone: Vec<String> = st
            .supervisors
            .values()
            .filter(|s| !s.alive && now.saturating_duration_since(s.last_heartbeat) > forget_after)
            .filter(|s| {
                // Never while an assignment still names it (no slot elsewhere yet).
                !st.topologies.values().any(|t| {
                    t.assignment
                        .workers
                        .iter()
                        .any(|w| w.supervisor == s.info.id)
                })
            })
            .map(|s| s.info.id.clone())
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        self.store
            .write(|w| gone.iter().try_for_each(|id| w.delete_supervisor(id)))?;
        for id in gone {
            tracing::info!(supervisor = %id, "dead supervisor forgotten");
            st.supervisors.remove(&id);
        }
        Ok(())
    }

    /// Lower the supervisor table's bound (tests).
    #[cfg(test)]
    pub(super) fn set_max_supervisors(&mut self, n: usize) {
        self.max_supervisors = n;
    }
}
