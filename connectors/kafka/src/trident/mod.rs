//! [`KafkaTridentSpoutOpaque`]: an opaque-transactional Trident spout over Kafka topics
//! (storm-kafka-client's `KafkaTridentSpoutOpaque`).
//!
//! - The coordinator half (in the master batch coordinator) lists the topics'
//!   partitions every `partition.refresh.period.ms`; every batch carries the list, so
//!   partitions added mid-run are read from the next batch on.
//! - Each partition belongs to one emitter task for good ([`ranges::task_of`]: the
//!   topic's position plus the partition number, modulo the tasks), so one partition's
//!   offsets are only ever recorded by one task.
//! - Per partition per batch, the batch starts where the previous batch of that
//!   partition ended and reads at most `max.batch.size` records; the range
//!   `{first_offset, last_offset}` is recorded with the deployment's `topology_id` in
//!   Trident's metadata store (nimbus on a cluster; [`KafkaTridentSpoutOpaque::meta_dir`]
//!   or memory in local mode) under `spouts/<stream>/partitions/<topic>/<partition>`
//!   *before* its tuples are emitted. A replayed txid re-reads its recorded offsets (the
//!   content differs only if records vanished meanwhile, which opaque state tolerates).
//! - `first.poll.offset.strategy` as Storm's: `EARLIEST`/`LATEST` for a new deployment
//!   (another topology id in the record), resume from the record after a worker
//!   restart; `UNCOMMITTED_*` resume from any record.
//!
//! Nothing is committed to Kafka: the offsets live with Trident's commit log.

mod client;
pub mod config;
mod coordinator;
mod emitter;
pub mod ranges;
mod wordcount;

pub use config::{KafkaTridentSpoutConfig, TridentTranslator};
pub use coordinator::BatchMeta;
pub use wordcount::kafka_trident_wordcount;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use squall_runtime::trident::meta::{
    FileMetaStore, MemoryMetaStore, MetaError, MetaKey, MetaSlot, MetaStore,
};
use squall_runtime::trident::{
    BatchSpout, CoordinatorContext, EmitterContext, OpContext, OpError, SpoutCoordinator,
    SpoutEmitter,
};

use crate::translate::{
    DEFAULT_FIELDS, DefaultRecordTranslator, RecordTranslator, ValueRecordTranslator,
};
use ranges::PartitionRecord;

/// The registered name of the word count topology builder over this spout.
pub const WORDCOUNT_BUILDER: &str = "KafkaTridentWordCount";

/// The opaque Trident Kafka spout (see the [module docs](self)).
///
/// # Examples
///
/// ```no_run
/// use squall_kafka::{FirstPollOffsetStrategy, KafkaTridentSpoutConfig, KafkaTridentSpoutOpaque};
/// use squall_runtime::trident::{Count, StateKind, StateSpec, TridentTopology};
///
/// let mut config = KafkaTridentSpoutConfig::new("127.0.0.1:9092", &["lines"]);
/// config.first_poll = FirstPollOffsetStrategy::Earliest;
/// let spout = KafkaTridentSpoutOpaque::new(config)
///     .expect("valid config")
///     .meta_dir("/var/lib/app/kafka-meta"); // local mode only; a cluster keeps it at nimbus
/// let topology = TridentTopology::new().commit_log("/var/lib/app/coordinator");
/// topology
///     .new_stream("lines", spout)
///     .parallelism_hint(2)
///     .group_by(&["partition"])
///     .persistent_aggregate(StateSpec::memory("counts", StateKind::Opaque), &[], Count, &["count"]);
/// ```
#[derive(Clone)]
pub struct KafkaTridentSpoutOpaque {
    config: Arc<KafkaTridentSpoutConfig>,
    local: Arc<dyn MetaStore>,
    stop_at: Option<Arc<BTreeMap<(String, i32), i64>>>,
    translator: Option<TranslatorFactory>,
}

/// Makes each emitter task's translator, with the fields its tuples have.
#[derive(Clone)]
struct TranslatorFactory {
    fields: Vec<String>,
    make: Arc<dyn Fn() -> Box<dyn RecordTranslator> + Send + Sync>,
}

impl std::fmt::Debug for KafkaTridentSpoutOpaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTridentSpoutOpaque")
            .field("topics", &self.config.topics)
            .finish_non_exhaustive()
    }
}

/// The metadata key of a partition's record.
pub fn partition_key(spout: &str, topic: &str, partition: i32) -> Result<MetaKey, MetaError> {
    MetaKey::spout(spout, &format!("partitions/{topic}/{partition}"))
}

/// A partition's stored record, if any.
pub fn partition_record(
    store: &Arc<dyn MetaStore>,
    spout: &str,
    topic: &str,
    partition: i32,
) -> Result<Option<PartitionRecord>, MetaError> {
    MetaSlot::new(store.clone(), partition_key(spout, topic, partition)?).get_json()
}

impl KafkaTridentSpoutOpaque {
    /// A spout with `config` (checked). In local mode its records stay in memory (see
    /// [`meta_dir`](Self::meta_dir)); on a cluster they live at nimbus.
    pub fn new(config: KafkaTridentSpoutConfig) -> Result<KafkaTridentSpoutOpaque, OpError> {
        config.validate().map_err(|e| OpError(e.to_string()))?;
        Ok(KafkaTridentSpoutOpaque {
            config: Arc::new(config),
            local: Arc::new(MemoryMetaStore::new()),
            stop_at: None,
            translator: None,
        })
    }

    /// Keep the partition records in files below `dir` in local mode (so a local run
    /// resumes where the previous one ended, with a commit log that survives too).
    pub fn meta_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.local = Arc::new(FileMetaStore::new(dir.into()));
        self
    }

    /// Keep local-mode records in `store` (tests share one between runs).
    pub fn meta_store(mut self, store: Arc<dyn MetaStore>) -> Self {
        self.local = store;
        self
    }

    /// A bounded read (not in Storm): the spout is exhausted once every listed
    /// partition's committed batches reach its offset here, so a local run ends.
    pub fn stop_at(mut self, ends: BTreeMap<(String, i32), i64>) -> Self {
        self.stop_at = Some(Arc::new(ends));
        self
    }

    /// Turn records into tuples with `translator` (each emitter task gets a clone)
    /// instead of the configured built-in one. Trident spouts have one stream: the
    /// fields are those of the translator's first stream, and the stream a record is
    /// translated to is ignored; `None` skips the record.
    pub fn with_translator<T>(mut self, translator: T) -> Self
    where
        T: RecordTranslator + Clone + Sync,
    {
        let fields = translator
            .streams()
            .into_iter()
            .next()
            .map(|(_, f)| f)
            .unwrap_or_default();
        self.translator = Some(TranslatorFactory {
            fields,
            make: Arc::new(move || Box::new(translator.clone())),
        });
        self
    }

    /// The configuration.
    pub fn config(&self) -> &KafkaTridentSpoutConfig {
        &self.config
    }

    fn translator(&self) -> Box<dyn RecordTranslator> {
        if let Some(t) = &self.translator {
            return (t.make)();
        }
        match self.config.translator {
            TridentTranslator::Default => Box::new(DefaultRecordTranslator::default()),
            TridentTranslator::Value => Box::new(ValueRecordTranslator::default()),
        }
    }
}

impl BatchSpout for KafkaTridentSpoutOpaque {
    fn fields(&self) -> Vec<String> {
        if let Some(t) = &self.translator {
            return t.fields.clone();
        }
        match self.config.translator {
            TridentTranslator::Default => DEFAULT_FIELDS.iter().map(|f| f.to_string()).collect(),
            TridentTranslator::Value => vec!["value".to_string()],
        }
    }

    fn coordinator(
        &self,
        ctx: &CoordinatorContext<'_>,
    ) -> Result<Box<dyn SpoutCoordinator>, OpError> {
        let store = ctx.meta_store().unwrap_or(&self.local).clone();
        Ok(Box::new(coordinator::Coordinator::start(
            &self.config,
            ctx.spout_name(),
            ctx.topology_id(),
            store,
            self.stop_at.clone(),
        )?))
    }

    fn emitter(&self, _ctx: &OpContext<'_>) -> Result<Box<dyn SpoutEmitter>, OpError> {
        Err(OpError(
            "the Kafka Trident spout's emitter needs its spout context (BatchSpout::emitter_in)"
                .into(),
        ))
    }

    fn emitter_in(&self, ctx: &EmitterContext<'_>) -> Result<Box<dyn SpoutEmitter>, OpError> {
        let store = ctx.meta_store().unwrap_or(&self.local).clone();
        Ok(Box::new(emitter::Emitter::new(
            self.config.clone(),
            self.translator(),
            emitter::Placement {
                task: ctx.op().task_index,
                tasks: ctx.op().num_tasks,
                spout: ctx.spout_name().to_string(),
                topology_id: ctx.topology_id().to_string(),
                store,
            },
        )?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fields_follow_the_translator() {
        let mut config = KafkaTridentSpoutConfig::new("h:1", &["t"]);
        let spout = KafkaTridentSpoutOpaque::new(config.clone()).unwrap();
        assert_eq!(spout.fields(), DEFAULT_FIELDS);
        config.translator = TridentTranslator::Value;
        let spout = KafkaTridentSpoutOpaque::new(config).unwrap();
        assert_eq!(spout.fields(), ["value"]);
        let spout = spout.with_translator(DefaultRecordTranslator::default());
        assert_eq!(spout.fields(), DEFAULT_FIELDS);
        assert!(
            KafkaTridentSpoutOpaque::new(KafkaTridentSpoutConfig::new("h:1", &[])).is_err(),
            "the config is checked"
        );
    }

    #[test]
    fn partition_keys_live_under_the_spouts_stream() {
        assert_eq!(
            partition_key("lines", "my.topic", 3).unwrap().as_str(),
            "spouts/lines/partitions/my.topic/3"
        );
    }
}
