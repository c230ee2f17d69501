//! Errors of the multi-lang host.

use std::path::PathBuf;

use thiserror::Error;

/// Longest excerpt of a subprocess's text quoted in an error.
const EXCERPT: usize = 300;

/// A quotable excerpt of text from a subprocess: at most [`EXCERPT`] bytes (cut at a
/// character boundary), with a note when cut.
pub(crate) fn excerpt(text: &[u8]) -> String {
    let s = String::from_utf8_lossy(text);
    if s.len() <= EXCERPT {
        return s.into_owned();
    }
    let mut end = EXCERPT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &s[..end], text.len())
}

/// What went wrong with a multi-lang subprocess. Every variant names the component (and
/// task) so a report read alone says where it happened.
#[derive(Debug, Error)]
pub enum ShellError {
    /// The command could not be started.
    #[error("{component}: cannot start {command:?} in {dir}: {source}")]
    Spawn {
        /// Component id and task, as `component:task`.
        component: String,
        /// The command line.
        command: Vec<String>,
        /// The working directory it was started in.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The subprocess did not complete the handshake (no `{"pid": N}` reply in time, or
    /// it exited first).
    #[error("{component}: handshake with {command:?} failed: {detail}")]
    Handshake {
        /// Component id and task.
        component: String,
        /// The command line.
        command: Vec<String>,
        /// What happened, with the exit status and the end of stderr when it died.
        detail: String,
    },
    /// A message that is not valid protocol JSON, or lacks a field its command needs.
    #[error(
        "{component}: malformed '{command}' message from the subprocess: {detail}; message: {text}"
    )]
    Malformed {
        /// Component id and task.
        component: String,
        /// The message's `command` (or `?` when it has none).
        command: String,
        /// What is wrong.
        detail: String,
        /// The offending text (an excerpt).
        text: String,
    },
    /// A well-formed message that breaks the protocol (ack of an unknown id, anchoring
    /// to a finished tuple, an unknown spout command...).
    #[error("{component}: protocol violation in '{command}': {detail}")]
    Protocol {
        /// Component id and task.
        component: String,
        /// The command.
        command: String,
        /// What is wrong.
        detail: String,
    },
    /// The subprocess died or hung; it is restarted and its in-flight tuples failed.
    #[error("{component}: subprocess {command:?} (pid {pid}) {cause}; {status}{stderr}")]
    Died {
        /// Component id and task.
        component: String,
        /// The command line.
        command: Vec<String>,
        /// The subprocess's pid.
        pid: u32,
        /// Why it is considered dead (exited, hung, protocol error...).
        cause: String,
        /// Its exit status (`exit status: 1`, `signal: 9 (SIGKILL)`).
        status: String,
        /// The last lines it wrote to stderr (`; stderr: ...`), or empty.
        stderr: String,
    },
    /// An I/O error talking to the subprocess.
    #[error("{component}: {context}: {source}")]
    Io {
        /// Component id and task.
        component: String,
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl From<ShellError> for crate::ComponentError {
    fn from(e: ShellError) -> crate::ComponentError {
        crate::ComponentError::Other(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_cut_at_char_boundaries() {
        let long = "é".repeat(400);
        let e = excerpt(long.as_bytes());
        assert!(e.ends_with("(800 bytes in all)"), "{e}");
        assert!(e.len() < 400);
        assert_eq!(excerpt(b"short"), "short");
    }
}
