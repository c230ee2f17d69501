//! Errors of the Kafka connectors.

use thiserror::Error;

/// A spout configuration is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The YAML map does not fit the expected shape (unknown key, wrong type, missing
    /// required key); the message names the key.
    #[error("Kafka spout config: {0}")]
    Yaml(String),
    /// A value is out of range.
    #[error("Kafka spout config: '{key}' {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

/// A call to the broker failed.
#[derive(Debug, Error)]
#[error("Kafka {what} ({bootstrap}): {source}")]
pub struct BrokerError {
    /// What was being done ("reading committed offsets of group g").
    pub what: String,
    /// The brokers asked.
    pub bootstrap: String,
    /// The client's error.
    pub source: Box<rdkafka::error::KafkaError>,
}

impl BrokerError {
    /// What failed, against which brokers, why.
    pub fn new(
        what: impl Into<String>,
        bootstrap: impl Into<String>,
        source: rdkafka::error::KafkaError,
    ) -> BrokerError {
        BrokerError {
            what: what.into(),
            bootstrap: bootstrap.into(),
            source: Box::new(source),
        }
    }
}
