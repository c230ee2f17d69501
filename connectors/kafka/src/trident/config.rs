//! The opaque Trident Kafka spout's configuration: a strict YAML map (every unknown key
//! refused by name) or [`KafkaTridentSpoutConfig::new`] in Rust.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{FirstPollOffsetStrategy, MAX_PROPS, check_string, check_topics, read_props};
use crate::error::ConfigError;

/// Largest `max.batch.size`.
pub const MAX_BATCH_SIZE_LIMIT: usize = 1_000_000;
/// Largest `max.batch.bytes` (1 GiB).
pub const MAX_BATCH_BYTES_LIMIT: usize = 1 << 30;

/// Client properties the spout sets itself; a user value for them is refused.
const OWNED_PROPS: &[&str] = &[
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
    "bootstrap.servers",
    "group.id",
];

/// The raw YAML map.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(rename = "bootstrap.servers")]
    bootstrap_servers: String,
    topics: Vec<String>,
    #[serde(rename = "first.poll.offset.strategy", default)]
    first_poll: FirstPollOffsetStrategy,
    #[serde(rename = "max.batch.size", default = "d_batch")]
    max_batch_size: u64,
    #[serde(rename = "max.batch.bytes", default = "d_bytes")]
    max_batch_bytes: u64,
    #[serde(rename = "poll.timeout.ms", default = "d_poll")]
    poll_timeout_ms: u64,
    #[serde(rename = "partition.refresh.period.ms", default = "d_refresh")]
    partition_refresh_period_ms: u64,
    #[serde(rename = "record.translator", default)]
    record_translator: Option<String>,
    #[serde(default)]
    props: BTreeMap<String, serde_yaml::Value>,
}

fn d_batch() -> u64 {
    10_000
}
fn d_bytes() -> u64 {
    16 * 1024 * 1024
}
fn d_poll() -> u64 {
    1_000
}
fn d_refresh() -> u64 {
    2_000
}

/// Which built-in translator turns records into tuples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TridentTranslator {
    /// `topic, partition, offset, key, value` (strings).
    #[default]
    Default,
    /// Only `value` (Flux's `OnlyValueRecordTranslator`).
    Value,
}

/// The opaque Trident Kafka spout's configuration. Its `Debug` shows secret client
/// properties as `<redacted>` ([`crate::props::is_secret`]).
#[derive(Clone)]
pub struct KafkaTridentSpoutConfig {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `topics`: every partition of each is read, split over the spout's tasks.
    pub topics: Vec<String>,
    /// `first.poll.offset.strategy` (default `UNCOMMITTED_EARLIEST`), with Storm's
    /// meaning: `EARLIEST`/`LATEST` for a new deployment, resume after a restart.
    pub first_poll: FirstPollOffsetStrategy,
    /// `max.batch.size`: most records one batch reads from one partition (default
    /// 10 000).
    pub max_batch_size: usize,
    /// `max.batch.bytes`: a batch stops reading a partition once its records' keys and
    /// values reach this many bytes (default 16 MiB; at least one record is read).
    /// Records are held in memory between reading and recording their range.
    pub max_batch_bytes: usize,
    /// `poll.timeout.ms`: how long a batch waits for one partition's records (default
    /// 1 s). A replay that cannot re-read its range in that time fails (and is retried).
    pub poll_timeout: Duration,
    /// `partition.refresh.period.ms`: how often the coordinator lists the topics'
    /// partitions (default 2 s).
    pub partition_refresh_period: Duration,
    /// `record.translator`: `DEFAULT` or `VALUE`.
    pub translator: TridentTranslator,
    /// `props`: client properties (librdkafka's, or the Java client's security
    /// names; `<key>.file` reads a secret from a private file): see [`crate::props`].
    pub props: BTreeMap<String, String>,
}

impl std::fmt::Debug for KafkaTridentSpoutConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTridentSpoutConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("topics", &self.topics)
            .field("first_poll", &self.first_poll)
            .field("max_batch_size", &self.max_batch_size)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("poll_timeout", &self.poll_timeout)
            .field("partition_refresh_period", &self.partition_refresh_period)
            .field("translator", &self.translator)
            .field("props", &crate::props::Redacted(&self.props))
            .finish()
    }
}

impl KafkaTridentSpoutConfig {
    /// A configuration reading `topics` at `bootstrap_servers` with the defaults.
    pub fn new(bootstrap_servers: &str, topics: &[&str]) -> KafkaTridentSpoutConfig {
        KafkaTridentSpoutConfig {
            bootstrap_servers: bootstrap_servers.to_string(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            first_poll: FirstPollOffsetStrategy::default(),
            max_batch_size: 10_000,
            max_batch_bytes: 16 * 1024 * 1024,
            poll_timeout: Duration::from_millis(d_poll()),
            partition_refresh_period: Duration::from_millis(d_refresh()),
            translator: TridentTranslator::Default,
            props: BTreeMap::new(),
        }
    }

    /// Read the YAML map; every error names its key.
    pub fn from_yaml(v: &serde_yaml::Value) -> Result<KafkaTridentSpoutConfig, ConfigError> {
        let raw: Raw =
            serde_yaml::from_value(v.clone()).map_err(|e| ConfigError::Yaml(e.to_string()))?;
        let props = read_props(raw.props)?;
        let translator = match raw.record_translator.as_deref() {
            None | Some("DEFAULT") => TridentTranslator::Default,
            Some("VALUE") => TridentTranslator::Value,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "record.translator",
                    format!("'{other}' is not one of DEFAULT, VALUE"),
                ));
            }
        };
        let config = KafkaTridentSpoutConfig {
            bootstrap_servers: raw.bootstrap_servers,
            topics: raw.topics,
            first_poll: raw.first_poll,
            max_batch_size: usize::try_from(raw.max_batch_size).unwrap_or(usize::MAX),
            max_batch_bytes: usize::try_from(raw.max_batch_bytes).unwrap_or(usize::MAX),
            poll_timeout: Duration::from_millis(raw.poll_timeout_ms),
            partition_refresh_period: Duration::from_millis(raw.partition_refresh_period_ms),
            translator,
            props,
        };
        config.validate()?;
        Ok(config)
    }

    /// Check the values: names present and bounded, sizes in range, no client property
    /// the spout sets itself.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_string("bootstrap.servers", &self.bootstrap_servers)?;
        check_topics(&self.topics)?;
        if !(1..=MAX_BATCH_SIZE_LIMIT).contains(&self.max_batch_size) {
            return Err(ConfigError::invalid(
                "max.batch.size",
                format!("must be 1 to {MAX_BATCH_SIZE_LIMIT}"),
            ));
        }
        if !(1..=MAX_BATCH_BYTES_LIMIT).contains(&self.max_batch_bytes) {
            return Err(ConfigError::invalid(
                "max.batch.bytes",
                format!("must be 1 to {MAX_BATCH_BYTES_LIMIT}"),
            ));
        }
        if self.poll_timeout.is_zero() || self.poll_timeout > Duration::from_secs(60) {
            return Err(ConfigError::invalid(
                "poll.timeout.ms",
                "must be 1 to 60000",
            ));
        }
        if self.partition_refresh_period.is_zero() {
            return Err(ConfigError::invalid(
                "partition.refresh.period.ms",
                "must be above 0",
            ));
        }
        if self.props.len() > MAX_PROPS {
            return Err(ConfigError::invalid(
                "props",
                format!("has more than {MAX_PROPS} entries"),
            ));
        }
        crate::props::validate(
            &self.props,
            OWNED_PROPS,
            "is set by the spout (bootstrap.servers is a key of its own)",
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn yaml(s: &str) -> serde_yaml::Value {
        serde_yaml::from_str(s).unwrap()
    }

    #[test]
    fn defaults_and_keys() {
        let c = KafkaTridentSpoutConfig::from_yaml(&yaml(
            "bootstrap.servers: h:1\ntopics: [a, b]\nfirst.poll.offset.strategy: EARLIEST\n\
             max.batch.size: 50\nrecord.translator: VALUE\nprops: {fetch.wait.max.ms: 20}\n",
        ))
        .unwrap();
        assert_eq!(c.topics, ["a", "b"]);
        assert_eq!(c.first_poll, FirstPollOffsetStrategy::Earliest);
        assert_eq!(c.max_batch_size, 50);
        assert_eq!(c.translator, TridentTranslator::Value);
        assert_eq!(c.props["fetch.wait.max.ms"], "20");
        let d = KafkaTridentSpoutConfig::from_yaml(&yaml("bootstrap.servers: h:1\ntopics: [a]\n"))
            .unwrap();
        assert_eq!(d.first_poll, FirstPollOffsetStrategy::UncommittedEarliest);
        assert_eq!(d.max_batch_size, 10_000);
        assert_eq!(d.max_batch_bytes, 16 << 20);
        let mut secret = d.clone();
        secret
            .props
            .insert("sasl.password".into(), "hunter2".into());
        let shown = format!("{secret:?}");
        assert!(
            shown.contains("sasl.password") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        let err = |s: &str| {
            KafkaTridentSpoutConfig::from_yaml(&yaml(s))
                .unwrap_err()
                .to_string()
        };
        assert!(
            err("bootstrap.servers: h:1\ntopics: [a]\nmax.batch.sise: 3\n")
                .contains("max.batch.sise")
        );
        assert!(
            err("bootstrap.servers: h:1\ntopics: [a]\nmax.batch.size: 0\n")
                .contains("max.batch.size")
        );
        assert!(err("bootstrap.servers: h:1\ntopics: []\n").contains("topics"));
        assert!(
            err("bootstrap.servers: h:1\ntopics: [a]\nprops: {group.id: g}\n")
                .contains("props.group.id")
        );
        assert!(
            err("bootstrap.servers: h:1\ntopics: [a]\nrecord.translator: X\n")
                .contains("record.translator")
        );
        assert!(err("topics: [a]\n").contains("bootstrap.servers"));
    }
}
