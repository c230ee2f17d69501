//! The spout's configuration: storm-kafka-client's `KafkaSpoutConfig` keys and defaults,
//! read from the YAML map given as the spout's first constructor argument (or built in
//! Rust), plus client properties passed through to librdkafka.
//!
//! ```
//! use squall_kafka::config::{FirstPollOffsetStrategy, KafkaSpoutConfig};
//!
//! let yaml: serde_yaml::Value = serde_yaml::from_str(r#"
//! bootstrap.servers: "127.0.0.1:9092"
//! topics: [words]
//! group.id: wordcount
//! first.poll.offset.strategy: EARLIEST
//! props: {fetch.wait.max.ms: 100}
//! "#).unwrap();
//! let config = KafkaSpoutConfig::from_yaml(&yaml).unwrap();
//! assert_eq!(config.first_poll, FirstPollOffsetStrategy::Earliest);
//! assert_eq!(config.offset_commit_period.as_millis(), 30_000);
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use squall_runtime::retry::RetryPolicy;

use crate::error::ConfigError;

/// Topics one spout reads at most.
pub const MAX_TOPICS: usize = 256;
/// Client properties one spout passes through at most.
pub const MAX_PROPS: usize = 256;
/// Longest name or value in the configuration.
pub const MAX_STRING: usize = 4096;

/// Where a partition starts when the spout is first assigned it (storm-kafka-client's
/// `FirstPollOffsetStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FirstPollOffsetStrategy {
    /// From the beginning, unless this deployment of the topology committed already
    /// (a new deployment ignores earlier commits).
    Earliest,
    /// From the end, unless this deployment committed already.
    Latest,
    /// From the group's commit when there is one, else from the beginning (Storm's
    /// default).
    #[default]
    UncommittedEarliest,
    /// From the group's commit when there is one, else from the end.
    UncommittedLatest,
}

/// What the spout guarantees (storm-kafka-client's `ProcessingGuarantee`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessingGuarantee {
    /// Every record is processed at least once: offsets are committed only when their
    /// tuple trees are acked; failed tuples are retried.
    #[default]
    AtLeastOnce,
    /// Every record is processed at most once: a batch of polled records is committed
    /// before any of it is emitted; tuples are not tracked, failures are not retried.
    AtMostOnce,
    /// No guarantee: tuples are not tracked; the consumer's position is committed every
    /// `offset.commit.period.ms`.
    NoGuarantee,
}

/// Which built-in translator turns records into tuples (`record.translator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TranslatorKind {
    /// `topic, partition, offset, key, value` (`DEFAULT`).
    #[default]
    Default,
    /// Only `value` (`VALUE`, or Flux's `OnlyValueRecordTranslator`).
    Value,
}

impl TranslatorKind {
    fn parse(s: &str) -> Result<TranslatorKind, ConfigError> {
        match s.rsplit('.').next().unwrap_or(s) {
            "DEFAULT" | "DefaultRecordTranslator" => Ok(TranslatorKind::Default),
            "VALUE" | "OnlyValueRecordTranslator" => Ok(TranslatorKind::Value),
            _ => Err(ConfigError::invalid(
                "record.translator",
                format!("'{s}' is not one of DEFAULT, VALUE"),
            )),
        }
    }
}

/// How a record's key or value becomes a tuple value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Deserializer {
    /// A string (invalid UTF-8 replaced by U+FFFD, as Java's `StringDeserializer`).
    #[default]
    String,
    /// The raw bytes.
    Bytes,
}

impl Deserializer {
    /// From a Kafka deserializer class name or `string` / `bytes`.
    fn parse(key: &str, s: &str) -> Result<Deserializer, ConfigError> {
        let short = s.rsplit('.').next().unwrap_or(s);
        match short {
            "string" | "StringDeserializer" => Ok(Deserializer::String),
            "bytes" | "ByteArrayDeserializer" | "BytesDeserializer" => Ok(Deserializer::Bytes),
            _ => Err(ConfigError::Invalid {
                key: key.to_string(),
                reason: format!(
                    "'{s}' is not supported: use string (StringDeserializer) or bytes (ByteArrayDeserializer)"
                ),
            }),
        }
    }
}

/// The raw YAML map, strict about its keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(rename = "bootstrap.servers")]
    bootstrap_servers: String,
    topics: Vec<String>,
    #[serde(rename = "group.id")]
    group_id: String,
    #[serde(rename = "first.poll.offset.strategy", default)]
    first_poll: FirstPollOffsetStrategy,
    #[serde(rename = "processing.guarantee", default)]
    processing_guarantee: ProcessingGuarantee,
    #[serde(rename = "offset.commit.period.ms", default = "d_commit")]
    offset_commit_period_ms: u64,
    #[serde(rename = "max.uncommitted.offsets", default = "d_uncommitted")]
    max_uncommitted_offsets: u64,
    #[serde(rename = "partition.refresh.period.ms", default = "d_refresh")]
    partition_refresh_period_ms: u64,
    #[serde(rename = "retry.initial.delay.ms", default)]
    retry_initial_delay_ms: u64,
    #[serde(rename = "retry.delay.period.ms", default = "d_period")]
    retry_delay_period_ms: u64,
    #[serde(rename = "retry.max.delay.ms", default = "d_max_delay")]
    retry_max_delay_ms: u64,
    /// A number, or `-1` for Storm's "for ever".
    #[serde(rename = "retry.max.retries", default = "d_retries")]
    retry_max_retries: i64,
    #[serde(rename = "record.translator", default)]
    record_translator: Option<String>,
    #[serde(rename = "dead.letter.stream", default = "d_dlq")]
    dead_letter_stream: String,
    #[serde(rename = "key.deserializer", default)]
    key_deserializer: Option<String>,
    #[serde(rename = "value.deserializer", default)]
    value_deserializer: Option<String>,
    #[serde(default)]
    props: BTreeMap<String, serde_yaml::Value>,
}

fn d_commit() -> u64 {
    30_000
}
fn d_uncommitted() -> u64 {
    10_000_000
}
fn d_refresh() -> u64 {
    2_000
}
fn d_period() -> u64 {
    2
}
fn d_max_delay() -> u64 {
    10_000
}
fn d_retries() -> i64 {
    i64::from(RetryPolicy::DEFAULT_MAX_RETRIES)
}
fn d_dlq() -> String {
    DEAD_LETTER_STREAM.to_string()
}

/// The default dead-letter stream id.
pub const DEAD_LETTER_STREAM: &str = "dead_letter";

/// Client properties the spout sets itself; a user value for them is refused.
const OWNED_PROPS: &[&str] = &[
    "enable.auto.commit",
    "enable.auto.offset.store",
    "bootstrap.servers",
    "group.id",
];

/// A Kafka spout's configuration. Its `Debug` shows secret client properties as
/// `<redacted>` ([`crate::props::is_secret`]).
#[derive(Clone)]
pub struct KafkaSpoutConfig {
    /// `bootstrap.servers`: `host:port[,host:port…]`.
    pub bootstrap_servers: String,
    /// Topics to read (all their partitions, spread over the spout's tasks).
    pub topics: Vec<String>,
    /// `group.id`: the consumer group the offsets are committed for.
    pub group_id: String,
    /// `first.poll.offset.strategy` (default `UNCOMMITTED_EARLIEST`).
    pub first_poll: FirstPollOffsetStrategy,
    /// `processing.guarantee` (default `AT_LEAST_ONCE`).
    pub processing_guarantee: ProcessingGuarantee,
    /// `offset.commit.period.ms` (default 30 s).
    pub offset_commit_period: Duration,
    /// `max.uncommitted.offsets` per partition (default 10 000 000).
    pub max_uncommitted_offsets: usize,
    /// `partition.refresh.period.ms` (default 2 s).
    pub partition_refresh_period: Duration,
    /// `retry.*`: replay delays and how many retries before a record is dead-lettered
    /// (default 10).
    pub retry: RetryPolicy,
    /// `dead.letter.stream`: where records that used up their retries go.
    pub dead_letter_stream: String,
    /// `record.translator`: the built-in translator (default `DEFAULT`).
    pub translator: TranslatorKind,
    /// `key.deserializer` (default string).
    pub key_deserializer: Deserializer,
    /// `value.deserializer` (default string).
    pub value_deserializer: Deserializer,
    /// `props`: client properties (librdkafka's, or the Java client's security
    /// names; `<key>.file` reads a secret from a private file): see [`crate::props`].
    pub props: BTreeMap<String, String>,
}

impl std::fmt::Debug for KafkaSpoutConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSpoutConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("topics", &self.topics)
            .field("group_id", &self.group_id)
            .field("first_poll", &self.first_poll)
            .field("processing_guarantee", &self.processing_guarantee)
            .field("offset_commit_period", &self.offset_commit_period)
            .field("max_uncommitted_offsets", &self.max_uncommitted_offsets)
            .field("partition_refresh_period", &self.partition_refresh_period)
            .field("retry", &self.retry)
            .field("dead_letter_stream", &self.dead_letter_stream)
            .field("translator", &self.translator)
            .field("key_deserializer", &self.key_deserializer)
            .field("value_deserializer", &self.value_deserializer)
            .field("props", &crate::props::Redacted(&self.props))
            .finish()
    }
}

impl KafkaSpoutConfig {
    /// A configuration with Storm's defaults (but bounded retries).
    pub fn new(bootstrap_servers: &str, topics: &[&str], group_id: &str) -> KafkaSpoutConfig {
        KafkaSpoutConfig {
            bootstrap_servers: bootstrap_servers.to_string(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            group_id: group_id.to_string(),
            first_poll: FirstPollOffsetStrategy::default(),
            processing_guarantee: ProcessingGuarantee::default(),
            offset_commit_period: Duration::from_millis(d_commit()),
            max_uncommitted_offsets: 10_000_000,
            partition_refresh_period: Duration::from_millis(d_refresh()),
            retry: RetryPolicy::default(),
            dead_letter_stream: DEAD_LETTER_STREAM.to_string(),
            translator: TranslatorKind::Default,
            key_deserializer: Deserializer::String,
            value_deserializer: Deserializer::String,
            props: BTreeMap::new(),
        }
    }

    /// Read the YAML map (a spout's first constructor argument); every error names its
    /// key.
    pub fn from_yaml(v: &serde_yaml::Value) -> Result<KafkaSpoutConfig, ConfigError> {
        let raw: Raw =
            serde_yaml::from_value(v.clone()).map_err(|e| ConfigError::Yaml(e.to_string()))?;
        let mut props = BTreeMap::new();
        let mut key_de = raw.key_deserializer;
        let mut value_de = raw.value_deserializer;
        for (k, value) in read_props(raw.props)? {
            // Flux files set the Java deserializers as client properties.
            match k.as_str() {
                "key.deserializer" => key_de = Some(value),
                "value.deserializer" => value_de = Some(value),
                _ => {
                    props.insert(k, value);
                }
            }
        }
        let config = KafkaSpoutConfig {
            bootstrap_servers: raw.bootstrap_servers,
            topics: raw.topics,
            group_id: raw.group_id,
            first_poll: raw.first_poll,
            processing_guarantee: raw.processing_guarantee,
            offset_commit_period: Duration::from_millis(raw.offset_commit_period_ms),
            max_uncommitted_offsets: usize::try_from(raw.max_uncommitted_offsets)
                .unwrap_or(usize::MAX),
            partition_refresh_period: Duration::from_millis(raw.partition_refresh_period_ms),
            retry: RetryPolicy::new(
                Duration::from_millis(raw.retry_initial_delay_ms),
                Duration::from_millis(raw.retry_delay_period_ms),
                Duration::from_millis(raw.retry_max_delay_ms),
            )
            .max_retries(match raw.retry_max_retries {
                -1 => u32::MAX,
                n => u32::try_from(n).map_err(|_| {
                    ConfigError::invalid("retry.max.retries", "must be 0 or more, or -1 (for ever)")
                })?,
            }),
            dead_letter_stream: raw.dead_letter_stream,
            translator: raw
                .record_translator
                .as_deref()
                .map(TranslatorKind::parse)
                .transpose()?
                .unwrap_or_default(),
            key_deserializer: key_de
                .map(|s| Deserializer::parse("key.deserializer", &s))
                .transpose()?
                .unwrap_or_default(),
            value_deserializer: value_de
                .map(|s| Deserializer::parse("value.deserializer", &s))
                .transpose()?
                .unwrap_or_default(),
            props,
        };
        config.validate()?;
        Ok(config)
    }

    /// Check the values: non-empty names, periods above zero, sizes capped, no client
    /// property the spout owns.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_string("bootstrap.servers", &self.bootstrap_servers)?;
        check_string("group.id", &self.group_id)?;
        check_string("dead.letter.stream", &self.dead_letter_stream)?;
        check_topics(&self.topics)?;
        if self.offset_commit_period.is_zero() {
            return Err(ConfigError::invalid(
                "offset.commit.period.ms",
                "must be at least 1",
            ));
        }
        if self.partition_refresh_period.is_zero() {
            return Err(ConfigError::invalid(
                "partition.refresh.period.ms",
                "must be at least 1",
            ));
        }
        if self.max_uncommitted_offsets == 0 {
            return Err(ConfigError::invalid(
                "max.uncommitted.offsets",
                "must be at least 1",
            ));
        }
        if self.dead_letter_stream == squall_runtime::DEFAULT_STREAM {
            return Err(ConfigError::invalid(
                "dead.letter.stream",
                "must differ from the default stream",
            ));
        }
        crate::props::validate(
            &self.props,
            OWNED_PROPS,
            "is set by the spout (bootstrap.servers and group.id are top-level keys; auto-commit is always off)",
        )
    }
}

/// Check a string value of `key`: not blank, at most [`MAX_STRING`] bytes.
pub(crate) fn check_string(key: &str, v: &str) -> Result<(), ConfigError> {
    if v.trim().is_empty() {
        Err(ConfigError::invalid(key, "must not be empty"))
    } else if v.len() > MAX_STRING {
        Err(ConfigError::invalid(
            key,
            format!("longer than {MAX_STRING} bytes"),
        ))
    } else {
        Ok(())
    }
}

/// Check a spout's `topics`: one to [`MAX_TOPICS`] names, each a bounded string that
/// Kafka could accept as a topic name.
pub(crate) fn check_topics(topics: &[String]) -> Result<(), ConfigError> {
    if topics.is_empty() {
        return Err(ConfigError::invalid("topics", "name at least one topic"));
    }
    if topics.len() > MAX_TOPICS {
        return Err(ConfigError::invalid(
            "topics",
            format!("names more than {MAX_TOPICS} topics"),
        ));
    }
    for t in topics {
        check_string("topics", t)?;
        if t == "." || t == ".." || t.contains('/') {
            return Err(ConfigError::invalid(
                "topics",
                format!("'{t}' is not a Kafka topic name"),
            ));
        }
    }
    Ok(())
}

/// The `props` of a spout's or bolt's YAML map as librdkafka property strings: at most
/// [`MAX_PROPS`] entries, each value a string, number or boolean.
pub(crate) fn read_props(
    raw: BTreeMap<String, serde_yaml::Value>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    if raw.len() > MAX_PROPS {
        return Err(ConfigError::invalid(
            "props",
            format!("has more than {MAX_PROPS} entries"),
        ));
    }
    let mut props = BTreeMap::new();
    for (k, v) in raw {
        let value = match v {
            serde_yaml::Value::String(s) => s,
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(ConfigError::invalid(
                    &format!("props.{k}"),
                    "must be a string, number or boolean",
                ));
            }
        };
        props.insert(k, value);
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<KafkaSpoutConfig, ConfigError> {
        KafkaSpoutConfig::from_yaml(&serde_yaml::from_str(s).unwrap_or_default())
    }

    #[test]
    fn defaults_are_storms_with_bounded_retries() {
        let c = parse("{bootstrap.servers: 'h:1', topics: [t], group.id: g}").unwrap();
        assert_eq!(c.first_poll, FirstPollOffsetStrategy::UncommittedEarliest);
        assert_eq!(c.max_uncommitted_offsets, 10_000_000);
        assert_eq!(c.partition_refresh_period, Duration::from_secs(2));
        assert_eq!(c.retry.retries(), 10);
        assert_eq!(c.dead_letter_stream, "dead_letter");
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("{bootstrap.servers: 'h:1', topics: [t], group.id: g, offset.commit.ms: 5}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("offset.commit.ms"), "{e}");
        let e = parse("{bootstrap.servers: 'h:1', topics: [], group.id: g}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("topics"), "{e}");
        let e = parse("{bootstrap.servers: 'h:1', topics: [t], group.id: g, props: {enable.auto.commit: true}}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("props.enable.auto.commit"), "{e}");
        let e = parse("{bootstrap.servers: 'h:1', topics: [t], group.id: g, first.poll.offset.strategy: OLDEST}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("OLDEST"), "{e}");
        let e =
            parse("{bootstrap.servers: 'h:1', topics: [t], group.id: g, retry.max.retries: -2}")
                .unwrap_err()
                .to_string();
        assert!(e.contains("retry.max.retries"), "{e}");
    }

    #[test]
    fn java_deserializers_in_props_are_understood() {
        let c = parse(
            "{bootstrap.servers: 'h:1', topics: [t], group.id: g, props: {\
             key.deserializer: org.apache.kafka.common.serialization.StringDeserializer, \
             value.deserializer: org.apache.kafka.common.serialization.ByteArrayDeserializer, \
             fetch.wait.max.ms: 50}}",
        )
        .unwrap();
        assert_eq!(c.key_deserializer, Deserializer::String);
        assert_eq!(c.value_deserializer, Deserializer::Bytes);
        assert_eq!(
            c.props.get("fetch.wait.max.ms").map(String::as_str),
            Some("50")
        );
        assert!(!c.props.contains_key("value.deserializer"));
    }
}
