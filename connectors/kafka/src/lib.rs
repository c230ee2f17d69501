//! # squall-kafka
//!
//! Kafka for Squall topologies, with storm-kafka-client's semantics, on the `rdkafka`
//! crate (librdkafka, built from source and linked statically; no system library).
//!
//! - [`offsets`]: a partition's emitted/acked/committed offsets (the commit point is the
//!   lowest un-acked offset; gaps of records that no longer exist are skipped).
//! - [`testing`] (feature `test-util`): a real broker on loopback for tests, a proxy that
//!   cuts its connections, and plain clients.
//!
//! The retry schedule the spout replays failed records with is the runtime's
//! [`squall_runtime::retry`], usable by any spout.

pub mod offsets;
#[cfg(feature = "test-util")]
pub mod testing;
