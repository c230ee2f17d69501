//! The master coordinator's durable memory: the last committed txid and how many times
//! it has started (its epoch, which makes attempts of a restarted coordinator newer
//! than any attempt of the one before).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::ops::OpError;

/// An append-only log of `epoch N` and `commit T` lines.
#[derive(Debug)]
pub(crate) struct CommitLog {
    path: Option<PathBuf>,
    committed: u64,
    epoch: u32,
    lines: usize,
}

fn err(path: &Path, e: impl std::fmt::Display) -> OpError {
    OpError(format!("commit log {}: {e}", path.display()))
}

impl CommitLog {
    /// Open (or create) the log at `path` and start a new epoch; `None` keeps nothing
    /// (txids start at 1, epoch 0).
    pub fn open(path: Option<&Path>) -> Result<CommitLog, OpError> {
        let Some(path) = path else {
            return Ok(CommitLog {
                path: None,
                committed: 0,
                epoch: 0,
                lines: 0,
            });
        };
        let mut log = CommitLog {
            path: Some(path.to_path_buf()),
            committed: 0,
            epoch: 0,
            lines: 0,
        };
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| err(path, e))?;
            for (i, line) in text.lines().enumerate() {
                let bad = || {
                    err(
                        path,
                        format!("line {}: not a commit log record: {line:?}", i + 1),
                    )
                };
                match line.split_once(' ') {
                    Some(("commit", t)) => log.committed = t.trim().parse().map_err(|_| bad())?,
                    Some(("epoch", e)) => log.epoch = e.trim().parse().map_err(|_| bad())?,
                    // A torn last line (crash mid-append) is ignored.
                    _ if i + 1 == text.lines().count() => {}
                    _ => return Err(bad()),
                }
                log.lines += 1;
            }
            log.epoch += 1;
        }
        log.append(&format!("epoch {}", log.epoch))?;
        Ok(log)
    }

    /// The last committed txid (0: none).
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// How many times the coordinator started before this run.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Record that `txid` committed.
    pub fn record(&mut self, txid: u64) -> Result<(), OpError> {
        self.committed = txid;
        if self.lines > 10_000 {
            self.compact()?;
        }
        self.append(&format!("commit {txid}"))
    }

    fn compact(&mut self) -> Result<(), OpError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let tmp = path.with_extension("tmp");
        let text = format!("epoch {}\ncommit {}\n", self.epoch, self.committed);
        std::fs::write(&tmp, text).map_err(|e| err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| err(&path, e))?;
        self.lines = 2;
        Ok(())
    }

    fn append(&mut self, line: &str) -> Result<(), OpError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| err(path, e))?;
        f.write_all(format!("{line}\n").as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(|e| err(path, e))?;
        self.lines += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_log_resumes_after_the_last_commit_in_a_new_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coord.log");
        let mut log = CommitLog::open(Some(&path)).unwrap();
        assert_eq!((log.committed(), log.epoch()), (0, 0));
        log.record(1).unwrap();
        log.record(2).unwrap();
        let again = CommitLog::open(Some(&path)).unwrap();
        assert_eq!((again.committed(), again.epoch()), (2, 1));
        std::fs::write(&path, "epoch 0\nbogus\ncommit 3\n").unwrap();
        let e = CommitLog::open(Some(&path)).unwrap_err();
        assert!(e.0.contains("line 2"), "{e}");
    }
}
