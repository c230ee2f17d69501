//! The Trident spout's librdkafka consumer: no group, no commits (the offsets live in
//! Trident's metadata store), each partition read from an exact offset.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::config::KafkaTridentSpoutConfig;
use crate::consumer_defaults::consumer_defaults;
use crate::error::BrokerError;
use crate::props::ClientProps;

/// How long a metadata or watermark request may take.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The consumers' context: librdkafka's errors logged as warnings, except the end of a
/// partition (which the reader expects; librdkafka also reports it as a global error
/// now and then).
pub(crate) struct Quiet;

impl ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        if reason.contains("reached end of partition") {
            tracing::debug!("librdkafka: {error}: {reason}");
        } else {
            tracing::warn!("librdkafka: {error}: {reason}");
        }
    }
}

impl ConsumerContext for Quiet {}

/// The spout's consumer type.
pub(crate) type TridentConsumer = BaseConsumer<Quiet>;

/// A consumer with the spout's settings under the user's `props`. `group.id` is only
/// librdkafka's requirement: nothing is ever committed for it.
pub(crate) fn consumer(config: &KafkaTridentSpoutConfig) -> Result<TridentConsumer, BrokerError> {
    let props = ClientProps::resolve(&config.props).map_err(|e| {
        BrokerError::new(
            "creating a consumer",
            &config.bootstrap_servers,
            KafkaError::ClientCreation(e.to_string()),
        )
    })?;
    let mut c = consumer_defaults();
    c.set("fetch.wait.max.ms", "100")
        .set("auto.offset.reset", "earliest");
    props.apply(&mut c);
    c.set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", "squall-trident")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set_log_level(RDKafkaLogLevel::Warning);
    c.create_with_context(Quiet).map_err(|source| {
        BrokerError::new(
            "creating a consumer",
            &config.bootstrap_servers,
            props.client_error(source),
        )
    })
}

/// The partitions of each topic (by the topic's position in `topics`); a topic the
/// brokers do not know is left out (read once it exists). An unreachable broker is an
/// error.
pub(crate) fn partitions_of(
    consumer: &TridentConsumer,
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
    consumer: &TridentConsumer,
    topic: &str,
    partition: i32,
    bootstrap: &str,
) -> Result<(i64, i64), BrokerError> {
    consumer
        .fetch_watermarks(topic, partition, CALL_TIMEOUT)
        .map_err(|e| BrokerError::new(format!("watermarks of {topic}/{partition}"), bootstrap, e))
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
    /// Most bytes of keys and values (at least one record is read).
    pub max_bytes: usize,
}

/// One partition of the reader: its own queue and where that queue stands.
struct Part {
    queue: PartitionQueue<Quiet>,
    /// The offset the queue delivers next.
    position: i64,
    /// Whether the queue reported the end of the partition at `position`.
    at_end: bool,
}

/// The emitter's consumer: every partition it read stays assigned (incrementally) with
/// a queue of its own, so librdkafka prefetches the next batch's records; a read from
/// another offset than the queue's position seeks first (a replay).
pub(crate) struct Reader {
    consumer: Arc<TridentConsumer>,
    parts: HashMap<(String, i32), Part>,
    bootstrap: String,
}

impl Reader {
    /// A reader with `config`'s client settings.
    pub(crate) fn new(config: &KafkaTridentSpoutConfig) -> Result<Reader, BrokerError> {
        Ok(Reader {
            consumer: Arc::new(consumer(config)?),
            parts: HashMap::new(),
            bootstrap: config.bootstrap_servers.clone(),
        })
    }

    /// The consumer (for metadata calls).
    pub(crate) fn consumer(&self) -> &TridentConsumer {
        &self.consumer
    }

    fn err(&self, what: String, e: KafkaError) -> BrokerError {
        BrokerError::new(what, &self.bootstrap, e)
    }

    /// The partition's queue, positioned at `from`.
    fn part_at(
        &mut self,
        topic: &str,
        partition: i32,
        from: i64,
    ) -> Result<&mut Part, BrokerError> {
        let key = (topic.to_string(), partition);
        match self.parts.get(&key).map(|p| p.position) {
            Some(pos) if pos == from => {}
            Some(_) => {
                self.consumer
                    .seek(topic, partition, Offset::Offset(from), CALL_TIMEOUT)
                    .map_err(|e| self.err(format!("seeking {topic}/{partition} to {from}"), e))?;
                if let Some(part) = self.parts.get_mut(&key) {
                    part.position = from;
                    part.at_end = false;
                }
            }
            None => {
                // The queue first, so no event of the partition lands on the main queue.
                let queue = self
                    .consumer
                    .split_partition_queue(topic, partition)
                    .ok_or_else(|| {
                        self.err(
                            format!("a queue of its own for {topic}/{partition}"),
                            KafkaError::Canceled,
                        )
                    })?;
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition_offset(topic, partition, Offset::Offset(from))
                    .and_then(|()| self.consumer.incremental_assign(&tpl))
                    .map_err(|e| self.err(format!("assigning {topic}/{partition}"), e))?;
                self.parts.insert(
                    key.clone(),
                    Part {
                        queue,
                        position: from,
                        at_end: false,
                    },
                );
            }
        }
        self.parts
            .get_mut(&key)
            .ok_or_else(|| BrokerError::new("partition queue", "", KafkaError::Canceled))
    }

    /// Read `want.topic/partition` from offset `from`: records up to offset `last`
    /// (when given) and at most `max` of them, until the end of the partition or
    /// `timeout`. A partition already known at its end only gives what its queue holds
    /// now (the batch does not wait for records that may never come).
    pub(crate) fn read(
        &mut self,
        want: Want<'_>,
        timeout: Duration,
    ) -> Result<(Vec<Owned>, ReadEnd), BrokerError> {
        let Want {
            topic,
            partition,
            from,
            last,
            max,
            max_bytes,
        } = want;
        let mut bytes = 0usize;
        // Serve the main queue (client errors and logs; the records are elsewhere).
        for _ in 0..64 {
            match self.consumer.poll(Duration::ZERO) {
                None => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "Kafka Trident spout: consumer event");
                }
                Some(Ok(_)) => {}
            }
        }
        let mut out = Vec::new();
        if max == 0 || last.is_some_and(|l| l < from) {
            return Ok((out, ReadEnd::Full));
        }
        let deadline = Instant::now() + timeout;
        let part = self.part_at(topic, partition, from)?;
        loop {
            let wait = if part.at_end {
                Duration::ZERO
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            let Some(msg) = part.queue.poll(wait) else {
                return Ok((
                    out,
                    if part.at_end {
                        ReadEnd::Eof
                    } else {
                        ReadEnd::Timeout
                    },
                ));
            };
            let msg = match msg {
                Ok(m) => m,
                Err(KafkaError::PartitionEOF(_)) => {
                    part.at_end = true;
                    return Ok((out, ReadEnd::Eof));
                }
                Err(e) => {
                    tracing::debug!(topic, partition, error = %e, "Kafka Trident spout: poll error");
                    if Instant::now() >= deadline {
                        return Ok((out, ReadEnd::Timeout));
                    }
                    continue;
                }
            };
            part.at_end = false;
            part.position = msg.offset().saturating_add(1);
            if msg.offset() < from {
                continue;
            }
            if last.is_some_and(|l| msg.offset() > l) {
                // Records at the end of the range vanished; this one belongs to the
                // next batch: the queue must give it again.
                part.position = msg.offset();
                self.invalidate(topic, partition);
                return Ok((out, ReadEnd::Full));
            }
            bytes = bytes
                .saturating_add(msg.key().map_or(0, <[u8]>::len))
                .saturating_add(msg.payload().map_or(0, <[u8]>::len));
            out.push(Owned {
                offset: msg.offset(),
                key: msg.key().map(<[u8]>::to_vec),
                value: msg.payload().map(<[u8]>::to_vec),
                timestamp: msg.timestamp().to_millis(),
            });
            if out.len() >= max || bytes >= max_bytes || last.is_some_and(|l| msg.offset() >= l) {
                return Ok((out, ReadEnd::Full));
            }
            if Instant::now() >= deadline {
                return Ok((out, ReadEnd::Timeout));
            }
        }
    }

    /// The queue of `topic/partition` went past what it will be asked for next: make
    /// the next read seek.
    fn invalidate(&mut self, topic: &str, partition: i32) {
        if let Some(p) = self.parts.get_mut(&(topic.to_string(), partition)) {
            p.position = -1;
        }
    }
}
