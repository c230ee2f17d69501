//! An in-memory Kafka log and a [`SpoutConsumer`] over it, for tests that need what a
//! broker cannot easily give: records deleted under the committed offset (DeleteRecords),
//! offsets compacted away, a record that vanishes before its retry, an outage at a
//! chosen moment. Semantics follow Kafka's: a position below the log start resets to
//! it (`auto.offset.reset=earliest`), missing offsets are skipped, commits are per
//! group.
//!
//! ```
//! use squall_kafka::testing::MemoryLog;
//! let log = MemoryLog::new();
//! log.create_topic("t", 1);
//! for v in ["a", "b", "c"] {
//!     log.append("t", 0, v);
//! }
//! log.delete("t", 0, 1); // compacted away
//! assert_eq!(log.offsets("t", 0), vec![0, 2]);
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::config::KafkaSpoutConfig;
use crate::error::BrokerError;
use crate::spout::consumer::{
    CommitOutcome, Commits, Listed, MAX_COMMIT_OUTCOMES, Polled, SpoutConsumer, TopicPartition,
};
use crate::translate::{OwnedRecord, Record};

#[derive(Debug, Default)]
struct Partition {
    records: BTreeMap<i64, Vec<u8>>,
    start: i64,
    end: i64,
}

#[derive(Debug, Default)]
struct LogInner {
    topics: BTreeMap<String, Vec<Partition>>,
    commits: BTreeMap<(String, TopicPartition), (i64, String)>,
    unreachable: bool,
    polled: u64,
}

/// Topics of partitions of records, shared by every [`MemoryConsumer`] made from it.
#[derive(Debug, Clone, Default)]
pub struct MemoryLog(Arc<Mutex<LogInner>>);

impl MemoryLog {
    /// An empty log.
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }

    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Create `topic` with `partitions` empty partitions (or add partitions up to that
    /// many: Kafka's CreatePartitions).
    pub fn create_topic(&self, topic: &str, partitions: i32) {
        let mut inner = self.lock();
        let t = inner.topics.entry(topic.to_string()).or_default();
        while t.len() < usize::try_from(partitions).unwrap_or(0) {
            t.push(Partition::default());
        }
    }

    /// Append `value` to a partition; its offset.
    pub fn append(&self, topic: &str, partition: i32, value: &str) -> i64 {
        let mut inner = self.lock();
        let Some(p) = part(&mut inner, topic, partition) else {
            return -1;
        };
        let o = p.end;
        p.records.insert(o, value.as_bytes().to_vec());
        p.end += 1;
        o
    }

    /// Remove one record (compaction): its offset is never delivered again.
    pub fn delete(&self, topic: &str, partition: i32, offset: i64) {
        if let Some(p) = part(&mut self.lock(), topic, partition) {
            p.records.remove(&offset);
        }
    }

    /// Delete every record below `offset` (Kafka's DeleteRecords): the log start moves.
    pub fn delete_below(&self, topic: &str, partition: i32, offset: i64) {
        if let Some(p) = part(&mut self.lock(), topic, partition) {
            p.records.retain(|o, _| *o >= offset);
            p.start = p.start.max(offset.min(p.end));
        }
    }

    /// The offsets present in a partition.
    pub fn offsets(&self, topic: &str, partition: i32) -> Vec<i64> {
        part(&mut self.lock(), topic, partition)
            .map(|p| p.records.keys().copied().collect())
            .unwrap_or_default()
    }

    /// A partition's log end.
    pub fn log_end(&self, topic: &str, partition: i32) -> i64 {
        part(&mut self.lock(), topic, partition).map_or(0, |p| p.end)
    }

    /// Group `group`'s committed offset of a partition.
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.lock()
            .commits
            .get(&(group.to_string(), (topic.to_string(), partition)))
            .map(|(o, _)| *o)
    }

    /// Make every call fail (`true`) or work again (`false`), as a broker outage.
    pub fn set_unreachable(&self, unreachable: bool) {
        self.lock().unreachable = unreachable;
    }

    /// Records delivered by polls so far (all consumers).
    pub fn polled(&self) -> u64 {
        self.lock().polled
    }
}

fn part<'a>(inner: &'a mut LogInner, topic: &str, partition: i32) -> Option<&'a mut Partition> {
    inner
        .topics
        .get_mut(topic)?
        .get_mut(usize::try_from(partition).ok()?)
}

#[derive(Debug, Default)]
struct Assigned {
    /// Assigned partitions: position and paused flag, in assignment order.
    parts: Vec<(TopicPartition, i64, bool)>,
    /// Where the round robin continues.
    next: usize,
}

/// A consumer of a [`MemoryLog`] (use with [`crate::KafkaSpout::with_consumer`]).
#[derive(Debug)]
pub struct MemoryConsumer {
    log: MemoryLog,
    group: String,
    assigned: Mutex<Assigned>,
    outcomes: Mutex<Vec<CommitOutcome>>,
}

impl MemoryConsumer {
    fn assigned(&self) -> MutexGuard<'_, Assigned> {
        self.assigned.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reachable(&self, err: fn(RDKafkaErrorCode) -> KafkaError) -> Result<(), KafkaError> {
        if self.log.lock().unreachable {
            return Err(err(RDKafkaErrorCode::BrokerTransportFailure));
        }
        Ok(())
    }
}

impl Polled for OwnedRecord {
    fn record(&self) -> Record<'_> {
        self.as_record()
    }
}

impl SpoutConsumer for MemoryConsumer {
    type Connector = MemoryLog;
    type Message<'a> = OwnedRecord;

    fn create(
        log: &MemoryLog,
        _config: &KafkaSpoutConfig,
        group: &str,
    ) -> Result<Self, BrokerError> {
        Ok(MemoryConsumer {
            log: log.clone(),
            group: group.to_string(),
            assigned: Mutex::default(),
            outcomes: Mutex::default(),
        })
    }

    fn poll(&self) -> Option<Result<OwnedRecord, KafkaError>> {
        let mut a = self.assigned();
        let mut inner = self.log.lock();
        if inner.unreachable {
            return None;
        }
        let n = a.parts.len();
        for i in 0..n {
            let k = (a.next + i) % n;
            let ((topic, partition), position, paused) = a.parts[k].clone();
            if paused {
                continue;
            }
            let Some(p) = part(&mut inner, &topic, partition) else {
                continue;
            };
            // Below the log start: reset to it (auto.offset.reset=earliest).
            let from = position.max(p.start);
            let Some((off, value)) = p.records.range(from..).next() else {
                a.parts[k].1 = from;
                continue;
            };
            let rec = OwnedRecord {
                topic: topic.clone(),
                partition,
                offset: *off,
                key: None,
                value: Some(value.clone()),
                timestamp: None,
            };
            a.parts[k].1 = *off + 1;
            a.next = (k + 1) % n;
            inner.polled += 1;
            return Some(Ok(rec));
        }
        None
    }

    fn assign(&self, at: &[(TopicPartition, i64)]) -> Result<(), KafkaError> {
        let mut a = self.assigned();
        a.parts = at.iter().map(|(tp, o)| (tp.clone(), *o, false)).collect();
        a.next = 0;
        Ok(())
    }

    fn seek(&self, topic: &str, partition: i32, offset: i64) -> Result<(), KafkaError> {
        let mut a = self.assigned();
        match a
            .parts
            .iter_mut()
            .find(|((t, p), _, _)| t == topic && *p == partition)
        {
            Some(e) => {
                e.1 = offset;
                Ok(())
            }
            None => Err(KafkaError::Seek(format!(
                "{topic}-{partition} is not assigned"
            ))),
        }
    }

    fn pause(&self, topic: &str, partition: i32) -> Result<(), KafkaError> {
        for e in &mut self.assigned().parts {
            if e.0.0 == topic && e.0.1 == partition {
                e.2 = true;
            }
        }
        Ok(())
    }

    fn resume(&self, topic: &str, partition: i32) -> Result<(), KafkaError> {
        for e in &mut self.assigned().parts {
            if e.0.0 == topic && e.0.1 == partition {
                e.2 = false;
            }
        }
        Ok(())
    }

    fn commit(&self, offsets: &[(TopicPartition, i64)], metadata: &str) -> Result<(), KafkaError> {
        self.reachable(KafkaError::ConsumerCommit)?;
        let mut inner = self.log.lock();
        for (tp, o) in offsets {
            inner
                .commits
                .insert((self.group.clone(), tp.clone()), (*o, metadata.to_string()));
        }
        Ok(())
    }

    fn commit_async(
        &self,
        offsets: &[(TopicPartition, i64)],
        metadata: &str,
    ) -> Result<(), KafkaError> {
        // An unreachable log fails the commit later, as librdkafka reports it.
        let result = self.commit(offsets, metadata);
        let mut q = self.outcomes.lock().unwrap_or_else(PoisonError::into_inner);
        if q.len() >= MAX_COMMIT_OUTCOMES {
            q.remove(0);
        }
        q.push(CommitOutcome {
            offsets: offsets.to_vec(),
            result,
        });
        Ok(())
    }

    fn commit_outcomes(&self) -> Vec<CommitOutcome> {
        std::mem::take(&mut *self.outcomes.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn committed(&self, partitions: &[TopicPartition]) -> Result<Commits, KafkaError> {
        self.reachable(KafkaError::OffsetFetch)?;
        let inner = self.log.lock();
        Ok(partitions
            .iter()
            .filter_map(|tp| {
                inner
                    .commits
                    .get(&(self.group.clone(), tp.clone()))
                    .map(|c| (tp.clone(), c.clone()))
            })
            .collect())
    }

    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), KafkaError> {
        self.reachable(KafkaError::MetadataFetch)?;
        part(&mut self.log.lock(), topic, partition)
            .map(|p| (p.start, p.end))
            .ok_or(KafkaError::MetadataFetch(
                RDKafkaErrorCode::UnknownTopicOrPartition,
            ))
    }

    fn partitions(&self, topics: &[String]) -> Result<Listed, KafkaError> {
        self.reachable(KafkaError::MetadataFetch)?;
        let inner = self.log.lock();
        let mut all = Vec::new();
        let mut missing = Vec::new();
        for t in topics {
            match inner.topics.get(t) {
                Some(parts) => {
                    all.extend((0..parts.len()).map(|p| (t.clone(), p as i32)));
                }
                None => missing.push(format!(
                    "topic {t}: UnknownTopicOrPartition (waiting for it)"
                )),
            }
        }
        Ok((all, missing))
    }
}
