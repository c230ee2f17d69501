//! [`WindowManager`]: keeps a window's events, fires windows as its trigger says, and
//! expires events as its eviction says. Pure: times are handed in (arrival times, the
//! clock at a timer, a watermark), and what happens goes to a [`WindowSink`], so it is
//! tested with plain values and a manual clock.

use crate::window::policy::{Length, Slide, align_up, count_trigger_ends};
use crate::window::store::{Event, EventStore, MemoryStore};
use crate::window::tuple_window::TupleWindow;

/// Events added between two compactions (Storm's `EXPIRE_EVENTS_THRESHOLD`).
const COMPACT_EVERY: u32 = 100;

/// Where a window manager's decisions go: the windowed bolt executor acks, fails and
/// runs the bolt.
pub(crate) trait WindowSink<T> {
    /// A window fired: run the bolt on it. `false`: the bolt failed it, and its events
    /// are handed back to [`WindowSink::fail`].
    fn activate(&mut self, window: &TupleWindow<'_, T>) -> bool;
    /// The event left the window (ack it).
    fn expire(&mut self, item: &T);
    /// The event was in a window the bolt failed (fail it: its spout replays it).
    fn fail(&mut self, item: T);
}

/// A window's events and trigger state.
#[derive(Debug)]
pub(crate) struct WindowManager<T, S: EventStore<T> = MemoryStore<T>> {
    length: Length,
    slide: Slide,
    event_time: bool,
    store: S,
    /// Events of the last activated window that expired since (for `get_expired`).
    expired: Vec<T>,
    /// Processing-time count trigger: events since the last trigger.
    since_trigger: u64,
    /// Duration trigger: the next window end (`None`: aligned on the earliest event).
    next_end: Option<i64>,
    /// Duration trigger: the grid windows end on.
    grid_base: i64,
    /// Event-time count trigger: events up to this time were counted.
    counted_until: i64,
    /// Event time: the last watermark.
    watermark: Option<i64>,
    /// The latest processing time seen.
    last_ts: i64,
    adds: u32,
    /// Processing time, duration trigger, before the first window: a duration window
    /// evicts nothing (Storm's first window takes every event; an arrival in the very
    /// start millisecond is not before the window).
    initial: bool,
    /// Windows ending at or before this fire without reaching the sink (a restarted
    /// persistent window fired them before).
    fired_until: Option<i64>,
    /// Windows fire without reaching the sink (a restarted persistent window re-reads
    /// tuples of windows it fired).
    silent: bool,
}

/// A manager's trigger state, saved with a persistent window.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TriggerState {
    since_trigger: u64,
    next_end: Option<i64>,
    grid_base: i64,
    counted_until: i64,
    watermark: Option<i64>,
    last_ts: i64,
    initial: bool,
}

#[cfg(test)]
impl<T, S: EventStore<T> + Default> WindowManager<T, S> {
    /// A manager for processing time (`start`: when the bolt started, in milliseconds;
    /// duration triggers fire at `start + k * interval`) or event time (`start: None`).
    pub(crate) fn new(length: Length, slide: Slide, start: Option<i64>) -> Self {
        WindowManager::with_store(length, slide, start, S::default())
    }
}

impl<T, S: EventStore<T>> WindowManager<T, S> {
    /// [`WindowManager::new`] over a given store.
    pub(crate) fn with_store(length: Length, slide: Slide, start: Option<i64>, store: S) -> Self {
        let next_end = match (slide, start) {
            (Slide::Millis(ms), Some(start)) => Some(start.saturating_add(ms)),
            _ => None,
        };
        WindowManager {
            length,
            slide,
            event_time: start.is_none(),
            store,
            expired: Vec::new(),
            since_trigger: 0,
            next_end,
            grid_base: start.unwrap_or(0),
            counted_until: i64::MIN,
            watermark: None,
            last_ts: start.unwrap_or(i64::MIN),
            adds: 0,
            initial: start.is_some() && matches!(slide, Slide::Millis(_)),
            fired_until: None,
            silent: false,
        }
    }

    /// The store.
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// The store, to save or restore it.
    pub(crate) fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The trigger state, to save it.
    pub(crate) fn trigger_state(&self) -> TriggerState {
        TriggerState {
            since_trigger: self.since_trigger,
            next_end: self.next_end,
            grid_base: self.grid_base,
            counted_until: self.counted_until,
            watermark: self.watermark,
            last_ts: self.last_ts,
            initial: self.initial,
        }
    }

    /// Go on from a saved trigger state. Processing time with a duration slide: `now`
    /// is the clock, and windows that would have ended while the task was down are
    /// skipped (nothing arrived then), so the next one ends at or after `now`.
    pub(crate) fn restore_trigger(&mut self, t: &TriggerState, now: Option<i64>) {
        self.since_trigger = t.since_trigger;
        self.next_end = t.next_end;
        self.grid_base = t.grid_base;
        self.counted_until = t.counted_until;
        self.watermark = t.watermark;
        self.last_ts = t.last_ts;
        self.initial = t.initial;
        self.expired.clear();
        self.adds = 0;
        if let (Some(now), Slide::Millis(interval), Some(end)) = (now, self.slide, self.next_end)
            && end < now
        {
            self.next_end = Some(align_up(now, end, interval));
        }
    }

    /// Windows ending at or before `end` fire without reaching the sink (they fired
    /// before a restart); `None`: none.
    pub(crate) fn set_fired_until(&mut self, end: Option<i64>) {
        self.fired_until = end;
    }

    /// While `silent`, windows fire without reaching the sink.
    pub(crate) fn set_silent(&mut self, silent: bool) {
        self.silent = silent;
    }

    /// After a silent replay: the trigger starts counting again from here, every event
    /// held counting as shown (they were in the windows fired before the restart).
    pub(crate) fn end_replay(&mut self) {
        self.silent = false;
        self.since_trigger = 0;
        let n = self.store.len();
        self.store.mark_shown(n);
    }

    /// Number of events held.
    pub(crate) fn len(&self) -> usize {
        self.store.len()
    }

    /// Add an event at time `ts` (processing time: its arrival, non-decreasing; event
    /// time: its timestamp, not behind the watermark). A processing-time count trigger
    /// fires here.
    pub(crate) fn add(&mut self, item: T, ts: i64, sink: &mut impl WindowSink<T>) {
        self.store.insert(Event {
            ts,
            shown: false,
            item,
        });
        if !self.event_time {
            self.last_ts = self.last_ts.max(ts);
            if let Slide::Count(n) = self.slide {
                self.since_trigger += 1;
                if self.since_trigger >= n {
                    self.since_trigger = 0;
                    self.adds = 0;
                    self.activate_at(self.last_ts, sink);
                    return;
                }
            }
        }
        self.adds += 1;
        if self.adds >= COMPACT_EVERY {
            self.adds = 0;
            if let Some(bound) = self.future_ends_from() {
                self.evict(bound, sink);
            }
        }
    }

    /// Processing time: the clock reads `now`; fire the duration windows ending by then.
    pub(crate) fn on_time(&mut self, now: i64, sink: &mut impl WindowSink<T>) {
        if self.event_time {
            return;
        }
        self.last_ts = self.last_ts.max(now);
        if let Slide::Millis(interval) = self.slide {
            self.fire_grid(now, interval, sink);
        }
    }

    /// Event time: the watermark reached `watermark`; fire every window ending by then.
    pub(crate) fn on_watermark(&mut self, watermark: i64, sink: &mut impl WindowSink<T>) {
        if !self.event_time {
            return;
        }
        self.watermark = Some(watermark);
        match self.slide {
            Slide::Millis(interval) => self.fire_grid(watermark, interval, sink),
            Slide::Count(n) => {
                let ends = count_trigger_ends(&mut self.store, self.counted_until, watermark, n);
                for end in ends {
                    self.activate_at(end, sink);
                    self.counted_until = end;
                }
            }
        }
    }

    /// A time no later window can end before (events expired at it are expired for
    /// every later window), if known.
    fn future_ends_from(&self) -> Option<i64> {
        match (self.event_time, self.slide) {
            (false, Slide::Count(_)) => Some(self.last_ts),
            (_, Slide::Millis(_)) => self.next_end,
            (true, Slide::Count(_)) => self.watermark,
        }
    }

    /// Fire the grid windows ending at or before `upto`.
    fn fire_grid(&mut self, upto: i64, interval: i64, sink: &mut impl WindowSink<T>) {
        loop {
            let end = match self.next_end {
                Some(end) => end,
                None => match self.store.ts_at(0) {
                    Some(first) => align_up(first, self.grid_base, interval),
                    None => return,
                },
            };
            if end > upto {
                self.next_end = Some(end);
                return;
            }
            // An empty window: every event left is after `end`; the next end is aligned
            // on the earliest of them (Storm's first-window rule).
            self.next_end = if self.activate_at(end, sink) {
                Some(end.saturating_add(interval))
            } else {
                None
            };
        }
    }

    /// Expire the events that are out of every window ending at or after `end`.
    fn evict(&mut self, end: i64, sink: &mut impl WindowSink<T>) {
        if self.initial && matches!(self.length, Length::Millis(_)) {
            return;
        }
        let n = self.length.expired_at(&mut self.store, end);
        for _ in 0..n {
            let Some(e) = self.store.pop_front() else {
                break;
            };
            sink.expire(&e.item);
            if S::KEEPS_EXPIRED && e.shown {
                self.expired.push(e.item);
            }
        }
    }

    /// Evict at `end`, then hand the window ending at `end` to the sink. Returns whether
    /// the window had any event.
    fn activate_at(&mut self, end: i64, sink: &mut impl WindowSink<T>) -> bool {
        self.evict(end, sink);
        self.initial = false;
        let n = self.store.count_until(end);
        if n == 0 {
            return false;
        }
        let skip = self.silent || self.fired_until.is_some_and(|f| end <= f);
        let (expired, start) = (&self.expired, self.length.start(end));
        let ok = skip
            || self
                .store
                .with_window(n, expired, start, end, |window| sink.activate(window));
        self.expired.clear();
        if ok {
            self.store.mark_shown(n);
        } else {
            for _ in 0..n {
                if let Some(e) = self.store.pop_front() {
                    sink.fail(e.item);
                }
            }
        }
        true
    }
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;
