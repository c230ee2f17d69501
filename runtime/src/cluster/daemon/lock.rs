//! One daemon per data directory: a daemon holds an exclusive `flock` on a lock file in
//! its data directory for as long as it runs, taken before it touches anything else
//! there. A second daemon of the same kind on the same directory is refused at once with
//! a message naming the directory and the holder's pid. The lock dies with the process
//! (or the handle), so a daemon killed with `kill -9` never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use thiserror::Error;

/// Why a data directory could not be locked.
#[derive(Debug, Error)]
pub enum LockError {
    /// Another daemon of the same kind holds the directory.
    #[error(
        "data directory {dir} is in use by another {daemon}{holder}: stop it, or give this \
         one another directory"
    )]
    InUse {
        /// The directory.
        dir: PathBuf,
        /// `nimbus` or `supervisor`.
        daemon: String,
        /// `" (pid N)"` when the holder wrote its pid, else empty.
        holder: String,
    },
    /// The directory or its lock file could not be created or locked.
    #[error("cannot lock data directory {dir}: {source}")]
    Io {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// An exclusive hold on a daemon's data directory; released when dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl DataDirLock {
    /// Lock `dir` (created if missing) for the daemon `daemon` (`nimbus`, `supervisor`):
    /// the lock file is `dir/<daemon>.lock`, so a nimbus and a supervisor may share a
    /// directory while two of a kind may not. Never blocks.
    pub fn acquire(dir: &Path, daemon: &str) -> Result<DataDirLock, LockError> {
        let io = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(format!("{daemon}.lock"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut lock = match lock_exclusive(file) {
            Ok(lock) => lock,
            Err((mut file, errno)) if errno == nix::errno::Errno::EWOULDBLOCK => {
                return Err(LockError::InUse {
                    dir: dir.to_path_buf(),
                    daemon: daemon.to_string(),
                    holder: holder_pid(&mut file)
                        .map(|p| format!(" (pid {p})"))
                        .unwrap_or_default(),
                });
            }
            Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
        };
        // Who holds it, for the next one's message.
        let pid = std::process::id().to_string();
        lock.set_len(0)
            .and_then(|_| lock.seek(SeekFrom::Start(0)))
            .and_then(|_| lock.write_all(pid.as_bytes()))
            .map_err(io)?;
        Ok(DataDirLock { _lock: lock, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How often a busy lock is tried again before it counts as held, and how long apart:
/// a worker testing whether its supervisor lives holds a shared lock on the file for an
/// instant (see `cluster::worker::orphan`), which must not keep a supervisor out.
const BUSY_TRIES: u32 = 20;
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// A non-blocking exclusive lock on `file`, tried [`BUSY_TRIES`] times while busy.
fn lock_exclusive(mut file: File) -> Result<Flock<File>, (File, nix::errno::Errno)> {
    let mut tries = 1;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Err((f, errno)) if errno == nix::errno::Errno::EWOULDBLOCK && tries < BUSY_TRIES => {
                file = f;
                tries += 1;
                std::thread::sleep(BUSY_PAUSE);
            }
            other => return other,
        }
    }
}

/// The pid the holder wrote, if it is a number (at most 20 bytes are read).
fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.take(20).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_daemon_of_a_kind_per_directory_and_the_lock_goes_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DataDirLock::acquire(&data, "nimbus").unwrap();
        let e = DataDirLock::acquire(&data, "nimbus").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("in use by another nimbus")
                && msg.contains(&format!("pid {}", std::process::id()))
                && msg.contains(&data.display().to_string()),
            "{msg}"
        );
        // Another kind of daemon may share the directory.
        let _sup = DataDirLock::acquire(&data, "supervisor").unwrap();
        drop(first);
        DataDirLock::acquire(&data, "nimbus").expect("released with its holder");
    }

    #[test]
    fn a_shared_lock_held_for_an_instant_does_not_keep_a_daemon_out() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("supervisor.lock"), b"").unwrap();
        let probe = File::open(data.join("supervisor.lock")).unwrap();
        let probe = Flock::lock(probe, FlockArg::LockSharedNonblock).unwrap();
        // Let go while the daemon is trying (a probe holds it for an instant).
        let release = std::thread::spawn(move || {
            std::thread::sleep(BUSY_PAUSE);
            drop(probe);
        });
        DataDirLock::acquire(&data, "supervisor").expect("taken once the probe let go");
        release.join().unwrap();
    }
}
