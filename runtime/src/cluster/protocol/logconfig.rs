//! Storm's log configuration body (`GET`/`POST /api/v1/topology/{id}/logconfig`):
//! `{"namedLoggerLevels": {"ROOT": {"target_level": "DEBUG", "timeout": 30}, ...}}`.
//! A POST changes only the loggers it names (a `target_level` of `null` removes one),
//! as Storm's does; Squall's `"replace": true` first drops every logger it does not
//! name (`squall set-log-level` sends it). Both answer with the whole configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The path of a topology's log configuration (`id_or_name`: its id, or its name).
pub fn logconfig_path(id_or_name: &str) -> String {
    format!("/api/v1/topology/{id_or_name}/logconfig")
}

/// A topology's named logger levels: the body of a POST and of every answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfigBody {
    /// Logger name (`ROOT`: the default level; else a `tracing` target) -> its level.
    #[serde(rename = "namedLoggerLevels", default)]
    pub named_logger_levels: BTreeMap<String, NamedLoggerLevel>,
    /// Squall's addition to a POST: drop every logger not named first, so the filter
    /// becomes exactly the one given (an empty map clears it). Never in answers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace: bool,
}

/// One named logger's level, in Storm's field names and JSON types.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedLoggerLevel {
    /// The level (`ALL`, `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`, `OFF`, any
    /// case); in a POST, `null` removes the logger. Answers say it in upper case.
    #[serde(default)]
    pub target_level: Option<String>,
    /// The level the logger returns to: always `null` in answers (each worker returns
    /// to its own default, `SQUALL_LOG`); ignored in a POST.
    #[serde(default)]
    pub reset_level: Option<String>,
    /// Seconds the level lasts (`0` or less, or absent: until changed).
    #[serde(default)]
    pub timeout: Option<i64>,
    /// When it expires, unix milliseconds (`0`: never); ignored in a POST.
    #[serde(default)]
    pub timeout_epoch: Option<i64>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn storms_body_reads_and_answers_in_storms_shape() {
        let body: LogConfigBody = serde_json::from_str(
            r#"{"namedLoggerLevels": {"ROOT": {"target_level": "DEBUG", "timeout": 30},
                "my_bolt": {"target_level": null, "timeout": 0}}}"#,
        )
        .unwrap();
        assert!(!body.replace);
        assert_eq!(
            body.named_logger_levels["ROOT"].target_level.as_deref(),
            Some("DEBUG")
        );
        assert_eq!(body.named_logger_levels["my_bolt"].target_level, None);
        let answer = LogConfigBody {
            named_logger_levels: BTreeMap::from([(
                "ROOT".to_string(),
                NamedLoggerLevel {
                    target_level: Some("DEBUG".into()),
                    reset_level: None,
                    timeout: Some(30),
                    timeout_epoch: Some(1_700_000_030_000),
                },
            )]),
            replace: false,
        };
        assert_eq!(
            serde_json::to_value(&answer).unwrap(),
            serde_json::json!({"namedLoggerLevels": {"ROOT": {"target_level": "DEBUG",
                "reset_level": null, "timeout": 30, "timeout_epoch": 1_700_000_030_000_i64}}})
        );
    }
}
