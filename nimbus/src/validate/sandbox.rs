//! The sandbox `<artifact> validate` runs in: nimbus runs code anyone with a deployer
//! token uploaded, so the run gets as little as it needs.
//!
//! - a cleared environment: only [`VALIDATE_PATH`] as `PATH`, `HOME` and `TMPDIR` set to
//!   its scratch directory, and the marker [`MARKER_VAR`]`=1` (nothing of nimbus's own
//!   environment, which may hold credentials);
//! - a fresh scratch directory outside nimbus's data directory (the system temporary
//!   directory), removed afterwards, holding the topology file and a **copy** of the
//!   artifact: the data directory itself is mode 0700, so the run cannot reach the
//!   stored artifacts, the database or the tokens;
//! - rlimits ([`Limits`]): address space, CPU seconds, open files, file size, no core
//!   files, processes;
//! - its own process group (killed when it ends or times out, see `super`); when it
//!   runs as its own user, nimbus is also a child subreaper, so what leaves the group
//!   (`setsid`) and is orphaned comes back to nimbus, which kills it after the run
//!   ([`Sandbox::reap_escapees`]);
//! - `PR_SET_NO_NEW_PRIVS`, so no set-uid program gives it privileges back;
//! - when nimbus runs as root: an unprivileged user of its own (`nimbus.validate.user`,
//!   default `nobody`), groups, gid and uid dropped in that order before `exec`.
//!
//! When nimbus does not run as root the run keeps nimbus's uid: it still gets the cleared
//! environment, the scratch directory and the limits (the process cap is counted from
//! the tasks that uid already runs), but file permissions cannot keep it out of the data
//! directory. Run nimbus as root, or as a user of its own, for the full sandbox.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use nix::sys::resource::{Resource, setrlimit};
use nix::unistd::{Gid, Uid, User};

/// `PATH` of the validation run.
pub const VALIDATE_PATH: &str = "/usr/bin:/bin";
/// The environment variable set (to `1`) in the validation run, so an artifact can tell
/// it runs under nimbus's `validate`.
pub const MARKER_VAR: &str = "SQUALL_VALIDATE";
/// The name of the artifact's copy in the scratch directory.
pub const ARTIFACT_COPY: &str = "artifact";

/// Why the sandbox cannot be set up at nimbus start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The configured user does not exist on this machine.
    #[error(
        "nimbus.validate.user '{0}' does not exist on this machine: nimbus runs as root and \
         runs submitted artifacts as that unprivileged user; create the user or set \
         nimbus.validate.user to an existing unprivileged one"
    )]
    UnknownUser(String),
    /// The configured user is root (uid 0): no sandbox at all.
    #[error(
        "nimbus.validate.user '{0}' has uid 0: submitted artifacts must not run as root; \
         set nimbus.validate.user to an unprivileged user"
    )]
    RootUser(String),
    /// The user database could not be read.
    #[error("cannot look up nimbus.validate.user '{name}': {source}")]
    Lookup {
        /// The user name.
        name: String,
        /// Why.
        #[source]
        source: nix::Error,
    },
}

/// The rlimits of a validation run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RLIMIT_AS`: bytes of address space (a 100 GB allocation is refused).
    pub address_space_bytes: u64,
    /// `RLIMIT_CPU`: seconds of CPU time per process.
    pub cpu_secs: u64,
    /// `RLIMIT_NOFILE`: open file descriptors.
    pub open_files: u64,
    /// `RLIMIT_FSIZE`: the largest file it may write.
    pub file_size_bytes: u64,
    /// `RLIMIT_NPROC`, on top of the tasks the run's uid already has: processes and
    /// threads. Counted per uid by the kernel: sound for a user of its own (`nobody`).
    pub processes: u64,
}

/// The limits nimbus uses: 4 GiB of address space (a validating topology binary needs a
/// few MiB; thread stacks and malloc arenas reserve more), 256 descriptors, 64 MiB files
/// (the resolved declaration is at most 16 MiB), 256 tasks; the CPU seconds follow the
/// validation timeout ([`Limits::for_timeout`]).
pub const LIMITS: Limits = Limits {
    address_space_bytes: 4 << 30,
    cpu_secs: 30,
    open_files: 256,
    file_size_bytes: 64 << 20,
    processes: 256,
};

impl Limits {
    /// These limits with CPU seconds matching a run of at most `timeout`.
    pub fn for_timeout(self, timeout: Duration) -> Limits {
        Limits {
            cpu_secs: timeout.as_secs().saturating_add(1),
            ..self
        }
    }

    /// The limits in words, for error messages.
    pub fn describe(&self) -> String {
        format!(
            "{} MiB of address space, {} s of CPU, {} processes, {} open files, files up to \
             {} MiB",
            self.address_space_bytes >> 20,
            self.cpu_secs,
            self.processes,
            self.open_files,
            self.file_size_bytes >> 20
        )
    }
}

/// The unprivileged user a validation runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// Its name (`nobody`).
    pub name: String,
    /// Its uid.
    pub uid: Uid,
    /// Its primary gid (the only group the run keeps).
    pub gid: Gid,
}

/// How validation runs are confined.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The user to run as (`None`: nimbus's own, when it is not root).
    pub run_as: Option<RunAs>,
    /// The rlimits.
    pub limits: Limits,
}

impl Sandbox {
    /// The sandbox for a nimbus of the current uid: when root, runs as `user` (refused
    /// if it does not exist or is root); otherwise as nimbus's own user, with a warning.
    pub fn for_user(user: &str, limits: Limits) -> Result<Sandbox, SandboxError> {
        if !Uid::effective().is_root() {
            tracing::warn!(
                uid = Uid::effective().as_raw(),
                "nimbus does not run as root: submitted artifacts are validated as nimbus's \
                 own user (cleared environment, scratch directory, rlimits) and could read \
                 its data directory; run nimbus as root or as a user of its own"
            );
            return Ok(Sandbox {
                run_as: None,
                limits,
            });
        }
        let found = User::from_name(user).map_err(|source| SandboxError::Lookup {
            name: user.to_string(),
            source,
        })?;
        let found = found.ok_or_else(|| SandboxError::UnknownUser(user.to_string()))?;
        if found.uid.is_root() {
            return Err(SandboxError::RootUser(user.to_string()));
        }
        tracing::info!(
            user,
            uid = found.uid.as_raw(),
            "submitted artifacts are validated as this user"
        );
        // Orphans of a validation run come back to nimbus, not init: see reap_escapees.
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!(
                "cannot become a child subreaper ({e}): a validation's process \
                that leaves its process group may outlive it"
            );
        }
        Ok(Sandbox {
            run_as: Some(RunAs {
                name: user.to_string(),
                uid: found.uid,
                gid: found.gid,
            }),
            limits,
        })
    }

    /// No user change (nimbus's own), with these limits: for tests and non-root nimbus.
    pub fn same_user(limits: Limits) -> Sandbox {
        Sandbox {
            run_as: None,
            limits,
        }
    }

    /// Make the scratch directory `dir` (created 0700 by nimbus) the run's: copy the
    /// artifact into it as [`ARTIFACT_COPY`] (mode 0500) and hand the directory and
    /// everything in it to the run's user. Returns the copy's path.
    pub fn prepare_dir(&self, dir: &Path, artifact: &Path) -> std::io::Result<PathBuf> {
        let copy = dir.join(ARTIFACT_COPY);
        std::fs::copy(artifact, &copy)?;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o500))?;
        if let Some(user) = &self.run_as {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                std::os::unix::fs::lchown(&path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))?;
            }
            std::os::unix::fs::chown(dir, Some(user.uid.as_raw()), Some(user.gid.as_raw()))?;
        }
        Ok(copy)
    }

    /// Set up `command` (run in `dir`) to run confined: cleared environment, and, in
    /// the child between `fork` and `exec`, the rlimits, no new privileges and the user.
    pub fn confine(&self, command: &mut tokio::process::Command, dir: &Path) {
        command
            .env_clear()
            .env("PATH", VALIDATE_PATH)
            .env("HOME", dir)
            .env("TMPDIR", dir)
            .env(MARKER_VAR, "1");
        let limits = self.limits;
        // The kernel counts RLIMIT_NPROC per real uid: a user of its own starts from its
        // own (few) tasks; nimbus's own uid already runs nimbus's threads.
        let uid = self.run_as.as_ref().map_or_else(Uid::current, |u| u.uid);
        let processes = tasks_of(uid).saturating_add(limits.processes);
        let ids = self.run_as.as_ref().map(|u| (u.uid, u.gid));
        // SAFETY: the closure runs in the forked child before exec and only makes
        // async-signal-safe system calls (setrlimit, prctl, setgroups, setgid, setuid)
        // on values captured by copy: it allocates nothing and takes no lock.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                let set = |r: Resource, v: u64| setrlimit(r, v, v).map_err(std::io::Error::from);
                set(Resource::RLIMIT_AS, limits.address_space_bytes)?;
                set(Resource::RLIMIT_CPU, limits.cpu_secs)?;
                set(Resource::RLIMIT_NOFILE, limits.open_files)?;
                set(Resource::RLIMIT_FSIZE, limits.file_size_bytes)?;
                set(Resource::RLIMIT_CORE, 0)?;
                set(Resource::RLIMIT_NPROC, processes)?;
                nix::sys::prctl::set_no_new_privs().map_err(std::io::Error::from)?;
                if let Some((uid, gid)) = ids {
                    // Supplementary groups first (needs root), then the gid, the uid last.
                    nix::unistd::setgroups(&[gid]).map_err(std::io::Error::from)?;
                    nix::unistd::setgid(gid).map_err(std::io::Error::from)?;
                    nix::unistd::setuid(uid).map_err(std::io::Error::from)?;
                }
                Ok(())
            });
        }
    }
}

/// The leaders (and process groups) of the validation runs going on in this process.
static RUNNING: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Most rounds of [`Sandbox::reap_escapees`] (each kill may orphan more processes).
const MAX_REAP_ROUNDS: usize = 64;

fn running() -> MutexGuard<'static, BTreeSet<i32>> {
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A validation run in progress, known to [`Sandbox::reap_escapees`] as long as this
/// lives.
#[derive(Debug)]
pub struct Run(Option<i32>);

impl Run {
    /// Start a run: `spawn` is called with the set of runs locked, so that no reaping
    /// takes its new process for an escapee before it is recorded.
    pub fn start<T>(
        spawn: impl FnOnce() -> std::io::Result<T>,
        pid: impl FnOnce(&T) -> Option<u32>,
    ) -> std::io::Result<(Run, T)> {
        let mut set = running();
        let child = spawn()?;
        let leader = pid(&child).and_then(|p| i32::try_from(p).ok());
        if let Some(p) = leader {
            set.insert(p);
        }
        Ok((Run(leader), child))
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            running().remove(&p);
        }
    }
}

impl Sandbox {
    /// After a run: kill and reap every child of nimbus that runs as the validation
    /// user outside the process group of a run still going on. Those are processes
    /// that left their run's group (`setsid`) and were orphaned: nimbus, a child
    /// subreaper, inherited them. Only when runs have a user of their own (nimbus is
    /// root); returns how many were killed. Blocking (reads `/proc`).
    pub fn reap_escapees(&self) -> usize {
        let Some(user) = &self.run_as else {
            return 0;
        };
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let mut killed = 0;
        for _ in 0..MAX_REAP_ROUNDS {
            let found: Vec<i32> = {
                let going_on = running();
                children_of(me)
                    .into_iter()
                    .filter(|c| c.uid == user.uid.as_raw())
                    .filter(|c| !going_on.contains(&c.pid) && !going_on.contains(&c.pgrp))
                    .map(|c| c.pid)
                    .collect()
            };
            if found.is_empty() {
                break;
            }
            for pid in found {
                let pid = Pid::from_raw(pid);
                let _ = kill(pid, Signal::SIGKILL);
                // Our child: reaped here (the async runtime waits only for its own).
                let _ = nix::sys::wait::waitpid(pid, None);
                killed += 1;
            }
        }
        if killed > 0 {
            tracing::warn!(
                killed,
                "killed processes a validation left outside its process group"
            );
        }
        killed
    }
}

/// A child process, as `/proc` shows it.
struct Child {
    pid: i32,
    pgrp: i32,
    uid: u32,
}

/// The children of process `parent` (zombies included), from `/proc`.
fn children_of(parent: i32) -> Vec<Child> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command name (in parentheses): state, ppid, pgrp.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (Some(ppid), Some(pgrp)) = (
            fields.get(1).and_then(|f| f.parse::<i32>().ok()),
            fields.get(2).and_then(|f| f.parse::<i32>().ok()),
        ) else {
            continue;
        };
        if ppid != parent {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(uid) = uid {
            out.push(Child { pid, pgrp, uid });
        }
    }
    out
}

/// How many tasks (processes and threads) run under real uid `uid`, as the kernel
/// counts them for `RLIMIT_NPROC` (read from `/proc`; 0 where it cannot be read).
pub fn tasks_of(uid: Uid) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut tasks = 0u64;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        if field("Uid:") == Some(u64::from(uid.as_raw())) {
            tasks = tasks.saturating_add(field("Threads:").unwrap_or(1));
        }
    }
    tasks
}
