//! The seam between the spout and its Kafka client: the few consumer calls the spout
//! makes (poll, assign, seek, pause/resume, commit, committed offsets, watermarks,
//! partition listing), as a trait with the librdkafka implementation
//! ([`super::RdConsumer`]) and, for tests, one over an in-memory log that can lose
//! records (`testing::MemoryConsumer`, feature `test-util`).
//!
//! The spout is generic over it (monomorphised: no dynamic call per record), and the
//! default type parameter keeps `KafkaSpout` meaning the librdkafka one.

use std::collections::BTreeMap;

use rdkafka::error::KafkaError;

use crate::config::KafkaSpoutConfig;
use crate::error::BrokerError;
use crate::translate::Record;

/// A partition: topic and partition number.
pub type TopicPartition = (String, i32);

/// Commits by partition: offset and metadata (empty when the broker kept none).
pub type Commits = BTreeMap<TopicPartition, (i64, String)>;

/// Partitions found, and a warning per topic not found.
pub type Listed = (Vec<TopicPartition>, Vec<String>);

/// How an asynchronous commit ended.
#[derive(Debug)]
pub struct CommitOutcome {
    /// The offsets committed (on failure: the offsets that were asked for).
    pub offsets: Vec<(TopicPartition, i64)>,
    /// Whether the broker took them.
    pub result: Result<(), KafkaError>,
}

/// Outcomes a consumer keeps until they are taken (older ones are dropped).
pub const MAX_COMMIT_OUTCOMES: usize = 64;

/// A record as polled: borrowed from the consumer until the next poll.
pub trait Polled {
    /// The record's fields.
    fn record(&self) -> Record<'_>;
}

/// What the spout needs from a Kafka consumer. Blocking calls are bounded by the
/// implementation's call timeout; `poll` never blocks.
pub trait SpoutConsumer: Send + Sized + 'static {
    /// What it is made from besides the spout's configuration (nothing for librdkafka;
    /// the shared log for the in-memory consumer).
    type Connector: Clone + Send + Sync + 'static;
    /// A polled record.
    type Message<'a>: Polled
    where
        Self: 'a;

    /// A consumer of group `group` with the spout's settings.
    fn create(
        connector: &Self::Connector,
        config: &KafkaSpoutConfig,
        group: &str,
    ) -> Result<Self, BrokerError>;

    /// The next record, if one is there (`None`: nothing now).
    fn poll(&self) -> Option<Result<Self::Message<'_>, KafkaError>>;

    /// Call `wake` (from the client's own thread) when records arrive while none were
    /// waiting, so an idle spout polls again at once instead of at the end of its idle
    /// wait. Called once, right after [`SpoutConsumer::create`]; by default a no-op.
    fn wake_on_records(&mut self, wake: Box<dyn Fn() + Send + Sync>) {
        let _ = wake;
    }

    /// Read exactly these partitions from these offsets (replacing the assignment).
    fn assign(&self, at: &[(TopicPartition, i64)]) -> Result<(), KafkaError>;

    /// Continue reading a partition at `offset`.
    fn seek(&self, topic: &str, partition: i32, offset: i64) -> Result<(), KafkaError>;

    /// Stop fetching a partition.
    fn pause(&self, topic: &str, partition: i32) -> Result<(), KafkaError>;

    /// Fetch a paused partition again.
    fn resume(&self, topic: &str, partition: i32) -> Result<(), KafkaError>;

    /// Commit these offsets for the group, each with `metadata`, and wait for the
    /// broker's answer (librdkafka waits without a time limit: not for the spout's
    /// thread while a broker may be down).
    fn commit(&self, offsets: &[(TopicPartition, i64)], metadata: &str) -> Result<(), KafkaError>;

    /// Start committing these offsets without waiting; the outcome is reported by
    /// [`SpoutConsumer::commit_outcomes`] once a later [`SpoutConsumer::poll`] served it.
    fn commit_async(
        &self,
        offsets: &[(TopicPartition, i64)],
        metadata: &str,
    ) -> Result<(), KafkaError>;

    /// The outcomes of asynchronous commits that ended since the last call, oldest
    /// first (at most [`MAX_COMMIT_OUTCOMES`]).
    fn commit_outcomes(&self) -> Vec<CommitOutcome>;

    /// The group's commits for `partitions` (absent: none).
    fn committed(&self, partitions: &[TopicPartition]) -> Result<Commits, KafkaError>;

    /// A partition's low and high watermarks (first offset, log end).
    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), KafkaError>;

    /// The partitions of `topics`, and a warning per topic the brokers do not know.
    fn partitions(&self, topics: &[String]) -> Result<Listed, KafkaError>;
}
