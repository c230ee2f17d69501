//! Persistent windows (Storm's `withPersistence()` / `PersistentWindowedBoltExecutor`),
//! with Storm's pitfalls fixed.
//!
//! - The window's events live in a [`PagedStore`] over the task's state
//!   (`<component>-<task>` in `topology.state.provider`): at most
//!   `topology.bolts.window.max.events.in.memory` in memory, the rest paged out.
//! - The task runs the checkpoint protocol as a stateful bolt: at PREPARE the changed
//!   pages, the index and the trigger state are written and prepared **in one
//!   namespace** (Storm uses three, committed one after the other); input tuples are
//!   acked when the checkpoint commits (not at expiry), so neither the message timeout
//!   nor the spouts' pending limit bounds the window; emits are unanchored. ROLLBACK and
//!   a restart (INITSTATE) read the last committed window back.
//! - With `topology.bolts.message.id.field.name` (ids increasing per source task):
//!   a replayed tuple whose id is in the window, or left it a short while ago (see
//!   `window::ids`), is dropped (and acked), and windows fired after the last commit
//!   are not fired again: each firing writes a small marker (a separate namespace,
//!   `<component>-<task>-fired`, committed at once) with the window's end, the trigger
//!   state and the last id of every input. After a restore, event-time windows ending
//!   at or before the marker's end are skipped; processing-time windows re-read the
//!   replayed tuples up to the marker silently (Storm's recovery), then the trigger goes
//!   on from the marker. Storm keeps those ids only at checkpoints, so the windows fired
//!   since the last one fire again, and its recovery waits forever for an input that
//!   sends nothing past its last id: here it ends once the tuples fired before are back,
//!   or after a message timeout.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api::collector::BoltCollector;
use crate::api::context::TopologyContext;
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::ids::TaskId;
use crate::api::tuple::{Fields, StreamSchema, Tuple, Values};
use crate::api::value::Value;
use crate::cluster::wire::record::{RecordReader, put_record_value, put_u64};
use crate::state::bolt::settle_checkpoint;
use crate::state::checkpoint::bolt_state::{CheckpointTarget, InputAction, StatefulBoltState};
use crate::state::checkpoint::forwarder::{checkpoint_sources, parse_checkpoint};
use crate::state::checkpoint::{CHECKPOINT_STREAM, FIELD_ACTION, FIELD_TXID, bolt_namespace};
use crate::state::provider::KvBackend;
use crate::state::{State, StateError};
use crate::topology::config::TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME;
use crate::window::bolt::{WindowedBolt, WindowedCollector};
use crate::window::config::WindowConfig;
use crate::window::executor::{Running, start_with};
use crate::window::ids::{self, Ids, Retired, SavedIds};
use crate::window::int_field::IntField;
use crate::window::manager::{TriggerState, WindowSink};
use crate::window::paged::{EventCodec, PagedStore};
use crate::window::tuple_window::TupleWindow;

/// Inputs a persistent window keeps before its state is restored, or while it re-reads
/// the tuples of windows it fired before a restart; later ones are failed (replayed).
const MAX_HELD: usize = 10_000;

/// The most schemas a window's codec numbers (inputs are few; a corrupt table is refused).
const MAX_SCHEMAS: usize = 4096;

/// Ids that left the window are kept this many message timeouts (a lost ack's replay
/// comes within two of the tuple's emit; one more covers the spout's replay queue).
const RETIRED_TIMEOUTS: u32 = 3;

/// The most id ranges kept for tuples that left the window (each a few dozen bytes, in
/// memory and in every checkpoint); past it the oldest are forgotten early.
const MAX_RETIRED_RANGES: usize = 65_536;

/// The key of the firing marker.
const MARKER_KEY: &[u8] = b"window/fired";

/// The most events a window gauge is set after.
const GAUGE_EVERY: u32 = 1024;

#[cfg(test)]
pub(crate) static MAX_RESIDENT: std::sync::Mutex<std::collections::BTreeMap<String, usize>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// A persistent window also runs the checkpoint protocol: it forwards `$checkpoint`.
pub(super) fn declare_outputs(out: &mut OutputDeclarer) {
    out.declare_stream(CHECKPOINT_STREAM, &[FIELD_TXID, FIELD_ACTION]);
}

/// Writes tuples as (source task, schema number, values); the schemas are numbered in a
/// table saved with the window.
#[derive(Debug, Default)]
pub(crate) struct TupleCodec {
    schemas: Vec<&'static StreamSchema>,
}

impl EventCodec<Tuple> for TupleCodec {
    fn encode(&mut self, item: &Tuple, out: &mut Vec<u8>) -> Result<(), String> {
        let schema = item.schema();
        let n = match self.schemas.iter().position(|s| std::ptr::eq(*s, schema)) {
            Some(n) => n,
            None => {
                if self.schemas.len() >= MAX_SCHEMAS {
                    return Err(format!("more than {MAX_SCHEMAS} input streams"));
                }
                self.schemas.push(schema);
                self.schemas.len() - 1
            }
        };
        put_u64(out, u64::from(item.source_task().0));
        put_u64(out, n as u64);
        put_u64(out, item.len() as u64);
        for v in item.values().iter() {
            put_record_value(out, v).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn decode(&self, r: &mut RecordReader<'_>) -> Result<Tuple, String> {
        let task = r.u64("source task").map_err(|e| e.to_string())?;
        let task = u32::try_from(task).map_err(|_| format!("source task {task} out of range"))?;
        let n = r.u64("schema").map_err(|e| e.to_string())?;
        let schema = usize::try_from(n)
            .ok()
            .and_then(|n| self.schemas.get(n))
            .ok_or_else(|| format!("schema {n} is not in the window's table"))?;
        let count = r.count("values", 1).map_err(|e| e.to_string())?;
        let mut values = Values::with_capacity(count);
        for _ in 0..count {
            values.push(r.value().map_err(|e| e.to_string())?);
        }
        Ok(Tuple::new(values, schema, TaskId(task)))
    }

    fn save(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.schemas
                .iter()
                .map(|s| serde_json::json!([s.component, s.stream, s.fields.names()]))
                .collect(),
        )
    }

    fn restore(&mut self, table: &serde_json::Value) -> Result<(), String> {
        let table: Vec<(String, String, Vec<String>)> = match table {
            serde_json::Value::Null => Vec::new(),
            t => serde_json::from_value(t.clone()).map_err(|e| format!("schema table: {e}"))?,
        };
        if table.len() > MAX_SCHEMAS {
            return Err(format!("schema table of {} entries", table.len()));
        }
        self.schemas = table
            .iter()
            .map(|(c, s, f)| StreamSchema::intern(c, s, &Fields::new(f.iter().cloned())))
            .collect();
        Ok(())
    }
}

/// What a persistent window saves beside its pages.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    trigger: TriggerState,
    /// (source task, stream, ranges) of the ids held (in the window, or retired).
    ids: Vec<SavedIds>,
    /// Those of them that left the window (kept for replays of lost acks).
    #[serde(default)]
    retired: Vec<SavedIds>,
    /// Windows fired so far.
    fires: u64,
    /// Tuples added so far.
    adds: u64,
}

/// The firing marker: written (and committed) right after each window fires.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Marker {
    /// The marker namespace's own txid.
    n: u64,
    fires: u64,
    adds: u64,
    end: i64,
    trigger: TriggerState,
    /// (source task, stream, largest id) of every input in the window.
    last: Vec<(u32, String, i64)>,
}

/// Re-reading, silently, the replayed tuples of the windows fired before a restart
/// (processing time).
struct Replay {
    marker: Marker,
    last: HashMap<(u32, String), i64>,
    /// Tuples past the marker, added once the replay ends.
    held: VecDeque<Tuple>,
    deadline: Instant,
}

type Store = PagedStore<Tuple, TupleCodec>;

/// Everything of a persistent window but the checkpoint bookkeeping.
struct Inner {
    run: Running<Store>,
    ids_field: Option<IntField>,
    ids: Ids,
    /// Ids that left the window since the last PREPARE, and those that left before it:
    /// they stay in `ids` a while (see [`Retired`]), so a replay of a tuple whose ack
    /// was lost with a worker is still known when it comes.
    retiring: Ids,
    retired: Retired,
    fires: u64,
    adds: u64,
    initial: TriggerState,
    /// Firing markers (with a message id field).
    markers: Option<Box<dyn KvBackend>>,
    marker: Option<Marker>,
    replay: Option<Replay>,
    reload: bool,
    /// The window could not be saved (the next PREPARE fails) or restored (every
    /// PREPARE fails until a restore works).
    save_error: Option<StateError>,
    broken: Option<String>,
    namespace: String,
    timeout: Duration,
    in_memory: crate::Gauge,
    duplicates: crate::Counter,
}

/// A persistent window's running state (the [`crate::window::Windowed`] executor
/// delegates to it).
pub(super) struct Persistent {
    inner: Inner,
    machine: StatefulBoltState<Tuple>,
    gauge_left: u32,
}

impl Persistent {
    /// Open the task's state and start the window (restored at the first INITSTATE).
    pub(super) fn start(
        window: &WindowConfig,
        ctx: &TopologyContext,
    ) -> Result<Persistent, ComponentError> {
        let namespace = bolt_namespace(ctx.this_component(), ctx.this_task().0);
        let provider = crate::state::open::provider_for(ctx)
            .map_err(|e| ComponentError::msg(format!("opening the window's state: {e}")))?;
        if ctx
            .config()
            .get_str(crate::topology::config::TOPOLOGY_STATE_PROVIDER)
            .is_some_and(|p| p == "memory" || p.ends_with("InMemoryKeyValueStateProvider"))
        {
            tracing::warn!(%namespace, "persistent window in the memory state provider: \
                its pages stay in memory and nothing survives a restart");
        }
        let backend = provider
            .open(&namespace)
            .map_err(|e| ComponentError::msg(format!("opening the window's state: {e}")))?;
        let cap = usize::try_from(window.max_events_in_memory()).unwrap_or(usize::MAX);
        let store = PagedStore::new(backend, TupleCodec::default(), cap);
        let markers =
            match window.message_id_field() {
                Some(_) => Some(provider.open(&format!("{namespace}-fired")).map_err(|e| {
                    ComponentError::msg(format!("opening the window's state: {e}"))
                })?),
                None => None,
            };
        let run = start_with(window, ctx, store)?;
        let initial = run.manager.trigger_state();
        let timeout = Duration::from_secs(ctx.config().settings().message_timeout_secs.max(1));
        Ok(Persistent {
            inner: Inner {
                run,
                ids_field: window.message_id_field().map(|name| {
                    IntField::new(name, TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME, "message id")
                }),
                ids: Ids::new(),
                retiring: Ids::new(),
                retired: Retired::new(RETIRED_TIMEOUTS * timeout, MAX_RETIRED_RANGES),
                fires: 0,
                adds: 0,
                initial,
                markers,
                marker: None,
                replay: None,
                reload: false,
                save_error: None,
                broken: None,
                namespace,
                timeout,
                in_memory: ctx.gauge("window.tuples.in.memory"),
                duplicates: ctx.counter("window.duplicates"),
            },
            machine: StatefulBoltState::new(checkpoint_sources(ctx), MAX_HELD),
            gauge_left: GAUGE_EVERY,
        })
    }

    /// A tuple for the window.
    pub(super) fn execute<B: WindowedBolt>(
        &mut self,
        input: Tuple,
        bolt: &mut B,
        window: &WindowConfig,
        component: &str,
        out: &mut BoltCollector,
    ) -> Result<(), ComponentError> {
        if input.source_stream() == CHECKPOINT_STREAM {
            return self.checkpoint(input, bolt, window, component, out);
        }
        if input.is_tick() {
            self.on_time(bolt, window, component, out);
            return Ok(());
        }
        self.gauge_left -= 1;
        if self.gauge_left == 0 {
            self.gauge_left = GAUGE_EVERY;
            self.inner.set_gauges();
        }
        match self.machine.input(input) {
            InputAction::Execute(t) => {
                let mut cx = Cx {
                    machine: &mut self.machine,
                    bolt,
                    window,
                    component,
                    out,
                };
                self.inner.accept(t, &mut cx)
            }
            InputAction::Buffered => Ok(()),
            InputAction::Fail(t) => {
                out.fail(&t);
                Ok(())
            }
        }
    }

    /// The timer: fire what is due (not before the window is restored, nor while it
    /// re-reads the tuples of windows it fired).
    pub(super) fn on_time<B: WindowedBolt>(
        &mut self,
        bolt: &mut B,
        window: &WindowConfig,
        component: &str,
        out: &mut BoltCollector,
    ) {
        if !self.machine.initialized() {
            return;
        }
        self.inner.set_gauges();
        let mut cx = Cx {
            machine: &mut self.machine,
            bolt,
            window,
            component,
            out,
        };
        if self.inner.replay.is_some() {
            let now = self.inner.run.clock.now();
            if self
                .inner
                .replay
                .as_ref()
                .is_some_and(|r| now >= r.deadline)
            {
                self.inner.end_replay(true, &mut cx);
            }
            return;
        }
        self.inner.on_time(&mut cx);
    }

    fn checkpoint<B: WindowedBolt>(
        &mut self,
        input: Tuple,
        bolt: &mut B,
        window: &WindowConfig,
        component: &str,
        out: &mut BoltCollector,
    ) -> Result<(), ComponentError> {
        let cp = match parse_checkpoint(&input) {
            Ok(cp) => cp,
            Err(e) => {
                out.fail(&input);
                return Err(e);
            }
        };
        let was_initialized = self.machine.initialized();
        let outcome = self.machine.checkpoint(cp, &mut self.inner);
        for t in &outcome.ack {
            out.ack(t);
        }
        for t in &outcome.fail {
            out.fail(t);
        }
        if std::mem::take(&mut self.inner.reload) && was_initialized {
            // After the ROLLBACK: the window as last committed; the tuples held back
            // are failed with the others (their spouts replay them).
            if let Some(r) = self.inner.replay.take() {
                for t in &r.held {
                    out.fail(t);
                }
            }
            self.inner.restore();
        }
        let mut errors = Vec::new();
        for t in outcome.execute {
            let mut cx = Cx {
                machine: &mut self.machine,
                bolt: &mut *bolt,
                window,
                component,
                out: &mut *out,
            };
            if let Err(e) = self.inner.accept(t, &mut cx) {
                errors.push(e);
            }
        }
        settle_checkpoint(out, input, cp, &errors, outcome.tuple)
    }
}

/// What a call needs beside the window: the bolt, its collector, the deferred acks.
struct Cx<'a, B> {
    machine: &'a mut StatefulBoltState<Tuple>,
    bolt: &'a mut B,
    window: &'a WindowConfig,
    component: &'a str,
    out: &'a mut BoltCollector,
}

impl Inner {
    fn set_gauges(&mut self) {
        let store = self.run.manager.store();
        self.run.held.set(self.run.manager.len() as f64);
        self.in_memory.set(store.resident() as f64);
        #[cfg(test)]
        {
            let mut m = MAX_RESIDENT.lock().unwrap_or_else(|p| p.into_inner());
            let e = m.entry(self.namespace.clone()).or_insert(0);
            *e = (*e).max(store.max_resident());
        }
    }

    /// Add an input to the window (its ack waits for the next commit).
    fn accept<B: WindowedBolt>(
        &mut self,
        input: Tuple,
        cx: &mut Cx<'_, B>,
    ) -> Result<(), ComponentError> {
        let key = (input.source_task().0, input.source_stream());
        let id = match self.ids_field.as_mut().map(|f| f.extract(&input)) {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(e)) => {
                cx.machine.user_ack(input.ack_handle());
                return Err(e);
            }
        };
        if let Some(id) = id
            && self
                .ids
                .get(&key.0)
                .and_then(|m| m.get(key.1))
                .is_some_and(|s| s.contains(id))
        {
            // A replay of a tuple the window holds (its ack was lost with a worker).
            self.duplicates.inc();
            cx.machine.user_ack(input.ack_handle());
            return Ok(());
        }
        if self
            .replay
            .as_ref()
            .is_some_and(|r| self.run.clock.now() >= r.deadline)
        {
            self.end_replay(true, cx);
        }
        if let Some(replay) = self.replay.as_mut() {
            let before = id.is_some_and(|id| {
                replay
                    .last
                    .get(&(key.0, key.1.to_string()))
                    .is_some_and(|last| id <= *last)
            });
            if !before {
                // A replay of a tuple held already (its tree timed out while held):
                // keep the newest copy, whose tree is the live one.
                let mut same = |t: &Tuple| {
                    t.source_task() == input.source_task()
                        && std::ptr::eq(t.schema(), input.schema())
                        && id.is_some()
                        && self.ids_field.as_mut().and_then(|f| f.extract(t).ok()) == id
                };
                if let Some(slot) = replay.held.iter_mut().find(|t| same(t)) {
                    *slot = input;
                } else if replay.held.len() >= MAX_HELD {
                    cx.out.fail(&input);
                } else {
                    replay.held.push_back(input);
                }
                return Ok(());
            }
        }
        cx.machine.user_ack(input.ack_handle());
        if let Some(id) = id {
            self.ids
                .entry(key.0)
                .or_default()
                .entry(key.1.to_string())
                .or_default()
                .insert(id);
        }
        let ts = match self.run.event.as_mut() {
            None => self.run.arrival_ms(),
            Some(ev) => {
                let ts = ev.field.extract(&input)?;
                let wkey = (
                    input.source_task(),
                    std::ptr::from_ref::<StreamSchema>(input.schema()) as usize,
                );
                if !ev.watermarks.track(wkey, ts) {
                    return self.late(input, ts, cx);
                }
                ts
            }
        };
        let fired = {
            let mut sink = PSink::new(cx, self.ids_field.as_mut(), &mut self.retiring);
            self.run.manager.add(input, ts, &mut sink);
            sink.fired
        };
        self.adds += 1;
        self.after(fired, cx);
        if self
            .replay
            .as_ref()
            .is_some_and(|r| self.adds >= r.marker.adds || self.run.clock.now() >= r.deadline)
        {
            self.end_replay(false, cx);
        }
        Ok(())
    }

    /// A late tuple (event time): on the late stream (unanchored) or dropped; acked at
    /// the commit like the others.
    fn late<B: WindowedBolt>(
        &mut self,
        input: Tuple,
        ts: i64,
        cx: &mut Cx<'_, B>,
    ) -> Result<(), ComponentError> {
        self.run.late_tuples.inc();
        self.run.late_seen += 1;
        if self.run.late_seen.is_power_of_two() {
            tracing::info!(component = %cx.component, ts, late_tuples = self.run.late_seen,
                "late tuple (behind the watermark) in a persistent window");
        }
        match cx.window.late_tuple_stream() {
            Some(stream) => {
                let late: Value = Value::List(input.values().iter().cloned().collect());
                cx.out
                    .emit_stream(stream, &[], Values::from(late))
                    .map_err(ComponentError::from)
            }
            None => Ok(()),
        }
    }

    fn on_time<B: WindowedBolt>(&mut self, cx: &mut Cx<'_, B>) {
        let now = self.run.now_ms();
        let fired = {
            let mut sink = PSink::new(cx, self.ids_field.as_mut(), &mut self.retiring);
            match &mut self.run.event {
                None => self.run.manager.on_time(now, &mut sink),
                Some(ev) => {
                    if now >= ev.next_at {
                        ev.next_at = now.saturating_add(ev.interval_ms);
                        if let Some(wm) = ev.watermarks.advance(now) {
                            self.run.manager.on_watermark(wm, &mut sink);
                        }
                    }
                }
            }
            sink.fired
        };
        self.after(fired, cx);
    }

    /// After windows fired: count them, and write the marker.
    fn after<B: WindowedBolt>(&mut self, fired: Option<(u64, i64)>, cx: &mut Cx<'_, B>) {
        let Some((count, end)) = fired else {
            if let Some(e) = self.run.manager.store_mut().take_error() {
                cx.out.report_error(&e);
                self.save_error.get_or_insert(e);
            }
            return;
        };
        self.fires += count;
        if let Some(e) = self.run.manager.store_mut().take_error() {
            cx.out.report_error(&e);
            self.save_error.get_or_insert(e);
        }
        #[cfg(test)]
        self.set_gauges();
        let Some(markers) = self.markers.as_mut() else {
            return;
        };
        let mut last = Vec::new();
        for (task, streams) in &self.ids {
            for (stream, set) in streams {
                if let Some(max) = set.max() {
                    last.push((*task, stream.clone(), max));
                }
            }
        }
        // The window's output leaves the executor before the window counts as fired: a
        // kill before the marker is saved fires it again (its output may then be seen
        // twice), one after it only loses what the network had not delivered yet.
        cx.out.em.outbox.flush();
        let n = self.marker.as_ref().map_or(0, |m| m.n) + 1;
        let marker = Marker {
            n,
            fires: self.fires,
            adds: self.adds,
            end,
            trigger: self.run.manager.trigger_state(),
            last,
        };
        match write_marker(&mut **markers, &marker) {
            Ok(()) => self.marker = Some(marker),
            Err(e) => cx.out.report_error(&format_args!(
                "persistent window: the firing marker was not saved (after a restart this \
                 window may fire again): {e}"
            )),
        }
    }

    /// The replay of the windows fired before the restart is over (`timed_out`: not all
    /// their tuples came back): the trigger goes on from the marker, the held tuples are
    /// added.
    fn end_replay<B: WindowedBolt>(&mut self, timed_out: bool, cx: &mut Cx<'_, B>) {
        let Some(replay) = self.replay.take() else {
            return;
        };
        let now = self.run.now_ms();
        self.run
            .manager
            .restore_trigger(&replay.marker.trigger, Some(now));
        self.run.manager.end_replay();
        if timed_out {
            tracing::warn!(namespace = %self.namespace, added = self.adds,
                expected = replay.marker.adds,
                "persistent window: not every tuple of the windows fired before the restart \
                 came back within the message timeout; going on");
        } else {
            tracing::info!(namespace = %self.namespace, held = replay.held.len(),
                "persistent window: the tuples of the windows fired before the restart are \
                 back (not fired again); going on");
        }
        for t in replay.held {
            if let Err(e) = self.accept(t, cx) {
                cx.out.report_error(&e);
            }
        }
    }

    fn save(&mut self) -> Result<(), StateError> {
        let saved = Saved {
            trigger: self.run.manager.trigger_state(),
            ids: ids::to_saved(&self.ids),
            retired: self.retired.to_saved(),
            fires: self.fires,
            adds: self.adds,
        };
        let extra = serde_json::to_value(&saved).map_err(|e| StateError::Codec {
            namespace: self.namespace.clone(),
            action: "encode",
            what: "value",
            message: e.to_string(),
        })?;
        self.run.manager.store_mut().save(extra)
    }

    /// Read the last committed window back (first INITSTATE, after a ROLLBACK).
    fn restore(&mut self) {
        match self.try_restore() {
            Ok(()) => self.broken = None,
            Err(e) => {
                tracing::error!(namespace = %self.namespace, error = %e,
                    "persistent window: its state cannot be read; checkpoints fail until it can");
                self.broken = Some(e.to_string());
            }
        }
    }

    fn try_restore(&mut self) -> Result<(), StateError> {
        let extra = self.run.manager.store_mut().restore()?;
        let processing_now = self.run.event.is_none().then(|| self.run.now_ms());
        let saved: Saved = if extra.is_null() {
            Saved {
                trigger: self.initial.clone(),
                ..Saved::default()
            }
        } else {
            serde_json::from_value(extra).map_err(|e| StateError::Codec {
                namespace: self.namespace.clone(),
                action: "decode",
                what: "value",
                message: e.to_string(),
            })?
        };
        self.run
            .manager
            .restore_trigger(&saved.trigger, processing_now);
        self.run.manager.set_silent(false);
        self.ids.clear();
        self.retiring.clear();
        ids::add_saved(&mut self.ids, saved.ids);
        self.retired.restore(saved.retired, self.run.clock.now());
        self.fires = saved.fires;
        self.adds = saved.adds;
        self.replay = None;
        if self.marker.is_none()
            && let Some(markers) = self.markers.as_ref()
        {
            self.marker = read_marker(&**markers)?;
        }
        let len = self.run.manager.len();
        tracing::info!(namespace = %self.namespace, events = len, fires = self.fires,
            "persistent window restored from its last committed checkpoint");
        let Some(marker) = self.marker.clone() else {
            return Ok(());
        };
        if self.run.event.is_some() {
            // Event time: a window is its end; those up to the marker's fired already.
            self.run.manager.set_fired_until(Some(marker.end));
            self.fires = self.fires.max(marker.fires);
            return Ok(());
        }
        if marker.fires <= self.fires || marker.adds <= self.adds {
            return Ok(());
        }
        tracing::info!(namespace = %self.namespace, windows = marker.fires - self.fires,
            tuples = marker.adds - self.adds,
            "persistent window: windows fired after the last commit; their replayed tuples \
             are re-read without firing them again");
        self.fires = marker.fires;
        self.run.manager.set_silent(true);
        self.replay = Some(Replay {
            last: marker
                .last
                .iter()
                .map(|(t, s, id)| ((*t, s.clone()), *id))
                .collect(),
            marker,
            held: VecDeque::new(),
            // The tuples lost with the worker come back after a message timeout.
            deadline: self.run.clock.now() + 2 * self.timeout,
        });
        Ok(())
    }
}

fn write_marker(markers: &mut dyn KvBackend, marker: &Marker) -> Result<(), StateError> {
    let bytes = serde_json::to_vec(marker).map_err(|e| StateError::Codec {
        namespace: markers.namespace().to_string(),
        action: "encode",
        what: "value",
        message: e.to_string(),
    })?;
    markers.put(MARKER_KEY.to_vec(), bytes)?;
    markers.prepare_commit(marker.n)?;
    markers.commit(marker.n)
}

fn read_marker(markers: &dyn KvBackend) -> Result<Option<Marker>, StateError> {
    let Some(bytes) = markers.get(MARKER_KEY)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StateError::Codec {
            namespace: markers.namespace().to_string(),
            action: "decode",
            what: "value",
            message: e.to_string(),
        })
}

impl CheckpointTarget for Inner {
    fn pre_prepare(&mut self, _txid: u64) {
        let gone = std::mem::take(&mut self.retiring);
        for forget in self.retired.prepare(gone, self.run.clock.now()) {
            ids::remove_all(&mut self.ids, &forget);
        }
        if self.broken.is_none()
            && let Err(e) = self.save()
        {
            self.save_error.get_or_insert(e);
        }
    }
    fn pre_commit(&mut self, _txid: u64) {}
    fn pre_rollback(&mut self) {
        self.reload = true;
    }
    fn init_state(&mut self) {
        self.restore();
    }
    fn state(&mut self) -> &mut dyn State {
        self
    }
}

/// The window's state as the checkpoint protocol drives it: a PREPARE fails when the
/// window could not be saved or restored.
impl State for Inner {
    fn prepare_commit(&mut self, txid: u64) -> Result<(), StateError> {
        if let Some(e) = self.save_error.take() {
            return Err(e);
        }
        if let Some(m) = &self.broken {
            return Err(StateError::Store {
                namespace: self.namespace.clone(),
                message: format!("the window could not be restored: {m}"),
            });
        }
        self.run.manager.store_mut().backend().prepare_commit(txid)
    }
    fn commit(&mut self, txid: u64) -> Result<(), StateError> {
        self.run.manager.store_mut().backend().commit(txid)
    }
    fn rollback(&mut self) -> Result<(), StateError> {
        self.save_error = None;
        self.run.manager.store_mut().backend().rollback()
    }
    fn init(&mut self, checkpoint: Option<u64>) -> Result<(), StateError> {
        self.run.manager.store_mut().backend().init(checkpoint)
    }
}

/// Where a persistent window's decisions go: the bolt, unanchored emits; expiry only
/// forgets the message ids (acks belong to the commits).
struct PSink<'a, 'c, B> {
    cx: &'a mut Cx<'c, B>,
    ids_field: Option<&'a mut IntField>,
    /// Where the ids of expired events go (forgotten two PREPAREs later).
    ids: &'a mut Ids,
    /// Windows handed to the bolt, and the last one's end.
    fired: Option<(u64, i64)>,
}

impl<'a, 'c, B> PSink<'a, 'c, B> {
    fn new(cx: &'a mut Cx<'c, B>, ids_field: Option<&'a mut IntField>, ids: &'a mut Ids) -> Self {
        PSink {
            cx,
            ids_field,
            ids,
            fired: None,
        }
    }
}

impl<B: WindowedBolt> WindowSink<Tuple> for PSink<'_, '_, B> {
    fn activate(&mut self, window: &TupleWindow<'_, Tuple>) -> bool {
        let cx = &mut *self.cx;
        let mut collector = WindowedCollector {
            inner: cx.out,
            anchors: window.anchors(),
            late_stream: cx.window.late_tuple_stream(),
            component: cx.component,
        };
        let bolt = &mut *cx.bolt;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            bolt.execute(window, &mut collector)
        }))
        .unwrap_or_else(|p| Err(ComponentError::from_panic(p.as_ref())));
        if let Err(e) = result {
            // The window's tuples are in the saved window already (their acks belong to
            // the checkpoints): the window is not fired again.
            cx.out.report_error(&format_args!(
                "persistent window of {} tuples failed (not fired again): {e}",
                window.len()
            ));
        }
        let count = self.fired.map_or(0, |(n, _)| n) + 1;
        self.fired = Some((count, window.end_timestamp()));
        true
    }

    fn expire(&mut self, item: &Tuple) {
        if let Some(field) = self.ids_field.as_mut()
            && let Ok(id) = field.extract(item)
        {
            let streams = self.ids.entry(item.source_task().0).or_default();
            match streams.get_mut(item.source_stream()) {
                Some(set) => set.insert(id),
                None => streams
                    .entry(item.source_stream().to_string())
                    .or_default()
                    .insert(id),
            }
        }
    }

    fn fail(&mut self, _item: Tuple) {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tuples_round_trip_through_the_codec_and_its_table() {
        let schema = StreamSchema::intern("src", "default", &Fields::new(["a", "b"]));
        let t = Tuple::new(crate::values![5i64, "x"], schema, TaskId(3));
        let mut c = TupleCodec::default();
        let mut out = Vec::new();
        c.encode(&t, &mut out).unwrap();
        let mut fresh = TupleCodec::default();
        fresh.restore(&c.save()).unwrap();
        let back = fresh.decode(&mut RecordReader::new(&out)).unwrap();
        assert_eq!(back.values(), t.values());
        assert_eq!(back.source_task(), TaskId(3));
        assert!(std::ptr::eq(back.schema(), schema));
        assert!(
            TupleCodec::default()
                .decode(&mut RecordReader::new(&out))
                .is_err()
        );
    }
}
