//! One worker slot (port) as an explicit state machine, after Storm's supervisor `Slot`:
//! a [`Phase`] enum whose variants hold exactly the data valid in that phase, and a pure
//! transition function, [`Slot::next`], from (slot, [`Event`], now) to the next slot and
//! the [`Action`]s the daemon must carry out (download, launch, SIGTERM, SIGKILL).
//!
//! The machine owns no process, file or clock: the daemon feeds it what it observes
//! (nimbus's assignment for the port, download and launch results, process exits,
//! heartbeat file values, the passing of time) and executes what it asks for. So every
//! transition is tested without processes or sleeps (see `tests.rs`).
//!
//! ```text
//!            assigned                downloaded             launched
//!   Empty ───────────▶ Downloading ───────────▶ Launching ───────────▶ Starting
//!     ▲                    ▲  │ failed               │ failed            │ first heartbeat
//!     │                    │  ▼                      ▼                   ▼
//!     │   backoff over ──  Backoff ◀── crash / hang ───────────────── Running
//!     │      (failed downloads and launches back off exponentially too)
//!     │                                                  assignment gone or changed:
//!     └──────────── exited ◀── Stopping ◀── SIGTERM, SIGKILL after the grace
//! ```
//!
//! At supervisor start, a worker a previous run left running is adopted: `Empty` goes
//! straight to `Starting` with that worker's pid and assignment (no download, no
//! launch, no restart counted).
//!
//! Assignments are level-triggered: the daemon feeds nimbus's latest assignment after
//! every heartbeat, so a change that arrives while a download or launch is in flight is
//! simply acted on at the next feed.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use squall_runtime::cluster::protocol::SlotState;
use squall_runtime::engine::backoff::{Backoff, Failures};

use squall_runtime::cluster::protocol::{ArtifactHash, MAX_RESTARTS_REPORTED, SlotAssignment};

/// Restart delays of a crashing worker: the first crash restarts at once, then 0.5 s,
/// 1 s, 2 s, … at most 16 s while it keeps crashing; a worker that ran 30 s starts over.
pub const RESTART_BACKOFF: Backoff =
    Backoff::new(Duration::from_millis(500), Duration::from_secs(16))
        .immediate_retries(1)
        .stable_after(Duration::from_secs(30));

/// Delays before retrying a failed download or launch: 1 s, 2 s, 4 s, … at most 60 s
/// while they keep failing; a worker that reaches its first heartbeat starts over.
pub const RETRY_BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));

/// The timeouts a slot enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotConfig {
    /// A running worker whose heartbeat did not change for this long is hung
    /// (`supervisor.worker.timeout.secs`).
    pub worker_timeout: Duration,
    /// A new worker that has not heartbeated within this long is hung
    /// (`supervisor.worker.start.timeout.secs`).
    pub start_timeout: Duration,
    /// SIGTERM → SIGKILL delay (`supervisor.worker.shutdown.sleep.secs`).
    pub shutdown_grace: Duration,
    /// Restart delays after crashes.
    pub backoff: Backoff,
    /// Delays before retrying a failed download or launch.
    pub retry_backoff: Backoff,
}

impl SlotConfig {
    /// The given timeouts with [`RESTART_BACKOFF`] and [`RETRY_BACKOFF`].
    pub fn new(
        worker_timeout: Duration,
        start_timeout: Duration,
        shutdown_grace: Duration,
    ) -> Self {
        SlotConfig {
            worker_timeout,
            start_timeout,
            shutdown_grace,
            backoff: RESTART_BACKOFF,
            retry_backoff: RETRY_BACKOFF,
        }
    }
}

/// The last heartbeat value a worker wrote, and when (monotonic) the supervisor first saw
/// it: a worker is judged by when its heartbeat last *changed*, never by comparing the
/// wall-clock time it wrote with the supervisor's wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    /// The value in the heartbeat file (the worker's unix millis).
    pub value: u64,
    /// When the supervisor saw this value first.
    pub seen: Instant,
}

/// What happens once a stopping worker has exited.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterStop {
    /// Nothing: the slot becomes empty (assignment gone, supervisor shutting down).
    Empty,
    /// Launch this (changed) assignment.
    Relaunch(SlotAssignment),
    /// The worker hung: count a crash and restart it after the backoff.
    Crash,
    /// The supervisor killed the worker for this cause (e.g. its memory limit): count a
    /// crash with the cause as its last exit, and restart it after the backoff.
    Killed(String),
}

/// A slot's phase, with the data valid in it.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// No assignment, no process (Storm's EMPTY).
    Empty,
    /// Fetching the artifact and resources (Storm's WAITING_FOR_BLOB_LOCALIZATION).
    Downloading {
        /// What will run.
        assignment: SlotAssignment,
    },
    /// Downloaded; the process is being started.
    Launching {
        /// What will run.
        assignment: SlotAssignment,
    },
    /// Launched, no heartbeat seen yet (Storm's WAITING_FOR_WORKER_START).
    Starting {
        /// What runs.
        assignment: SlotAssignment,
        /// The worker's process id.
        pid: u32,
        /// When it was launched.
        started: Instant,
    },
    /// Heartbeating (Storm's RUNNING).
    Running {
        /// What runs.
        assignment: SlotAssignment,
        /// The worker's process id.
        pid: u32,
        /// When it was launched.
        started: Instant,
        /// Its latest heartbeat.
        beat: Beat,
    },
    /// The worker died or hung; relaunched at `until` (Storm's KILL_AND_RELAUNCH wait).
    Backoff {
        /// What will run again.
        assignment: SlotAssignment,
        /// Not before this.
        until: Instant,
    },
    /// SIGTERM (or SIGKILL) sent; waiting for the process to exit (Storm's KILL).
    Stopping {
        /// What the stopping worker runs.
        assignment: SlotAssignment,
        /// Its process id.
        pid: u32,
        /// When it was launched.
        started: Instant,
        /// When it was told to stop.
        since: Instant,
        /// Whether SIGKILL was sent.
        forced: bool,
        /// What to do once it exited.
        then: AfterStop,
    },
}

/// Something the daemon observed, fed to [`Slot::next`].
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Nimbus's current assignment for this port (`None`: nothing assigned).
    Assigned(Option<SlotAssignment>),
    /// The artifact (and resources) of `artifact` are in place.
    Downloaded {
        /// The artifact hash that was downloaded.
        artifact: ArtifactHash,
    },
    /// The download failed.
    DownloadFailed(String),
    /// The worker process started.
    Launched {
        /// Its process id.
        pid: u32,
    },
    /// The worker process could not be started.
    LaunchFailed(String),
    /// At supervisor start: a worker a previous run of this supervisor left running
    /// `assignment` is taken over (only an empty slot takes one; it is then judged like
    /// a worker just launched, and nimbus's assignment decides whether it stays).
    Adopted {
        /// What the worker runs (from its spec file).
        assignment: SlotAssignment,
        /// Its process id.
        pid: u32,
    },
    /// The worker process ended (how, e.g. `killed by signal 9 (SIGKILL)`).
    Exited(String),
    /// The value currently in the worker's heartbeat file.
    Heartbeat(u64),
    /// The worker (with its subprocesses) uses more memory than its topology's
    /// `topology.worker.max.memory.mb`; the text is the cause for `last_exit`.
    OverMemory(String),
    /// Time passed: check timeouts (backoff over, hang, stop grace).
    Tick,
    /// The supervisor is shutting down: stop the worker, relaunch nothing.
    Shutdown,
}

/// Why a worker is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Nimbus no longer assigns the slot.
    AssignmentRemoved,
    /// Nimbus assigns the slot something that needs a new process.
    AssignmentChanged,
    /// The worker's heartbeat did not change for `silent`.
    HeartbeatTimeout {
        /// How long it was silent.
        silent: Duration,
    },
    /// The worker did not heartbeat within the start timeout.
    NoFirstHeartbeat,
    /// The worker ignored SIGTERM for the whole grace period.
    GraceOver,
    /// The supervisor is shutting down.
    Shutdown,
    /// The worker is over its memory limit.
    MemoryLimit,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::AssignmentRemoved => f.write_str("assignment removed"),
            StopReason::AssignmentChanged => f.write_str("assignment changed"),
            StopReason::HeartbeatTimeout { silent } => {
                write!(f, "no heartbeat for {} ms", silent.as_millis())
            }
            StopReason::NoFirstHeartbeat => f.write_str("no heartbeat since its start"),
            StopReason::GraceOver => f.write_str("still running after the stop grace period"),
            StopReason::Shutdown => f.write_str("supervisor shutting down"),
            StopReason::MemoryLimit => f.write_str("over its memory limit"),
        }
    }
}

/// What [`Slot::next`] asks the daemon to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Fetch the artifact and resources; answer [`Event::Downloaded`] or
    /// [`Event::DownloadFailed`].
    Download(SlotAssignment),
    /// Start a worker; answer [`Event::Launched`] or [`Event::LaunchFailed`].
    Launch(SlotAssignment),
    /// SIGTERM the worker's process group.
    Terminate(StopReason),
    /// SIGKILL the worker's process group.
    Kill(StopReason),
}

/// Restart count and last exit: kept while the slot runs the same assignment (a status
/// change does not count as a new one), reset by a new assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// Restarts since the slot got this assignment.
    pub restarts: u32,
    /// How the previous process ended.
    pub last_exit: Option<String>,
    /// The most recent restarts (when the process ended, and how), oldest first; at
    /// most [`MAX_RESTARTS_REPORTED`].
    recent: VecDeque<(Instant, String)>,
    /// Crashes in a row, for the backoff.
    failures: Failures,
    /// Failed downloads and launches in a row, for their backoff.
    start_failures: Failures,
}

impl History {
    /// Count a restart: the process ended at `at`, as `how` says.
    fn restarted(&mut self, at: Instant, how: String) {
        self.restarts = self.restarts.saturating_add(1);
        if self.recent.len() == MAX_RESTARTS_REPORTED {
            self.recent.pop_front();
        }
        self.recent.push_back((at, how.clone()));
        self.last_exit = Some(how);
    }

    fn new(cfg: &SlotConfig) -> History {
        History {
            restarts: 0,
            last_exit: None,
            recent: VecDeque::new(),
            failures: Failures::new(cfg.backoff),
            start_failures: Failures::new(cfg.retry_backoff),
        }
    }
}

/// One slot: its port, phase, history and timeouts.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    port: u16,
    phase: Phase,
    history: History,
    cfg: SlotConfig,
}

impl Slot {
    /// An empty slot.
    pub fn new(port: u16, cfg: SlotConfig) -> Slot {
        Slot {
            port,
            phase: Phase::Empty,
            history: History::new(&cfg),
            cfg,
        }
    }

    /// The slot's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The timeouts it enforces.
    pub fn config(&self) -> SlotConfig {
        self.cfg
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Restarts since the slot got its assignment.
    pub fn restarts(&self) -> u32 {
        self.history.restarts
    }

    /// How the previous worker ended.
    pub fn last_exit(&self) -> Option<&str> {
        self.history.last_exit.as_deref()
    }

    /// The most recent restarts since the slot got its assignment (when the process
    /// ended, and how), oldest first; at most [`MAX_RESTARTS_REPORTED`].
    pub fn restart_history(&self) -> impl Iterator<Item = (Instant, &str)> {
        self.history
            .recent
            .iter()
            .map(|(at, how)| (*at, how.as_str()))
    }

    /// The assignment the slot runs or is about to run (`None` when empty).
    pub fn assignment(&self) -> Option<&SlotAssignment> {
        match &self.phase {
            Phase::Empty => None,
            Phase::Downloading { assignment }
            | Phase::Launching { assignment }
            | Phase::Starting { assignment, .. }
            | Phase::Running { assignment, .. }
            | Phase::Backoff { assignment, .. }
            | Phase::Stopping { assignment, .. } => Some(assignment),
        }
    }

    /// The worker's process id, while there is a process.
    pub fn pid(&self) -> Option<u32> {
        match self.phase {
            Phase::Starting { pid, .. }
            | Phase::Running { pid, .. }
            | Phase::Stopping { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// Whether a worker process exists (launched and not seen to exit).
    pub fn has_process(&self) -> bool {
        self.pid().is_some()
    }

    /// How long the current process has run.
    pub fn uptime(&self, now: Instant) -> Duration {
        match self.phase {
            Phase::Starting { started, .. }
            | Phase::Running { started, .. }
            | Phase::Stopping { started, .. } => now.saturating_duration_since(started),
            _ => Duration::ZERO,
        }
    }

    /// The state nimbus sees.
    pub fn reported_state(&self) -> SlotState {
        match &self.phase {
            Phase::Empty => SlotState::Empty,
            Phase::Downloading { .. } => SlotState::Downloading,
            Phase::Launching { .. } | Phase::Starting { .. } => SlotState::Starting,
            Phase::Running { .. } => SlotState::Running,
            Phase::Backoff { .. }
            | Phase::Stopping {
                then: AfterStop::Crash | AfterStop::Killed(_),
                ..
            } => SlotState::Restarting,
            Phase::Stopping { .. } => SlotState::Stopping,
        }
    }

    /// When the slot next needs an [`Event::Tick`] to move on by itself (a backoff, a
    /// hang or a stop grace running out), if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Backoff { until, .. } => Some(*until),
            Phase::Starting { started, .. } => Some(*started + self.cfg.start_timeout),
            Phase::Running { beat, .. } => Some(beat.seen + self.cfg.worker_timeout),
            Phase::Stopping {
                since,
                forced: false,
                ..
            } => Some(*since + self.cfg.shutdown_grace),
            _ => None,
        }
    }
}

mod transitions;

#[cfg(test)]
mod tests;
