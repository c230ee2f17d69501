//! Plain clients for tests: produce records and learn their offsets from the broker's
//! acknowledgements; read a group's committed offsets.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use super::TestError;

/// How long a produce waits for every acknowledgement.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// A record to produce: partition (`None`: the partitioner's choice), key, value.
pub type Outgoing<'a> = (Option<i32>, Option<&'a [u8]>, &'a [u8]);

/// A record the broker acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delivered {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

type Outcomes = Arc<Mutex<Vec<Result<Delivered, String>>>>;

#[derive(Default)]
struct Collect {
    done: Outcomes,
}

impl ProducerContext for Collect {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let r = match result {
            Ok(m) => Ok(Delivered {
                partition: m.partition(),
                offset: m.offset(),
            }),
            Err((e, _)) => Err(e.to_string()),
        };
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(r);
    }
}

impl ClientContext for Collect {}

/// Produce `(partition, key, value)` records to `topic` and wait (bounded) for every
/// acknowledgement; returns them sorted by partition and offset.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    records: &[Outgoing<'_>],
) -> Result<Vec<Delivered>, TestError> {
    produce_with(bootstrap, topic, records, &[])
}

/// [`produce`] with one record per request, so every record is its own batch (tansu's
/// ListOffsets answers the end right only then).
pub fn produce_one_per_batch(
    bootstrap: &str,
    topic: &str,
    records: &[Outgoing<'_>],
) -> Result<Vec<Delivered>, TestError> {
    let mut all = Vec::new();
    for r in records {
        all.extend(produce_with(
            bootstrap,
            topic,
            std::slice::from_ref(r),
            &[("linger.ms", "0"), ("batch.num.messages", "1")],
        )?);
    }
    all.sort();
    Ok(all)
}

/// [`produce`] with extra client properties (`extra`: TLS, SASL, batching).
pub fn produce_with(
    bootstrap: &str,
    topic: &str,
    records: &[Outgoing<'_>],
    extra: &[(&str, &str)],
) -> Result<Vec<Delivered>, TestError> {
    let collect = Collect::default();
    let done = collect.done.clone();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "20000")
        .set("log_level", "3");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    let producer: BaseProducer<Collect> = config
        .create_with_context(collect)
        .map_err(|e| TestError::new(format!("producer: {e}")))?;
    for (partition, key, value) in records {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(value);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(p) = partition {
            record = record.partition(*p);
        }
        let mut record = record;
        // A full local queue: serve deliveries and try again (bounded).
        let deadline = Instant::now() + DELIVERY_TIMEOUT;
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, r)) => {
                    if Instant::now() >= deadline {
                        return Err(TestError::new(format!("produce to {topic}: {e}")));
                    }
                    producer.poll(Duration::from_millis(10));
                    record = r;
                }
            }
        }
    }
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    loop {
        producer.poll(Duration::from_millis(10));
        let n = done.lock().unwrap_or_else(PoisonError::into_inner).len();
        if n >= records.len() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(TestError::new(format!(
                "{n} of {} records acknowledged after {DELIVERY_TIMEOUT:?}",
                records.len()
            )));
        }
    }
    let _ = producer.flush(Duration::from_secs(5));
    let done = std::mem::take(&mut *done.lock().unwrap_or_else(PoisonError::into_inner));
    let mut out = Vec::with_capacity(done.len());
    for d in done {
        out.push(d.map_err(|e| TestError::new(format!("delivery to {topic} failed: {e}")))?);
    }
    out.sort();
    Ok(out)
}

/// The log end (next offset) per partition, from produce acknowledgements.
pub fn log_ends(delivered: &[Delivered]) -> BTreeMap<i32, i64> {
    let mut ends = BTreeMap::new();
    for d in delivered {
        let e = ends.entry(d.partition).or_insert(0);
        *e = (*e).max(d.offset + 1);
    }
    ends
}

/// The offsets (and commit metadata) `group` committed for `partitions` of `topic`;
/// partitions without a commit are left out.
pub fn committed_offsets(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, (i64, String)>, TestError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("log_level", "3")
        .create()
        .map_err(|e| TestError::new(format!("consumer: {e}")))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .map_err(|e| TestError::new(format!("committed offsets of {group}: {e}")))?;
    let mut out = BTreeMap::new();
    for e in got.elements() {
        if let Offset::Offset(o) = e.offset() {
            out.insert(e.partition(), (o, e.metadata().to_string()));
        }
    }
    Ok(out)
}
