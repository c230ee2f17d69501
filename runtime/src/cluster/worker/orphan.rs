//! When a worker process exits by itself, as in Storm: its supervisor has been gone for
//! longer than the orphan grace period (a supervisor restarted within it adopts the
//! worker instead), its worker directory is gone, or nimbus says, again and again over
//! [`NOT_ASSIGNED_CONFIRM`], that the topology's assignment no longer holds it.
//!
//! A supervisor holds an exclusive `flock` on its data directory's lock file for as long
//! as it runs (and the lock dies with it, even on `kill -9`), so the worker tells a live
//! supervisor from a dead one by trying a non-blocking shared lock on that file: refused
//! while the supervisor lives; granted (and released at once), or the file missing, once
//! it is dead. `PR_SET_PDEATHSIG` is not used: it fires when the forking *thread* ends.
//!
//! A nimbus that is down, restarting or answering errors never makes a worker exit:
//! only its explicit `not_assigned` answer counts.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

/// How long nimbus must keep answering `not_assigned` (with no answer in between saying
/// the worker is assigned) before the worker exits.
pub const NOT_ASSIGNED_CONFIRM: Duration = Duration::from_secs(5);

/// The fewest `not_assigned` answers (one per stats report, every second) that make a
/// worker exit, however long they span.
pub const NOT_ASSIGNED_ANSWERS: u32 = 3;

/// What a look at the supervisor's lock file and the worker's directory shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorProbe {
    /// The lock file is locked: the supervisor runs (or the file cannot be checked, which
    /// is taken as alive).
    Alive,
    /// The lock file is free or missing: no supervisor runs on the data directory.
    Gone,
    /// The worker's own directory is gone (the data directory was deleted).
    DirGone,
}

/// Look at the supervisor lock file `lock` and the worker directory `worker_dir`.
pub fn probe_supervisor(lock: &Path, worker_dir: &Path) -> SupervisorProbe {
    if !worker_dir.is_dir() {
        return SupervisorProbe::DirGone;
    }
    // std opens with O_CLOEXEC: nothing this worker starts inherits the descriptor.
    let file = match File::open(lock) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return SupervisorProbe::Gone,
        Err(e) => {
            tracing::debug!(lock = %lock.display(), "cannot open the supervisor lock: {e}");
            return SupervisorProbe::Alive;
        }
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        // Granted: nobody holds it exclusively. Released at once (dropped), so a
        // supervisor starting right now is not kept out for more than an instant.
        Ok(_held) => SupervisorProbe::Gone,
        Err((_, errno)) if errno == nix::errno::Errno::EWOULDBLOCK => SupervisorProbe::Alive,
        Err((_, errno)) => {
            tracing::debug!(lock = %lock.display(), "cannot test the supervisor lock: {errno}");
            SupervisorProbe::Alive
        }
    }
}

/// Follows the supervisor's liveness and says when the worker must exit.
#[derive(Debug, Clone)]
pub struct SupervisorWatch {
    lock: PathBuf,
    worker_dir: PathBuf,
    grace: Duration,
    gone_since: Option<Instant>,
}

impl SupervisorWatch {
    /// Watch the supervisor holding `lock`, for a worker living in `worker_dir`, which
    /// outlives its supervisor by `grace`.
    pub fn new(lock: PathBuf, worker_dir: PathBuf, grace: Duration) -> SupervisorWatch {
        SupervisorWatch {
            lock,
            worker_dir,
            grace,
            gone_since: None,
        }
    }

    /// Probe now; `Some(why)` when the worker must exit.
    pub fn check(&mut self, now: Instant) -> Option<String> {
        let probe = probe_supervisor(&self.lock, &self.worker_dir);
        self.observe(probe, now)
    }

    /// Take in one probe made at `now`; `Some(why)` when the worker must exit.
    pub fn observe(&mut self, probe: SupervisorProbe, now: Instant) -> Option<String> {
        match probe {
            SupervisorProbe::Alive => {
                if let Some(since) = self.gone_since.take() {
                    tracing::info!(
                        after_ms = now.saturating_duration_since(since).as_millis(),
                        "a supervisor holds the data directory again"
                    );
                }
                None
            }
            SupervisorProbe::DirGone => Some(format!(
                "the worker directory {} is gone",
                self.worker_dir.display()
            )),
            SupervisorProbe::Gone => {
                let since = *self.gone_since.get_or_insert_with(|| {
                    tracing::warn!(lock = %self.lock.display(), grace_ms = self.grace.as_millis(),
                        "the supervisor is gone; exiting unless one returns within the grace");
                    now
                });
                let gone = now.saturating_duration_since(since);
                (gone >= self.grace).then(|| {
                    format!(
                        "the supervisor has been gone for {} ms (grace {} ms)",
                        gone.as_millis(),
                        self.grace.as_millis()
                    )
                })
            }
        }
    }
}

/// What one stats report to nimbus came back with, as far as the assignment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NimbusAnswer {
    /// Accepted: the worker is assigned.
    Assigned,
    /// Nimbus said `not_assigned` (why, in its words).
    NotAssigned(String),
    /// No answer, or one that says nothing about the assignment (nimbus down or
    /// restarting, a proxy's error page, a refused report).
    Unknown,
}

/// Follows nimbus's answers and says when the worker must exit: after
/// [`NOT_ASSIGNED_ANSWERS`] `not_assigned` answers spanning [`NOT_ASSIGNED_CONFIRM`],
/// with no `Assigned` answer in between.
#[derive(Debug, Clone, Default)]
pub struct AssignmentWatch {
    first: Option<Instant>,
    answers: u32,
}

impl AssignmentWatch {
    /// Take in one answer received at `now`; `Some(why)` when the worker must exit.
    pub fn observe(&mut self, answer: NimbusAnswer, now: Instant) -> Option<String> {
        match answer {
            NimbusAnswer::Assigned => {
                self.first = None;
                self.answers = 0;
                None
            }
            NimbusAnswer::Unknown => None,
            NimbusAnswer::NotAssigned(why) => {
                let first = *self.first.get_or_insert_with(|| {
                    tracing::warn!("nimbus says this worker is not assigned: {why}");
                    now
                });
                self.answers = self.answers.saturating_add(1);
                let span = now.saturating_duration_since(first);
                (self.answers >= NOT_ASSIGNED_ANSWERS && span >= NOT_ASSIGNED_CONFIRM).then(|| {
                    format!(
                        "nimbus has said for {} ms that this worker is not assigned: {why}",
                        span.as_millis()
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(30);

    fn watch(dir: &Path) -> SupervisorWatch {
        SupervisorWatch::new(dir.join("supervisor.lock"), dir.join("workers/1"), GRACE)
    }

    #[test]
    fn a_worker_exits_once_its_supervisor_has_been_gone_for_the_grace() {
        let t0 = Instant::now();
        let mut w = SupervisorWatch::new("l".into(), "d".into(), GRACE);
        assert_eq!(w.observe(SupervisorProbe::Alive, t0), None);
        assert_eq!(w.observe(SupervisorProbe::Gone, t0), None);
        assert_eq!(w.observe(SupervisorProbe::Gone, t0 + GRACE / 2), None);
        // A supervisor back within the grace starts it over.
        assert_eq!(w.observe(SupervisorProbe::Alive, t0 + GRACE / 2), None);
        assert_eq!(w.observe(SupervisorProbe::Gone, t0 + GRACE), None);
        assert_eq!(
            w.observe(SupervisorProbe::Gone, t0 + GRACE + GRACE / 2),
            None
        );
        let why = w.observe(SupervisorProbe::Gone, t0 + 2 * GRACE).unwrap();
        assert!(why.contains("gone for 30000 ms"), "{why}");
        let why = w.observe(SupervisorProbe::DirGone, t0).unwrap();
        assert!(why.contains("directory d is gone"), "{why}");
    }

    #[test]
    fn the_probe_sees_a_held_lock_a_free_one_a_missing_one_and_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let worker_dir = data.join("workers/1");
        std::fs::create_dir_all(&worker_dir).unwrap();
        let lock = data.join("supervisor.lock");
        assert_eq!(probe_supervisor(&lock, &worker_dir), SupervisorProbe::Gone);
        let held = crate::cluster::daemon::DataDirLock::acquire(&data, "supervisor").unwrap();
        assert_eq!(held.path(), lock);
        assert_eq!(probe_supervisor(&lock, &worker_dir), SupervisorProbe::Alive);
        let mut w = watch(&data);
        assert_eq!(w.check(Instant::now()), None);
        drop(held);
        assert_eq!(probe_supervisor(&lock, &worker_dir), SupervisorProbe::Gone);
        // The probe let go of its shared lock: a supervisor can take the directory.
        let again = crate::cluster::daemon::DataDirLock::acquire(&data, "supervisor").unwrap();
        std::fs::remove_dir_all(&data).unwrap();
        assert_eq!(
            probe_supervisor(&lock, &worker_dir),
            SupervisorProbe::DirGone
        );
        drop(again);
    }

    #[test]
    fn only_not_assigned_answers_over_the_confirm_period_make_a_worker_exit() {
        let t0 = Instant::now();
        let no = || NimbusAnswer::NotAssigned("gone".into());
        let mut w = AssignmentWatch::default();
        assert_eq!(w.observe(NimbusAnswer::Assigned, t0), None);
        // Nimbus down or restarting for however long: never an exit.
        for s in 0..600 {
            assert_eq!(
                w.observe(NimbusAnswer::Unknown, t0 + Duration::from_secs(s)),
                None
            );
        }
        // Not assigned, then assigned again (a restarted nimbus catching up): starts over.
        assert_eq!(w.observe(no(), t0), None);
        assert_eq!(w.observe(no(), t0 + Duration::from_secs(4)), None);
        assert_eq!(
            w.observe(NimbusAnswer::Assigned, t0 + Duration::from_secs(5)),
            None
        );
        assert_eq!(w.observe(no(), t0 + Duration::from_secs(6)), None);
        // Long enough but too few answers (nimbus unreachable in between): not yet.
        assert_eq!(
            w.observe(NimbusAnswer::Unknown, t0 + Duration::from_secs(9)),
            None
        );
        assert_eq!(
            w.observe(no(), t0 + Duration::from_secs(12)),
            None,
            "two answers"
        );
        // Enough answers over too short a time: not yet.
        let mut quick = AssignmentWatch::default();
        for ms in [0, 100, 200, 300] {
            assert_eq!(quick.observe(no(), t0 + Duration::from_millis(ms)), None);
        }
        let why = w.observe(no(), t0 + Duration::from_secs(13)).unwrap();
        assert!(why.contains("not assigned: gone"), "{why}");
    }
}
