//! A log file with a size cap: `NAME` is written until the next write would take it past
//! the cap, then it becomes `NAME.1` (the older `NAME.1` becomes `NAME.2`, and so on; the
//! oldest beyond the kept count is deleted) and a fresh `NAME` is started — Storm's
//! (logback's) fixed-window rolling, so the disk used is bounded whatever is written.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The most rotated files kept beside the current one.
pub const MAX_FILES: u32 = 100;
/// The smallest accepted size cap: a few log lines.
pub const MIN_BYTES: u64 = 4096;

/// A file that rotates at a size cap; see the module docs.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    files: u32,
    file: File,
    size: u64,
}

/// `NAME.i`.
fn numbered(path: &Path, i: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{i}"));
    PathBuf::from(name)
}

impl RotatingFile {
    /// Open `path` for appending (created if missing; an existing file's size counts
    /// towards the cap), rotating at `max_bytes` (at least [`MIN_BYTES`]) and keeping
    /// `files` rotated files (at most [`MAX_FILES`]).
    pub fn open(path: &Path, max_bytes: u64, files: u32) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes: max_bytes.max(MIN_BYTES),
            files: files.min(MAX_FILES),
            file,
            size,
        })
    }

    /// The current file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Start a new current file: shift the rotated files up by one (the oldest past the
    /// kept count goes) and move the current file to `NAME.1`. When a rename fails the
    /// current file is emptied instead, so the cap holds even then.
    fn rotate(&mut self) -> io::Result<()> {
        let renamed = (|| -> io::Result<()> {
            if self.files == 0 {
                return Err(io::Error::other("no rotated files are kept"));
            }
            match std::fs::remove_file(numbered(&self.path, self.files)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            for i in (1..self.files).rev() {
                match std::fs::rename(numbered(&self.path, i), numbered(&self.path, i + 1)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, numbered(&self.path, 1))
        })();
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        if renamed.is_err() {
            self.file.set_len(0)?;
        }
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    /// Write what fits under the cap, after rotating when `buf` would take a non-empty
    /// file past it (so a write that fits in one file is never split across two).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let len = buf.len() as u64;
        if self.size >= self.max_bytes || (self.size > 0 && self.size + len > self.max_bytes) {
            self.rotate()?;
        }
        let room = usize::try_from(self.max_bytes - self.size).unwrap_or(usize::MAX);
        let n = self.file.write(&buf[..buf.len().min(room)])?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sizes(dir: &Path) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn fifty_megabytes_leave_at_most_the_cap_and_the_latest_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.log");
        let cap = 1 << 20;
        let mut f = RotatingFile::open(&path, cap, 2).unwrap();
        let mut written = 0u64;
        let mut n = 0u64;
        while written < 50 << 20 {
            let line = format!("line {n:09} {}\n", "x".repeat(80));
            f.write_all(line.as_bytes()).unwrap();
            written += line.len() as u64;
            n += 1;
        }
        f.flush().unwrap();
        let files = sizes(dir.path());
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["worker.log", "worker.log.1", "worker.log.2"]);
        assert!(files.iter().all(|(_, s)| *s <= cap), "{files:?}");
        assert!(files.iter().map(|(_, s)| s).sum::<u64>() <= 3 * cap);
        // The newest lines are in the current file, whole, in order.
        let text = std::fs::read_to_string(&path).unwrap();
        let last = format!("line {:09} ", n - 1);
        assert!(text.lines().last().unwrap().starts_with(&last));
        assert!(
            text.lines()
                .all(|l| l.starts_with("line ") && l.len() == 95)
        );
        // .1 holds the lines just before the current file's first.
        let older = std::fs::read_to_string(numbered(&path, 1)).unwrap();
        let first: u64 = text[5..14].parse().unwrap();
        let before: u64 = older.lines().last().unwrap()[5..14].parse().unwrap();
        assert_eq!(before + 1, first);
    }

    #[test]
    fn a_reopened_file_counts_what_it_holds_and_big_writes_are_split() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.out");
        std::fs::write(&path, vec![b'a'; 4000]).unwrap();
        let mut f = RotatingFile::open(&path, 4096, 1).unwrap();
        // 200 bytes do not fit beside the 4000: rotated first.
        f.write_all(&[b'b'; 200]).unwrap();
        assert_eq!(std::fs::read(numbered(&path, 1)).unwrap(), vec![b'a'; 4000]);
        // A write larger than a file is split at the cap.
        f.write_all(&[b'c'; 10_000]).unwrap();
        let files = sizes(dir.path());
        assert!(files.iter().all(|(_, s)| *s <= 4096), "{files:?}");
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(std::fs::read(&path).unwrap().iter().all(|b| *b == b'c'));
    }

    #[test]
    fn without_rotated_files_the_current_one_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.log");
        let mut f = RotatingFile::open(&path, 4096, 0).unwrap();
        for i in 0..1000 {
            writeln!(f, "entry {i}").unwrap();
        }
        assert_eq!(sizes(dir.path()).len(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("entry 999\n"), "{text}");
        assert!(text.len() <= 4096);
    }
}
