//! A topology's lifecycle as one pure function: which status an action leads to from
//! which status, after Storm's `TOPO_STATE_TRANSITIONS`:
//!
//! | status \ event | activate  | deactivate | rebalance     | kill         | wait over          |
//! |----------------|-----------|------------|---------------|--------------|--------------------|
//! | ACTIVE         | no-op     | INACTIVE   | REBALANCING¹  | KILLED       | refused            |
//! | INACTIVE       | ACTIVE    | no-op      | REBALANCING¹  | KILLED       | refused            |
//! | KILLED         | refused   | refused    | refused       | KILLED²      | removed            |
//! | REBALANCING    | refused   | refused    | refused       | KILLED       | previous status    |
//!
//! ¹ with a wait; without one the rebalance is applied at once and the status stays.
//! ² killing a killed topology starts a new wait.
//!
//! The cluster checks every action here before it writes anything, so an action that is
//! not allowed is refused with a clear error (409) and changes nothing.

use std::fmt;

use squall_runtime::cluster::protocol::TopologyStatus;

/// Something that changes a topology's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleEvent {
    /// `activate`: spouts emit.
    Activate,
    /// `deactivate`: spouts pause.
    Deactivate,
    /// `rebalance`; `wait`: spend a wait REBALANCING first.
    Rebalance {
        /// Whether the rebalance waits (REBALANCING) before it applies.
        wait: bool,
    },
    /// `kill`: KILLED, removed after the wait.
    Kill,
    /// The kill wait is over.
    KillWaitOver,
    /// The rebalance wait is over; `prev` is the status before the rebalance.
    RebalanceWaitOver {
        /// The status to return to.
        prev: TopologyStatus,
    },
}

impl LifecycleEvent {
    /// The verb, as users type it.
    pub fn verb(self) -> &'static str {
        match self {
            LifecycleEvent::Activate => "activate",
            LifecycleEvent::Deactivate => "deactivate",
            LifecycleEvent::Rebalance { .. } => "rebalance",
            LifecycleEvent::Kill => "kill",
            LifecycleEvent::KillWaitOver => "remove",
            LifecycleEvent::RebalanceWaitOver { .. } => "finish the rebalance of",
        }
    }
}

/// What an allowed event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing: the topology already is in the status asked for.
    Unchanged,
    /// The topology moves to this status (it may be the same, e.g. a re-kill, which
    /// restarts its wait).
    To(TopologyStatus),
    /// The topology is deleted.
    Remove,
}

/// An event the status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The topology's status.
    pub status: TopologyStatus,
    /// What was asked.
    pub event: LifecycleEvent,
}

impl Refused {
    /// What to do instead, if anything.
    fn hint(&self) -> &'static str {
        match self.status {
            TopologyStatus::Killed => " (it is being removed)",
            TopologyStatus::Rebalancing => " (wait for the rebalance to finish, or kill it)",
            TopologyStatus::Active | TopologyStatus::Inactive => "",
        }
    }

    /// The refusal, naming the topology: `cannot activate topology 'wc': it is KILLED …`.
    pub fn for_topology(&self, name: &str) -> String {
        format!(
            "cannot {} topology '{name}': it is {}{}",
            self.event.verb(),
            self.status,
            self.hint()
        )
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} a topology that is {}{}",
            self.event.verb(),
            self.status,
            self.hint()
        )
    }
}

impl std::error::Error for Refused {}

/// The transition of a topology in `status` on `event`.
pub fn next(status: TopologyStatus, event: LifecycleEvent) -> Result<Outcome, Refused> {
    use LifecycleEvent as E;
    use TopologyStatus as S;
    let refused = Err(Refused { status, event });
    match (status, event) {
        (S::Active, E::Activate) | (S::Inactive, E::Deactivate) => Ok(Outcome::Unchanged),
        (S::Inactive, E::Activate) => Ok(Outcome::To(S::Active)),
        (S::Active, E::Deactivate) => Ok(Outcome::To(S::Inactive)),
        (S::Active | S::Inactive, E::Rebalance { wait: true }) => Ok(Outcome::To(S::Rebalancing)),
        (S::Active | S::Inactive, E::Rebalance { wait: false }) => Ok(Outcome::To(status)),
        (_, E::Kill) => Ok(Outcome::To(S::Killed)),
        (S::Killed, E::KillWaitOver) => Ok(Outcome::Remove),
        (S::Rebalancing, E::RebalanceWaitOver { prev }) => Ok(Outcome::To(match prev {
            S::Inactive => S::Inactive,
            // A stored previous status that is not a running one: run.
            S::Active | S::Killed | S::Rebalancing => S::Active,
        })),
        _ => refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleEvent as E;
    use TopologyStatus as S;

    const ALL: [S; 4] = [S::Active, S::Inactive, S::Killed, S::Rebalancing];

    #[test]
    fn activate_and_deactivate_flip_running_topologies_only() {
        assert_eq!(next(S::Inactive, E::Activate), Ok(Outcome::To(S::Active)));
        assert_eq!(next(S::Active, E::Deactivate), Ok(Outcome::To(S::Inactive)));
        assert_eq!(next(S::Active, E::Activate), Ok(Outcome::Unchanged));
        assert_eq!(next(S::Inactive, E::Deactivate), Ok(Outcome::Unchanged));
        for s in [S::Killed, S::Rebalancing] {
            for e in [E::Activate, E::Deactivate] {
                assert_eq!(
                    next(s, e),
                    Err(Refused {
                        status: s,
                        event: e
                    }),
                    "{s} {e:?}"
                );
            }
        }
    }

    #[test]
    fn activating_a_rebalancing_topology_is_refused_with_a_clear_error() {
        let e = next(S::Rebalancing, E::Activate).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot activate a topology that is REBALANCING (wait for the rebalance to \
             finish, or kill it)"
        );
        assert_eq!(
            e.for_topology("wc"),
            "cannot activate topology 'wc': it is REBALANCING (wait for the rebalance to \
             finish, or kill it)"
        );
    }

    #[test]
    fn kill_works_from_every_status_and_a_re_kill_restarts_the_wait() {
        for s in ALL {
            assert_eq!(next(s, E::Kill), Ok(Outcome::To(S::Killed)), "{s}");
        }
    }

    #[test]
    fn the_kill_wait_removes_only_killed_topologies() {
        assert_eq!(next(S::Killed, E::KillWaitOver), Ok(Outcome::Remove));
        for s in [S::Active, S::Inactive, S::Rebalancing] {
            assert!(next(s, E::KillWaitOver).is_err(), "{s}");
        }
    }

    #[test]
    fn rebalance_waits_in_rebalancing_and_returns_to_the_previous_status() {
        for s in [S::Active, S::Inactive] {
            assert_eq!(
                next(s, E::Rebalance { wait: true }),
                Ok(Outcome::To(S::Rebalancing))
            );
            assert_eq!(next(s, E::Rebalance { wait: false }), Ok(Outcome::To(s)));
            assert_eq!(
                next(S::Rebalancing, E::RebalanceWaitOver { prev: s }),
                Ok(Outcome::To(s))
            );
        }
        assert_eq!(
            next(S::Rebalancing, E::RebalanceWaitOver { prev: S::Killed }),
            Ok(Outcome::To(S::Active))
        );
        for s in [S::Killed, S::Rebalancing] {
            let e = next(s, E::Rebalance { wait: false }).unwrap_err();
            assert_eq!(e.status, s);
        }
        assert!(next(S::Active, E::RebalanceWaitOver { prev: S::Inactive }).is_err());
        assert_eq!(
            next(S::Killed, E::Rebalance { wait: true })
                .unwrap_err()
                .to_string(),
            "cannot rebalance a topology that is KILLED (it is being removed)"
        );
    }
}
