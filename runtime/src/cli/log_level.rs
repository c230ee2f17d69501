//! `squall set-log-level NAME LEVEL [--timeout S]` / `--reset` (Storm's
//! `set_log_level`): the topology's log filter becomes exactly LEVEL (a `tracing`
//! directive list, Storm's level names accepted), for S seconds or until changed; its
//! workers follow within about a second. Sent as Storm's log configuration body with
//! Squall's `"replace": true`.

use std::collections::BTreeMap;

use crate::cluster::client::ClientCommand;
use crate::cluster::log_filter::parse_directives;
use crate::cluster::protocol::logconfig::{LogConfigBody, NamedLoggerLevel};

use super::NimbusArg;

/// The arguments of `squall set-log-level`.
#[derive(Debug, Clone, clap::Args)]
pub struct SetLogLevelArgs {
    /// Topology name (or id).
    pub name: String,
    /// The filter: a level (ALL, TRACE, DEBUG, INFO, WARN, ERROR, OFF; any case) or
    /// `tracing` directives (`info,my_bolt=trace`); loggers it does not name keep the
    /// workers' default (`SQUALL_LOG`).
    #[arg(required_unless_present = "reset")]
    pub level: Option<String>,
    /// Seconds the filter lasts before the workers go back to their default (default:
    /// until changed or reset).
    #[arg(long, value_name = "S", conflicts_with = "reset")]
    pub timeout: Option<u64>,
    /// Clear the topology's filter: its workers go back to their default.
    #[arg(long, conflicts_with = "level")]
    pub reset: bool,
    /// Where nimbus is.
    #[command(flatten)]
    pub nimbus: NimbusArg,
}

/// Run `squall set-log-level`; returns the exit code.
pub fn run(args: SetLogLevelArgs) -> i32 {
    match body(&args) {
        Ok(body) => args.nimbus.run(ClientCommand::SetLogLevel {
            name: args.name.clone(),
            body,
        }),
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// The request for `args`: every named logger of LEVEL with the timeout, replacing the
/// topology's filter (`--reset`: an empty one).
fn body(args: &SetLogLevelArgs) -> Result<LogConfigBody, String> {
    let mut named_logger_levels = BTreeMap::new();
    if let Some(level) = args.level.as_deref().filter(|_| !args.reset) {
        let loggers = parse_directives(level).map_err(|e| e.to_string())?;
        let timeout = args
            .timeout
            .map(|t| i64::try_from(t).map_err(|_| format!("--timeout {t} is too large")))
            .transpose()?;
        for (logger, level) in loggers {
            let l = NamedLoggerLevel {
                target_level: Some(level.storm_name().to_string()),
                timeout,
                ..NamedLoggerLevel::default()
            };
            named_logger_levels.insert(logger, l);
        }
    }
    Ok(LogConfigBody {
        named_logger_levels,
        replace: true,
    })
}

/// What `squall set-log-level` prints: the topology's filter now.
pub fn describe(name: &str, config: &LogConfigBody) -> String {
    if config.named_logger_levels.is_empty() {
        return format!("topology {name}: no log filter set; its workers use their default");
    }
    let mut out = format!("topology {name}: log filter set; its workers follow within a second\n");
    for (logger, l) in &config.named_logger_levels {
        let level = l.target_level.as_deref().unwrap_or("-");
        let until = match l.timeout.unwrap_or(0) {
            t if t > 0 => format!("for {t} s (until unix ms {})", l.timeout_epoch.unwrap_or(0)),
            _ => "until changed".to_string(),
        };
        out.push_str(&format!("  {logger:<32} {level:<6} {until}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(level: Option<&str>, timeout: Option<u64>, reset: bool) -> SetLogLevelArgs {
        SetLogLevelArgs {
            name: "t".into(),
            level: level.map(str::to_string),
            timeout,
            reset,
            nimbus: NimbusArg {
                url: "http://127.0.0.1:1".into(),
                token_file: None,
                ca_file: None,
            },
        }
    }

    #[test]
    fn a_level_becomes_storms_body_replacing_the_filter() {
        let b = body(&args(Some("info,my_bolt=ALL"), Some(3), false)).unwrap();
        assert!(b.replace);
        assert_eq!(
            serde_json::to_value(&b.named_logger_levels).unwrap(),
            serde_json::json!({
                "ROOT": {"target_level": "INFO", "reset_level": null, "timeout": 3, "timeout_epoch": null},
                "my_bolt": {"target_level": "TRACE", "reset_level": null, "timeout": 3, "timeout_epoch": null}})
        );
        let reset = body(&args(None, None, true)).unwrap();
        assert!(reset.replace && reset.named_logger_levels.is_empty());
        let e = body(&args(Some("my_bolt=loud"), None, false)).unwrap_err();
        assert!(e.contains("'loud'"), "{e}");
    }
}
