//! Output collectors: how spouts and bolts emit, ack, fail and report errors.
//!
//! Each task owns one collector. An emit validates the stream, asks every subscription's
//! grouper for its target task(s) and appends a tuple per target to the outbox; nothing
//! is allocated per tuple beyond cloning values for the second and later targets.

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use crate::api::error::EmitError;
use crate::api::ids::{MessageId, TaskId};
use crate::api::tuple::{Anchors, StreamSchema, Tuple, Values};
use crate::engine::acking::{AckMsg, PendingMsg, PendingSlab};
use crate::engine::grouping::{Grouper, Route};
use crate::engine::metrics::inputs::InputTracker;
use crate::engine::metrics::sampler::Sampler;
use crate::engine::metrics::samples::{Latency, SampleBuffer};
use crate::engine::metrics::ticks::Ticks;
use crate::engine::stats::{Counters, StreamCounts, TaskStats};
use crate::engine::transfer::Outbox;

/// One declared output stream with its subscriptions.
#[derive(Debug)]
pub(crate) struct OutStream {
    pub(crate) schema: &'static StreamSchema,
    pub(crate) direct: bool,
    /// Groupers of the non-direct subscriptions.
    pub(crate) groupers: Vec<Grouper>,
    /// Tasks of subscribers with direct grouping.
    pub(crate) direct_targets: Vec<TaskId>,
    /// This stream's counts.
    pub(crate) counts: StreamCounts,
}

/// The emitting machinery shared by spout and bolt collectors.
#[derive(Debug)]
pub(crate) struct Emitter {
    task: TaskId,
    streams: Vec<OutStream>,
    default_stream: Option<usize>,
    pub(crate) outbox: Outbox,
    pub(crate) counters: Counters,
    pub(crate) stats: Arc<TaskStats>,
    /// Emitted values per stream index, when capturing for tests.
    pub(crate) capture: Option<Vec<(usize, Values)>>,
    /// Sampled latencies not yet recorded in `stats`.
    samples: SampleBuffer,
    debug: bool,
    targets: SmallVec<[TaskId; 8]>,
    /// Root and edge ids (acking).
    rng: SmallRng,
}

/// How the copies of one emit join tuple trees.
#[derive(Debug)]
enum Anchoring<'a> {
    /// Not tracked.
    None,
    /// A spout emit starting tree `root`; the copies' edge ids are XORed into `xor`.
    Root { root: u64, xor: u64 },
    /// A bolt emit anchored to these inputs.
    Inputs(&'a [&'a Tuple]),
}

/// The error of an emit whose kind (direct or not) does not match the stream's.
#[cold]
fn wrong_stream_kind(stream: &OutStream) -> EmitError {
    EmitError::WrongStreamKind {
        component: stream.schema.component.clone(),
        stream: stream.schema.stream.clone(),
        declared: if stream.direct {
            "direct"
        } else {
            "not direct"
        },
        hint: if stream.direct { "emit_direct" } else { "emit" },
    }
}

/// The error of an emit of `got` values on a stream declaring another number of fields.
#[cold]
fn wrong_arity(stream: &OutStream, got: usize) -> EmitError {
    EmitError::Arity {
        component: stream.schema.component.clone(),
        stream: stream.schema.stream.clone(),
        expected: stream.schema.fields.len(),
        got,
    }
}

/// The tree ids of one new tuple copy: a fresh edge id per (copy, anchor), XORed into
/// each anchor's ack value and into the copy's entry for each of the anchor's roots.
/// Anchoring to inputs that belong to no tree (acking off) is decided inline. Always
/// inlined: called out of line it returns the anchors through memory, written narrowly
/// and read back at once with wide loads that stall on those stores (36% of `emit_with`'s
/// samples in the word count, BENCHMARKS.md session 13).
#[inline(always)]
fn new_anchors(rng: &mut SmallRng, anchoring: &mut Anchoring<'_>) -> Anchors {
    match anchoring {
        Anchoring::None => Anchors::None,
        Anchoring::Root { root, xor } => {
            let edge = rng.next_u64();
            *xor ^= edge;
            Anchors::One((*root, edge))
        }
        Anchoring::Inputs(inputs) => {
            // One input in one tree (a basic bolt's emit with acking on): its root, a
            // new edge.
            if let [input] = inputs
                && let Anchors::One((root, _)) = input.anchors
            {
                let edge = rng.next_u64();
                input.ack_val.set(input.ack_val.get() ^ edge);
                return Anchors::One((root, edge));
            }
            if inputs.iter().all(|t| t.anchors.is_empty()) {
                Anchors::None
            } else if inputs.len() > MANY_ANCHORS {
                many_anchors(rng, inputs)
            } else {
                few_anchors(rng, inputs)
            }
        }
    }
}

/// One new edge per input in a tuple tree, XORed into the input's ack value and given to
/// `merge` once per root of that input (the anchoring both merges below share).
#[inline(always)]
fn for_each_edge(rng: &mut SmallRng, inputs: &[&Tuple], mut merge: impl FnMut(u64, u64)) {
    for input in inputs {
        let pairs = input.anchors.pairs();
        if pairs.is_empty() {
            continue;
        }
        let edge = rng.next_u64();
        input.ack_val.set(input.ack_val.get() ^ edge);
        for &(root, _) in pairs {
            merge(root, edge);
        }
    }
}

/// [`new_anchors`] of a copy anchored to a few inputs, some of them in trees: the roots
/// merged by a linear search.
fn few_anchors(rng: &mut SmallRng, inputs: &[&Tuple]) -> Anchors {
    let mut ids: SmallVec<[(u64, u64); 2]> = SmallVec::new();
    for_each_edge(rng, inputs, |root, edge| {
        match ids.iter_mut().find(|(r, _)| *r == root) {
            Some(p) => p.1 ^= edge,
            None => ids.push((root, edge)),
        }
    });
    match ids.len() {
        0 => Anchors::None,
        1 => Anchors::One(ids[0]),
        _ => Anchors::Many(ids.as_slice().into()),
    }
}

/// Past this many anchors, [`new_anchors`] merges the roots in a hash map instead of a
/// linear search per root (a windowed bolt anchors each emit to its whole window).
const MANY_ANCHORS: usize = 16;

/// [`new_anchors`] for many inputs, some of them in trees: one edge per input, the
/// edges XORed per root in a hash map, in O(n) (the linear merge is O(n²): ~500k
/// comparisons for 1000 inputs).
#[inline(never)]
fn many_anchors(rng: &mut SmallRng, inputs: &[&Tuple]) -> Anchors {
    let mut roots: FxHashMap<u64, u64> =
        FxHashMap::with_capacity_and_hasher(inputs.len(), Default::default());
    for_each_edge(rng, inputs, |root, edge| {
        *roots.entry(root).or_insert(0) ^= edge
    });
    match roots.len() {
        0 => Anchors::None,
        1 => roots.into_iter().next().map_or(Anchors::None, Anchors::One),
        _ => Anchors::Many(roots.into_iter().collect()),
    }
}

impl Emitter {
    pub(crate) fn new(
        task: TaskId,
        streams: Vec<OutStream>,
        outbox: Outbox,
        stats: Arc<TaskStats>,
        capture: bool,
        debug: bool,
    ) -> Emitter {
        let default_stream = streams
            .iter()
            .position(|s| s.schema.stream == crate::DEFAULT_STREAM);
        Emitter {
            task,
            streams,
            default_stream,
            outbox,
            counters: Counters::default(),
            stats,
            capture: capture.then(Vec::new),
            samples: SampleBuffer::default(),
            debug,
            targets: SmallVec::new(),
            rng: SmallRng::from_os_rng(),
        }
    }

    fn unknown(&self, stream: &str) -> EmitError {
        EmitError::UnknownStream {
            component: self.stats.component.clone(),
            stream: stream.to_string(),
        }
    }

    #[inline]
    fn stream_index(&self, stream: &str) -> Result<usize, EmitError> {
        if stream == crate::DEFAULT_STREAM {
            return self.default_stream.ok_or_else(|| self.unknown(stream));
        }
        self.streams
            .iter()
            .position(|s| s.schema.stream == stream)
            .ok_or_else(|| self.unknown(stream))
    }

    #[inline]
    fn default_index(&self) -> Result<usize, EmitError> {
        self.default_stream
            .ok_or_else(|| self.unknown(crate::DEFAULT_STREAM))
    }

    /// Emit on stream `s` (by index), to the grouping's choice or to `direct`; returns
    /// the number of task copies sent.
    #[inline]
    fn emit(
        &mut self,
        s: usize,
        values: Values,
        direct: Option<TaskId>,
        anchoring: &mut Anchoring<'_>,
    ) -> Result<usize, EmitError> {
        self.emit_with::<false>(s, values, direct, anchoring)
    }

    /// [`Emitter::emit`]; with `TRACK`, [`Emitter::targets`] then lists the tasks the
    /// copies went to (multi-lang `need_task_ids`). `TRACK = false` compiles to the plain
    /// emit path.
    #[inline]
    fn emit_with<const TRACK: bool>(
        &mut self,
        s: usize,
        values: Values,
        direct: Option<TaskId>,
        anchoring: &mut Anchoring<'_>,
    ) -> Result<usize, EmitError> {
        if TRACK {
            self.targets.clear();
        }
        let stream = &mut self.streams[s];
        if stream.direct != direct.is_some() {
            return Err(wrong_stream_kind(stream));
        }
        if values.len() != stream.schema.fields.len() {
            return Err(wrong_arity(stream, values.len()));
        }
        stream.counts.emitted += 1;
        if self.debug {
            tracing::debug!(component = %stream.schema.component, task = %self.task,
                stream = %stream.schema.stream, values = %values.to_json(), "emit");
        }
        if let Some(cap) = &mut self.capture {
            cap.push((s, values.clone()));
        }
        let schema = stream.schema;
        // Fast paths: no subscription (a sink's output nobody reads), or one choosing
        // one task (shuffle, fields, global...).
        if direct.is_none() && stream.groupers.len() <= 1 {
            let Some(grouper) = stream.groupers.first_mut() else {
                return Ok(0);
            };
            match grouper.route(&values) {
                Route::One(t) => {
                    if TRACK {
                        self.targets.push(t);
                    }
                    stream.counts.transferred += 1;
                    let anchors = new_anchors(&mut self.rng, anchoring);
                    self.outbox
                        .push(t, Tuple::with_anchors(values, schema, self.task, anchors));
                    return Ok(1);
                }
                Route::Nowhere => return Ok(0),
                // `All` is stateless: the general path below routes it again.
                Route::Many(_) => {}
            }
        }
        self.targets.clear();
        match direct {
            Some(task) => {
                // As in Storm: a task that does not subscribe directly receives nothing.
                if stream.direct_targets.contains(&task) {
                    self.targets.push(task);
                }
            }
            None => {
                for g in &mut stream.groupers {
                    match g.route(&values) {
                        Route::Nowhere => {}
                        Route::One(t) => self.targets.push(t),
                        Route::Many(ts) => self.targets.extend_from_slice(ts),
                    }
                }
            }
        }
        let n = self.targets.len();
        if n == 0 {
            return Ok(0);
        }
        stream.counts.transferred += n as u64;
        for i in 0..n - 1 {
            let t = self.targets[i];
            let anchors = new_anchors(&mut self.rng, anchoring);
            let tuple = Tuple::with_anchors(values.clone(), schema, self.task, anchors);
            self.outbox.push(t, tuple);
        }
        let t = self.targets[n - 1];
        let anchors = new_anchors(&mut self.rng, anchoring);
        self.outbox
            .push(t, Tuple::with_anchors(values, schema, self.task, anchors));
        Ok(n)
    }

    /// The tasks the last tracking emit (`emit_with::<true>`) sent copies to.
    #[inline]
    pub(crate) fn targets(&self) -> &[TaskId] {
        &self.targets
    }

    /// Publish the counters, per-stream counts and blocked time to the task's shared
    /// statistics.
    #[inline]
    pub(crate) fn publish(&mut self) {
        self.samples.flush(&self.stats);
        // The totals are the streams' sums: the hot path counts once, per stream.
        let (emitted, transferred) = self.emitted_transferred();
        self.counters.emitted = emitted;
        self.counters.transferred = transferred;
        self.stats.publish(&self.counters);
        self.stats
            .publish_outputs(self.streams.iter().map(|s| &s.counts));
        self.stats.publish_send_blocked(self.outbox.send_blocked_ns);
    }

    /// Tuples emitted and copies transferred so far, over every output stream.
    #[inline]
    pub(crate) fn emitted_transferred(&self) -> (u64, u64) {
        self.streams.iter().fold((0, 0), |(e, t), s| {
            (e + s.counts.emitted, t + s.counts.transferred)
        })
    }

    /// Buffer a sampled latency (recorded with the next publish).
    #[inline]
    pub(crate) fn sample(&mut self, latency: Latency, index: usize, micros: u64) {
        self.samples.push(&self.stats, latency, index, micros);
    }

    /// Count a tree rooted on output stream `stream` as acked or failed.
    #[inline]
    pub(crate) fn count_root(&mut self, stream: u16, acked: bool) {
        if let Some(s) = self.streams.get_mut(usize::from(stream)) {
            if acked {
                s.counts.acked += 1;
            } else {
                s.counts.failed += 1;
            }
        }
    }

    /// Hand over captured emits. Partial batches are not sent: a completed topology has
    /// sent everything already, and a stopped one drops what is in flight (as Storm's
    /// kill does); sending could block on an executor that is shutting down too. The
    /// caller publishes the final counts.
    pub(crate) fn finish(&mut self) {
        if let Some(cap) = self.capture.take() {
            let mut out = self
                .stats
                .captured
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            out.extend(
                cap.into_iter()
                    .map(|(s, v)| (self.streams[s].schema.stream.clone(), v)),
            );
        }
    }

    fn report_error(&mut self, error: &dyn std::fmt::Display) {
        self.counters.errors += 1;
        tracing::error!(component = %self.stats.component, task = %self.task, "{error}");
        self.stats.set_last_error(error.to_string());
    }
}

/// The collector a spout emits through.
#[derive(Debug)]
pub struct SpoutCollector {
    pub(crate) em: Emitter,
    /// Message ids (and the index of the stream they were emitted on) to ack right
    /// after `next_tuple` returns (acking off, or no target).
    pub(crate) immediate_acks: Vec<(MessageId, u16)>,
    /// Messages whose trees are in flight (acking on).
    pub(crate) pending: PendingSlab,
    /// Which tracked emits get their complete latency measured.
    sampler: Sampler,
    /// The clock of the sampled complete latencies.
    pub(crate) ticks: Ticks,
    /// Failed message ids not emitted again yet (to count replays).
    pub(crate) awaiting_replay: FxHashSet<MessageId>,
}

impl SpoutCollector {
    pub(crate) fn new(em: Emitter, sample_rate: f64) -> SpoutCollector {
        let seed = em.task.0;
        SpoutCollector {
            em,
            immediate_acks: Vec::new(),
            pending: PendingSlab::default(),
            sampler: Sampler::new(sample_rate, 1, seed),
            ticks: Ticks::new(),
            awaiting_replay: FxHashSet::default(),
        }
    }

    #[inline]
    fn emit_on(
        &mut self,
        s: usize,
        values: Values,
        direct: Option<TaskId>,
        id: Option<MessageId>,
    ) -> Result<(), EmitError> {
        self.emit_on_with::<false>(s, values, direct, id)
    }

    #[inline]
    fn emit_on_with<const TRACK: bool>(
        &mut self,
        s: usize,
        values: Values,
        direct: Option<TaskId>,
        id: Option<MessageId>,
    ) -> Result<(), EmitError> {
        let Some(id) = id else {
            self.em
                .emit_with::<TRACK>(s, values, direct, &mut Anchoring::None)?;
            return Ok(());
        };
        if !self.awaiting_replay.is_empty() && self.awaiting_replay.remove(&id) {
            self.em.counters.replayed += 1;
        }
        // Stream indexes fit: a component declares far fewer streams.
        let stream = s as u16;
        if self.em.outbox.ackers() == 0 {
            self.em
                .emit_with::<TRACK>(s, values, direct, &mut Anchoring::None)?;
            self.immediate_acks.push((id, stream));
            return Ok(());
        }
        let root = self.em.rng.next_u64();
        let mut anchoring = Anchoring::Root { root, xor: 0 };
        let copies = self
            .em
            .emit_with::<TRACK>(s, values, direct, &mut anchoring)?;
        match anchoring {
            Anchoring::Root { xor, .. } if copies > 0 => {
                let emitted = self.sampler.sample().then(|| self.ticks.now());
                let slot = self.pending.insert(
                    root,
                    PendingMsg {
                        id,
                        emitted,
                        stream,
                    },
                );
                self.em.outbox.push_ack(AckMsg::Init {
                    root,
                    xor,
                    spout_task: self.em.task,
                    slot,
                });
            }
            // No task received it: the tree is complete already.
            _ => self.immediate_acks.push((id, stream)),
        }
        Ok(())
    }

    /// Emit on the default stream without a message id (not tracked).
    #[inline]
    pub fn emit(&mut self, values: impl Into<Values>) -> Result<(), EmitError> {
        let s = self.em.default_index()?;
        self.emit_on(s, values.into(), None, None)
    }

    /// Emit on the default stream with a message id: `ack(id)` or `fail(id)` follows.
    #[inline]
    pub fn emit_id(&mut self, values: impl Into<Values>, id: MessageId) -> Result<(), EmitError> {
        let s = self.em.default_index()?;
        self.emit_on(s, values.into(), None, Some(id))
    }

    /// Emit on a named stream, with an optional message id.
    pub fn emit_stream(
        &mut self,
        stream: &str,
        values: impl Into<Values>,
        id: Option<MessageId>,
    ) -> Result<(), EmitError> {
        let s = self.em.stream_index(stream)?;
        self.emit_on(s, values.into(), None, id)
    }

    /// Emit on a direct stream to one task, with an optional message id.
    pub fn emit_direct(
        &mut self,
        task: TaskId,
        stream: &str,
        values: impl Into<Values>,
        id: Option<MessageId>,
    ) -> Result<(), EmitError> {
        let s = self.em.stream_index(stream)?;
        self.emit_on(s, values.into(), Some(task), id)
    }

    /// Emit on a named stream (not direct) with an optional message id, and return the
    /// tasks the tuple went to (the multi-lang host's `need_task_ids`).
    pub(crate) fn emit_tracked(
        &mut self,
        stream: &str,
        values: Values,
        id: Option<MessageId>,
    ) -> Result<&[TaskId], EmitError> {
        let s = self.em.stream_index(stream)?;
        self.emit_on_with::<true>(s, values, None, id)?;
        Ok(self.em.targets())
    }

    /// Messages emitted and not yet acked or failed.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Publish the counts to the task's shared statistics.
    #[inline]
    pub(crate) fn publish(&mut self) {
        self.em.publish();
    }

    /// Report an error: counted in the component's statistics and logged.
    pub fn report_error(&mut self, error: &dyn std::fmt::Display) {
        self.em.report_error(error)
    }
}

/// The collector a bolt emits, acks and fails through.
#[derive(Debug)]
pub struct BoltCollector {
    pub(crate) em: Emitter,
    /// Per-input counts and latency sampling.
    pub(crate) inputs: InputTracker,
}

impl BoltCollector {
    pub(crate) fn new(em: Emitter, inputs: InputTracker) -> BoltCollector {
        BoltCollector { em, inputs }
    }

    /// Publish the counts to the task's shared statistics.
    #[inline]
    pub(crate) fn publish(&mut self) {
        // The task's executed/acked/failed are the inputs' sums: counted once, per input.
        let totals = self.inputs.totals();
        self.em.counters.executed = totals.executed;
        self.em.counters.acked = totals.acked;
        self.em.counters.failed = totals.failed;
        self.em.publish();
        self.em.stats.publish_inputs(self.inputs.counts());
    }

    /// The process latency of a sampled input, at its ack. Acked during its own
    /// `execute` (a basic bolt's inputs): measured when `execute` returns, with the
    /// same clock read as the execute latency.
    #[cold]
    fn sampled_ack(&mut self, input: &Tuple) {
        let Some(i) = self.inputs.index(input.schema()) else {
            return;
        };
        if input.sampled_at == self.inputs.executing {
            self.inputs.acked_during = Some(i);
            return;
        }
        let us = self.inputs.since(input.sampled_at, self.inputs.ticks.now());
        self.em.sample(Latency::Process, i, us);
    }

    /// Emit on the default stream, unanchored.
    #[inline]
    pub fn emit(&mut self, values: impl Into<Values>) -> Result<(), EmitError> {
        let s = self.em.default_index()?;
        self.em.emit(s, values.into(), None, &mut Anchoring::None)?;
        Ok(())
    }

    /// Emit on the default stream, anchored to `anchor` (joins its tuple trees).
    #[inline]
    pub fn emit_anchored(
        &mut self,
        anchor: &Tuple,
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        let s = self.em.default_index()?;
        self.em
            .emit(s, values.into(), None, &mut Anchoring::Inputs(&[anchor]))?;
        Ok(())
    }

    /// Emit on a named stream, anchored to every tuple in `anchors` (may be empty).
    pub fn emit_stream(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        let s = self.em.stream_index(stream)?;
        self.em
            .emit(s, values.into(), None, &mut Anchoring::Inputs(anchors))?;
        Ok(())
    }

    /// Emit on a direct stream to one task, anchored to `anchors`.
    pub fn emit_direct(
        &mut self,
        task: TaskId,
        stream: &str,
        anchors: &[&Tuple],
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        let s = self.em.stream_index(stream)?;
        self.em.emit(
            s,
            values.into(),
            Some(task),
            &mut Anchoring::Inputs(anchors),
        )?;
        Ok(())
    }

    /// Emit on a named stream (not direct) anchored to `anchors`, and return the tasks
    /// the tuple went to (the multi-lang host's `need_task_ids`).
    pub(crate) fn emit_tracked(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
    ) -> Result<&[TaskId], EmitError> {
        let s = self.em.stream_index(stream)?;
        self.em
            .emit_with::<true>(s, values, None, &mut Anchoring::Inputs(anchors))?;
        Ok(self.em.targets())
    }

    /// Count `delta` tuples as in flight (positive) or no longer (negative) although no
    /// batch carries them: a multi-lang bolt holds the inputs its subprocess has not
    /// acked or failed yet, so a local run does not end while they are being processed.
    /// Settled with the task's next in-flight update.
    pub(crate) fn hold_in_flight(&mut self, delta: i64) {
        self.em.outbox.add_uncounted(delta);
    }

    /// Send the partial output batches now, as the executor does when it runs out of
    /// input: for a bolt about to wait on something else than its input queue.
    pub(crate) fn flush(&mut self) {
        self.em.outbox.flush();
    }

    /// The input was processed: its part of every tuple tree is done. Ack each input
    /// once (a second ack would corrupt its trees).
    #[inline]
    pub fn ack(&mut self, input: &Tuple) {
        self.inputs.acked(input.schema());
        if input.sampled_at != 0 {
            self.sampled_ack(input);
        }
        let ack_val = input.ack_val.get();
        for &(root, edge) in input.anchors.pairs() {
            self.em.outbox.push_ack(AckMsg::Ack {
                root,
                xor: edge ^ ack_val,
            });
        }
    }

    /// The input failed: every tree it belongs to fails, and their spouts replay.
    #[inline]
    pub fn fail(&mut self, input: &Tuple) {
        self.inputs.failed(input.schema());
        for &(root, _) in input.anchors.pairs() {
            self.em.outbox.push_ack(AckMsg::Fail { root });
        }
    }

    /// Restart the message timeout of every tree the input belongs to (for inputs held
    /// for a long time, e.g. in a window).
    pub fn reset_timeout(&mut self, input: &Tuple) {
        for &(root, _) in input.anchors.pairs() {
            self.em.outbox.push_ack(AckMsg::Reset { root });
        }
    }

    /// Report an error: counted in the component's statistics and logged.
    pub fn report_error(&mut self, error: &dyn std::fmt::Display) {
        self.em.report_error(error)
    }
}

/// The collector of a [`crate::BasicBolt`]: emits are anchored to the current input.
#[derive(Debug)]
pub struct BasicCollector<'a> {
    inner: &'a mut BoltCollector,
    input: &'a Tuple,
}

impl<'a> BasicCollector<'a> {
    pub(crate) fn new(inner: &'a mut BoltCollector, input: &'a Tuple) -> Self {
        BasicCollector { inner, input }
    }

    /// Emit on the default stream, anchored to the input.
    #[inline]
    pub fn emit(&mut self, values: impl Into<Values>) -> Result<(), EmitError> {
        self.inner.emit_anchored(self.input, values)
    }

    /// Emit on a named stream, anchored to the input.
    pub fn emit_stream(
        &mut self,
        stream: &str,
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        self.inner.emit_stream(stream, &[self.input], values)
    }

    /// Emit on a direct stream to one task, anchored to the input.
    pub fn emit_direct(
        &mut self,
        task: TaskId,
        stream: &str,
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        self.inner.emit_direct(task, stream, &[self.input], values)
    }

    /// Report an error without failing the input.
    pub fn report_error(&mut self, error: &dyn std::fmt::Display) {
        self.inner.report_error(error)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::tuple::{Fields, StreamSchema};

    /// The per-root linear merge `new_anchors` does for a few inputs, as sorted pairs.
    fn reference(rng: &mut SmallRng, inputs: &[&Tuple]) -> Vec<(u64, u64)> {
        let mut ids = few_anchors(rng, inputs).pairs().to_vec();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn many_anchors_merge_roots_as_the_linear_merge_does() {
        let schema = StreamSchema::intern("a", "default", &Fields::new(["x"]));
        let tuples: Vec<Tuple> = (0..100u64)
            .map(|i| {
                let anchors = match i % 4 {
                    0 => Anchors::None,
                    1 => Anchors::One((i % 7, i)),
                    _ => Anchors::Many(vec![(i % 5, i), (100 + i % 3, i)].into()),
                };
                Tuple::with_anchors(crate::values![1], schema, TaskId(1), anchors)
            })
            .collect();
        let inputs: Vec<&Tuple> = tuples.iter().collect();
        let mut got = match many_anchors(&mut SmallRng::seed_from_u64(7), &inputs) {
            Anchors::Many(m) => m.to_vec(),
            other => panic!("{other:?}"),
        };
        got.sort_unstable();
        let after: Vec<u64> = tuples.iter().map(|t| t.ack_val.get()).collect();
        for t in &tuples {
            t.ack_val.set(0);
        }
        let want = reference(&mut SmallRng::seed_from_u64(7), &inputs);
        assert_eq!(got, want);
        let want_after: Vec<u64> = tuples.iter().map(|t| t.ack_val.get()).collect();
        assert_eq!(after, want_after);
    }
}
