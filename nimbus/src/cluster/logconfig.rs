//! A topology's log configuration (`squall set-log-level`, Storm's `setLogConfig`):
//! named loggers with a level and an optional timeout, checked, stored (it survives a
//! nimbus restart), and sent to the topology's workers as one [`LogFilter`] in every
//! stats answer. Expired loggers are left out of the filter and dropped at the next
//! read or change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use squall_runtime::cluster::log_filter::{
    self, Level, MAX_FILTER_BYTES, MAX_NAMED_LOGGERS, ROOT_LOGGER,
};
use squall_runtime::cluster::protocol::LogFilter;
use squall_runtime::cluster::protocol::logconfig::{LogConfigBody, NamedLoggerLevel};

use super::topologies::get_mut;
use super::{Cluster, State};
use crate::error::ClusterError;

/// One named logger's level on a topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggerSetting {
    /// The level.
    pub level: Level,
    /// The timeout it was set with, seconds (0: none).
    pub timeout_secs: u64,
    /// When it expires, unix milliseconds (`None`: until changed).
    pub expires_at_ms: Option<u64>,
}

impl LoggerSetting {
    fn live(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_none_or(|at| at > now_ms)
    }
}

/// A topology's log configuration, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    /// The topology id it was set on.
    pub topology_id: String,
    /// Logger (`ROOT`: the default level) -> its setting.
    pub loggers: BTreeMap<String, LoggerSetting>,
}

impl LogConfig {
    /// The filter the topology's workers must use at `now_ms` (`None`: their default):
    /// its unexpired loggers, expiring when the first of them does (nimbus then sends
    /// the rest).
    pub fn filter(&self, now_ms: u64) -> Option<LogFilter> {
        let live: Vec<(&String, &LoggerSetting)> = self
            .loggers
            .iter()
            .filter(|(_, s)| s.live(now_ms))
            .collect();
        if live.is_empty() {
            return None;
        }
        Some(LogFilter {
            directives: log_filter::render(live.iter().map(|(n, s)| (n.as_str(), s.level))),
            expires_at_ms: live.iter().filter_map(|(_, s)| s.expires_at_ms).min(),
        })
    }

    /// Drop the expired loggers; whether there were any.
    fn prune(&mut self, now_ms: u64) -> bool {
        let before = self.loggers.len();
        self.loggers.retain(|_, s| s.live(now_ms));
        self.loggers.len() != before
    }

    /// Storm's view of it (expired loggers left out).
    pub fn view(&self, now_ms: u64) -> LogConfigBody {
        let named_logger_levels = self
            .loggers
            .iter()
            .filter(|(_, s)| s.live(now_ms))
            .map(|(name, s)| {
                let level = NamedLoggerLevel {
                    target_level: Some(s.level.storm_name().to_string()),
                    reset_level: None,
                    timeout: Some(i64::try_from(s.timeout_secs).unwrap_or(i64::MAX)),
                    timeout_epoch: Some(
                        s.expires_at_ms
                            .map_or(0, |at| i64::try_from(at).unwrap_or(i64::MAX)),
                    ),
                };
                (name.clone(), level)
            })
            .collect();
        LogConfigBody {
            named_logger_levels,
            replace: false,
        }
    }

    /// Apply a POST's body at `now_ms`: every logger it names is set (or removed, with
    /// a `null` level); with `replace`, the others are dropped first. Every problem is
    /// reported at once and nothing changes then.
    pub fn apply(&mut self, body: &LogConfigBody, now_ms: u64) -> Result<(), ClusterError> {
        let named = &body.named_logger_levels;
        if named.len() > MAX_NAMED_LOGGERS {
            return Err(ClusterError::bad_request(format!(
                "namedLoggerLevels names {} loggers; at most {MAX_NAMED_LOGGERS} are allowed",
                named.len()
            )));
        }
        let mut next = if body.replace {
            BTreeMap::new()
        } else {
            self.loggers.clone()
        };
        let mut problems = Vec::new();
        for (name, l) in named {
            match setting(name, l, now_ms) {
                Ok((logger, Some(s))) => {
                    next.insert(logger, s);
                }
                Ok((logger, None)) => {
                    next.remove(&logger);
                }
                Err(e) => problems.push(e),
            }
        }
        if problems.is_empty() {
            let all = log_filter::render(next.iter().map(|(n, s)| (n.as_str(), s.level)));
            if next.len() > MAX_NAMED_LOGGERS {
                problems.push(format!(
                    "the log configuration would name {} loggers; at most {MAX_NAMED_LOGGERS} \
                     are allowed",
                    next.len()
                ));
            } else if all.len() > MAX_FILTER_BYTES {
                problems.push(format!(
                    "the log filter would be {} bytes ({all:.64}...); at most {MAX_FILTER_BYTES} \
                     are allowed",
                    all.len()
                ));
            } else if let Err(e) = log_filter::check_directives(&all) {
                problems.push(e.to_string());
            }
        }
        if let Some(first) = problems.first() {
            let message = if problems.len() == 1 {
                format!("invalid log configuration: {first}")
            } else {
                format!(
                    "invalid log configuration ({} problems): {first}",
                    problems.len()
                )
            };
            return Err(ClusterError::BadRequest {
                message,
                details: problems,
            });
        }
        self.loggers = next;
        Ok(())
    }
}

/// One named logger of a POST: its canonical name and its setting (`None`: remove it).
fn setting(
    name: &str,
    l: &NamedLoggerLevel,
    now_ms: u64,
) -> Result<(String, Option<LoggerSetting>), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("named loggers need a valid name; use ROOT for the root logger".to_string());
    }
    let logger = log_filter::canonical_logger(name);
    let Some(text) = &l.target_level else {
        return Ok((logger, None));
    };
    let level = Level::parse(text).ok_or_else(|| {
        format!(
            "logger '{name}': target_level '{text}' is not a log level (ALL, TRACE, DEBUG, \
             INFO, WARN, ERROR, FATAL or OFF)"
        )
    })?;
    if logger != ROOT_LOGGER {
        log_filter::check_logger(&logger, level).map_err(|e| format!("logger '{name}': {e}"))?;
    }
    let timeout_secs = l.timeout.and_then(|t| u64::try_from(t).ok()).unwrap_or(0);
    let expires_at_ms =
        (timeout_secs > 0).then(|| now_ms.saturating_add(timeout_secs.saturating_mul(1000)));
    Ok((
        logger,
        Some(LoggerSetting {
            level,
            timeout_secs,
            expires_at_ms,
        }),
    ))
}

/// The name of the topology `id_or_name` names (its name, else its id).
fn resolve_name(st: &State, id_or_name: &str) -> Result<String, ClusterError> {
    super::views::find(st, id_or_name)
        .map(|t| t.record.name.clone())
        .ok_or_else(|| ClusterError::TopologyNotFound(id_or_name.to_string()))
}

impl Cluster {
    /// The log configuration of topology `id_or_name` (id or name), in Storm's shape.
    pub fn log_config(&self, id_or_name: &str, now_ms: u64) -> Result<LogConfigBody, ClusterError> {
        let mut st = self.lock();
        let name = resolve_name(&st, id_or_name)?;
        let t = get_mut(&mut st, &name)?;
        t.log_config.prune(now_ms);
        Ok(t.log_config.view(now_ms))
    }

    /// Change the log configuration of topology `id_or_name` as `body` says (see
    /// [`LogConfig::apply`]), store it, and answer with the whole configuration. Its
    /// workers follow at their next stats report (about a second).
    pub fn set_log_config(
        &self,
        id_or_name: &str,
        body: &LogConfigBody,
        now_ms: u64,
    ) -> Result<LogConfigBody, ClusterError> {
        let mut st = self.lock();
        let name = resolve_name(&st, id_or_name)?;
        let t = get_mut(&mut st, &name)?;
        let mut next = t.log_config.clone();
        next.topology_id.clone_from(&t.record.id);
        next.prune(now_ms);
        next.apply(body, now_ms)?;
        self.store.write(|w| {
            if next.loggers.is_empty() {
                w.delete_log_config(&name)
            } else {
                w.put_log_config(&name, &next)
            }
        })?;
        let filter = next.filter(now_ms);
        tracing::info!(topology = %name, filter = ?filter.as_ref().map(|f| &f.directives),
            expires_at_ms = ?filter.as_ref().and_then(|f| f.expires_at_ms),
            "log configuration changed");
        let view = next.view(now_ms);
        t.log_config = next;
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn body(json: serde_json::Value) -> LogConfigBody {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn storms_named_loggers_map_to_directives_with_the_first_expiry() {
        let mut c = LogConfig::default();
        c.apply(
            &body(serde_json::json!({"namedLoggerLevels": {
                "ROOT": {"target_level": "DEBUG", "timeout": 30},
                "my_bolt": {"target_level": "all", "timeout": 10},
                "squall_runtime::engine": {"target_level": "WARN"}}})),
            1_000,
        )
        .unwrap();
        let f = c.filter(1_000).unwrap();
        assert_eq!(
            f.directives,
            "debug,my_bolt=trace,squall_runtime::engine=warn"
        );
        assert_eq!(f.expires_at_ms, Some(11_000));
        // After the first expiry the rest goes on; after all, nothing.
        let f = c.filter(11_000).unwrap();
        assert_eq!(f.directives, "debug,squall_runtime::engine=warn");
        assert_eq!(f.expires_at_ms, Some(31_000));
        let view = serde_json::to_value(c.view(1_000)).unwrap();
        assert_eq!(
            view["namedLoggerLevels"]["ROOT"],
            serde_json::json!({"target_level": "DEBUG", "reset_level": null, "timeout": 30,
                "timeout_epoch": 31_000})
        );
        assert_eq!(
            view["namedLoggerLevels"]["squall_runtime::engine"]["timeout_epoch"],
            0
        );
        assert!(c.prune(40_000));
        assert_eq!(
            c.filter(40_000).unwrap().directives,
            "squall_runtime::engine=warn"
        );
    }

    #[test]
    fn a_post_merges_a_null_level_removes_and_replace_starts_over() {
        let mut c = LogConfig::default();
        c.apply(
            &body(serde_json::json!({"namedLoggerLevels": {"ROOT": {"target_level": "INFO"}}})),
            0,
        )
        .unwrap();
        c.apply(
            &body(serde_json::json!({"namedLoggerLevels": {"a": {"target_level": "debug"}}})),
            0,
        )
        .unwrap();
        assert_eq!(c.filter(0).unwrap().directives, "info,a=debug");
        c.apply(
            &body(serde_json::json!({"namedLoggerLevels": {"root": {"target_level": null}}})),
            0,
        )
        .unwrap();
        assert_eq!(c.filter(0).unwrap().directives, "a=debug");
        c.apply(
            &body(
                serde_json::json!({"namedLoggerLevels": {"b": {"target_level": "error"}},
                "replace": true}),
            ),
            0,
        )
        .unwrap();
        assert_eq!(c.filter(0).unwrap().directives, "b=error");
        c.apply(
            &body(serde_json::json!({"namedLoggerLevels": {}, "replace": true})),
            0,
        )
        .unwrap();
        assert_eq!(c.filter(0), None);
    }

    #[test]
    fn bad_posts_are_refused_with_every_problem_and_change_nothing() {
        let mut c = LogConfig::default();
        let e = c
            .apply(
                &body(serde_json::json!({"namedLoggerLevels": {
                    "ROOT": {"target_level": "LOUD"},
                    "": {"target_level": "DEBUG"},
                    "a[b": {"target_level": "DEBUG"}}})),
                0,
            )
            .unwrap_err();
        assert_eq!(e.status(), 400);
        let ClusterError::BadRequest { message, details } = e else {
            panic!("not a bad request");
        };
        assert!(message.contains("3 problems"), "{message}");
        assert!(
            details
                .iter()
                .any(|d| d.contains("'LOUD' is not a log level")),
            "{details:?}"
        );
        assert!(
            details.iter().any(|d| d.contains("use ROOT")),
            "{details:?}"
        );
        assert!(
            details.iter().any(|d| d.contains("logger 'a[b'")),
            "{details:?}"
        );
        assert_eq!(c, LogConfig::default());
        let long = "x".repeat(MAX_FILTER_BYTES);
        let e = c
            .apply(
                &body(serde_json::json!({"namedLoggerLevels": {long: {"target_level": "DEBUG"}}})),
                0,
            )
            .unwrap_err();
        assert!(e.to_string().contains("at most 1024"), "{e}");
    }
}

#[cfg(test)]
#[path = "logconfig_tests.rs"]
mod cluster_tests;
