//! Bounded worker logs: a worker process writes its stdout and stderr into files of its
//! directory that rotate at a size cap ([`RotatingFile`]), as Storm's workers do with
//! logback. The supervisor says where and how big in the worker spec
//! ([`WorkerLogs`](crate::cluster::protocol::WorkerLogs), from
//! `supervisor.worker.log.max.bytes` and `supervisor.worker.log.files`); the worker
//! captures its own output ([`capture`]), so the bound holds without the supervisor
//! (a worker outlives a supervisor crash) and nothing is lost when the supervisor
//! restarts.
//!
//! A multi-lang subprocess's stderr is logged line by line by the worker (see
//! [`crate::multilang`]), so it lands in the same bounded `worker.log`.

mod capture;
mod rotate;

pub use capture::{Capture, capture};
pub use rotate::{MAX_FILES, MIN_BYTES, RotatingFile};

use std::path::Path;

use serde::Deserialize;

use crate::cluster::protocol::WorkerLogs;

/// A worker's stderr (and its log lines), in its directory.
pub const LOG_FILE: &str = "worker.log";
/// A worker's stdout, in its directory.
pub const OUT_FILE: &str = "worker.out";

/// Capture this worker process's output as its spec file `spec_path` asks (`None`: the
/// spec asks for nothing, or cannot be read — the worker reports that itself — or the
/// capture failed, which is logged; the output then stays where the supervisor
/// pointed it).
pub fn capture_worker(spec_path: &Path) -> Option<Capture> {
    #[derive(Deserialize)]
    struct Logs {
        #[serde(default)]
        logs: Option<WorkerLogs>,
    }
    let text = std::fs::read_to_string(spec_path).ok()?;
    let logs = serde_json::from_str::<Logs>(&text).ok()?.logs?;
    match capture(&logs) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(dir = %logs.dir, "cannot write the worker's output to rotated log files: {e}");
            None
        }
    }
}
