//! Worker processes: launched in their own process group, stopped with SIGTERM then
//! SIGKILL, their exit described for reports. Behind a trait so the slot logic can be
//! tested without processes.

use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use squall_runtime::cluster::logs::{LOG_FILE, OUT_FILE};

use crate::worker_user::WorkerUser;

/// How to start one worker.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The topology binary.
    pub artifact: PathBuf,
    /// Arguments (`worker --spec FILE`).
    pub args: Vec<String>,
    /// Working directory (the worker's directory; logs go there).
    pub dir: PathBuf,
    /// The uid and gid it runs under (`None`: the supervisor's own); see
    /// [`crate::worker_user`]. The in-process launcher cannot change users and ignores it.
    pub user: Option<WorkerUser>,
    /// The topology's `topology.worker.max.memory.mb`, if set: where cgroup v2 is
    /// delegated, the worker runs in a cgroup of that size (elsewhere the supervisor
    /// polls its memory).
    pub memory_limit_mb: Option<u64>,
}

/// A running (or finished) worker process.
pub trait WorkerProcess: Send {
    /// Process id.
    fn pid(&self) -> u32;
    /// `Some(description)` once the process has ended.
    fn try_wait(&mut self) -> Option<String>;
    /// Ask it to stop (SIGTERM to its process group).
    fn terminate(&mut self);
    /// Stop it now (SIGKILL to its process group).
    fn kill(&mut self);

    /// Whether it is an OS process of its own, whose process tree the supervisor can
    /// measure and kill (its memory limit is watched); not a worker on a thread of the
    /// supervisor's process.
    fn separate_process(&self) -> bool {
        false
    }
}

/// Starts worker processes.
pub trait Launcher: Send {
    /// Start a worker.
    fn launch(&mut self, spec: &LaunchSpec) -> std::io::Result<Box<dyn WorkerProcess>>;

    /// At supervisor start, before any launch: the worker that a previous run of the
    /// supervisor (killed without stopping its workers) left running in the worker
    /// directory `dir`, whose spec file is `spec`, taken over so the supervisor can adopt
    /// it or stop it. The default finds none: a launcher whose workers cannot outlive
    /// the supervisor has no orphans.
    fn find_orphan(&mut self, dir: &Path, spec: &Path) -> Option<Box<dyn WorkerProcess>> {
        let _ = (dir, spec);
        None
    }

    /// Whether it runs workers under [`LaunchSpec::user`] (separate processes can; the
    /// default, workers on threads of the supervisor, cannot). A supervisor running as
    /// root gives workers uids of their own only with such a launcher.
    fn runs_as_other_users(&self) -> bool {
        false
    }
}

/// The worker's own temporary directory in its worker directory (Storm's
/// `workers/<id>/tmp`): its `TMPDIR`, so what it and its multi-lang subprocesses leave
/// there (a pid file of a killed subprocess, a user's scratch file) stays with the slot
/// and goes at the next launch, instead of piling up in the machine's `/tmp`.
pub const TMP_DIR: &str = "tmp";

/// Empty (or create) the worker directory `dir`'s [`TMP_DIR`], mode 0700, owned by
/// `user`. The worker directory belongs to the last worker's uid, which could have left a
/// link at that name: nothing here follows one (`remove_dir_all` removes a link, not its
/// target; `lchown` changes the link's owner).
fn fresh_tmp_dir(dir: &Path, user: Option<WorkerUser>) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let tmp = dir.join(TMP_DIR);
    match std::fs::symlink_metadata(&tmp) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&tmp)?,
        Ok(_) => std::fs::remove_file(&tmp)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::DirBuilder::new().mode(0o700).create(&tmp)?;
    if let Some(u) = user {
        std::os::unix::fs::lchown(&tmp, Some(u.uid), Some(u.gid))?;
    }
    Ok(tmp)
}

/// The file in a worker directory where [`OsLauncher`] records the worker's pid.
const PID_FILE: &str = "pid";

/// Describe how a process ended, for `last_exit`.
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    match status.signal() {
        Some(sig) => match Signal::try_from(sig) {
            Ok(s) => format!("killed by signal {sig} ({})", s.as_str()),
            Err(_) => format!("killed by signal {sig}"),
        },
        None => "ended".to_string(),
    }
}

/// SIGKILL the process group led by `pid`, and wait (bounded) until the leader is gone.
pub fn kill_group(pid: i32) {
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Real OS processes.
#[derive(Debug, Default)]
pub struct OsLauncher;

struct OsProcess {
    child: Child,
    exited: Option<String>,
}

impl OsProcess {
    fn signal(&mut self, sig: Signal) {
        if self.exited.is_some() {
            return;
        }
        let pgid = Pid::from_raw(self.child.id() as i32);
        if let Err(e) = killpg(pgid, sig) {
            tracing::debug!(pid = self.child.id(), "signal {sig} to worker group: {e}");
        }
    }
}

impl WorkerProcess for OsProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn try_wait(&mut self) -> Option<String> {
        if self.exited.is_none() {
            match self.child.try_wait() {
                Ok(Some(status)) => self.exited = Some(describe_exit(status)),
                Ok(None) => {}
                Err(e) => self.exited = Some(format!("cannot wait for the process: {e}")),
            }
        }
        self.exited.clone()
    }

    fn terminate(&mut self) {
        self.signal(Signal::SIGTERM)
    }

    fn kill(&mut self) {
        self.signal(Signal::SIGKILL)
    }

    fn separate_process(&self) -> bool {
        true
    }
}

/// A log file the worker's stdout or stderr goes to, owned by the worker's `user` (it
/// rotates the file itself later).
fn log_file(dir: &Path, name: &str, user: Option<WorkerUser>) -> std::io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))?;
    if let Some(u) = user {
        std::os::unix::fs::fchown(&file, Some(u.uid), Some(u.gid))?;
    }
    Ok(file)
}

impl Launcher for OsLauncher {
    fn runs_as_other_users(&self) -> bool {
        true
    }

    fn launch(&mut self, spec: &LaunchSpec) -> std::io::Result<Box<dyn WorkerProcess>> {
        use std::os::unix::process::CommandExt;
        std::fs::create_dir_all(&spec.dir)?;
        let tmp = fresh_tmp_dir(&spec.dir, spec.user)?;
        let mut command = Command::new(&spec.artifact);
        command
            .args(&spec.args)
            .current_dir(&spec.dir)
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            // Until the worker captures them itself into rotated files (see
            // `squall_runtime::cluster::logs`), and for good if it cannot.
            .stdout(log_file(&spec.dir, OUT_FILE, spec.user)?)
            .stderr(log_file(&spec.dir, LOG_FILE, spec.user)?)
            .process_group(0);
        if let Some(u) = spec.user {
            // In the child before exec, as root: supplementary groups dropped
            // (setgroups(0) when no groups are given), then setgid, then setuid; its
            // multi-lang subprocesses inherit them.
            command.gid(u.gid).uid(u.uid);
        }
        let child = command.spawn()?;
        let pid = child.id();
        crate::memory::confine(pid, spec);
        if let Err(e) = std::fs::write(spec.dir.join(PID_FILE), pid.to_string()) {
            tracing::warn!(pid, dir = %spec.dir.display(), "cannot record the worker's pid: {e}");
        }
        Ok(Box::new(OsProcess {
            child,
            exited: None,
        }))
    }

    /// The process of the pid recorded in `dir`, if it still runs this slot's spec file
    /// (so a recycled pid is left alone).
    fn find_orphan(&mut self, dir: &Path, spec: &Path) -> Option<Box<dyn WorkerProcess>> {
        let pid = std::fs::read_to_string(dir.join(PID_FILE))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            .filter(|p| *p > 0)?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let canonical = std::fs::canonicalize(spec).ok();
        let runs_spec = cmdline.split(|b| *b == 0).any(|arg| {
            let arg = Path::new(std::ffi::OsStr::from_bytes(arg));
            arg == spec || canonical.is_some() && std::fs::canonicalize(arg).ok() == canonical
        });
        if !runs_spec {
            return None;
        }
        let process = crate::adopted::AdoptedProcess::adopt(pid)?;
        tracing::info!(pid, dir = %dir.display(), "found a worker left by a previous run");
        Some(Box::new(process))
    }
}

/// Wait (at most 10 s, panicking after) until `worker` has ended; its exit description.
#[cfg(test)]
pub(crate) fn wait_ended(worker: &mut dyn WorkerProcess) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(exit) = worker.try_wait() {
            return exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker {} never ended",
            worker.pid()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_worker_left_running_is_found_by_its_pid_file_and_spec_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("worker.json");
        std::fs::write(&spec, "{}").unwrap();
        // A stand-in worker whose command line names the spec file (`; true` keeps the
        // shell from exec'ing sleep, which would drop the arguments).
        let mut started = OsLauncher
            .launch(&LaunchSpec {
                artifact: "/bin/sh".into(),
                args: vec![
                    "-c".into(),
                    "sleep 30; true".into(),
                    "worker".into(),
                    "--spec".into(),
                    spec.display().to_string(),
                ],
                dir: dir.path().to_path_buf(),
                user: None,
                memory_limit_mb: None,
            })
            .unwrap();
        // Until the child has exec'd, its command line is this test's (fork → exec).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let spec_arg = spec.display().to_string();
        while !std::fs::read(format!("/proc/{}/cmdline", started.pid()))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&spec_arg))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the child never exec'd"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let other = dir.path().join("other.json");
        assert!(OsLauncher.find_orphan(dir.path(), &other).is_none());
        let mut found = OsLauncher
            .find_orphan(dir.path(), &spec)
            .expect("the worker of this spec");
        assert_eq!(found.pid(), started.pid());
        assert_eq!(found.try_wait(), None);
        found.kill();
        wait_ended(started.as_mut());
        assert!(found.try_wait().is_some());
        assert!(OsLauncher.find_orphan(dir.path(), &spec).is_none(), "gone");
    }

    #[test]
    fn a_worker_gets_a_fresh_tmpdir_of_its_own_in_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        // What a killed worker left in its temporary directory, and a link a worker
        // could leave at that name.
        let tmp = dir.path().join(TMP_DIR);
        std::fs::create_dir_all(tmp.join("squall-pids-1")).unwrap();
        std::fs::write(tmp.join("squall-pids-1").join("2"), b"").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), b"").unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.join("link")).unwrap();
        let run = |script: &str| {
            let mut worker = OsLauncher
                .launch(&LaunchSpec {
                    artifact: "/bin/sh".into(),
                    args: vec!["-c".into(), script.into()],
                    dir: dir.path().to_path_buf(),
                    user: None,
                    memory_limit_mb: None,
                })
                .unwrap();
            assert_eq!(wait_ended(worker.as_mut()), "exited with code 0");
        };
        run(r#"printf %s "$TMPDIR" > seen; touch "$TMPDIR/mine""#);
        let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
        assert_eq!(
            Path::new(&seen),
            tmp,
            "TMPDIR is the worker directory's tmp"
        );
        assert!(tmp.join("mine").is_file());
        assert!(
            !tmp.join("squall-pids-1").exists(),
            "the last run's leftovers stay"
        );
        assert!(outside.path().join("keep").is_file(), "a link was followed");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&tmp).unwrap().permissions(),
        ) & 0o777;
        assert_eq!(mode, 0o700);
        // The next launch starts empty again.
        run("true");
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
        // A file (or link) at that name is replaced by the directory.
        std::fs::remove_dir(&tmp).unwrap();
        std::os::unix::fs::symlink(outside.path(), &tmp).unwrap();
        run("true");
        assert!(std::fs::symlink_metadata(&tmp).unwrap().is_dir());
        assert!(outside.path().join("keep").is_file(), "a link was followed");
    }
}
