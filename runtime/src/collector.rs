//! Output collectors: how spouts and bolts emit, ack, fail and report errors.
//!
//! Each task owns one collector. An emit validates the stream, asks every subscription's
//! grouper for its target task(s) and appends a tuple per target to the outbox; nothing
//! is allocated per tuple beyond cloning values for the second and later targets.

use std::sync::Arc;

use smallvec::SmallVec;

use crate::error::EmitError;
use crate::grouping::{Grouper, Route};
use crate::ids::{MessageId, TaskId};
use crate::stats::{Counters, TaskStats};
use crate::transfer::Outbox;
use crate::tuple::{Anchors, StreamSchema, Tuple, Values};

/// One declared output stream with its subscriptions.
#[derive(Debug)]
pub(crate) struct OutStream {
    pub(crate) schema: &'static StreamSchema,
    pub(crate) direct: bool,
    /// Groupers of the non-direct subscriptions.
    pub(crate) groupers: Vec<Grouper>,
    /// Tasks of subscribers with direct grouping.
    pub(crate) direct_targets: Vec<TaskId>,
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
    debug: bool,
    targets: SmallVec<[TaskId; 8]>,
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
            debug,
            targets: SmallVec::new(),
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

    /// Emit on stream `s` (by index), to the grouping's choice or to `direct`.
    #[inline]
    fn emit(&mut self, s: usize, values: Values, direct: Option<TaskId>) -> Result<(), EmitError> {
        let stream = &mut self.streams[s];
        if stream.direct != direct.is_some() {
            return Err(EmitError::WrongStreamKind {
                component: stream.schema.component.clone(),
                stream: stream.schema.stream.clone(),
                declared: if stream.direct {
                    "direct"
                } else {
                    "not direct"
                },
                hint: if stream.direct { "emit_direct" } else { "emit" },
            });
        }
        if values.len() != stream.schema.fields.len() {
            return Err(EmitError::Arity {
                component: stream.schema.component.clone(),
                stream: stream.schema.stream.clone(),
                expected: stream.schema.fields.len(),
                got: values.len(),
            });
        }
        self.counters.emitted += 1;
        if self.debug {
            tracing::debug!(component = %stream.schema.component, task = %self.task,
                stream = %stream.schema.stream, values = %values.to_json(), "emit");
        }
        if let Some(cap) = &mut self.capture {
            cap.push((s, values.clone()));
        }
        let schema = stream.schema;
        // Fast path: one subscription choosing one task (shuffle, fields, global...).
        if direct.is_none() && stream.groupers.len() == 1 {
            match stream.groupers[0].route(&values) {
                Route::One(t) => {
                    self.counters.transferred += 1;
                    self.outbox.push(
                        t,
                        Tuple::with_anchors(values, schema, self.task, Anchors::None),
                    );
                    return Ok(());
                }
                Route::Nowhere => return Ok(()),
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
            return Ok(());
        }
        self.counters.transferred += n as u64;
        for i in 0..n - 1 {
            let t = self.targets[i];
            let tuple = Tuple::with_anchors(values.clone(), schema, self.task, Anchors::None);
            self.outbox.push(t, tuple);
        }
        let t = self.targets[n - 1];
        self.outbox.push(
            t,
            Tuple::with_anchors(values, schema, self.task, Anchors::None),
        );
        Ok(())
    }

    /// Send what is left, publish the final counters and hand over captured emits.
    pub(crate) fn finish(&mut self) {
        self.outbox.flush();
        self.stats.publish(&self.counters);
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
    /// Message ids to ack right after `next_tuple` returns (acking is off).
    pub(crate) immediate_acks: Vec<MessageId>,
}

impl SpoutCollector {
    pub(crate) fn new(em: Emitter) -> SpoutCollector {
        SpoutCollector {
            em,
            immediate_acks: Vec::new(),
        }
    }

    fn track(&mut self, id: Option<MessageId>) {
        if let Some(id) = id {
            self.immediate_acks.push(id);
        }
    }

    /// Emit on the default stream without a message id (not tracked).
    #[inline]
    pub fn emit(&mut self, values: impl Into<Values>) -> Result<(), EmitError> {
        let s = self.em.default_index()?;
        self.em.emit(s, values.into(), None)
    }

    /// Emit on the default stream with a message id: `ack(id)` or `fail(id)` follows.
    #[inline]
    pub fn emit_id(&mut self, values: impl Into<Values>, id: MessageId) -> Result<(), EmitError> {
        let s = self.em.default_index()?;
        self.em.emit(s, values.into(), None)?;
        self.track(Some(id));
        Ok(())
    }

    /// Emit on a named stream, with an optional message id.
    pub fn emit_stream(
        &mut self,
        stream: &str,
        values: impl Into<Values>,
        id: Option<MessageId>,
    ) -> Result<(), EmitError> {
        let s = self.em.stream_index(stream)?;
        self.em.emit(s, values.into(), None)?;
        self.track(id);
        Ok(())
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
        self.em.emit(s, values.into(), Some(task))?;
        self.track(id);
        Ok(())
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
}

impl BoltCollector {
    pub(crate) fn new(em: Emitter) -> BoltCollector {
        BoltCollector { em }
    }

    /// Emit on the default stream, unanchored.
    #[inline]
    pub fn emit(&mut self, values: impl Into<Values>) -> Result<(), EmitError> {
        let s = self.em.default_index()?;
        self.em.emit(s, values.into(), None)
    }

    /// Emit on the default stream, anchored to `anchor` (joins its tuple trees).
    #[inline]
    pub fn emit_anchored(
        &mut self,
        anchor: &Tuple,
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        let _ = anchor;
        let s = self.em.default_index()?;
        self.em.emit(s, values.into(), None)
    }

    /// Emit on a named stream, anchored to every tuple in `anchors` (may be empty).
    pub fn emit_stream(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        let _ = anchors;
        let s = self.em.stream_index(stream)?;
        self.em.emit(s, values.into(), None)
    }

    /// Emit on a direct stream to one task, anchored to `anchors`.
    pub fn emit_direct(
        &mut self,
        task: TaskId,
        stream: &str,
        anchors: &[&Tuple],
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        let _ = anchors;
        let s = self.em.stream_index(stream)?;
        self.em.emit(s, values.into(), Some(task))
    }

    /// The input was processed: its part of every tuple tree is done.
    #[inline]
    pub fn ack(&mut self, input: &Tuple) {
        let _ = input;
        self.em.counters.acked += 1;
    }

    /// The input failed: the spout that emitted its root replays it.
    #[inline]
    pub fn fail(&mut self, input: &Tuple) {
        let _ = input;
        self.em.counters.failed += 1;
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
