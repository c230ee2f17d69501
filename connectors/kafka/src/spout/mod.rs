//! [`KafkaSpout`]: reads topics with storm-kafka-client's at-least-once semantics.
//!
//! - Partitions are assigned by the spout itself (no group rebalances): all partitions
//!   of the topics, sorted, round robin over the spout's tasks by task index.
//! - Each emitted record is tracked by its (partition, offset); the partition is
//!   committed (`offset.commit.period.ms`, and on deactivate and close) up to its
//!   lowest un-acked offset ([`crate::offsets::OffsetManager`]).
//! - A failed tuple is replayed after an exponential backoff by seeking its partition
//!   back ([`squall_runtime::retry`]); after `retry.max.retries` retries the record goes
//!   to the dead-letter stream (its fields plus `error`) and, once that tuple is acked,
//!   the spout commits past it.
//! - A partition with `max.uncommitted.offsets` emitted-but-uncommitted offsets is
//!   paused (no new records read from it) unless a retry within the limit is due, so
//!   nothing buffers without bound; librdkafka's own prefetch queue is capped too.

mod assign;
mod batch;
mod client;
mod commit;
pub mod consumer;
mod lag;
mod state;
mod unreliable;
mod watch;

pub use assign::{CommitMetadata, StartAt, partitions_for_task, start_position};
pub use batch::{BATCH, BatchQueue, RdMessage};
pub use client::RdConsumer;
pub use consumer::{Polled, SpoutConsumer};

use std::collections::BTreeMap;

use async_trait::async_trait;
use squall_runtime::{
    ComponentArgs, ComponentError, FactoryError, MessageId, OutputDeclarer, Spout, SpoutCollector,
    TopologyContext,
};

use crate::config::{KafkaSpoutConfig, TranslatorKind};
use crate::translate::{
    DEFAULT_FIELDS, DefaultRecordTranslator, RecordTranslator, ValueRecordTranslator,
};
use state::Running;

/// The field the dead-letter stream adds after the record's fields.
pub const ERROR_FIELD: &str = "error";

/// A spout reading Kafka topics (see the [module docs](self)), through librdkafka
/// ([`RdConsumer`]) unless another [`SpoutConsumer`] is given.
pub struct KafkaSpout<C: SpoutConsumer = RdConsumer> {
    config: KafkaSpoutConfig,
    connector: C::Connector,
    translator: Box<dyn RecordTranslator>,
    stop_at: Option<BTreeMap<(String, i32), i64>>,
    running: Option<Running<C>>,
}

impl<C: SpoutConsumer> std::fmt::Debug for KafkaSpout<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSpout")
            .field("topics", &self.config.topics)
            .field("group_id", &self.config.group_id)
            .finish_non_exhaustive()
    }
}

impl KafkaSpout {
    /// A spout with this configuration and the default record translator.
    pub fn new(config: KafkaSpoutConfig) -> KafkaSpout {
        KafkaSpout::with_consumer(config, ())
    }

    /// The factory for YAML: `constructorArgs: [{bootstrap.servers: …, topics: […],
    /// group.id: …, …}]` (see [`KafkaSpoutConfig::from_yaml`]).
    pub fn from_args(args: &ComponentArgs<'_>) -> Result<KafkaSpout, FactoryError> {
        let map = args.args().first().ok_or_else(|| {
            FactoryError(
                "KafkaSpout needs constructorArgs[0]: a map with bootstrap.servers, topics and group.id"
                    .into(),
            )
        })?;
        let config = KafkaSpoutConfig::from_yaml(map)
            .map_err(|e| FactoryError(format!("constructorArgs[0]: {e}")))?;
        Ok(KafkaSpout::new(config))
    }
}

impl<C: SpoutConsumer> KafkaSpout<C> {
    /// A spout reading through consumers of type `C` made from `connector` (tests use
    /// `testing::MemoryConsumer`).
    pub fn with_consumer(config: KafkaSpoutConfig, connector: C::Connector) -> KafkaSpout<C> {
        let translator: Box<dyn RecordTranslator> = match config.translator {
            TranslatorKind::Default => Box::new(DefaultRecordTranslator {
                key: config.key_deserializer,
                value: config.value_deserializer,
            }),
            TranslatorKind::Value => Box::new(ValueRecordTranslator {
                value: config.value_deserializer,
            }),
        };
        KafkaSpout {
            config,
            connector,
            translator,
            stop_at: None,
            running: None,
        }
    }

    /// Use another record translator.
    pub fn with_translator(mut self, translator: impl RecordTranslator) -> KafkaSpout<C> {
        self.translator = Box::new(translator);
        self
    }

    /// A bounded read (tests, batch jobs): records at or past `end` of a partition are
    /// not emitted, and the spout is exhausted once every partition of its own listed
    /// here is acked up to its end (a local run then completes, and `close` commits).
    pub fn stop_at(mut self, ends: BTreeMap<(String, i32), i64>) -> KafkaSpout<C> {
        self.stop_at = Some(ends);
        self
    }
}

#[async_trait]
impl<C: SpoutConsumer> Spout for KafkaSpout<C> {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        for (stream, fields) in self.translator.streams() {
            let f: Vec<&str> = fields.iter().map(String::as_str).collect();
            out.declare_stream(&stream, &f);
        }
        let mut dlq: Vec<&str> = DEFAULT_FIELDS.to_vec();
        dlq.push(ERROR_FIELD);
        out.declare_stream(&self.config.dead_letter_stream, &dlq);
    }

    async fn open(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        let running = Running::open(&self.connector, &self.config, ctx, self.stop_at.clone())
            .map_err(|e| ComponentError::msg(e.to_string()))?;
        self.running = Some(running);
        Ok(())
    }

    async fn activate(&mut self) {
        if let Some(r) = self.running.as_mut() {
            r.refresh_assignment(&self.config);
        }
    }

    async fn deactivate(&mut self) {
        if let Some(r) = self.running.as_mut() {
            r.commit_and_wait(&self.config);
        }
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        let Some(r) = self.running.as_mut() else {
            return Err(ComponentError::msg("KafkaSpout used before open"));
        };
        r.next_tuple(&self.config, self.translator.as_ref(), out)
    }

    fn is_exhausted(&self) -> bool {
        self.running.as_ref().is_some_and(Running::is_exhausted)
    }

    fn ack(&mut self, id: MessageId) {
        if let Some(r) = self.running.as_mut() {
            r.ack(id);
        }
    }

    fn fail(&mut self, id: MessageId) {
        if let Some(r) = self.running.as_mut() {
            r.fail(id);
        }
    }

    async fn close(&mut self) {
        if let Some(mut r) = self.running.take() {
            r.commit_and_wait(&self.config);
        }
    }
}
