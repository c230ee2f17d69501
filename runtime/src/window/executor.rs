//! [`Windowed`]: runs a [`WindowedBolt`] as a plain [`Bolt`] (Storm's
//! `WindowedBoltExecutor`): keeps the window's tuples, fires it (on arrivals, on its
//! timer, on watermarks), anchors the bolt's emits to the window, acks tuples when they
//! expire, fails a window's tuples when the bolt fails it, and handles late tuples.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::api::collector::BoltCollector;
use crate::api::component::Bolt;
use crate::api::context::TopologyContext;
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::ids::TaskId;
use crate::api::tuple::{StreamSchema, Tuple, Values};
use crate::api::value::Value;
use crate::engine::clock::Clock;
use crate::state::checkpoint::CHECKPOINT_STREAM;
use crate::topology::config::{Config, TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_FIELD_NAME};
use crate::window::bolt::{WindowedBolt, WindowedCollector};
use crate::window::config::{Span, WindowConfig};
use crate::window::error::WindowError;
use crate::window::int_field::IntField;
use crate::window::manager::{WindowManager, WindowSink};
use crate::window::persistent::{self, Persistent};
use crate::window::policy::{Length, Slide};
use crate::window::store::{EventStore, MemoryStore};
use crate::window::timer::Timer;
use crate::window::tuple_window::TupleWindow;
use crate::window::watermark::WatermarkGenerator;

/// The field of the late tuple stream: the late tuple's values, as one list value.
pub const LATE_TUPLE_FIELD: &str = "late_tuple";

/// Processing-time count windows read the clock once per this many tuples (their
/// timestamps only label the window's end).
const COARSE_CLOCK_EVERY: u32 = 64;

/// The `window.tuples` gauge is set once per this many tuples.
const GAUGE_EVERY: u32 = 1024;

/// An input of the watermark: a source task and the (interned) schema of its stream.
pub(super) type InputKey = (TaskId, usize);

/// Runs a [`WindowedBolt`] as a [`Bolt`]. Made by [`crate::Registry::windowed_bolt`]
/// from the component's config, or directly with [`Windowed::new`].
pub struct Windowed<B: WindowedBolt> {
    bolt: B,
    window: WindowConfig,
    component: String,
    running: Option<Running>,
    /// A persistent window (`topology.bolts.window.persistent`) runs here instead.
    persistent: Option<Box<Persistent>>,
}

/// The state of a prepared window (its events in `S`).
pub(super) struct Running<S: EventStore<Tuple> = MemoryStore<Tuple>> {
    pub(super) manager: WindowManager<Tuple, S>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) started: Instant,
    pub(super) start_ms: i64,
    /// Event time: where timestamps come from, and the watermarks.
    pub(super) event: Option<EventTime>,
    /// Processing-time count windows: the clock is read coarsely.
    pub(super) coarse: bool,
    pub(super) coarse_left: u32,
    pub(super) coarse_now: i64,
    pub(super) late_tuples: crate::Counter,
    /// Late tuples seen by this task (logged at info at the 1st, 2nd, 4th, 8th, …).
    pub(super) late_seen: u64,
    /// Tuples held (set every `GAUGE_EVERY` tuples and at each timer wake).
    pub(super) held: crate::Gauge,
    pub(super) gauge_left: u32,
    pub(super) _timer: Option<Timer>,
}

/// Event-time machinery.
pub(super) struct EventTime {
    pub(super) field: IntField,
    pub(super) watermarks: WatermarkGenerator<InputKey>,
    pub(super) interval_ms: i64,
    pub(super) next_at: i64,
}

impl<S: EventStore<Tuple>> Running<S> {
    /// Processing time now, in milliseconds: wall clock at the start plus the monotonic
    /// time since (never goes back).
    #[inline]
    pub(super) fn now_ms(&self) -> i64 {
        let elapsed = self.clock.now().saturating_duration_since(self.started);
        self.start_ms
            .saturating_add(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
    }

    /// A processing-time tuple's arrival time.
    #[inline]
    pub(super) fn arrival_ms(&mut self) -> i64 {
        if !self.coarse {
            return self.now_ms();
        }
        if self.coarse_left == 0 {
            self.coarse_left = COARSE_CLOCK_EVERY;
            self.coarse_now = self.now_ms();
        }
        self.coarse_left -= 1;
        self.coarse_now
    }
}

impl<B: WindowedBolt> Windowed<B> {
    /// Run `bolt` over `window`. Refused when the late tuple stream is one the bolt
    /// declares.
    pub fn new(bolt: B, window: WindowConfig) -> Result<Windowed<B>, WindowError> {
        if let Some(late) = window.late_tuple_stream() {
            let mut out = OutputDeclarer::new();
            bolt.declare_outputs(&mut out);
            if out.into_streams().iter().any(|s| s.id == late) {
                return Err(WindowError::LateStreamTaken(late.to_string()));
            }
        }
        Ok(Windowed {
            bolt,
            window,
            component: String::new(),
            running: None,
            persistent: None,
        })
    }

    /// Run `bolt` over the window of a component's merged `config`, refused at once
    /// (naming the keys) if the window is not valid or does not fit the topology's
    /// message timeout or spout pending limit.
    pub fn from_config(bolt: B, config: &Config) -> Result<Windowed<B>, WindowError> {
        let window = WindowConfig::from_config(config)?;
        window.check_topology(config)?;
        Windowed::new(bolt, window)
    }

    /// The window.
    pub fn window(&self) -> &WindowConfig {
        &self.window
    }

    fn start(&self, ctx: &TopologyContext) -> Result<Running, ComponentError> {
        start_with(&self.window, ctx, MemoryStore::default())
    }

    /// The timer (or a tick) woke the bolt: fire what is due.
    fn on_time(&mut self, out: &mut BoltCollector) {
        let Some(run) = self.running.as_mut() else {
            return;
        };
        let now = run.now_ms();
        run.held.set(run.manager.len() as f64);
        let mut sink = Sink {
            bolt: &mut self.bolt,
            out,
            late_stream: self.window.late_tuple_stream(),
            component: &self.component,
        };
        match &mut run.event {
            None => run.manager.on_time(now, &mut sink),
            Some(ev) => {
                if now < ev.next_at {
                    return;
                }
                ev.next_at = now.saturating_add(ev.interval_ms);
                if let Some(wm) = ev.watermarks.advance(now) {
                    run.manager.on_watermark(wm, &mut sink);
                }
            }
        }
    }
}

/// Start a window over `store`: its clock, manager, event-time machinery and timer.
pub(super) fn start_with<S: EventStore<Tuple>>(
    window: &WindowConfig,
    ctx: &TopologyContext,
    store: S,
) -> Result<Running<S>, ComponentError> {
    let clock = ctx.clock().clone();
    let started = clock.now();
    let start_ms = i64::try_from(clock.wall_millis()).unwrap_or(i64::MAX);
    let w = window;
    let (length, slide) = (Length::of(w.length()), Slide::of(w.slide()));
    let event = w.timestamp_field().map(|name| EventTime {
        field: IntField::new(
            name,
            TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_FIELD_NAME,
            "timestamp in milliseconds",
        ),
        watermarks: WatermarkGenerator::new(inputs(ctx), w.lag_ms(), w.idle_timeout_ms(), start_ms),
        interval_ms: i64::try_from(w.watermark_interval_ms()).unwrap_or(i64::MAX),
        next_at: start_ms
            .saturating_add(i64::try_from(w.watermark_interval_ms()).unwrap_or(i64::MAX)),
    });
    let manager =
        WindowManager::with_store(length, slide, event.is_none().then_some(start_ms), store);
    let timer_ms = match (&event, w.slide()) {
        (Some(_), _) => Some(w.watermark_interval_ms()),
        (None, Span::Millis(ms)) => Some(ms),
        (None, Span::Count(_)) => None,
    };
    let timer = match (timer_ms, ctx.waker()) {
        (Some(ms), Some(waker)) => {
            let task = format!("{}-{}", ctx.this_component(), ctx.this_task());
            Some(
                Timer::start(ms, waker, &task)
                    .map_err(|e| ComponentError::io("starting the window timer", e))?,
            )
        }
        (Some(_), None) => {
            return Err(ComponentError::msg(
                "a time-driven window needs its executor's waker (run it as a bolt)",
            ));
        }
        (None, _) => None,
    };
    let coarse =
        event.is_none() && matches!((w.length(), w.slide()), (Span::Count(_), Span::Count(_)));
    Ok(Running {
        manager,
        clock,
        started,
        start_ms,
        event,
        coarse,
        coarse_left: 0,
        coarse_now: start_ms,
        late_tuples: ctx.counter("window.late.tuples"),
        late_seen: 0,
        held: ctx.gauge("window.tuples"),
        gauge_left: GAUGE_EVERY,
        _timer: timer,
    })
}

/// Every input (source task, stream) of this component but the checkpoint stream.
pub(super) fn inputs(ctx: &TopologyContext) -> Vec<InputKey> {
    let me = ctx.this_component();
    let mut keys = Vec::new();
    for s in ctx.subscriptions() {
        if s.to != me || s.stream == CHECKPOINT_STREAM {
            continue;
        }
        let Some(fields) = ctx.output_fields(&s.from, &s.stream) else {
            continue;
        };
        let schema = StreamSchema::intern(&s.from, &s.stream, fields);
        let key = std::ptr::from_ref::<StreamSchema>(schema) as usize;
        for t in ctx.component_tasks(&s.from) {
            if !keys.contains(&(*t, key)) {
                keys.push((*t, key));
            }
        }
    }
    keys
}

/// Where the manager's decisions go: the bolt and the collector.
struct Sink<'a, B> {
    bolt: &'a mut B,
    out: &'a mut BoltCollector,
    late_stream: Option<&'a str>,
    component: &'a str,
}

impl<B: WindowedBolt> WindowSink<Tuple> for Sink<'_, B> {
    fn activate(&mut self, window: &TupleWindow<'_, Tuple>) -> bool {
        let mut collector = WindowedCollector {
            inner: self.out,
            anchors: window.anchors(),
            late_stream: self.late_stream,
            component: self.component,
        };
        let bolt = &mut *self.bolt;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            bolt.execute(window, &mut collector)
        }))
        .unwrap_or_else(|p| Err(ComponentError::from_panic(p.as_ref())));
        match result {
            Ok(()) => true,
            Err(e) => {
                self.out.report_error(&format_args!(
                    "window of {} tuples failed (they are failed and replayed): {e}",
                    window.len()
                ));
                false
            }
        }
    }

    #[inline]
    fn expire(&mut self, item: &Tuple) {
        self.out.ack(item);
    }

    fn fail(&mut self, item: Tuple) {
        self.out.fail(&item);
    }
}

#[async_trait]
impl<B: WindowedBolt> Bolt for Windowed<B> {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        self.bolt.declare_outputs(out);
        if let Some(late) = self.window.late_tuple_stream() {
            out.declare_stream(late, &[LATE_TUPLE_FIELD]);
        }
        if self.window.persistent() {
            persistent::declare_outputs(out);
        }
    }

    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.component = ctx.this_component().to_string();
        // Storm's prepare-time checks, against this task's merged config.
        self.window
            .check_topology(ctx.config())
            .map_err(|e| ComponentError::msg(e.to_string()))?;
        self.bolt.prepare(ctx).await?;
        if self.window.persistent() {
            self.persistent = Some(Box::new(Persistent::start(&self.window, ctx)?));
            return Ok(());
        }
        self.running = Some(self.start(ctx)?);
        tracing::debug!(component = %self.component, task = %ctx.this_task(),
            window = ?self.window, "window started");
        Ok(())
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        if let Some(p) = self.persistent.as_mut() {
            return p.execute(input, &mut self.bolt, &self.window, &self.component, out);
        }
        if input.is_tick() {
            self.on_time(out);
            return Ok(());
        }
        let Some(run) = self.running.as_mut() else {
            out.fail(&input);
            return Err(ComponentError::msg("windowed bolt executed before prepare"));
        };
        run.gauge_left -= 1;
        if run.gauge_left == 0 {
            run.gauge_left = GAUGE_EVERY;
            run.held.set(run.manager.len() as f64);
        }
        let mut sink = Sink {
            bolt: &mut self.bolt,
            out,
            late_stream: self.window.late_tuple_stream(),
            component: &self.component,
        };
        let Some(ev) = run.event.as_mut() else {
            let ts = run.arrival_ms();
            run.manager.add(input, ts, &mut sink);
            return Ok(());
        };
        let ts = match ev.field.extract(&input) {
            Ok(ts) => ts,
            Err(e) => {
                sink.out.ack(&input);
                return Err(e);
            }
        };
        let key = (
            input.source_task(),
            std::ptr::from_ref::<StreamSchema>(input.schema()) as usize,
        );
        if ev.watermarks.track(key, ts) {
            run.manager.add(input, ts, &mut sink);
            return Ok(());
        }
        // Late: behind the watermark, its windows have fired.
        run.late_tuples.inc();
        run.late_seen += 1;
        let watermark = ev.watermarks.watermark();
        if run.late_seen.is_power_of_two() {
            tracing::info!(component = %self.component, ts, ?watermark,
            late_tuples = run.late_seen,
            "late tuple (behind the watermark): {}",
            match sink.late_stream {
                Some(_) => "emitted on the late tuple stream and acked",
                None => "acked and dropped (no topology.bolts.late.tuple.stream)",
            });
        } else {
            tracing::debug!(component = %self.component, ts, ?watermark, "late tuple");
        }
        let result = match sink.late_stream {
            Some(stream) => {
                let late: Value = Value::List(input.values().iter().cloned().collect());
                sink.out
                    .emit_stream(stream, &[&input], Values::from(late))
                    .map_err(ComponentError::from)
            }
            None => Ok(()),
        };
        sink.out.ack(&input);
        result
    }

    fn wake(&mut self, out: &mut BoltCollector) -> Result<(), ComponentError> {
        if let Some(p) = self.persistent.as_mut() {
            p.on_time(&mut self.bolt, &self.window, &self.component, out);
            return Ok(());
        }
        self.on_time(out);
        Ok(())
    }

    async fn cleanup(&mut self) {
        // Stops the timer thread.
        self.running = None;
        self.persistent = None;
        self.bolt.cleanup().await
    }
}
