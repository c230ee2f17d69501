//! Reading a worker's rotated log files for nimbus's log proxy (see
//! [`squall_runtime::cluster::protocol::logs`]): the last N lines (reaching back into
//! `worker.log.1`, `worker.log.2`, … when the current file holds fewer) or what the
//! current file holds from a byte offset on.
//!
//! Only the files of one worker's directory are read, by their fixed names (the request
//! names `log` or `out`, never a path). A worker's directory belongs to the worker's uid,
//! which could put a symbolic link, a hard link to another file, or a FIFO at such a
//! name for this (root) supervisor to read: a file is opened without following a link
//! (`O_NOFOLLOW`) and without blocking (`O_NONBLOCK`), and served only when it is a
//! regular file with no other link.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use squall_runtime::cluster::logs::MAX_FILES;
use squall_runtime::cluster::protocol::logs::{
    LogChunk, LogFailure, LogFile, LogRange, MAX_LOG_BYTES,
};

/// Bytes read at a time when scanning back for lines.
const CHUNK: u64 = 64 * 1024;

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogReadError {
    /// The file does not exist (the worker has not started yet, or wrote nothing).
    #[error("{} does not exist (has the worker started?)", .0.display())]
    NotFound(PathBuf),
    /// The file is not served.
    #[error("{} is not served: {reason}", .path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// Reading failed.
    #[error("reading {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl LogReadError {
    /// The failure class nimbus maps to a status.
    pub fn kind(&self) -> LogFailure {
        match self {
            LogReadError::NotFound(_) => LogFailure::NotFound,
            LogReadError::Refused { .. } => LogFailure::Refused,
            LogReadError::Io { .. } => LogFailure::Unreadable,
        }
    }
}

/// An opened log file: its handle, size when opened, and identity.
struct Opened {
    file: File,
    path: PathBuf,
    size: u64,
    id: (u64, u64),
}

impl Opened {
    /// Read `len` bytes at `pos`.
    fn read(&self, pos: u64, len: u64) -> Result<Vec<u8>, LogReadError> {
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        self.file
            .read_exact_at(&mut buf, pos)
            .map_err(|source| LogReadError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(buf)
    }
}

/// Open `path` for reading if it is a regular file with one link and not a symbolic
/// link; `None` if it does not exist.
fn open(path: &Path) -> Result<Option<Opened>, LogReadError> {
    let refused = |reason| LogReadError::Refused {
        path: path.to_path_buf(),
        reason,
    };
    let io = |source| LogReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let flags = OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits())
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(refused("it is a symbolic link"));
        }
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(refused("it is not a regular file"));
    }
    if meta.nlink() > 1 {
        return Err(refused("it has other hard links"));
    }
    Ok(Some(Opened {
        file,
        path: path.to_path_buf(),
        size: meta.len(),
        id: (meta.dev(), meta.ino()),
    }))
}

/// `NAME.i` in `dir` (the rotation's naming: see [`squall_runtime::cluster::logs`]).
fn rotated(dir: &Path, name: &str, i: u32) -> PathBuf {
    dir.join(format!("{name}.{i}"))
}

/// Read `range` of worker file `file` in the worker directory `dir`, at most `max_bytes`
/// of it (at most [`MAX_LOG_BYTES`]); `rotated_files` is how many rotated files the worker keeps
/// (`supervisor.worker.log.files`).
pub fn read(
    dir: &Path,
    file: LogFile,
    range: LogRange,
    max_bytes: u32,
    rotated_files: u32,
) -> Result<LogChunk, LogReadError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => LogReadError::NotFound(dir.to_path_buf()),
        _ => LogReadError::Io {
            path: dir.to_path_buf(),
            source,
        },
    })?;
    if !meta.is_dir() {
        return Err(LogReadError::Refused {
            path: dir.to_path_buf(),
            reason: "the worker directory is not a directory",
        });
    }
    let name = file.file_name();
    let path = dir.join(name);
    let current = open(&path)?.ok_or(LogReadError::NotFound(path))?;
    // Nimbus caps it already; capped again before anything is allocated.
    let max_bytes = u64::from(max_bytes.clamp(1, MAX_LOG_BYTES));
    match range {
        LogRange::From { offset } => from_offset(&current, offset, max_bytes),
        LogRange::Tail { lines } => tail(
            dir,
            name,
            current,
            lines,
            max_bytes,
            rotated_files.min(MAX_FILES),
        ),
    }
}

/// What `current` holds from `offset` on (from 0 when it is now smaller: rotated).
fn from_offset(current: &Opened, offset: u64, max_bytes: u64) -> Result<LogChunk, LogReadError> {
    let rotated = offset > current.size;
    let start = if rotated { 0 } else { offset };
    let len = (current.size - start).min(max_bytes);
    let mut bytes = current.read(start, len)?;
    let truncated = start + len < current.size;
    // Cut short by max_bytes: stop after the last whole line, where the next read
    // starts.
    if truncated && let Some(i) = bytes.iter().rposition(|b| *b == b'\n') {
        bytes.truncate(i + 1);
    }
    let end = start + bytes.len() as u64;
    Ok(LogChunk {
        start_offset: start,
        end_offset: end,
        file_size: current.size,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        truncated,
        rotated,
        earlier_bytes: 0,
    })
}

/// A piece of the tail: which file (0: the current one), where in it, the bytes.
struct Piece {
    source: u32,
    pos: u64,
    bytes: Vec<u8>,
}

/// The last `lines` lines, newest file first, back through the rotated files, at most
/// `max_bytes` of them.
fn tail(
    dir: &Path,
    name: &str,
    current: Opened,
    lines: u32,
    max_bytes: u64,
    rotated_files: u32,
) -> Result<LogChunk, LogReadError> {
    let end = current.size;
    let mut chunk = LogChunk {
        start_offset: end,
        end_offset: end,
        file_size: end,
        ..LogChunk::default()
    };
    if lines == 0 {
        return Ok(chunk);
    }
    let mut pieces: Vec<Piece> = Vec::new(); // newest first
    let mut total = 0u64;
    let mut newlines = 0u32;
    let mut first_byte = true;
    let mut found = false;
    let mut more_before = false;
    let mut seen = vec![current.id];
    let mut source = Some(current);
    let mut index = 0u32;
    'files: while let Some(f) = source.take() {
        let mut pos = f.size;
        while pos > 0 {
            if total >= max_bytes {
                more_before = true;
                break 'files;
            }
            let n = CHUNK.min(pos).min(max_bytes - total);
            pos -= n;
            let mut bytes = f.read(pos, n)?;
            let mut cut = None;
            for i in (0..bytes.len()).rev() {
                let last = first_byte;
                first_byte = false;
                // The newline ending the last line does not start another.
                if bytes[i] == b'\n' && !last {
                    newlines += 1;
                    if newlines == lines {
                        cut = Some(i + 1);
                        break;
                    }
                }
            }
            let at = cut.unwrap_or(0);
            let kept = bytes.split_off(at);
            total += kept.len() as u64;
            pieces.push(Piece {
                source: index,
                pos: pos + at as u64,
                bytes: kept,
            });
            if cut.is_some() {
                found = true;
                break 'files;
            }
        }
        if index >= rotated_files {
            break;
        }
        index += 1;
        match open(&rotated(dir, name, index)) {
            // The same file as a newer one: rotated while being read; stop there.
            Ok(Some(older)) if seen.contains(&older.id) => break,
            Ok(Some(older)) => {
                seen.push(older.id);
                source = Some(older);
            }
            Ok(None) => break,
            // A rotated file that is not served ends the tail (the newer lines are).
            Err(e) => {
                tracing::warn!(
                    "log tail stops before {}: {e}",
                    rotated(dir, name, index).display()
                );
                break;
            }
        }
    }
    pieces.reverse();
    // Cut short by max_bytes: start at the first whole line (unless that is all).
    if !found && more_before {
        chunk.truncated = true;
        let several = pieces.len() > 1;
        if let Some(first) = pieces.first_mut()
            && let Some(i) = first.bytes.iter().position(|b| *b == b'\n')
            && (i + 1 < first.bytes.len() || several)
        {
            first.bytes.drain(..=i);
            first.pos += i as u64 + 1;
        }
    }
    let mut text = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for p in &pieces {
        text.extend_from_slice(&p.bytes);
        if p.source > 0 {
            chunk.earlier_bytes += p.bytes.len() as u64;
        }
    }
    chunk.start_offset = if chunk.earlier_bytes > 0 {
        0
    } else {
        pieces
            .iter()
            .find(|p| p.source == 0 && !p.bytes.is_empty())
            .map_or(end, |p| p.pos)
    };
    chunk.text = String::from_utf8_lossy(&text).into_owned();
    Ok(chunk)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lines(from: u32, to: u32) -> String {
        (from..to).map(|i| format!("line {i}\n")).collect()
    }

    fn tail_of(dir: &Path, n: u32, max: u32) -> LogChunk {
        read(dir, LogFile::Log, LogRange::Tail { lines: n }, max, 3).unwrap()
    }

    #[test]
    fn a_tail_is_the_last_lines_of_the_current_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("worker.log"), lines(0, 1000)).unwrap();
        let c = tail_of(dir.path(), 3, 1 << 20);
        assert_eq!(c.text, "line 997\nline 998\nline 999\n");
        assert_eq!(c.end_offset, c.file_size);
        assert_eq!(c.end_offset - c.start_offset, c.text.len() as u64);
        assert!(!c.truncated && !c.rotated);
        assert_eq!(c.earlier_bytes, 0);
        // A last line without its newline counts as a line.
        std::fs::write(dir.path().join("worker.log"), "a\nb\nc").unwrap();
        assert_eq!(tail_of(dir.path(), 2, 100).text, "b\nc");
        // Fewer lines than asked: all of them.
        assert_eq!(tail_of(dir.path(), 10, 100).text, "a\nb\nc");
        assert_eq!(tail_of(dir.path(), 0, 100).text, "");
    }

    #[test]
    fn a_tail_spans_the_rotated_file_and_bigger_than_a_chunk() {
        let dir = tempfile::tempdir().unwrap();
        // 20 000 lines before the rotation: more than one 64 KiB chunk.
        std::fs::write(dir.path().join("worker.log.1"), lines(0, 20_000)).unwrap();
        std::fs::write(dir.path().join("worker.log"), lines(20_000, 20_003)).unwrap();
        let c = tail_of(dir.path(), 10_000, 1 << 20);
        let expected = lines(10_003, 20_003);
        assert_eq!(c.text, expected);
        assert_eq!(c.start_offset, 0);
        assert_eq!(c.earlier_bytes, lines(10_003, 20_000).len() as u64);
        assert_eq!(c.end_offset, lines(20_000, 20_003).len() as u64);
        assert!(!c.truncated);
    }

    #[test]
    fn max_bytes_cuts_a_tail_at_a_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("worker.log"), lines(0, 100)).unwrap();
        let c = tail_of(dir.path(), 50, 20);
        assert!(c.truncated);
        // The last 20 bytes are " 97\nline 98\nline 99\n": cut to whole lines.
        assert_eq!(c.text, "line 98\nline 99\n");
        assert_eq!(c.start_offset, c.end_offset - 16);
    }

    #[test]
    fn reading_from_an_offset_follows_and_restarts_after_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("worker.log");
        std::fs::write(&log, lines(0, 3)).unwrap();
        let read_from = |o, max| {
            read(
                dir.path(),
                LogFile::Log,
                LogRange::From { offset: o },
                max,
                3,
            )
            .unwrap()
        };
        let first = read_from(0, 1 << 20);
        assert_eq!(first.text, lines(0, 3));
        // Nothing new.
        let same = read_from(first.end_offset, 1 << 20);
        assert_eq!((same.text.as_str(), same.truncated), ("", false));
        std::fs::write(&log, lines(0, 5)).unwrap();
        let next = read_from(first.end_offset, 1 << 20);
        assert_eq!(next.text, lines(3, 5));
        assert!(!next.rotated);
        // Limited: whole lines, then the rest.
        let part = read_from(0, 10);
        assert_eq!(part.text, "line 0\n");
        assert!(part.truncated);
        // Rotated: the new file is smaller than the offset.
        std::fs::rename(&log, dir.path().join("worker.log.1")).unwrap();
        std::fs::write(&log, "fresh\n").unwrap();
        let after = read_from(next.end_offset, 1 << 20);
        assert!(after.rotated);
        assert_eq!((after.start_offset, after.text.as_str()), (0, "fresh\n"));
    }

    #[test]
    fn links_fifos_and_missing_files_are_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "do not serve\n").unwrap();
        let worker = dir.path().join("worker");
        std::fs::create_dir(&worker).unwrap();
        let err = |f| read(&worker, f, LogRange::Tail { lines: 5 }, 1 << 20, 3).unwrap_err();
        assert_eq!(err(LogFile::Log).kind(), LogFailure::NotFound);
        std::os::unix::fs::symlink(&secret, worker.join("worker.log")).unwrap();
        let e = err(LogFile::Log);
        assert_eq!(e.kind(), LogFailure::Refused, "{e}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        std::fs::hard_link(&secret, worker.join("worker.out")).unwrap();
        let e = err(LogFile::Out);
        assert!(e.to_string().contains("hard links"), "{e}");
        std::fs::remove_file(worker.join("worker.out")).unwrap();
        nix::unistd::mkfifo(&worker.join("worker.out"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = err(LogFile::Out);
        assert!(e.to_string().contains("not a regular file"), "{e}");
        // A rotated file that is a link ends a tail; the current file is still served.
        std::fs::remove_file(worker.join("worker.log")).unwrap();
        std::fs::write(worker.join("worker.log"), "new\n").unwrap();
        std::os::unix::fs::symlink(&secret, worker.join("worker.log.1")).unwrap();
        let c = read(
            &worker,
            LogFile::Log,
            LogRange::Tail { lines: 5 },
            1 << 20,
            3,
        )
        .unwrap();
        assert_eq!(c.text, "new\n");
        // A worker directory that is a link is refused.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&worker, &link).unwrap();
        let e = read(&link, LogFile::Log, LogRange::Tail { lines: 5 }, 1 << 20, 3).unwrap_err();
        assert_eq!(e.kind(), LogFailure::Refused, "{e}");
    }
}
