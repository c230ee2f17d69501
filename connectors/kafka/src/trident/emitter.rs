//! The emitter half (one per spout task): for each partition this task owns, reads the
//! batch's offsets ([`ranges`](super::ranges) decides which), records a new range in the
//! metadata store *before* emitting it, then emits the records as tuples.

use std::collections::HashMap;
use std::sync::Arc;

use squall_runtime::Values;
use squall_runtime::trident::meta::{MetaError, MetaStore};
use squall_runtime::trident::{OpError, SpoutEmitter, TransactionAttempt};

use super::client::{self, ReadEnd, Want};
use super::config::KafkaTridentSpoutConfig;
use super::coordinator::BatchMeta;
use super::ranges::{BatchRange, PartitionPlan, PartitionRecord, Start, task_of};
use super::{partition_key, partition_record};
use crate::translate::{Record, RecordTranslator};

/// The emitter half.
pub(super) struct Emitter {
    config: Arc<KafkaTridentSpoutConfig>,
    reader: client::Reader,
    translator: Box<dyn RecordTranslator>,
    task: usize,
    tasks: usize,
    spout: String,
    topology_id: String,
    store: Arc<dyn MetaStore>,
    /// This task's partitions' records (it is their only writer), loaded on first use.
    records: HashMap<(String, i32), PartitionRecord>,
}

/// Where the emitter runs.
pub(super) struct Placement {
    pub task: usize,
    pub tasks: usize,
    pub spout: String,
    pub topology_id: String,
    pub store: Arc<dyn MetaStore>,
}

fn meta_err(e: MetaError) -> OpError {
    OpError(format!("Kafka Trident spout metadata: {e}"))
}

impl Emitter {
    pub(super) fn new(
        config: Arc<KafkaTridentSpoutConfig>,
        translator: Box<dyn RecordTranslator>,
        at: Placement,
    ) -> Result<Emitter, OpError> {
        let reader = client::Reader::new(&config).map_err(|e| OpError(e.to_string()))?;
        Ok(Emitter {
            config,
            reader,
            translator,
            task: at.task,
            tasks: at.tasks,
            spout: at.spout,
            topology_id: at.topology_id,
            store: at.store,
            records: HashMap::new(),
        })
    }

    /// The record of a partition of this task, as this deployment sees it (`committed`:
    /// the last txid known committed).
    fn record(
        &mut self,
        topic: &str,
        p: i32,
        committed: u64,
    ) -> Result<&mut PartitionRecord, OpError> {
        let key = (topic.to_string(), p);
        if !self.records.contains_key(&key) {
            let stored = partition_record(&self.store, &self.spout, topic, p).map_err(meta_err)?;
            let rec = PartitionRecord::adopt(
                stored,
                &self.topology_id,
                self.config.first_poll,
                committed,
            );
            self.records.insert(key.clone(), rec);
        }
        self.records
            .get_mut(&key)
            .ok_or_else(|| OpError("partition record vanished".into()))
    }

    /// Emit partition `topic/p`'s part of batch `ta`.
    fn emit_partition(
        &mut self,
        ta: TransactionAttempt,
        committed: u64,
        topic: &str,
        p: i32,
        emit: &mut dyn FnMut(Values) -> Result<(), OpError>,
    ) -> Result<(), OpError> {
        let strategy = self.config.first_poll;
        let plan = self.record(topic, p, committed)?.plan(ta.txid, strategy);
        let bootstrap = self.config.bootstrap_servers.clone();
        let broker = |e: crate::error::BrokerError| OpError(e.to_string());
        let records = match plan {
            PartitionPlan::Skip => return Ok(()),
            PartitionPlan::Reread { first, last } => {
                let want = Want {
                    topic,
                    partition: p,
                    from: first,
                    last: Some(last),
                    max: usize::try_from(last.saturating_sub(first).saturating_add(1)).unwrap_or(0),
                    // The range was read within the byte limit once: read it whole again.
                    max_bytes: usize::MAX,
                };
                let (records, end) = self
                    .reader
                    .read(want, self.config.poll_timeout)
                    .map_err(broker)?;
                if end == ReadEnd::Timeout {
                    return Err(OpError(format!(
                        "batch {ta}: re-reading {topic}/{p} offsets {first}..={last} timed out \
                         after {:?} (the batch is retried)",
                        self.config.poll_timeout
                    )));
                }
                records
            }
            PartitionPlan::Read(start) => {
                let from = match start {
                    Start::At(o) => o,
                    Start::Earliest => {
                        client::watermarks(self.reader.consumer(), topic, p, &bootstrap)
                            .map_err(broker)?
                            .0
                    }
                    Start::Latest => {
                        client::watermarks(self.reader.consumer(), topic, p, &bootstrap)
                            .map_err(broker)?
                            .1
                    }
                };
                let want = Want {
                    topic,
                    partition: p,
                    from,
                    last: None,
                    max: self.config.max_batch_size,
                    max_bytes: self.config.max_batch_bytes,
                };
                let (records, _) = self
                    .reader
                    .read(want, self.config.poll_timeout)
                    .map_err(broker)?;
                let range = BatchRange {
                    txid: ta.txid,
                    first_offset: from,
                    last_offset: records.last().map_or(from - 1, |r| r.offset),
                };
                let rec = self.record(topic, p, committed)?;
                if rec.record(range, committed) {
                    let text = serde_json::to_string(&*rec)
                        .map_err(|e| OpError(format!("encoding a partition record: {e}")))?;
                    let key = partition_key(&self.spout, topic, p).map_err(meta_err)?;
                    if let Err(e) = self.store.put(&key, &text) {
                        // Not recorded: not emitted. Read the record again next time.
                        self.records.remove(&(topic.to_string(), p));
                        return Err(meta_err(e));
                    }
                }
                records
            }
        };
        for r in &records {
            let record = Record {
                topic,
                partition: p,
                offset: r.offset,
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                timestamp: r.timestamp,
            };
            if let Some((_, values)) = self.translator.translate(&record) {
                emit(values)?;
            }
        }
        Ok(())
    }
}

impl SpoutEmitter for Emitter {
    fn emit_batch(
        &mut self,
        ta: TransactionAttempt,
        meta: &squall_runtime::Value,
        emit: &mut dyn FnMut(Values) -> Result<(), OpError>,
    ) -> Result<(), OpError> {
        let meta: BatchMeta = meta
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| {
                OpError(format!(
                    "batch {ta}: Kafka Trident spout metadata is not what its coordinator sends"
                ))
            })?;
        for (topic, p) in &meta.partitions {
            let Some(index) = self.config.topics.iter().position(|t| t == topic) else {
                continue;
            };
            if task_of(index, *p, self.tasks) != self.task {
                continue;
            }
            self.emit_partition(ta, meta.committed, topic, *p, emit)?;
        }
        Ok(())
    }
}
