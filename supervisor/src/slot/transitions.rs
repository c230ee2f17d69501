//! [`Slot::next`]: the slot's transitions, one function per event.

use std::time::Instant;

use super::{
    Action, AfterStop, ArtifactHash, Beat, Event, History, Phase, Slot, SlotAssignment, StopReason,
};

/// A slot and the actions a transition asks for.
type Step = (Slot, Vec<Action>);

impl Slot {
    /// The pure transition: the slot after `event` at `now`, and what to do.
    pub fn next(self, event: Event, now: Instant) -> (Slot, Vec<Action>) {
        match event {
            Event::Assigned(desired) => self.assigned(desired, now),
            Event::Downloaded { artifact } => self.downloaded(artifact),
            Event::DownloadFailed(e) => self.failed_to_start(format!("download failed: {e}"), now),
            Event::LaunchFailed(e) => self.failed_to_start(format!("launch failed: {e}"), now),
            Event::Launched { pid } => self.launched(pid, now),
            Event::Adopted { assignment, pid } => (self.adopted(assignment, pid, now), Vec::new()),
            Event::Exited(how) => self.exited(how, now),
            Event::Heartbeat(value) => (self.heartbeat(value, now), Vec::new()),
            Event::OverMemory(cause) => self.over_memory(cause, now),
            Event::Tick => self.tick(now),
            Event::Shutdown => self.shutdown(now),
        }
    }

    fn with(self, phase: Phase) -> Slot {
        Slot { phase, ..self }
    }

    /// Start downloading `assignment`; a new assignment (not the one the history is
    /// about) starts a fresh history.
    fn download(mut self, assignment: SlotAssignment, fresh: bool) -> Step {
        if fresh {
            self.history = History::new(&self.cfg);
        }
        let action = Action::Download(assignment.clone());
        (self.with(Phase::Downloading { assignment }), vec![action])
    }

    fn empty(mut self) -> Slot {
        self.history = History::new(&self.cfg);
        self.with(Phase::Empty)
    }

    /// SIGTERM the worker; once it exited, `then`.
    fn stop(
        self,
        assignment: SlotAssignment,
        pid: u32,
        started: Instant,
        now: Instant,
        then: AfterStop,
    ) -> Step {
        let reason = match then {
            AfterStop::Relaunch(_) => StopReason::AssignmentChanged,
            AfterStop::Empty | AfterStop::Crash | AfterStop::Killed(_) => {
                StopReason::AssignmentRemoved
            }
        };
        let phase = Phase::Stopping {
            assignment,
            pid,
            started,
            since: now,
            forced: false,
            then,
        };
        (self.with(phase), vec![Action::Terminate(reason)])
    }

    fn assigned(self, desired: Option<SlotAssignment>, now: Instant) -> Step {
        let slot = self;
        match (slot.phase.clone(), desired) {
            (Phase::Empty, None) => (slot, Vec::new()),
            (Phase::Empty, Some(d)) => slot.download(d, true),
            (Phase::Downloading { .. } | Phase::Backoff { .. }, None) => (slot.empty(), Vec::new()),
            (Phase::Backoff { assignment, until }, Some(d)) => {
                if assignment.needs_restart_for(&d) {
                    slot.download(d, true)
                } else {
                    (
                        slot.with(Phase::Backoff {
                            assignment: d,
                            until,
                        }),
                        Vec::new(),
                    )
                }
            }
            // A change during a download or launch is acted on at the next feed, once
            // the outcome is known; a status-only change is taken at once.
            (Phase::Downloading { assignment }, Some(d)) => {
                let assignment = if assignment.needs_restart_for(&d) {
                    assignment
                } else {
                    d
                };
                (slot.with(Phase::Downloading { assignment }), Vec::new())
            }
            (Phase::Launching { assignment }, d) => {
                let assignment = match d {
                    Some(d) if !assignment.needs_restart_for(&d) => d,
                    _ => assignment,
                };
                (slot.with(Phase::Launching { assignment }), Vec::new())
            }
            (
                Phase::Starting {
                    assignment,
                    pid,
                    started,
                },
                None,
            )
            | (
                Phase::Running {
                    assignment,
                    pid,
                    started,
                    ..
                },
                None,
            ) => slot.stop(assignment, pid, started, now, AfterStop::Empty),
            (
                Phase::Starting {
                    assignment,
                    pid,
                    started,
                },
                Some(d),
            ) => {
                if assignment.needs_restart_for(&d) {
                    slot.stop(assignment, pid, started, now, AfterStop::Relaunch(d))
                } else {
                    let phase = Phase::Starting {
                        assignment: d,
                        pid,
                        started,
                    };
                    (slot.with(phase), Vec::new())
                }
            }
            (
                Phase::Running {
                    assignment,
                    pid,
                    started,
                    beat,
                },
                Some(d),
            ) => {
                if assignment.needs_restart_for(&d) {
                    slot.stop(assignment, pid, started, now, AfterStop::Relaunch(d))
                } else {
                    let phase = Phase::Running {
                        assignment: d,
                        pid,
                        started,
                        beat,
                    };
                    (slot.with(phase), Vec::new())
                }
            }
            (
                Phase::Stopping {
                    assignment,
                    pid,
                    started,
                    since,
                    forced,
                    then,
                },
                d,
            ) => {
                let then = match (then, d) {
                    (_, None) => AfterStop::Empty,
                    (then @ (AfterStop::Crash | AfterStop::Killed(_)), Some(d))
                        if !assignment.needs_restart_for(&d) =>
                    {
                        let phase = Phase::Stopping {
                            assignment: d,
                            pid,
                            started,
                            since,
                            forced,
                            then,
                        };
                        return (slot.with(phase), Vec::new());
                    }
                    (_, Some(d)) => AfterStop::Relaunch(d),
                };
                let phase = Phase::Stopping {
                    assignment,
                    pid,
                    started,
                    since,
                    forced,
                    then,
                };
                (slot.with(phase), Vec::new())
            }
        }
    }

    fn downloaded(self, artifact: ArtifactHash) -> Step {
        match self.phase.clone() {
            Phase::Downloading { assignment } if assignment.artifact == artifact => {
                let action = Action::Launch(assignment.clone());
                (self.with(Phase::Launching { assignment }), vec![action])
            }
            // Stale: the slot moved on (or fetches another artifact now).
            _ => (self, Vec::new()),
        }
    }

    /// A download or launch failed (`why` says which and how): retry after the start
    /// backoff, which grows while they keep failing.
    fn failed_to_start(mut self, why: String, now: Instant) -> Step {
        match self.phase.clone() {
            Phase::Downloading { assignment } | Phase::Launching { assignment } => {
                self.history.last_exit = Some(why);
                let until = now + self.history.start_failures.failed();
                (self.with(Phase::Backoff { assignment, until }), Vec::new())
            }
            _ => (self, Vec::new()),
        }
    }

    fn launched(self, pid: u32, now: Instant) -> Step {
        match self.phase.clone() {
            Phase::Launching { assignment } => {
                let phase = Phase::Starting {
                    assignment,
                    pid,
                    started: now,
                };
                (self.with(phase), Vec::new())
            }
            // A process the slot did not ask for (cannot happen with a daemon that
            // answers each Launch once): stop it rather than leak it.
            Phase::Empty | Phase::Downloading { .. } | Phase::Backoff { .. } => {
                (self, vec![Action::Kill(StopReason::AssignmentRemoved)])
            }
            _ => (self, vec![Action::Kill(StopReason::AssignmentChanged)]),
        }
    }

    /// Take over a worker left running by a previous supervisor run: only an empty slot
    /// does (the daemon adopts before anything else happens); otherwise nothing changes.
    fn adopted(self, assignment: SlotAssignment, pid: u32, now: Instant) -> Slot {
        match self.phase {
            Phase::Empty => self.with(Phase::Starting {
                assignment,
                pid,
                started: now,
            }),
            _ => self,
        }
    }

    /// A worker crashed (or was killed as hung) after running since `started`.
    fn crashed(
        mut self,
        assignment: SlotAssignment,
        started: Instant,
        how: String,
        now: Instant,
    ) -> Step {
        self.history.restarted(now, how);
        let delay = self
            .history
            .failures
            .crashed(now.saturating_duration_since(started));
        if delay.is_zero() {
            self.download(assignment, false)
        } else {
            let until = now + delay;
            (self.with(Phase::Backoff { assignment, until }), Vec::new())
        }
    }

    fn exited(mut self, how: String, now: Instant) -> Step {
        match self.phase.clone() {
            Phase::Starting {
                assignment,
                started,
                ..
            }
            | Phase::Running {
                assignment,
                started,
                ..
            } => self.crashed(assignment, started, how, now),
            Phase::Stopping {
                assignment,
                started,
                then,
                ..
            } => match then {
                // Killed as hung: the cause says so, then how it ended (SIGKILL).
                AfterStop::Crash => self.crashed(assignment, started, hung_cause(&how), now),
                // The exit status (SIGKILL) says less than why it was sent.
                AfterStop::Killed(cause) => self.crashed(assignment, started, cause, now),
                AfterStop::Empty => (self.empty(), Vec::new()),
                AfterStop::Relaunch(d) => {
                    let fresh = assignment.needs_restart_for(&d);
                    self.history.last_exit = Some(how);
                    self.download(d, fresh)
                }
            },
            // No process: a stale report.
            _ => (self, Vec::new()),
        }
    }

    fn heartbeat(self, value: u64, now: Instant) -> Slot {
        match self.phase.clone() {
            Phase::Starting {
                assignment,
                pid,
                started,
            } => {
                let beat = Beat { value, seen: now };
                let mut slot = self;
                // The worker got going: a later failed download or launch backs off anew.
                slot.history.start_failures.reset();
                slot.with(Phase::Running {
                    assignment,
                    pid,
                    started,
                    beat,
                })
            }
            Phase::Running {
                assignment,
                pid,
                started,
                beat,
            } if beat.value != value => {
                let beat = Beat { value, seen: now };
                self.with(Phase::Running {
                    assignment,
                    pid,
                    started,
                    beat,
                })
            }
            _ => self,
        }
    }

    fn hung(
        self,
        assignment: SlotAssignment,
        pid: u32,
        started: Instant,
        now: Instant,
        reason: StopReason,
    ) -> Step {
        let phase = Phase::Stopping {
            assignment,
            pid,
            started,
            since: now,
            forced: true,
            then: AfterStop::Crash,
        };
        (self.with(phase), vec![Action::Kill(reason)])
    }

    /// The worker is over its memory limit: SIGKILL it now; once it exited, a crash
    /// with `cause` as its last exit (restarted after the backoff). A worker already
    /// being stopped is killed now, its stop going on as planned.
    fn over_memory(self, cause: String, now: Instant) -> Step {
        let kill = vec![Action::Kill(StopReason::MemoryLimit)];
        match self.phase.clone() {
            Phase::Starting {
                assignment,
                pid,
                started,
            }
            | Phase::Running {
                assignment,
                pid,
                started,
                ..
            } => {
                let phase = Phase::Stopping {
                    assignment,
                    pid,
                    started,
                    since: now,
                    forced: true,
                    then: AfterStop::Killed(cause),
                };
                (self.with(phase), kill)
            }
            Phase::Stopping { forced: false, .. } => {
                self.force(StopReason::MemoryLimit, |then| match then {
                    AfterStop::Crash => AfterStop::Killed(cause),
                    other => other,
                })
            }
            // No process, or SIGKILL already sent: nothing more to do.
            _ => (self, Vec::new()),
        }
    }

    /// A stop under way by SIGTERM goes on by SIGKILL (`reason`), with what follows it
    /// changed by `after`; any other phase is left alone.
    fn force(self, reason: StopReason, after: impl FnOnce(AfterStop) -> AfterStop) -> Step {
        let Phase::Stopping {
            assignment,
            pid,
            started,
            since,
            forced: false,
            then,
        } = self.phase.clone()
        else {
            return (self, Vec::new());
        };
        let phase = Phase::Stopping {
            assignment,
            pid,
            started,
            since,
            forced: true,
            then: after(then),
        };
        (self.with(phase), vec![Action::Kill(reason)])
    }

    fn tick(self, now: Instant) -> Step {
        let cfg = self.cfg;
        match self.phase.clone() {
            Phase::Backoff { assignment, until } if now >= until => {
                self.download(assignment, false)
            }
            Phase::Starting {
                assignment,
                pid,
                started,
            } if now.saturating_duration_since(started) > cfg.start_timeout => {
                self.hung(assignment, pid, started, now, StopReason::NoFirstHeartbeat)
            }
            Phase::Running {
                assignment,
                pid,
                started,
                beat,
            } if now.saturating_duration_since(beat.seen) > cfg.worker_timeout => {
                let silent = now.saturating_duration_since(beat.seen);
                self.hung(
                    assignment,
                    pid,
                    started,
                    now,
                    StopReason::HeartbeatTimeout { silent },
                )
            }
            Phase::Stopping {
                since,
                forced: false,
                ..
            } if now.saturating_duration_since(since) >= cfg.shutdown_grace => {
                self.force(StopReason::GraceOver, |then| then)
            }
            _ => (self, Vec::new()),
        }
    }

    fn shutdown(self, now: Instant) -> Step {
        match self.phase.clone() {
            Phase::Starting {
                assignment,
                pid,
                started,
            }
            | Phase::Running {
                assignment,
                pid,
                started,
                ..
            } => {
                let phase = Phase::Stopping {
                    assignment,
                    pid,
                    started,
                    since: now,
                    forced: false,
                    then: AfterStop::Empty,
                };
                (
                    self.with(phase),
                    vec![Action::Terminate(StopReason::Shutdown)],
                )
            }
            Phase::Stopping {
                assignment,
                pid,
                started,
                since,
                forced,
                ..
            } => {
                let phase = Phase::Stopping {
                    assignment,
                    pid,
                    started,
                    since,
                    forced,
                    then: AfterStop::Empty,
                };
                (self.with(phase), Vec::new())
            }
            // A launch in flight ends as a process the slot did not ask for: killed.
            _ => (self.empty(), Vec::new()),
        }
    }
}

/// The restart cause of a worker killed because it stopped heartbeating: `hung (no
/// heartbeat), ` and how it ended (`killed by signal 9 (SIGKILL)`), so `squall status`
/// and the web UI tell a hang from a crash.
pub(crate) fn hung_cause(how: &str) -> String {
    format!("hung (no heartbeat), {how}")
}
