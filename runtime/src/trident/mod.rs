//! Trident-style exactly-once processing over micro-batches.
//!
//! A [`TridentTopology`] declares streams of batches from [`BatchSpout`]s and the
//! operations on them (`each`, `filter`, `map`, `flat_map`, `group_by`, `aggregate`,
//! `partition_aggregate`, `persistent_aggregate`, `partition_persist`, `state_query`,
//! `merge`); [`TridentTopology::build`] compiles it into an ordinary spout/bolt
//! topology that runs locally and on the cluster like any other.
//!
//! Underneath: the master batch coordinator ([`coordinator`]: txids, attempts, batches
//! in flight, commits strictly in txid order, replay), per-batch tracking in every bolt
//! (counts exchanged on `$coord`, so a batch's tuple tree is a few tuples per task
//! pair), replayable spouts ([`FileBatchSpout`], transactional or opaque, over
//! [`source`]) and map states with Storm's three update rules over in-memory or redb
//! backends ([`state`]).
//!
//! The coordination metadata (the master's commit log, each spout's batch offsets)
//! lives in a [`meta::MetaStore`]: nimbus in a cluster, files in local mode. A redb
//! state lives on the host of the tasks that write it.

mod bolt;
mod commit_log;
mod compile;
pub mod coordinator;
mod graph;
mod master;
pub mod meta;
mod nodes;
mod ops;
mod plan;
pub mod source;
mod spout;
pub mod state;
mod state_spec;
mod stream;
pub mod tx;

pub use compile::BATCH_EMIT_INTERVAL_MILLIS;
pub use coordinator::TransactionAttempt;
pub use graph::Partitioning;
pub use master::take_batch_latencies;
pub use ops::{
    Aggregator, CombinerAggregator, Count, Filter, Function, MapGet, OpContext, OpError,
    QueryFunction, ReducerAggregator, StateRead, StateUpdater, Sum, TridentCollector, TridentTuple,
};
pub use source::SourceMode;
pub use spout::{
    BatchSpout, CoordinatorContext, EmitterContext, FileBatchSpout, FixedBatchSpout,
    SpoutCoordinator, SpoutEmitter,
};
pub use state::StateKind;
pub use state_spec::{CommitFaults, StateSpec, drop_memory_store, memory_store};
pub use stream::{GroupedStream, Stream, TridentState, TridentTopology};
