//! The Trident spout's librdkafka consumer: no group, no commits (the offsets live in
//! Trident's metadata store), one partition read at a time from an exact offset.

use std::time::{Duration, Instant};

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::config::KafkaTridentSpoutConfig;
use crate::error::BrokerError;

/// How long a metadata or watermark request may take.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A consumer with the spout's settings under the user's `props`. `group.id` is only
/// librdkafka's requirement: nothing is ever committed for it.
pub(crate) fn consumer(config: &KafkaTridentSpoutConfig) -> Result<BaseConsumer, BrokerError> {
    let mut c = ClientConfig::new();
    c.set("queued.max.messages.kbytes", "16384")
        .set("fetch.wait.max.ms", "100")
        .set("auto.offset.reset", "earliest");
    for (k, v) in &config.props {
        c.set(k, v);
    }
    c.set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", "squall-trident")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set_log_level(RDKafkaLogLevel::Warning);
    c.create().map_err(|source| {
        BrokerError::new(
            "creating a consumer",
            &config.bootstrap_servers,
            source,
        )
    })
}

/// The partitions of each topic (by the topic's position in `topics`); a topic the
/// brokers do not know is left out (read once it exists). An unreachable broker is an
/// error.
pub(crate) fn partitions_of(
    consumer: &BaseConsumer,
    topics: &[String],
    bootstrap: &str,
) -> Result<Vec<(String, i32)>, BrokerError> {
    let mut all = Vec::new();
    for topic in topics {
        let md = consumer
            .fetch_metadata(Some(topic), CALL_TIMEOUT)
            .map_err(|e| BrokerError::new(format!("metadata of topic {topic}"), bootstrap, e))?;
        for t in md.topics() {
            if t.error().is_some() {
                continue;
            }
            let mut ps: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
            ps.sort_unstable();
            all.extend(ps.into_iter().map(|p| (t.name().to_string(), p)));
        }
    }
    Ok(all)
}

/// The partition's low and high watermarks.
pub(crate) fn watermarks(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    bootstrap: &str,
) -> Result<(i64, i64), BrokerError> {
    consumer
        .fetch_watermarks(topic, partition, CALL_TIMEOUT)
        .map_err(|e| {
            BrokerError::new(
                format!("watermarks of {topic}/{partition}"),
                bootstrap,
                e,
            )
        })
}

/// One record read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owned {
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: Option<i64>,
}

/// How a read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// Reached `last` (or went past it: records missing at its end) or `max` records.
    Full,
    /// Reached the end of the partition.
    Eof,
    /// The deadline passed first.
    Timeout,
}

/// What to read from one partition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Want<'a> {
    pub topic: &'a str,
    pub partition: i32,
    /// The first offset.
    pub from: i64,
    /// The last offset, if the range is known (a replay).
    pub last: Option<i64>,
    /// Most records.
    pub max: usize,
}

/// Read `want.topic/partition` from offset `from`: records up to offset `last` (when
/// given) and at most `max` of them, until the end of the partition or `timeout`.
pub(crate) fn read(
    consumer: &BaseConsumer,
    want: Want<'_>,
    timeout: Duration,
    bootstrap: &str,
) -> Result<(Vec<Owned>, ReadEnd), BrokerError> {
    let Want {
        topic,
        partition,
        from,
        last,
        max,
    } = want;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(from))
        .map_err(|e| BrokerError::new(format!("assigning {topic}/{partition}"), bootstrap, e))?;
    consumer
        .assign(&tpl)
        .map_err(|e| BrokerError::new(format!("assigning {topic}/{partition}"), bootstrap, e))?;
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    if max == 0 || last.is_some_and(|l| l < from) {
        return Ok((out, ReadEnd::Full));
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok((out, ReadEnd::Timeout));
        }
        let Some(msg) = consumer.poll(left) else {
            continue;
        };
        let msg = match msg {
            Ok(m) => m,
            Err(KafkaError::PartitionEOF(p)) if p == partition => {
                return Ok((out, ReadEnd::Eof));
            }
            Err(e) => {
                tracing::debug!(topic, partition, error = %e, "Kafka Trident spout: poll error");
                continue;
            }
        };
        if msg.topic() != topic || msg.partition() != partition || msg.offset() < from {
            continue;
        }
        if last.is_some_and(|l| msg.offset() > l) {
            return Ok((out, ReadEnd::Full));
        }
        out.push(Owned {
            offset: msg.offset(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            timestamp: msg.timestamp().to_millis(),
        });
        if out.len() >= max || last.is_some_and(|l| msg.offset() >= l) {
            return Ok((out, ReadEnd::Full));
        }
    }
}
