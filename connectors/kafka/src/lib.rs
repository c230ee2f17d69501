//! # squall-kafka
//!
//! Kafka for Squall topologies, with storm-kafka-client's semantics, on the `rdkafka`
//! crate (librdkafka built from source and linked statically; no system library).
//!
//! - [`KafkaSpout`]: manual partition assignment over the spout's tasks, at-least-once
//!   commits up to the lowest un-acked offset, `first.poll.offset.strategy`, bounded
//!   retries with exponential backoff and a dead-letter stream, pausing partitions at
//!   `max.uncommitted.offsets`. Configured from YAML ([`config`]) or in Rust. Commits
//!   never wait on the spout's thread while a broker is down; per-partition lag is
//!   published as gauges (served by nimbus at `/api/v1/topology/{id}/lag`). It reads
//!   through a [`SpoutConsumer`] ([`RdConsumer`] unless a test gives another).
//! - [`KafkaBolt`]: writes tuples to a topic; acks a tuple once the broker confirmed its
//!   record, fails it on a delivery error; delivery timeout below the message timeout.
//! - [`offsets`]: a partition's emitted/acked/committed offsets (the commit point is the
//!   lowest un-acked offset; gaps of records that no longer exist are skipped).
//! - [`flux`]: Storm's Flux shape (`KafkaSpoutConfig$Builder` components) mapped onto
//!   the spout's map.
//! - [`translate`]: records into tuples (default fields `topic, partition, offset, key,
//!   value`).
//! - [`trident`]: [`KafkaTridentSpoutOpaque`], an opaque-transactional Trident spout
//!   (per-partition batch offsets in Trident's metadata store), and the
//!   `KafkaTridentWordCount` topology builder.
//! - [`testing`] (feature `test-util`): a real broker on loopback for tests, a proxy that
//!   cuts its connections, plain clients, and an in-memory log with a consumer that
//!   can lose records (offset gaps behind the spout).
//!
//! The retry schedule the spout replays failed records with is the runtime's
//! [`squall_runtime::retry`], usable by any spout.
//!
//! ```no_run
//! use squall_runtime::Registry;
//! let mut registry = Registry::new();
//! squall_kafka::register(&mut registry);
//! ```

pub mod bolt;
pub mod config;
mod consumer_defaults;
pub mod error;
pub mod flux;
pub mod offsets;
pub mod props;
pub mod spout;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod translate;
pub mod trident;

pub use bolt::{KafkaBolt, KafkaBoltConfig, TopicSelector};
pub use config::{FirstPollOffsetStrategy, KafkaSpoutConfig, ProcessingGuarantee};
pub use error::{BrokerError, ConfigError};
pub use spout::{KafkaSpout, RdConsumer, SpoutConsumer};
pub use trident::{KafkaTridentSpoutConfig, KafkaTridentSpoutOpaque};

use squall_runtime::Registry;

/// Register `KafkaSpout` and `KafkaBolt` (and Storm's class names for them), the
/// topology builder `KafkaTridentWordCount` (Kafka → Trident word count over
/// [`KafkaTridentSpoutOpaque`]) and the Flux value classes of storm-kafka-client's
/// `KafkaSpoutConfig$Builder` shape ([`flux`]) in `registry`.
pub fn register(registry: &mut Registry) {
    flux::register(registry);
    registry
        .topology(trident::WORDCOUNT_BUILDER, trident::kafka_trident_wordcount)
        .spout("KafkaSpout", KafkaSpout::from_args)
        .bolt("KafkaBolt", KafkaBolt::from_args)
        .alias("org.apache.storm.kafka.spout.KafkaSpout", "KafkaSpout")
        .alias("org.apache.storm.kafka.bolt.KafkaBolt", "KafkaBolt");
}
