//! Reading a worker's log files through nimbus, with no port of the supervisor's open:
//!
//! 1. a client asks nimbus: `GET /api/v1/topology/{id}/logs?worker=HOST:PORT&file=log|out&
//!    tail=N` (or `offset=O`), parsed into a [`LogQuery`];
//! 2. nimbus queues a [`LogRequest`] for the supervisor running that worker, which
//!    long-polls for them (`GET /api/v1/supervisors/{id}/log-requests?wait_secs=N`,
//!    answered [`LogRequests`]);
//! 3. the supervisor reads the file range and posts a [`LogAnswer`]
//!    (`POST /api/v1/supervisors/{id}/log-responses/{request_id}`);
//! 4. nimbus answers the client with a [`WorkerLog`].
//!
//! Offsets are byte offsets in the worker's *current* file (`worker.log` or
//! `worker.out`): `offset=end_offset` returns what was written since the previous
//! answer; when the file was rotated in between (it is now smaller than the offset) the
//! answer restarts at 0 of the new file and says so ([`LogChunk::rotated`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::trident::encode_segment;
use crate::cluster::logs::{LOG_FILE, OUT_FILE};

/// Lines a tail returns when the query names neither `tail` nor `offset`.
pub const DEFAULT_TAIL_LINES: u32 = 100;
/// The most lines a tail may ask for.
pub const MAX_TAIL_LINES: u32 = 10_000;
/// The most bytes of a file one answer holds (also the default).
pub const MAX_LOG_BYTES: u32 = 1 << 20;
/// The longest a supervisor's poll for log requests is held open, in seconds.
pub const MAX_POLL_WAIT_SECS: u64 = 20;
/// The most requests one poll answer hands a supervisor.
pub const MAX_REQUESTS_PER_POLL: usize = 32;
/// The query parameters [`LogQuery::parse`] knows.
pub const QUERY_PARAMS: [&str; 5] = ["worker", "file", "tail", "offset", "max_bytes"];

/// Which of a worker's files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFile {
    /// `worker.log`: its stderr, where its `tracing` log goes.
    #[default]
    Log,
    /// `worker.out`: its stdout (a component's `println!`).
    Out,
}

impl LogFile {
    /// The file's name in the worker's directory.
    pub fn file_name(self) -> &'static str {
        match self {
            LogFile::Log => LOG_FILE,
            LogFile::Out => OUT_FILE,
        }
    }

    /// `log` or `out`, as in the query.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFile::Log => "log",
            LogFile::Out => "out",
        }
    }
}

impl fmt::Display for LogFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFile {
    type Err = LogQueryError;

    fn from_str(s: &str) -> Result<LogFile, LogQueryError> {
        match s {
            "log" => Ok(LogFile::Log),
            "out" => Ok(LogFile::Out),
            other => Err(LogQueryError(format!(
                "file must be `log` (the worker's stderr and log, worker.log) or `out` (its \
                 stdout, worker.out), not '{}'",
                clip(other)
            ))),
        }
    }
}

/// Which part of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogRange {
    /// The last `lines` lines (reaching into the rotated files when the current one
    /// holds fewer).
    Tail {
        /// How many (at most [`MAX_TAIL_LINES`]).
        lines: u32,
    },
    /// What the current file holds from byte `offset` on.
    From {
        /// A byte offset in the current file (an earlier answer's `end_offset`).
        offset: u64,
    },
}

/// A bad log query; the message names the parameter and the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LogQueryError(pub String);

/// The query of `GET /api/v1/topology/{id}/logs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// `HOST:PORT` or `SUPERVISOR_ID:PORT` of the worker (`None`: the topology's only
    /// worker).
    pub worker: Option<String>,
    /// Which file.
    pub file: LogFile,
    /// Which part of it.
    pub range: LogRange,
    /// The most bytes to return (at most [`MAX_LOG_BYTES`]).
    pub max_bytes: u32,
}

/// At most 64 characters of a value from outside, for an error message.
fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

fn number<T: FromStr>(key: &str, value: &str) -> Result<T, LogQueryError> {
    value.parse().map_err(|_| {
        LogQueryError(format!(
            "{key} must be a non-negative integer, not '{}'",
            clip(value)
        ))
    })
}

impl LogQuery {
    /// A tail of `lines` lines of `file` of `worker`.
    pub fn tail(worker: Option<String>, file: LogFile, lines: u32) -> LogQuery {
        LogQuery {
            worker,
            file,
            range: LogRange::Tail { lines },
            max_bytes: MAX_LOG_BYTES,
        }
    }

    /// What `file` of `worker` holds from `offset` on.
    pub fn from_offset(worker: Option<String>, file: LogFile, offset: u64) -> LogQuery {
        LogQuery {
            worker,
            file,
            range: LogRange::From { offset },
            max_bytes: MAX_LOG_BYTES,
        }
    }

    /// Parse the query's parameters, refusing unknown ones, `tail` together with
    /// `offset`, and values over the caps (with a message naming the cap).
    pub fn parse(params: &BTreeMap<String, String>) -> Result<LogQuery, LogQueryError> {
        if let Some(unknown) = params.keys().find(|k| !QUERY_PARAMS.contains(&k.as_str())) {
            return Err(LogQueryError(format!(
                "unknown parameter '{}'; known: {}",
                clip(unknown),
                QUERY_PARAMS.join(", ")
            )));
        }
        let file = match params.get("file") {
            Some(f) => f.parse()?,
            None => LogFile::Log,
        };
        let tail = params
            .get("tail")
            .map(|t| number::<u64>("tail", t))
            .transpose()?;
        let offset = params
            .get("offset")
            .map(|o| number::<u64>("offset", o))
            .transpose()?;
        let range = match (tail, offset) {
            (Some(_), Some(_)) => {
                return Err(LogQueryError(
                    "give tail (the last N lines) or offset (from a byte offset on), not both"
                        .into(),
                ));
            }
            (Some(n), None) if n > u64::from(MAX_TAIL_LINES) => {
                return Err(LogQueryError(format!(
                    "tail={n} is over the limit of {MAX_TAIL_LINES} lines; ask for at most \
                     {MAX_TAIL_LINES} (and follow with offset=end_offset for more)"
                )));
            }
            (Some(n), None) => LogRange::Tail {
                lines: u32::try_from(n).unwrap_or(MAX_TAIL_LINES),
            },
            (None, Some(offset)) => LogRange::From { offset },
            (None, None) => LogRange::Tail {
                lines: DEFAULT_TAIL_LINES,
            },
        };
        let max_bytes = match params.get("max_bytes") {
            None => MAX_LOG_BYTES,
            Some(m) => {
                let m = number::<u64>("max_bytes", m)?;
                if m == 0 || m > u64::from(MAX_LOG_BYTES) {
                    return Err(LogQueryError(format!(
                        "max_bytes={m} is out of range: 1 to {MAX_LOG_BYTES} (1 MiB)"
                    )));
                }
                u32::try_from(m).unwrap_or(MAX_LOG_BYTES)
            }
        };
        let worker = params.get("worker").cloned();
        if let Some(w) = &worker {
            parse_worker(w)?;
        }
        Ok(LogQuery {
            worker,
            file,
            range,
            max_bytes,
        })
    }

    /// The query string (without `?`), values percent-encoded.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(w) = &self.worker {
            parts.push(format!("worker={}", encode_segment(w)));
        }
        parts.push(format!("file={}", self.file));
        match self.range {
            LogRange::Tail { lines } => parts.push(format!("tail={lines}")),
            LogRange::From { offset } => parts.push(format!("offset={offset}")),
        }
        if self.max_bytes != MAX_LOG_BYTES {
            parts.push(format!("max_bytes={}", self.max_bytes));
        }
        parts.join("&")
    }

    /// The request path for topology `topology` (its name or id).
    ///
    /// # Examples
    ///
    /// ```
    /// use squall_runtime::cluster::protocol::logs::{LogFile, LogQuery};
    /// let q = LogQuery::tail(Some("10.0.0.7:6700".into()), LogFile::Log, 50);
    /// assert_eq!(
    ///     q.path("wc"),
    ///     "/api/v1/topology/wc/logs?worker=10.0.0.7%3A6700&file=log&tail=50"
    /// );
    /// ```
    pub fn path(&self, topology: &str) -> String {
        format!(
            "/api/v1/topology/{}/logs?{}",
            encode_segment(topology),
            self.to_query()
        )
    }
}

/// Split a `worker` parameter into its host (or supervisor id) and port: `HOST:PORT`,
/// `SUPERVISOR_ID:PORT` or `[IPV6]:PORT`.
pub fn parse_worker(worker: &str) -> Result<(&str, u16), LogQueryError> {
    let bad = || {
        LogQueryError(format!(
            "worker must be HOST:PORT or SUPERVISOR_ID:PORT (as `squall status` lists its \
             workers), not '{}'",
            clip(worker)
        ))
    };
    let (host, port) = worker.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.len() > 256 || host.chars().any(|c| c.is_control() || c == '/') {
        return Err(bad());
    }
    Ok((host, port))
}

/// The path a supervisor polls for its log requests, waiting up to `wait_secs`.
pub fn log_requests_path(supervisor: &str, wait_secs: u64) -> String {
    format!(
        "/api/v1/supervisors/{}/log-requests?wait_secs={wait_secs}",
        encode_segment(supervisor)
    )
}

/// The path a supervisor posts its answer to request `request` to.
pub fn log_response_path(supervisor: &str, request: u64) -> String {
    format!(
        "/api/v1/supervisors/{}/log-responses/{request}",
        encode_segment(supervisor)
    )
}

/// What nimbus asks a supervisor to read (one of [`LogRequests`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRequest {
    /// Its number, which the answer's path names.
    pub id: u64,
    /// The topology's name.
    pub topology: String,
    /// The topology's id: the slot must run this submission's worker.
    pub topology_id: String,
    /// The slot's port.
    pub port: u16,
    /// Which file.
    pub file: LogFile,
    /// Which part.
    pub range: LogRange,
    /// The most bytes to return.
    pub max_bytes: u32,
}

/// Answer to `GET /api/v1/supervisors/{id}/log-requests`: what nimbus queued for this
/// supervisor (empty when the wait ended with nothing queued).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRequests {
    /// At most [`MAX_REQUESTS_PER_POLL`].
    pub requests: Vec<LogRequest>,
}

/// A range of a worker's log file, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogChunk {
    /// The byte offset in the current file where `text` begins; 0 when it begins in a
    /// rotated file (then `earlier_bytes` of it came from those).
    pub start_offset: u64,
    /// The byte offset in the current file just after `text`: ask with
    /// `offset=end_offset` for what comes next.
    pub end_offset: u64,
    /// The current file's size when it was read.
    pub file_size: u64,
    /// The bytes read, as UTF-8 (invalid sequences replaced by U+FFFD).
    pub text: String,
    /// More was there than `max_bytes` allowed: a tail lost its first lines, a read from
    /// an offset stopped before the end of the file (ask again from `end_offset`).
    pub truncated: bool,
    /// The offset asked for was past the end of the current file: it was rotated (or
    /// emptied) since, and `text` starts at 0 of the new file.
    #[serde(default)]
    pub rotated: bool,
    /// Bytes of `text` that came from rotated files (`worker.log.1`, …) before the
    /// current one.
    #[serde(default)]
    pub earlier_bytes: u64,
}

/// Why a supervisor could not read what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFailure {
    /// The slot runs no worker of that topology, or the file does not exist (yet).
    NotFound,
    /// The file is not served: a symbolic link, not a regular file, or linked elsewhere.
    Refused,
    /// Reading failed.
    Unreadable,
}

/// A supervisor's answer to a [`LogRequest`] (`POST .../log-responses/{request_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogAnswer {
    /// What was read.
    Chunk(LogChunk),
    /// Why nothing was.
    Failed {
        /// The class of failure.
        kind: LogFailure,
        /// What went wrong, for the user.
        message: String,
    },
}

/// Answer to `GET /api/v1/topology/{id}/logs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerLog {
    /// `HOST:PORT` of the worker.
    pub worker: String,
    /// The supervisor that read it.
    pub supervisor: String,
    /// Which file.
    pub file: LogFile,
    /// What was read.
    #[serde(flatten)]
    pub chunk: LogChunk,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<LogQuery, LogQueryError> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LogQuery::parse(&map)
    }

    #[test]
    fn defaults_are_a_100_line_tail_of_worker_log() {
        let got = q(&[]).unwrap();
        assert_eq!(got, LogQuery::tail(None, LogFile::Log, DEFAULT_TAIL_LINES));
    }

    #[test]
    fn caps_and_bad_values_are_refused_with_the_limit_named() {
        let e = q(&[("tail", "10001")]).unwrap_err().to_string();
        assert!(e.contains("limit of 10000 lines"), "{e}");
        q(&[("tail", "10000")]).unwrap();
        let e = q(&[("max_bytes", "2000000")]).unwrap_err().to_string();
        assert!(e.contains("1 to 1048576"), "{e}");
        let e = q(&[("file", "../../etc/passwd")]).unwrap_err().to_string();
        assert!(e.contains("file must be `log`"), "{e}");
        let e = q(&[("tail", "1"), ("offset", "2")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not both"), "{e}");
        let e = q(&[("path", "/etc")]).unwrap_err().to_string();
        assert!(e.contains("unknown parameter 'path'"), "{e}");
        let e = q(&[("tail", "-1")]).unwrap_err().to_string();
        assert!(e.contains("non-negative integer"), "{e}");
        let e = q(&[("worker", "host/../x:1")]).unwrap_err().to_string();
        assert!(e.contains("HOST:PORT"), "{e}");
    }

    #[test]
    fn workers_are_host_or_supervisor_and_port() {
        assert_eq!(parse_worker("127.0.0.1:6700").unwrap(), ("127.0.0.1", 6700));
        assert_eq!(parse_worker("[::1]:6700").unwrap(), ("::1", 6700));
        assert_eq!(
            parse_worker("host-6700-42:6701").unwrap(),
            ("host-6700-42", 6701)
        );
        assert!(parse_worker("6700").is_err());
        assert!(parse_worker("h:70000").is_err());
    }

    #[test]
    fn a_query_survives_its_query_string() {
        let query = LogQuery {
            worker: Some("[::1]:6700".into()),
            file: LogFile::Out,
            range: LogRange::From { offset: 42 },
            max_bytes: 4096,
        };
        let text = query.to_query();
        let map = text
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                let v = v
                    .replace("%5B", "[")
                    .replace("%5D", "]")
                    .replace("%3A", ":");
                (k.to_string(), v)
            })
            .collect();
        assert_eq!(LogQuery::parse(&map).unwrap(), query);
        assert_eq!(query.path("wc"), format!("/api/v1/topology/wc/logs?{text}"));
    }

    #[test]
    fn answers_have_the_documented_json_shape() {
        let log = WorkerLog {
            worker: "h:1".into(),
            supervisor: "s".into(),
            file: LogFile::Log,
            chunk: LogChunk {
                start_offset: 1,
                end_offset: 3,
                file_size: 3,
                text: "ab".into(),
                truncated: false,
                rotated: false,
                earlier_bytes: 0,
            },
        };
        let v = serde_json::to_value(&log).unwrap();
        for key in [
            "worker",
            "file",
            "start_offset",
            "end_offset",
            "file_size",
            "text",
            "truncated",
        ] {
            assert!(v.get(key).is_some(), "{key} missing from {v}");
        }
        assert_eq!(serde_json::from_value::<WorkerLog>(v).unwrap(), log);
        let failed = LogAnswer::Failed {
            kind: LogFailure::Refused,
            message: "no".into(),
        };
        let text = serde_json::to_string(&failed).unwrap();
        assert_eq!(serde_json::from_str::<LogAnswer>(&text).unwrap(), failed);
    }
}
