//! What can be wrong with a window: its configuration, or the topology it runs in.

use thiserror::Error;

/// A windowed bolt's configuration or its topology does not allow the window. The
/// message names every key involved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WindowError {
    /// Neither window length key is set.
    #[error(
        "the window length is not set: set topology.bolts.window.length.count or \
         topology.bolts.window.length.duration.ms (Flux: withWindow / withTumblingWindow)"
    )]
    NoLength,
    /// Two keys that exclude each other are both set.
    #[error("{first} and {second} are both set: a window has one {what}")]
    Conflict {
        /// One key.
        first: &'static str,
        /// The other key.
        second: &'static str,
        /// `length` or `sliding interval`.
        what: &'static str,
    },
    /// A key has a value of the wrong type or range.
    #[error("{key}: expected {expected}, got {got}")]
    BadValue {
        /// The key.
        key: &'static str,
        /// What it takes.
        expected: &'static str,
        /// What it holds.
        got: String,
    },
    /// A key that needs event time is set without a timestamp field.
    #[error(
        "{key} is set but topology.bolts.tuple.timestamp.field.name is not: {what} only \
         with event time (withTimestampField)"
    )]
    NeedsEventTime {
        /// The key.
        key: &'static str,
        /// What the key is for.
        what: &'static str,
    },
    /// A duration window spans more than the message timeout: its tuples would time out
    /// (and replay) before they are acked at expiry.
    #[error(
        "window duration (length + sliding interval) {span_ms} ms is more than \
         topology.message.timeout.secs {timeout_secs} s: the window's tuples would time \
         out before they expire; raise topology.message.timeout.secs or shorten \
         {length_key} / {slide_key}"
    )]
    SpanOverTimeout {
        /// Length + sliding interval, in milliseconds.
        span_ms: u64,
        /// The message timeout.
        timeout_secs: u64,
        /// The length key in use.
        length_key: &'static str,
        /// The sliding interval key in use.
        slide_key: &'static str,
    },
    /// A count window holds more tuples than the spouts may have pending: the spouts
    /// stop before the window can fill and fire.
    #[error(
        "window count (length + sliding interval) {count} is more than \
         topology.max.spout.pending {max_pending}: the spouts would stop emitting before \
         the window fires; raise topology.max.spout.pending or lower {length_key} / \
         {slide_key}"
    )]
    CountOverPending {
        /// Length + sliding interval, in tuples.
        count: u64,
        /// `topology.max.spout.pending`.
        max_pending: u64,
        /// The length key in use.
        length_key: &'static str,
        /// The sliding interval key in use.
        slide_key: &'static str,
    },
    /// The late tuple stream is one the bolt declares itself.
    #[error(
        "topology.bolts.late.tuple.stream '{0}' is a stream the bolt declares itself: \
         name another stream"
    )]
    LateStreamTaken(String),
    /// A key that only a persistent window uses is set on a window that is not.
    #[error(
        "{key} is set but topology.bolts.window.persistent is not true: it is for \
         persistent windows (Flux: withPersistence)"
    )]
    NeedsPersistence {
        /// The key.
        key: &'static str,
    },
    /// A persistent window in a topology without acking.
    #[error(
        "topology.bolts.window.persistent is true but topology.acker.executors is 0: a \
         persistent window is saved by checkpoints, which complete through acks; set \
         topology.acker.executors to null (one per worker) or a positive number"
    )]
    PersistentNeedsAcking,
    /// A persistent window without a state provider.
    #[error(
        "topology.bolts.window.persistent is true but topology.state.provider is not set: \
         the window is kept in the task's state; set topology.state.provider to redb or \
         redis (or memory, which keeps nothing across a restart)"
    )]
    PersistentNeedsProvider,
    /// Checkpoints further apart than the message timeout (Storm's check): a persistent
    /// window acks its tuples at the commit, so they would time out first.
    #[error(
        "topology.state.checkpoint.interval.ms {interval_ms} is more than \
         topology.message.timeout.secs {timeout_secs} s: a persistent window acks its \
         tuples when a checkpoint commits, so they would time out and replay first"
    )]
    CheckpointOverTimeout {
        /// The checkpoint interval.
        interval_ms: u64,
        /// The message timeout.
        timeout_secs: u64,
    },
}
