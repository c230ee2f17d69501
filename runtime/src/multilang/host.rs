//! What shell bolts and spouts share: the settings read at `prepare`/`open`, starting a
//! subprocess, and the wording of its logs and errors.

use std::path::PathBuf;
use std::time::Duration;

use super::error::ShellError;
use super::pid_dir::default_pid_dir;
use super::process::{Closed, Ended, Launch, Subprocess};
use super::protocol::{LogLevel, ParseError};
use super::spec::ShellSpec;
use crate::api::context::{TopologyContext, Waker};
use crate::topology::config::{
    Config, TOPOLOGY_RESOURCES_DIR, TOPOLOGY_SHELLBOLT_MAX_PENDING,
    TOPOLOGY_SUBPROCESS_TIMEOUT_SECS,
};

/// The working directory of multi-lang subprocesses: `topology.resources.dir`, or the
/// current directory when it is unset. This is the one setting that says where a
/// topology's scripts are; `squall local FILE` defaults it to FILE's directory.
pub fn resources_dir(config: &Config) -> PathBuf {
    match config.get_str(TOPOLOGY_RESOURCES_DIR) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

/// One shell task's settings and identity.
#[derive(Debug)]
pub(crate) struct Host {
    /// `component:task`.
    pub(crate) label: String,
    pub(crate) ctx: TopologyContext,
    pub(crate) command: Vec<String>,
    dir: PathBuf,
    pid_dir: PathBuf,
    /// `topology.subprocess.timeout.secs`.
    pub(crate) timeout: Duration,
    /// `topology.shellbolt.max.pending`.
    pub(crate) max_pending: usize,
}

impl Host {
    /// Settings from the task's context and config.
    pub(crate) fn new(ctx: &TopologyContext, spec: &ShellSpec) -> Host {
        let config = ctx.config();
        // Both keys are positive integers with defaults in `config::KNOWN_KEYS`.
        let secs = config
            .setting_u64(TOPOLOGY_SUBPROCESS_TIMEOUT_SECS)
            .unwrap_or(1);
        let max_pending = config
            .setting_u64(TOPOLOGY_SHELLBOLT_MAX_PENDING)
            .unwrap_or(1);
        Host {
            label: format!("{}:{}", ctx.this_component(), ctx.this_task()),
            ctx: ctx.clone(),
            command: spec.command().to_vec(),
            dir: resources_dir(config),
            pid_dir: default_pid_dir(),
            timeout: Duration::from_secs(secs),
            max_pending: usize::try_from(max_pending).unwrap_or(usize::MAX),
        }
    }

    /// Start the subprocess and shake hands.
    pub(crate) fn launch(
        &self,
        waker: Option<Waker>,
        heartbeat: bool,
        queue: usize,
    ) -> Result<Subprocess, ShellError> {
        Subprocess::spawn(Launch {
            label: &self.label,
            command: &self.command,
            dir: &self.dir,
            pid_dir: &self.pid_dir,
            handshake: super::handshake::handshake(&self.ctx, &self.pid_dir),
            timeout: self.timeout,
            waker,
            heartbeat,
            queue,
        })
    }

    /// A message the host cannot accept.
    pub(crate) fn malformed(&self, e: ParseError, text: String) -> ShellError {
        ShellError::Malformed {
            component: self.label.clone(),
            command: e.command,
            detail: e.detail,
            text,
        }
    }

    /// A well-formed message that breaks the protocol.
    pub(crate) fn protocol(&self, command: &str, detail: impl Into<String>) -> ShellError {
        ShellError::Protocol {
            component: self.label.clone(),
            command: command.to_string(),
            detail: detail.into(),
        }
    }

    /// Why the output of a subprocess ended, in words.
    pub(crate) fn closed_cause(&self, c: Closed) -> String {
        match c {
            Closed::Eof => "exited".to_string(),
            Closed::Io(e) => format!("could not be read from ({e})"),
            Closed::Malformed(e, text) => {
                format!(
                    "was killed after a bad message ({})",
                    self.malformed(e, text)
                )
            }
        }
    }

    /// The words for a subprocess killed for being silent.
    pub(crate) fn hung_cause(&self) -> String {
        format!(
            "stopped answering (nothing received for more than {}s, \
             topology.subprocess.timeout.secs) and was killed",
            self.timeout.as_secs()
        )
    }

    /// The error reported when a subprocess died: `cause` (replaced by the hang when the
    /// ticker killed it) and `next`, what the host did about it.
    pub(crate) fn died(&self, pid: u32, cause: String, next: &str, ended: Ended) -> ShellError {
        let cause = if ended.hung { self.hung_cause() } else { cause };
        ShellError::Died {
            component: self.label.clone(),
            command: self.command.clone(),
            pid,
            cause: format!("{cause}; {next}"),
            status: ended.status,
            stderr: ended.stderr,
        }
    }

    /// A `log` command, at its level, with the component and pid.
    pub(crate) fn log(&self, pid: u32, level: LogLevel, msg: &str) {
        let c = &self.label;
        match level {
            LogLevel::Trace => tracing::trace!(component = %c, pid, "ShellLog: {msg}"),
            LogLevel::Debug => tracing::debug!(component = %c, pid, "ShellLog: {msg}"),
            LogLevel::Info => tracing::info!(component = %c, pid, "ShellLog: {msg}"),
            LogLevel::Warn => tracing::warn!(component = %c, pid, "ShellLog: {msg}"),
            LogLevel::Error => tracing::error!(component = %c, pid, "ShellLog: {msg}"),
        }
    }

    /// A `metrics` command: `params`, a whole number from 0 to 2^53 (Storm's
    /// `rpcMetrics`, pystorm's `report_metric`), is added to the task's user counter
    /// `name` (registered on first use). Anything else is refused with a logged error
    /// naming the component: the command is not applied (it does not fail the input).
    pub(crate) fn metrics(&self, pid: u32, name: &str, params: &serde_json::Value) {
        let n = match metric_increment(params) {
            Ok(n) => n,
            Err(why) => {
                tracing::error!(
                    component = %self.label,
                    pid,
                    metric = %name,
                    "refused a metrics command from the subprocess: {why}"
                );
                return;
            }
        };
        if let Err(e) = self.ctx.metrics().add_to_counter(name, n) {
            tracing::error!(
                component = %self.label,
                pid,
                "refused a metrics command from the subprocess: {e}"
            );
        }
    }

    /// The text reported for an `error` command.
    pub(crate) fn reported(&self, pid: u32, msg: &str) -> String {
        format!("{} (subprocess pid {pid}) reported: {msg}", self.label)
    }
}

/// The largest integer a JSON number (a double) holds exactly.
const MAX_EXACT_JSON_INT: f64 = 9_007_199_254_740_992.0;

/// What a `metrics` command's `params` adds to its counter: a whole number from 0 to
/// 2^53 (`3` or `3.0`; not `-1`, `0.5`, `"3"`, `[3]` or `null`).
pub(crate) fn metric_increment(params: &serde_json::Value) -> Result<u64, String> {
    let shown = || {
        let mut s = params.to_string();
        if s.len() > 64 {
            let mut end = 64;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push('…');
        }
        s
    };
    let serde_json::Value::Number(n) = params else {
        return Err(format!(
            "`params` must be a number to add to the counter, not {}",
            shown()
        ));
    };
    if let Some(u) = n.as_u64() {
        return Ok(u);
    }
    match n.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= MAX_EXACT_JSON_INT => Ok(f as u64),
        _ => Err(format!(
            "`params` must be a whole number from 0 to 2^53 to add to the counter, not {}",
            shown()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::metric_increment;
    use serde_json::json;

    #[test]
    fn metric_params_must_be_whole_non_negative_numbers() {
        assert_eq!(metric_increment(&json!(3)), Ok(3));
        assert_eq!(metric_increment(&json!(0)), Ok(0));
        assert_eq!(metric_increment(&json!(7.0)), Ok(7));
        for bad in [
            json!(-1),
            json!(0.5),
            json!("3"),
            json!([3]),
            json!(null),
            json!({"n": 1}),
            json!(1e300),
        ] {
            let e = metric_increment(&bad).unwrap_err();
            assert!(e.contains("params"), "{bad}: {e}");
        }
    }
}
