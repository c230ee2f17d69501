//! The directory subprocesses write their pid files to (Storm's `pidDir`): shared by
//! the subprocesses of one host process, created for the first and removed when the
//! last one ends, so a worker that ran multi-lang components leaves nothing behind in
//! the temporary directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How many live subprocesses use each pid directory. Held while a directory is
/// created or removed, so one subprocess's end cannot remove the directory another is
/// about to write its pid file to.
static USERS: Mutex<BTreeMap<PathBuf, usize>> = Mutex::new(BTreeMap::new());

/// This process's pid directory, under the system's temporary directory.
pub(crate) fn default_pid_dir() -> PathBuf {
    std::env::temp_dir().join(format!("squall-pids-{}", std::process::id()))
}

/// One subprocess's use of a pid directory: the directory exists while any use lasts.
#[derive(Debug)]
pub(crate) struct PidDirUse {
    dir: PathBuf,
}

impl PidDirUse {
    /// Create `dir` (and its parents) if needed and count this use of it.
    pub(crate) fn acquire(dir: &Path) -> std::io::Result<PidDirUse> {
        let mut users = USERS.lock().unwrap_or_else(|p| p.into_inner());
        std::fs::create_dir_all(dir)?;
        *users.entry(dir.to_path_buf()).or_insert(0) += 1;
        Ok(PidDirUse {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for PidDirUse {
    fn drop(&mut self) {
        let mut users = USERS.lock().unwrap_or_else(|p| p.into_inner());
        let Some(count) = users.get_mut(&self.dir) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            users.remove(&self.dir);
            // Only an empty directory goes: the pid file of a subprocess that could
            // not be stopped stays, and with it the directory.
            if let Err(e) = std::fs::remove_dir(&self.dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::debug!("pid directory {} kept: {e}", self.dir.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_lives_as_long_as_its_last_user() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("pids");
        let first = PidDirUse::acquire(&dir).unwrap();
        let second = PidDirUse::acquire(&dir).unwrap();
        assert!(dir.is_dir());
        drop(first);
        assert!(dir.is_dir(), "removed while a subprocess still uses it");
        drop(second);
        assert!(!dir.exists(), "left behind after the last subprocess ended");
        // A later subprocess makes it again.
        let third = PidDirUse::acquire(&dir).unwrap();
        assert!(dir.is_dir());
        drop(third);
        assert!(!dir.exists());
    }

    #[test]
    fn a_directory_with_a_pid_file_left_in_it_stays() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("pids");
        let only = PidDirUse::acquire(&dir).unwrap();
        std::fs::write(dir.join("12345"), b"").unwrap();
        drop(only);
        assert!(dir.join("12345").is_file());
    }
}
