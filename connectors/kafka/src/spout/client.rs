//! The spout's librdkafka consumer ([`RdConsumer`]), the settings it owns, and the
//! "marker" group that keeps a deployment's commits recognisable on brokers that drop
//! commit metadata.
//!
//! Storm recognises its own deployment's commits by the topology id in the commit
//! metadata. Some brokers (tansu 0.6) store the metadata but answer it empty; then the
//! spout also commits the same offsets for the group `<group.id>.squall.<topology id>`
//! and, on start, takes a commit with empty metadata as this deployment's when that
//! marker group has one for the partition.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::consumer::{Commits, Listed, Polled, SpoutConsumer, TopicPartition};
use crate::config::KafkaSpoutConfig;
use crate::error::BrokerError;
use crate::translate::Record;

/// How long a blocking broker call (metadata, committed offsets, watermarks, commit) may
/// take before the spout gives up until its next try.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Prefetched bytes librdkafka may queue per spout task, unless `props` say otherwise.
const QUEUED_KBYTES: &str = "16384";

/// The spout's consumer on librdkafka (manual assignment, no group membership).
pub struct RdConsumer(BaseConsumer);

impl std::fmt::Debug for RdConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RdConsumer")
    }
}

impl Polled for BorrowedMessage<'_> {
    fn record(&self) -> Record<'_> {
        Record {
            topic: self.topic(),
            partition: self.partition(),
            offset: self.offset(),
            key: self.key(),
            value: self.payload(),
            timestamp: self.timestamp().to_millis(),
        }
    }
}

fn tpl_of(parts: &[TopicPartition]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (t, p) in parts {
        tpl.add_partition(t, *p);
    }
    tpl
}

fn one(topic: &str, partition: i32) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    tpl
}

impl SpoutConsumer for RdConsumer {
    type Connector = ();
    type Message<'a> = BorrowedMessage<'a>;

    fn create(_: &(), config: &KafkaSpoutConfig, group: &str) -> Result<Self, BrokerError> {
        let mut c = ClientConfig::new();
        c.set("queued.max.messages.kbytes", QUEUED_KBYTES)
            .set("auto.offset.reset", "earliest");
        for (k, v) in &config.props {
            c.set(k, v);
        }
        c.set("bootstrap.servers", &config.bootstrap_servers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set_log_level(RDKafkaLogLevel::Warning);
        c.create().map(RdConsumer).map_err(|source| {
            BrokerError::new(
                format!("creating a consumer for group {group}"),
                &config.bootstrap_servers,
                source,
            )
        })
    }

    #[inline]
    fn poll(&self) -> Option<Result<BorrowedMessage<'_>, KafkaError>> {
        self.0.poll(Duration::ZERO)
    }

    fn assign(&self, at: &[(TopicPartition, i64)]) -> Result<(), KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for ((t, p), o) in at {
            tpl.add_partition_offset(t, *p, Offset::Offset(*o))?;
        }
        self.0.assign(&tpl)
    }

    fn seek(&self, topic: &str, partition: i32, offset: i64) -> Result<(), KafkaError> {
        self.0
            .seek(topic, partition, Offset::Offset(offset), CALL_TIMEOUT)
    }

    fn pause(&self, topic: &str, partition: i32) -> Result<(), KafkaError> {
        self.0.pause(&one(topic, partition))
    }

    fn resume(&self, topic: &str, partition: i32) -> Result<(), KafkaError> {
        self.0.resume(&one(topic, partition))
    }

    fn commit(&self, offsets: &[(TopicPartition, i64)], metadata: &str) -> Result<(), KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for ((t, p), o) in offsets {
            tpl.add_partition_offset(t, *p, Offset::Offset(*o))?;
        }
        for mut e in tpl.elements() {
            e.set_metadata(metadata);
        }
        self.0.commit(&tpl, CommitMode::Sync)
    }

    fn committed(&self, partitions: &[TopicPartition]) -> Result<Commits, KafkaError> {
        if partitions.is_empty() {
            return Ok(Commits::new());
        }
        let got = self.0.committed_offsets(tpl_of(partitions), CALL_TIMEOUT)?;
        let mut out = BTreeMap::new();
        for e in got.elements() {
            if let Offset::Offset(o) = e.offset() {
                // rdkafka panics on metadata that is not UTF-8: read it only when it is
                // safe (the panic is caught and counts as "no metadata").
                let meta = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    e.metadata().to_string()
                }))
                .unwrap_or_default();
                out.insert((e.topic().to_string(), e.partition()), (o, meta));
            }
        }
        Ok(out)
    }

    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), KafkaError> {
        self.0.fetch_watermarks(topic, partition, CALL_TIMEOUT)
    }

    fn partitions(&self, topics: &[String]) -> Result<Listed, KafkaError> {
        let mut all = Vec::new();
        let mut missing = Vec::new();
        for topic in topics {
            let md = self.0.fetch_metadata(Some(topic), CALL_TIMEOUT)?;
            for t in md.topics() {
                if let Some(err) = t.error() {
                    missing.push(format!("topic {topic}: {err:?} (waiting for it)"));
                    continue;
                }
                for p in t.partitions() {
                    all.push((t.name().to_string(), p.id()));
                }
            }
        }
        Ok((all, missing))
    }
}

/// The marker group of a deployment.
pub(crate) fn marker_group(group: &str, topology_id: &str) -> String {
    format!("{group}.squall.{topology_id}")
}

/// The commits of `consumer`'s group for `partitions`, or an error naming the brokers.
pub(crate) fn committed<C: SpoutConsumer>(
    consumer: &C,
    partitions: &[TopicPartition],
    bootstrap: &str,
) -> Result<Commits, BrokerError> {
    consumer
        .committed(partitions)
        .map_err(|source| BrokerError::new("reading committed offsets", bootstrap, source))
}

/// The partitions of `topics` (a blocking metadata request per topic), and a warning
/// for each topic the brokers do not know (it is skipped, as Storm's topic filter
/// skips it, and picked up once it exists). An unreachable broker is an error.
pub(crate) fn partitions_of<C: SpoutConsumer>(
    consumer: &C,
    topics: &[String],
    bootstrap: &str,
) -> Result<Listed, BrokerError> {
    consumer
        .partitions(topics)
        .map_err(|e| BrokerError::new(format!("metadata of topics {topics:?}"), bootstrap, e))
}
