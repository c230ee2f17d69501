//! Log filters set on a running topology (`squall set-log-level`, Storm's
//! `set_log_level` and `POST /api/v1/topology/{id}/logconfig`): the level names both
//! Storm and `tracing` use, a directive list read into named loggers, and the check
//! nimbus runs before it stores one. The worker's side (swapping its filter) is
//! [`crate::cluster::worker::log_level`].
//!
//! A directive list is `tracing`'s (`EnvFilter`) syntax: `debug`, `info,my_bolt=trace`.
//! Each directive is one *named logger* in Storm's terms: a bare level is the root
//! logger (`ROOT`), `target=LEVEL` the logger `target`. Storm's level names (`ALL`,
//! `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`, `OFF`) are accepted in any case.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The longest directive list accepted (bytes), as typed and as sent to workers.
pub const MAX_FILTER_BYTES: usize = 1024;

/// The most named loggers one topology's filter may hold.
pub const MAX_NAMED_LOGGERS: usize = 64;

/// Storm's name of the root logger: in a directive list, a bare level.
pub const ROOT_LOGGER: &str = "ROOT";

/// A log level, as `tracing` has them (Storm's `ALL` is `Trace`, `FATAL` is `Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Everything.
    Trace,
    /// Debug and above.
    Debug,
    /// Info and above.
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
    /// Nothing.
    Off,
}

impl Level {
    /// The level a name means, in any case: `tracing`'s names and Storm's (log4j's)
    /// `ALL`, `WARNING`, `FATAL`.
    pub fn parse(name: &str) -> Option<Level> {
        let level = match name.trim().to_ascii_lowercase().as_str() {
            "all" | "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" | "fatal" => Level::Error,
            "off" => Level::Off,
            _ => return None,
        };
        Some(level)
    }

    /// Its name in a `tracing` directive (`debug`).
    pub fn directive_name(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Off => "off",
        }
    }

    /// Its name in Storm's API (`DEBUG`).
    pub fn storm_name(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Off => "OFF",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.storm_name())
    }
}

/// What is wrong with a log filter.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LogFilterError {
    /// Nothing to set.
    #[error(
        "the log level is empty: give a level (e.g. DEBUG) or directives (e.g. info,my_bolt=trace)"
    )]
    Empty,
    /// Longer than [`MAX_FILTER_BYTES`].
    #[error("the log filter is {len} bytes; at most {MAX_FILTER_BYTES} are allowed")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// More than [`MAX_NAMED_LOGGERS`] loggers.
    #[error("the log filter names {count} loggers; at most {MAX_NAMED_LOGGERS} are allowed")]
    TooManyLoggers {
        /// How many.
        count: usize,
    },
    /// A level name that is none of the known ones.
    #[error(
        "'{level}' (in '{directive}') is not a log level: use ALL, TRACE, DEBUG, INFO, WARN, \
         ERROR, FATAL or OFF (any case)"
    )]
    UnknownLevel {
        /// The directive.
        directive: String,
        /// The level text.
        level: String,
    },
    /// A logger with no name (`=debug`).
    #[error("'{0}' names no logger: write TARGET=LEVEL, or a bare LEVEL for the root logger")]
    NoLogger(String),
    /// `tracing` does not take the directive.
    #[error("'{directive}' is not a valid tracing filter directive: {reason}")]
    Invalid {
        /// The directive.
        directive: String,
        /// Why, as `tracing_subscriber` says.
        reason: String,
    },
}

/// Read a directive list into named loggers and their levels (`ROOT` for a bare level;
/// a later directive for the same logger wins). Every directive is checked with
/// `tracing_subscriber`'s own parser.
pub fn parse_directives(list: &str) -> Result<BTreeMap<String, Level>, LogFilterError> {
    if list.len() > MAX_FILTER_BYTES {
        return Err(LogFilterError::TooLong { len: list.len() });
    }
    let mut loggers = BTreeMap::new();
    for piece in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (logger, level) = parse_directive(piece)?;
        loggers.insert(logger, level);
        if loggers.len() > MAX_NAMED_LOGGERS {
            return Err(LogFilterError::TooManyLoggers {
                count: loggers.len(),
            });
        }
    }
    if loggers.is_empty() {
        return Err(LogFilterError::Empty);
    }
    Ok(loggers)
}

/// One directive: a bare level (the root logger), `target=LEVEL`, or a bare target
/// (every level of it, as `tracing` reads it).
fn parse_directive(piece: &str) -> Result<(String, Level), LogFilterError> {
    if let Some(level) = Level::parse(piece) {
        return Ok((ROOT_LOGGER.to_string(), level));
    }
    let (logger, level) = match piece.rsplit_once('=') {
        Some((target, level_text)) => {
            let level = Level::parse(level_text).ok_or_else(|| LogFilterError::UnknownLevel {
                directive: piece.to_string(),
                level: level_text.trim().to_string(),
            })?;
            (target.trim(), level)
        }
        None => (piece, Level::Trace),
    };
    if logger.is_empty() {
        return Err(LogFilterError::NoLogger(piece.to_string()));
    }
    check_logger(logger, level)?;
    Ok((canonical_logger(logger), level))
}

/// `ROOT` in any case is the root logger; every other name is kept as written.
pub fn canonical_logger(name: &str) -> String {
    if name.eq_ignore_ascii_case(ROOT_LOGGER) {
        ROOT_LOGGER.to_string()
    } else {
        name.to_string()
    }
}

/// Whether `tracing` takes `logger=level` as a directive (the root logger always is).
pub fn check_logger(logger: &str, level: Level) -> Result<(), LogFilterError> {
    if logger.eq_ignore_ascii_case(ROOT_LOGGER) {
        return Ok(());
    }
    if logger.is_empty() {
        return Err(LogFilterError::NoLogger(format!(
            "={}",
            level.directive_name()
        )));
    }
    let directive = directive(logger, level);
    if directive.len() > MAX_FILTER_BYTES {
        return Err(LogFilterError::TooLong {
            len: directive.len(),
        });
    }
    if logger.contains(',') {
        return Err(LogFilterError::Invalid {
            directive,
            reason: "a logger name cannot hold ','".to_string(),
        });
    }
    check_directives(&directive)
}

/// One named logger as a directive: `debug` for the root logger, `target=debug` else.
pub fn directive(logger: &str, level: Level) -> String {
    if logger.eq_ignore_ascii_case(ROOT_LOGGER) {
        level.directive_name().to_string()
    } else {
        format!("{logger}={}", level.directive_name())
    }
}

/// Named loggers as one directive list, the root logger first.
pub fn render<'a>(loggers: impl IntoIterator<Item = (&'a str, Level)>) -> String {
    let mut root = None;
    let mut rest = Vec::new();
    for (logger, level) in loggers {
        if logger.eq_ignore_ascii_case(ROOT_LOGGER) {
            root = Some(level.directive_name().to_string());
        } else {
            rest.push(directive(logger, level));
        }
    }
    root.into_iter().chain(rest).collect::<Vec<_>>().join(",")
}

/// Whether `tracing_subscriber` parses `list` (strictly: any bad directive fails).
pub fn check_directives(list: &str) -> Result<(), LogFilterError> {
    tracing_subscriber::EnvFilter::builder()
        .parse(list)
        .map(drop)
        .map_err(|e| LogFilterError::Invalid {
            directive: list.to_string(),
            reason: e.to_string(),
        })
}

/// A directive list with `set` laid over `default`: the default's directives for
/// loggers `set` does not name are kept (Storm changes only the named loggers; a bare
/// level replaces the default's bare level).
pub fn overlay(default: &str, set: &str) -> String {
    let key = |d: &str| -> Option<String> {
        let d = d.trim();
        if Level::parse(d).is_some() || d.parse::<tracing::level_filters::LevelFilter>().is_ok() {
            return None;
        }
        Some(match d.rsplit_once('=') {
            Some((target, _)) => target.trim().to_string(),
            None => d.to_string(),
        })
    };
    let pieces = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let set = pieces(set);
    let named: Vec<Option<String>> = set.iter().map(|d| key(d)).collect();
    pieces(default)
        .into_iter()
        .filter(|d| !named.contains(&key(d)))
        .chain(set)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn storm_and_tracing_level_names_are_read_in_any_case() {
        assert_eq!(Level::parse("ALL"), Some(Level::Trace));
        assert_eq!(Level::parse("Debug"), Some(Level::Debug));
        assert_eq!(Level::parse("warning"), Some(Level::Warn));
        assert_eq!(Level::parse("FATAL"), Some(Level::Error));
        assert_eq!(Level::parse("off"), Some(Level::Off));
        assert_eq!(Level::parse("verbose"), None);
    }

    #[test]
    fn a_directive_list_becomes_named_loggers() {
        let l = parse_directives("DEBUG").unwrap();
        assert_eq!(l, BTreeMap::from([("ROOT".to_string(), Level::Debug)]));
        let l = parse_directives(" info , my_bolt=TRACE,squall_runtime::engine=warn").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l["ROOT"], Level::Info);
        assert_eq!(l["my_bolt"], Level::Trace);
        assert_eq!(l["squall_runtime::engine"], Level::Warn);
        assert_eq!(
            render(l.iter().map(|(k, v)| (k.as_str(), *v))),
            "info,my_bolt=trace,squall_runtime::engine=warn"
        );
        // Storm's root logger name and a bare target (all its levels).
        let l = parse_directives("root=all,my_bolt").unwrap();
        assert_eq!(l["ROOT"], Level::Trace);
        assert_eq!(l["my_bolt"], Level::Trace);
        // A later directive for the same logger wins.
        assert_eq!(
            parse_directives("info,debug").unwrap()["ROOT"],
            Level::Debug
        );
    }

    #[test]
    fn bad_directives_are_refused_naming_what_is_wrong() {
        assert_eq!(parse_directives(" , "), Err(LogFilterError::Empty));
        let e = parse_directives("info,my_bolt=loud").unwrap_err();
        assert!(e.to_string().contains("'loud' (in 'my_bolt=loud')"), "{e}");
        let e = parse_directives("=debug").unwrap_err();
        assert!(e.to_string().contains("names no logger"), "{e}");
        let e = parse_directives("my[bolt=debug").unwrap_err();
        assert!(matches!(e, LogFilterError::Invalid { .. }), "{e}");
        let long = format!("a={}", "x".repeat(MAX_FILTER_BYTES));
        assert!(matches!(
            parse_directives(&long),
            Err(LogFilterError::TooLong { .. })
        ));
        let many: Vec<String> = (0..=MAX_NAMED_LOGGERS)
            .map(|i| format!("t{i}=info"))
            .collect();
        assert!(matches!(
            parse_directives(&many.join(",")),
            Err(LogFilterError::TooManyLoggers { .. })
        ));
    }

    #[test]
    fn a_set_filter_overlays_the_default() {
        assert_eq!(overlay("info", "debug"), "debug");
        assert_eq!(overlay("info", "my_bolt=trace"), "info,my_bolt=trace");
        assert_eq!(
            overlay("warn,squall_runtime=info,x=debug", "debug,x=error"),
            "squall_runtime=info,debug,x=error"
        );
        check_directives(&overlay("warn,a=info", "debug,a=trace")).unwrap();
    }
}
