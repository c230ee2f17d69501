//! The spout's librdkafka consumer ([`RdConsumer`]), the settings it owns, and the
//! "marker" group that keeps a deployment's commits recognisable on brokers that drop
//! commit metadata.
//!
//! Storm recognises its own deployment's commits by the topology id in the commit
//! metadata. Some brokers (tansu 0.6) store the metadata but answer it empty; then the
//! spout also commits the same offsets for the group `<group.id>.squall.<topology id>`
//! and, on start, takes a commit with empty metadata as this deployment's when that
//! marker group has one for the partition.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use super::batch::{BatchQueue, RdMessage};
use super::consumer::{
    CommitOutcome, Commits, Listed, MAX_COMMIT_OUTCOMES, SpoutConsumer, TopicPartition,
};
use crate::config::KafkaSpoutConfig;
use crate::consumer_defaults::consumer_defaults;
use crate::error::BrokerError;
use crate::props::ClientProps;

/// How long a blocking broker call (metadata, committed offsets, watermarks, commit) may
/// take before the spout gives up until its next try.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A commit for the committer thread: offsets and metadata.
type CommitJob = (Vec<(TopicPartition, i64)>, String);

/// Commits the committer thread may hold (the spout has at most two in flight).
const COMMIT_QUEUE: usize = 4;

/// Outcomes shared with the committer thread.
type Outcomes = Arc<Mutex<VecDeque<CommitOutcome>>>;

/// The spout's consumer on librdkafka (manual assignment, no group membership).
///
/// librdkafka reports an asynchronous *manual* commit only through a commit callback
/// the `rdkafka` crate does not install, so [`SpoutConsumer::commit_async`] hands the
/// commit to a committer thread (started on first use) that makes the synchronous call
/// and queues its outcome; `commit_outcomes` takes them. While a broker is down that
/// thread waits, the spout's does not.
pub struct RdConsumer {
    /// The consumer and its record queue.
    batch: BatchQueue,
    committer: OnceLock<SyncSender<CommitJob>>,
    outcomes: Outcomes,
}

impl RdConsumer {
    /// The committer thread's queue (started now if it is not running).
    fn committer(&self) -> Result<&SyncSender<CommitJob>, KafkaError> {
        if let Some(tx) = self.committer.get() {
            return Ok(tx);
        }
        let (tx, rx) = mpsc::sync_channel::<CommitJob>(COMMIT_QUEUE);
        let (consumer, outcomes) = (self.batch.consumer().clone(), self.outcomes.clone());
        std::thread::Builder::new()
            .name("kafka-committer".into())
            .spawn(move || {
                // Ends when the consumer (the sender) is dropped.
                for (offsets, metadata) in rx {
                    let result = commit_list(&offsets, &metadata)
                        .and_then(|tpl| consumer.commit(&tpl, CommitMode::Sync));
                    let mut q = outcomes.lock().unwrap_or_else(PoisonError::into_inner);
                    if q.len() >= MAX_COMMIT_OUTCOMES {
                        q.pop_front();
                    }
                    q.push_back(CommitOutcome { offsets, result });
                }
            })
            .map_err(|e| KafkaError::Subscription(format!("starting the committer thread: {e}")))?;
        Ok(self.committer.get_or_init(|| tx))
    }
}

impl std::fmt::Debug for RdConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RdConsumer")
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
    type Message<'a> = RdMessage<'a>;

    fn create(_: &(), config: &KafkaSpoutConfig, group: &str) -> Result<Self, BrokerError> {
        let what = || format!("creating a consumer for group {group}");
        let props = ClientProps::resolve(&config.props).map_err(|e| {
            BrokerError::new(
                what(),
                &config.bootstrap_servers,
                KafkaError::ClientCreation(e.to_string()),
            )
        })?;
        let consumer = client_config(config, group, &props)
            .create::<BaseConsumer>()
            .map_err(|source| {
                BrokerError::new(
                    what(),
                    &config.bootstrap_servers,
                    props.client_error(source),
                )
            })?;
        let batch = BatchQueue::of(consumer).ok_or_else(|| {
            BrokerError::new(
                what(),
                &config.bootstrap_servers,
                KafkaError::ClientCreation("librdkafka gave the consumer no queue".into()),
            )
        })?;
        Ok(RdConsumer {
            batch,
            committer: OnceLock::new(),
            outcomes: Outcomes::default(),
        })
    }

    #[inline]
    fn poll(&self) -> Option<Result<RdMessage<'_>, KafkaError>> {
        self.batch.poll()
    }

    fn wake_on_records(&mut self, wake: Box<dyn Fn() + Send + Sync>) {
        // Only before the committer thread shares the consumer (right after `create`).
        match self.batch.consumer_mut() {
            Some(c) => c.set_nonempty_callback(wake),
            None => tracing::debug!("Kafka spout: consumer already shared; no wake-ups"),
        }
    }

    fn assign(&self, at: &[(TopicPartition, i64)]) -> Result<(), KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for ((t, p), o) in at {
            tpl.add_partition_offset(t, *p, Offset::Offset(*o))?;
        }
        self.batch.discard_all();
        self.batch.consumer().assign(&tpl)
    }

    fn seek(&self, topic: &str, partition: i32, offset: i64) -> Result<(), KafkaError> {
        self.batch.discard(topic, partition);
        self.batch
            .consumer()
            .seek(topic, partition, Offset::Offset(offset), CALL_TIMEOUT)
    }

    fn pause(&self, topic: &str, partition: i32) -> Result<(), KafkaError> {
        self.batch.discard(topic, partition);
        self.batch.consumer().pause(&one(topic, partition))
    }

    fn resume(&self, topic: &str, partition: i32) -> Result<(), KafkaError> {
        self.batch.consumer().resume(&one(topic, partition))
    }

    fn commit(&self, offsets: &[(TopicPartition, i64)], metadata: &str) -> Result<(), KafkaError> {
        self.batch
            .consumer()
            .commit(&commit_list(offsets, metadata)?, CommitMode::Sync)
    }

    fn commit_async(
        &self,
        offsets: &[(TopicPartition, i64)],
        metadata: &str,
    ) -> Result<(), KafkaError> {
        self.committer()?
            .try_send((offsets.to_vec(), metadata.to_string()))
            .map_err(|e| {
                KafkaError::ConsumerCommit(match e {
                    TrySendError::Full(_) => RDKafkaErrorCode::QueueFull,
                    TrySendError::Disconnected(_) => RDKafkaErrorCode::Fail,
                })
            })
    }

    fn commit_outcomes(&self) -> Vec<CommitOutcome> {
        self.outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect()
    }

    fn committed(&self, partitions: &[TopicPartition]) -> Result<Commits, KafkaError> {
        if partitions.is_empty() {
            return Ok(Commits::new());
        }
        let got = self
            .batch
            .consumer()
            .committed_offsets(tpl_of(partitions), CALL_TIMEOUT)?;
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
        self.batch
            .consumer()
            .fetch_watermarks(topic, partition, CALL_TIMEOUT)
    }

    fn partitions(&self, topics: &[String]) -> Result<Listed, KafkaError> {
        let mut all = Vec::new();
        let mut missing = Vec::new();
        for topic in topics {
            let md = self
                .batch
                .consumer()
                .fetch_metadata(Some(topic), CALL_TIMEOUT)?;
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

/// The client settings of a spout consumer of `group`: the spout's defaults, the user's
/// `props` over them, then the settings the spout owns.
fn client_config(config: &KafkaSpoutConfig, group: &str, props: &ClientProps) -> ClientConfig {
    let mut c = consumer_defaults();
    c.set("auto.offset.reset", "earliest");
    props.apply(&mut c);
    c.set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set_log_level(RDKafkaLogLevel::Warning);
    c
}

fn commit_list(
    offsets: &[(TopicPartition, i64)],
    metadata: &str,
) -> Result<TopicPartitionList, KafkaError> {
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in offsets {
        tpl.add_partition_offset(t, *p, Offset::Offset(*o))?;
    }
    for mut e in tpl.elements() {
        e.set_metadata(metadata);
    }
    Ok(tpl)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::consumer_defaults::{FETCH_QUEUE_BACKOFF_MS, QUEUED_KBYTES};

    fn settings(props: &[(&str, &str)]) -> ClientConfig {
        let mut config = KafkaSpoutConfig::new("127.0.0.1:9", &["t"], "g");
        config.props = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        client_config(&config, "g", &ClientProps::resolve(&config.props).unwrap())
    }

    #[test]
    fn the_prefetch_backs_off_briefly_unless_props_say_otherwise() {
        let c = settings(&[]);
        assert_eq!(
            c.get("fetch.queue.backoff.ms"),
            Some(FETCH_QUEUE_BACKOFF_MS)
        );
        assert_eq!(c.get("queued.max.messages.kbytes"), Some(QUEUED_KBYTES));
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        let c = settings(&[
            ("fetch.queue.backoff.ms", "500"),
            ("queued.max.messages.kbytes", "1024"),
        ]);
        assert_eq!(c.get("fetch.queue.backoff.ms"), Some("500"));
        assert_eq!(c.get("queued.max.messages.kbytes"), Some("1024"));
    }
}
