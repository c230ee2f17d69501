//! The audit log: one JSON line per mutating request (who, what, when, from where, the
//! answer's status) in `DATA/audit.log`, rotated to `audit.log.1` when it would pass
//! `nimbus.audit.log.max.bytes` (so it takes at most twice that). Never a token.
//!
//! Routine requests that succeed (a known supervisor's heartbeat, a worker's stats
//! report: [`Routine`]) are not written one by one (at 100 supervisors they would rotate
//! the admin actions out of the log within minutes); they are counted, and a summary
//! line (`{"ts_ms":…,"routine":{"since_ms":…,"heartbeats":N,"stats":M}}`) is written at
//! most every [`ROUTINE_SUMMARY_MS`]. Their failures and refusals, and every other
//! mutating request, are written as before.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use crate::error::StoreError;

/// The audit log's file name in the data directory.
pub const AUDIT_FILE: &str = "audit.log";

/// One audited request.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// Unix millis.
    pub ts_ms: u64,
    /// The principal's name (`-` when unauthenticated).
    pub who: String,
    /// Its role, if a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The peer address.
    pub peer: String,
    /// Method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// The answer's status.
    pub status: u16,
}

/// How often (at most) the routine requests counted are summarised in one line.
pub const ROUTINE_SUMMARY_MS: u64 = 60_000;

/// A routine request, marked by its handler on its response's extensions: counted by
/// the audit log when it succeeds, not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routine {
    /// A heartbeat of a known supervisor that changed nothing stored.
    Heartbeat,
    /// A worker's stats report.
    Stats,
}

/// The routine requests counted since `since_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
struct RoutineCounts {
    since_ms: u64,
    heartbeats: u64,
    stats: u64,
}

/// The summary line of [`RoutineCounts`].
#[derive(Debug, Serialize)]
struct RoutineSummary<'a> {
    ts_ms: u64,
    routine: &'a RoutineCounts,
}

#[derive(Debug)]
struct Open {
    file: std::fs::File,
    size: u64,
}

/// The log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    max_bytes: u64,
    open: Mutex<Option<Open>>,
    routine: Mutex<Option<RoutineCounts>>,
}

fn open_append(path: &Path) -> std::io::Result<Open> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let size = file.metadata()?.len();
    Ok(Open { file, size })
}

impl AuditLog {
    /// Open (or create, 0600) the log at `path`.
    pub fn open(path: &Path, max_bytes: u64) -> Result<AuditLog, StoreError> {
        let open = open_append(path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            max_bytes,
            open: Mutex::new(Some(open)),
            routine: Mutex::new(None),
        })
    }

    /// Count a routine request that succeeded at `ts_ms` (unix millis); the counts are
    /// written as one summary line once [`ROUTINE_SUMMARY_MS`] passed since the first.
    pub fn routine(&self, kind: Routine, ts_ms: u64) {
        let due = {
            let mut counts = self.routine.lock().unwrap_or_else(PoisonError::into_inner);
            let c = counts.get_or_insert_with(|| RoutineCounts {
                since_ms: ts_ms,
                ..RoutineCounts::default()
            });
            match kind {
                Routine::Heartbeat => c.heartbeats += 1,
                Routine::Stats => c.stats += 1,
            }
            if ts_ms.saturating_sub(c.since_ms) >= ROUTINE_SUMMARY_MS {
                counts.take()
            } else {
                None
            }
        };
        if let Some(counts) = due {
            self.append(&RoutineSummary {
                ts_ms,
                routine: &counts,
            });
        }
    }

    /// Append a record (rotating first if it would pass the size). A failure to write is
    /// logged, not returned: the request was already answered.
    pub fn write(&self, record: &AuditRecord) {
        self.append(record);
    }

    fn append<T: Serialize>(&self, record: &T) {
        let mut line = match serde_json::to_vec(record) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("cannot encode an audit record: {e}");
                return;
            }
        };
        line.push(b'\n');
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let len = line.len() as u64;
        if open.as_ref().is_none_or(|o| o.size + len > self.max_bytes) {
            *open = None;
            let rotated = self.path.with_extension("log.1");
            if self.path.exists()
                && let Err(e) = std::fs::rename(&self.path, &rotated)
            {
                tracing::error!(path = %self.path.display(), "cannot rotate the audit log: {e}");
            }
            match open_append(&self.path) {
                Ok(o) => *open = Some(o),
                Err(e) => {
                    tracing::error!(path = %self.path.display(), "cannot open the audit log: {e}");
                    return;
                }
            }
        }
        if let Some(o) = open.as_mut() {
            match o.file.write_all(&line) {
                Ok(()) => o.size += len,
                Err(e) => {
                    tracing::error!(path = %self.path.display(), "cannot write the audit log: {e}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_log_rotates_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        let log = AuditLog::open(&path, 1000).unwrap();
        let rec = AuditRecord {
            ts_ms: 1,
            who: "admin".into(),
            role: Some("admin".into()),
            peer: "127.0.0.1:1".into(),
            method: "POST".into(),
            path: "/api/v1/topologies".into(),
            status: 201,
        };
        for _ in 0..100 {
            log.write(&rec);
        }
        let cur = std::fs::metadata(&path).unwrap().len();
        let old = std::fs::metadata(path.with_extension("log.1"))
            .unwrap()
            .len();
        assert!(cur <= 1000 && old <= 1000, "{cur} {old}");
        let last = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(last.lines().next().unwrap()).unwrap();
        assert_eq!(v["who"], "admin");
    }

    #[test]
    fn routine_requests_are_counted_and_summarised_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        let log = AuditLog::open(&path, 1 << 20).unwrap();
        let t0 = 1_000_000;
        for i in 0..1000 {
            log.routine(Routine::Heartbeat, t0 + i);
            log.routine(Routine::Stats, t0 + i);
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        log.routine(Routine::Stats, t0 + ROUTINE_SUMMARY_MS);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["routine"]["heartbeats"], 1000);
        assert_eq!(v["routine"]["stats"], 1001);
        assert_eq!(v["routine"]["since_ms"], t0);
        // Counting starts afresh.
        log.routine(Routine::Heartbeat, t0 + ROUTINE_SUMMARY_MS + 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }
}
