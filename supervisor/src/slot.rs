//! One worker slot (port): the assignment it runs, its process, restarts with backoff.

use std::time::{Duration, Instant};

use crate::process::WorkerProcess;
use squall_runtime::cluster::protocol::{SlotAssignment, SlotState, WorkerReport};

/// First restart delay after a crash; doubled for each crash in quick succession.
const BACKOFF_START: Duration = Duration::from_millis(500);
/// Longest restart delay.
const BACKOFF_MAX: Duration = Duration::from_secs(16);
/// A worker that ran this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);

/// Restart delay after `fast_failures` crashes in quick succession (pure).
pub fn backoff(fast_failures: u32) -> Duration {
    if fast_failures <= 1 {
        return if fast_failures == 0 {
            Duration::ZERO
        } else {
            BACKOFF_START
        };
    }
    let factor = 1u32 << (fast_failures - 1).min(8);
    (BACKOFF_START * factor).min(BACKOFF_MAX)
}

/// A slot's state.
pub struct Slot {
    /// The slot's port.
    pub port: u16,
    /// What the current (or last) worker runs.
    pub assignment: Option<SlotAssignment>,
    pub(crate) process: Option<Box<dyn WorkerProcess>>,
    started: Option<Instant>,
    /// Restarts since the slot got this assignment.
    pub restarts: u32,
    /// How the previous process ended.
    pub last_exit: Option<String>,
    /// Not before this instant may the worker be (re)launched.
    pub restart_at: Option<Instant>,
    fast_failures: u32,
    /// When SIGTERM was sent, if the worker is being stopped.
    pub stopping_since: Option<Instant>,
}

impl Slot {
    /// An empty slot.
    pub fn new(port: u16) -> Slot {
        Slot {
            port,
            assignment: None,
            process: None,
            started: None,
            restarts: 0,
            last_exit: None,
            restart_at: None,
            fast_failures: 0,
            stopping_since: None,
        }
    }

    /// Whether a worker process is alive (or not yet reaped).
    pub fn has_process(&self) -> bool {
        self.process.is_some()
    }

    /// A worker was launched for `assignment`.
    pub fn launched(
        &mut self,
        assignment: SlotAssignment,
        process: Box<dyn WorkerProcess>,
        now: Instant,
    ) {
        let same = self
            .assignment
            .as_ref()
            .is_some_and(|a| !a.needs_restart_for(&assignment));
        if !same {
            self.restarts = 0;
            self.last_exit = None;
            self.fast_failures = 0;
        }
        self.assignment = Some(assignment);
        self.process = Some(process);
        self.started = Some(now);
        self.restart_at = None;
        self.stopping_since = None;
    }

    /// Reap the process if it ended; returns how it ended. An unexpected end (not asked
    /// for) schedules a restart with backoff.
    pub fn reap(&mut self, now: Instant) -> Option<String> {
        let exit = self.process.as_mut()?.try_wait()?;
        self.process = None;
        let ran = self
            .started
            .map(|s| now.duration_since(s))
            .unwrap_or_default();
        if self.stopping_since.take().is_none() {
            self.fast_failures = if ran >= STABLE_AFTER {
                1
            } else {
                self.fast_failures + 1
            };
            self.restarts += 1;
            self.restart_at = Some(now + backoff(self.fast_failures.saturating_sub(1)));
        }
        self.last_exit = Some(exit.clone());
        self.started = None;
        Some(exit)
    }

    /// Ask the worker to stop (SIGTERM); `force` sends SIGKILL at once.
    pub fn stop(&mut self, now: Instant, force: bool) {
        if let Some(p) = self.process.as_mut() {
            if force {
                p.kill();
            } else {
                p.terminate();
            }
            self.stopping_since.get_or_insert(now);
        }
    }

    /// Kill a worker that did not stop within `grace` of its SIGTERM.
    pub fn enforce_grace(&mut self, now: Instant, grace: Duration) {
        if let (Some(since), Some(p)) = (self.stopping_since, self.process.as_mut())
            && now.duration_since(since) >= grace
        {
            p.kill();
        }
    }

    /// How long the current process has run.
    pub fn uptime(&self, now: Instant) -> Duration {
        self.started
            .map(|s| now.duration_since(s))
            .unwrap_or_default()
    }

    /// The report for nimbus (None for an idle slot).
    pub fn report(&self, now: Instant) -> Option<WorkerReport> {
        let a = self.assignment.as_ref()?;
        let state = if self.stopping_since.is_some() {
            SlotState::Stopping
        } else if self.process.is_some() {
            SlotState::Running
        } else if self.restart_at.is_some() {
            SlotState::Restarting
        } else {
            SlotState::Starting
        };
        Some(WorkerReport {
            port: self.port,
            topology: a.topology.clone(),
            pid: self.process.as_ref().map(|p| p.pid()),
            state,
            uptime_secs: self.uptime(now).as_secs(),
            restarts: self.restarts,
            last_exit: self.last_exit.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        exit: Option<String>,
        signals: Vec<&'static str>,
    }

    impl WorkerProcess for Fake {
        fn pid(&self) -> u32 {
            42
        }
        fn try_wait(&mut self) -> Option<String> {
            self.exit.clone()
        }
        fn terminate(&mut self) {
            self.signals.push("TERM");
        }
        fn kill(&mut self) {
            self.signals.push("KILL");
            self.exit = Some("killed by signal 9 (SIGKILL)".into());
        }
    }

    fn assignment(id: &str) -> SlotAssignment {
        SlotAssignment {
            topology: "t".into(),
            topology_id: id.into(),
            status: squall_runtime::cluster::protocol::TopologyStatus::Active,
            port: 6700,
            artifact: squall_runtime::cluster::protocol::ArtifactHash::of_bytes(b"a"),
            yaml: String::new(),
            executors: vec![[1, 2]],
            task_locations: Default::default(),
            workers_total: 1,
            resources: None,
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), BACKOFF_START);
        assert_eq!(backoff(2), BACKOFF_START * 2);
        assert_eq!(backoff(30), BACKOFF_MAX);
    }

    #[test]
    fn a_crash_is_counted_described_and_restarted_at_once() {
        let now = Instant::now();
        let mut s = Slot::new(6700);
        s.launched(
            assignment("t-1"),
            Box::new(Fake {
                exit: None,
                signals: vec![],
            }),
            now,
        );
        assert_eq!(s.report(now).map(|r| r.state), Some(SlotState::Running));
        if let Some(p) = s.process.as_mut() {
            p.kill();
        }
        let exit = s.reap(now + Duration::from_secs(1));
        assert_eq!(exit.as_deref(), Some("killed by signal 9 (SIGKILL)"));
        assert_eq!(s.restarts, 1);
        assert_eq!(
            s.restart_at,
            Some(now + Duration::from_secs(1)),
            "first restart is immediate"
        );
        let r = s.report(now).expect("report");
        assert_eq!((r.state, r.restarts), (SlotState::Restarting, 1));
        assert_eq!(r.last_exit.as_deref(), Some("killed by signal 9 (SIGKILL)"));
        // Relaunch for the same assignment keeps the count; a new one resets it.
        s.launched(
            assignment("t-1"),
            Box::new(Fake {
                exit: None,
                signals: vec![],
            }),
            now,
        );
        assert_eq!(s.restarts, 1);
        s.stop(now, false);
        s.launched(
            assignment("t-2"),
            Box::new(Fake {
                exit: None,
                signals: vec![],
            }),
            now,
        );
        assert_eq!(s.restarts, 0);
    }

    #[test]
    fn a_requested_stop_is_not_a_crash() {
        let now = Instant::now();
        let mut s = Slot::new(6700);
        s.launched(
            assignment("t-1"),
            Box::new(Fake {
                exit: None,
                signals: vec![],
            }),
            now,
        );
        s.stop(now, false);
        assert_eq!(s.report(now).map(|r| r.state), Some(SlotState::Stopping));
        s.enforce_grace(now + Duration::from_secs(5), Duration::from_secs(3));
        assert!(s.reap(now).is_some());
        assert_eq!(s.restarts, 0);
        assert_eq!(s.restart_at, None);
    }
}
