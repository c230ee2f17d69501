//! The spout's librdkafka consumers: settings it owns, and the "marker" group that keeps
//! a deployment's commits recognisable on brokers that drop commit metadata.
//!
//! Storm recognises its own deployment's commits by the topology id in the commit
//! metadata. Some brokers (tansu 0.6) store the metadata but answer it empty; then the
//! spout also commits the same offsets for the group `<group.id>.squall.<topology id>`
//! and, on start, takes a commit with empty metadata as this deployment's when that
//! marker group has one for the partition.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaSpoutConfig;
use crate::error::BrokerError;

/// How long a blocking broker call (metadata, committed offsets, watermarks, commit) may
/// take before the spout gives up until its next try.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Prefetched bytes librdkafka may queue per spout task, unless `props` say otherwise.
const QUEUED_KBYTES: &str = "16384";

/// A consumer for `group`, with the spout's settings under the user's `props`.
pub(crate) fn consumer(
    config: &KafkaSpoutConfig,
    group: &str,
) -> Result<BaseConsumer, BrokerError> {
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
    c.create().map_err(|source| {
        BrokerError::new(
            format!("creating a consumer for group {group}"),
            &config.bootstrap_servers,
            source,
        )
    })
}

/// The marker group of a deployment.
pub(crate) fn marker_group(group: &str, topology_id: &str) -> String {
    format!("{group}.squall.{topology_id}")
}

/// Commits by partition: offset and metadata.
pub(crate) type Commits = BTreeMap<(String, i32), (i64, String)>;

/// The commits of `consumer`'s group for `partitions`: offset and metadata (empty when
/// the broker kept none, or sent some that is not UTF-8).
pub(crate) fn committed(
    consumer: &BaseConsumer,
    partitions: &[(String, i32)],
    bootstrap: &str,
) -> Result<Commits, BrokerError> {
    if partitions.is_empty() {
        return Ok(Commits::new());
    }
    let mut tpl = TopicPartitionList::new();
    for (t, p) in partitions {
        tpl.add_partition(t, *p);
    }
    let got = consumer
        .committed_offsets(tpl, CALL_TIMEOUT)
        .map_err(|source| BrokerError::new("reading committed offsets", bootstrap, source))?;
    let mut out = BTreeMap::new();
    for e in got.elements() {
        if let Offset::Offset(o) = e.offset() {
            // rdkafka panics on metadata that is not UTF-8: read it only when it is
            // safe (the panic is caught and counts as "no metadata").
            let meta =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.metadata().to_string()))
                    .unwrap_or_default();
            out.insert((e.topic().to_string(), e.partition()), (o, meta));
        }
    }
    Ok(out)
}

/// Partitions found, and a warning per topic not found.
pub(crate) type Listed = (Vec<(String, i32)>, Vec<String>);

/// The partitions of `topics` (a blocking metadata request per topic), and a warning
/// for each topic the brokers do not know (it is skipped, as Storm's topic filter
/// skips it, and picked up once it exists). An unreachable broker is an error.
pub(crate) fn partitions_of(
    consumer: &BaseConsumer,
    topics: &[String],
    bootstrap: &str,
) -> Result<Listed, BrokerError> {
    let mut all = Vec::new();
    let mut missing = Vec::new();
    for topic in topics {
        let md = consumer
            .fetch_metadata(Some(topic), CALL_TIMEOUT)
            .map_err(|e| BrokerError::new(format!("metadata of topic {topic}"), bootstrap, e))?;
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
