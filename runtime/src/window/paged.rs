//! [`PagedStore`]: the [`EventStore`] of a persistent window. Events are kept in
//! segments of consecutive events; only a few segments are in memory (the front one,
//! which eviction pops from, and the newest ones, which inserts go to) and the others
//! are written to the task's state ([`KvBackend`]) and loaded again when a window is
//! read or eviction reaches them. At most `max_events_in_memory` events are held, counting
//! the one segment a window read loads at a time.
//!
//! In the state (one namespace, so the window commits atomically): `window/seg/<id>`
//! per segment (its events: time and item) and `window/meta` (the segments in order with
//! their sizes and time ranges, the number of events already shown, the codec's table
//! and the caller's own record). [`PagedStore::save`] writes what changed, at a
//! checkpoint's prepare; [`PagedStore::restore`] reads the last committed version back.
//!
//! A state error while paging (a provider down) cannot be returned from the
//! [`EventStore`] calls: it is kept, and [`PagedStore::take_error`] hands it to the
//! executor, which fails the next checkpoint so the window rolls back to its last commit.

use std::cell::RefCell;
use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::cluster::wire::record::{RecordReader, put_i64, put_u64};
use crate::state::StateError;
use crate::state::provider::{KvBackend, MAX_VALUE_LEN};
use crate::window::store::{Event, EventStore};
use crate::window::tuple_window::{PagedSource, TupleWindow, WindowTuple};

/// Key of the store's index record.
const META_KEY: &[u8] = b"window/meta";
/// Prefix of a segment's key (then the id, big-endian).
const SEGMENT_PREFIX: &[u8] = b"window/seg/";
/// Format of the index record.
const FORMAT: u32 = 1;
/// Most events in one segment (at most 256 bytes each fit in a state value).
const MAX_SEGMENT: usize = 1 << 16;

/// How a store writes its items to bytes and reads them back.
pub(crate) trait EventCodec<T> {
    /// Append `item`.
    fn encode(&mut self, item: &T, out: &mut Vec<u8>) -> Result<(), String>;
    /// Read one item.
    fn decode(&self, r: &mut RecordReader<'_>) -> Result<T, String>;
    /// The codec's own table (e.g. the schemas it numbered), saved in the index.
    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// Restore the table saved by [`EventCodec::save`].
    fn restore(&mut self, _table: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

/// One segment: consecutive events, in memory or only in the state.
#[derive(Debug)]
struct Segment<T> {
    id: u64,
    len: usize,
    min_ts: i64,
    max_ts: i64,
    /// `None`: paged out (in the state only).
    events: Option<VecDeque<Event<T>>>,
    /// Changed since it was last written.
    dirty: bool,
}

/// The index record's JSON part (the segments are in its binary part).
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: u32,
    next_id: u64,
    shown: usize,
    codec: serde_json::Value,
    extra: serde_json::Value,
}

/// The events of a persistent window, paged to a [`KvBackend`].
pub(crate) struct PagedStore<T, C> {
    backend: Box<dyn KvBackend>,
    codec: C,
    segment_events: usize,
    /// Events the store itself may hold (the cap less one segment for window reads).
    budget: usize,
    segments: VecDeque<Segment<T>>,
    len: usize,
    resident: usize,
    max_resident: usize,
    next_id: u64,
    shown: usize,
    error: Option<StateError>,
    /// A window read's error (a page that could not be loaded).
    read_error: RefCell<Option<StateError>>,
}

impl<T, C> std::fmt::Debug for PagedStore<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagedStore")
            .field("namespace", &self.backend.namespace())
            .field("len", &self.len)
            .field("resident", &self.resident)
            .field("segments", &self.segments.len())
            .finish()
    }
}

/// Events per segment for a cap: a quarter of it (so the front segment, the newest two
/// and a window read's page fit), at least 16.
pub(crate) fn segment_events(max_in_memory: usize) -> usize {
    (max_in_memory / 4).clamp(16, MAX_SEGMENT)
}

fn segment_key(id: u64) -> Vec<u8> {
    let mut k = SEGMENT_PREFIX.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

impl<T, C: EventCodec<T>> PagedStore<T, C> {
    /// An empty store over `backend` holding at most `max_in_memory` events.
    pub(crate) fn new(backend: Box<dyn KvBackend>, codec: C, max_in_memory: usize) -> Self {
        let segment_events = segment_events(max_in_memory);
        PagedStore {
            backend,
            codec,
            segment_events,
            budget: max_in_memory
                .saturating_sub(segment_events)
                .max(2 * segment_events),
            segments: VecDeque::new(),
            len: 0,
            resident: 0,
            max_resident: 0,
            next_id: 0,
            shown: 0,
            error: None,
            read_error: RefCell::new(None),
        }
    }

    /// The state the store pages to (driven by the checkpoint protocol).
    pub(crate) fn backend(&mut self) -> &mut dyn KvBackend {
        &mut *self.backend
    }

    /// Events in memory now.
    pub(crate) fn resident(&self) -> usize {
        self.resident
    }

    /// The most events held in memory at once so far (a window read's page included).
    #[cfg(test)]
    pub(crate) fn max_resident(&self) -> usize {
        self.max_resident
    }

    /// Events per segment.
    #[cfg(test)]
    pub(crate) fn segment_size(&self) -> usize {
        self.segment_events
    }

    /// The first error met while paging, if any (then the store's contents are not
    /// trustworthy: restore it).
    pub(crate) fn take_error(&mut self) -> Option<StateError> {
        let read = self.read_error.get_mut().take();
        self.error.take().or(read)
    }

    fn fail(&mut self, e: StateError) {
        if self.error.is_none() {
            tracing::error!(namespace = %self.backend.namespace(), error = %e,
                "persistent window: paging failed; the next checkpoint fails and the window \
                 rolls back to its last commit");
            self.error = Some(e);
        }
    }

    fn codec_error(&self, action: &'static str, message: String) -> StateError {
        StateError::Codec {
            namespace: self.backend.namespace().to_string(),
            action,
            what: "value",
            message,
        }
    }

    fn note_resident(&mut self) {
        self.max_resident = self.max_resident.max(self.resident);
    }

    /// Load segment `i` if it is paged out.
    fn page_in(&mut self, i: usize) {
        let Some(seg) = self.segments.get(i) else {
            return;
        };
        if seg.events.is_some() {
            return;
        }
        let (id, len) = (seg.id, seg.len);
        let loaded = read_segment(&*self.backend, &self.codec, id, len);
        match loaded {
            Ok(events) => {
                self.resident += events.len();
                if let Some(seg) = self.segments.get_mut(i) {
                    seg.len = events.len();
                    seg.events = Some(events);
                }
                self.note_resident();
                self.shrink(Some(i));
            }
            Err(e) => {
                // Keep the store consistent: the segment's events are lost to this
                // incarnation (the checkpoint fails and the window is restored).
                self.fail(e);
                if let Some(seg) = self.segments.get_mut(i) {
                    seg.events = Some(VecDeque::new());
                    self.len -= seg.len;
                    seg.len = 0;
                }
            }
        }
    }

    /// Write segment `i` if it changed.
    fn write(&mut self, i: usize) -> Result<(), StateError> {
        let Some(seg) = self.segments.get(i) else {
            return Ok(());
        };
        let (Some(events), true) = (&seg.events, seg.dirty) else {
            return Ok(());
        };
        let mut out = Vec::with_capacity(16 + events.len() * 16);
        put_u64(&mut out, events.len() as u64);
        for e in events {
            put_i64(&mut out, e.ts);
            if let Err(m) = self.codec.encode(&e.item, &mut out) {
                return Err(self.codec_error("encode", m));
            }
        }
        if out.len() > MAX_VALUE_LEN {
            return Err(self.codec_error(
                "encode",
                format!(
                    "a window segment of {} events takes {} bytes, over the state's limit of \
                     {MAX_VALUE_LEN}: lower topology.bolts.window.max.events.in.memory",
                    events.len(),
                    out.len()
                ),
            ));
        }
        let key = segment_key(seg.id);
        self.backend.put(key, out)?;
        if let Some(seg) = self.segments.get_mut(i) {
            seg.dirty = false;
        }
        Ok(())
    }

    /// Page segments out until the store holds no more than its budget, the oldest
    /// first, keeping the front one, the newest one and `keep`.
    fn shrink(&mut self, keep: Option<usize>) {
        let mut i = 1;
        while self.resident > self.budget && i + 1 < self.segments.len() {
            if Some(i) != keep && self.segments[i].events.is_some() {
                if let Err(e) = self.write(i) {
                    self.fail(e);
                    return;
                }
                if let Some(events) = self.segments[i].events.take() {
                    self.resident -= events.len();
                }
            }
            i += 1;
        }
    }

    /// The segment holding position `index`, and the position in it.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        // From the closer end.
        if index < self.len / 2 {
            let mut at = 0;
            for (i, s) in self.segments.iter().enumerate() {
                if index < at + s.len {
                    return Some((i, index - at));
                }
                at += s.len;
            }
        } else {
            let mut at = self.len;
            for (i, s) in self.segments.iter().enumerate().rev() {
                at -= s.len;
                if index >= at {
                    return Some((i, index - at));
                }
            }
        }
        None
    }

    /// Write every changed segment and the index (with the caller's `extra` record) to
    /// the state's pending changes: call before the state's `prepare_commit`.
    pub(crate) fn save(&mut self, extra: serde_json::Value) -> Result<(), StateError> {
        if let Some(e) = self.take_error() {
            return Err(e);
        }
        for i in 0..self.segments.len() {
            self.write(i)?;
        }
        let meta = Meta {
            format: FORMAT,
            next_id: self.next_id,
            shown: self.shown,
            codec: self.codec.save(),
            extra,
        };
        let json =
            serde_json::to_vec(&meta).map_err(|e| self.codec_error("encode", e.to_string()))?;
        // The JSON part, then the segments (varints, times as deltas).
        let mut bytes = Vec::with_capacity(json.len() + 16 + self.segments.len() * 8);
        put_u64(&mut bytes, json.len() as u64);
        bytes.extend_from_slice(&json);
        put_u64(&mut bytes, self.segments.len() as u64);
        let (mut id, mut ts) = (0u64, 0i64);
        for s in &self.segments {
            put_u64(&mut bytes, s.id.wrapping_sub(id));
            put_u64(&mut bytes, s.len as u64);
            put_i64(&mut bytes, s.min_ts.wrapping_sub(ts));
            put_i64(&mut bytes, s.max_ts.wrapping_sub(s.min_ts));
            (id, ts) = (s.id, s.max_ts);
        }
        self.backend.put(META_KEY.to_vec(), bytes)
    }

    /// Drop what is in memory and read the store back from its state (the last
    /// committed version after a rollback, or after a restart). Returns the caller's
    /// `extra` record (`Null` when the state holds no window).
    pub(crate) fn restore(&mut self) -> Result<serde_json::Value, StateError> {
        self.segments.clear();
        self.len = 0;
        self.resident = 0;
        self.next_id = 0;
        self.shown = 0;
        self.error = None;
        *self.read_error.get_mut() = None;
        let Some(bytes) = self.backend.get(META_KEY)? else {
            return Ok(serde_json::Value::Null);
        };
        let namespace = self.backend.namespace().to_string();
        let bad = |e: crate::cluster::wire::WireError| StateError::Codec {
            namespace: namespace.clone(),
            action: "decode",
            what: "value",
            message: format!("window index: {e}"),
        };
        let mut r = RecordReader::new(&bytes);
        let json_len = r.count("index json", 1).map_err(bad)?;
        let json = r.take(json_len, "index json").map_err(bad)?;
        let meta: Meta =
            serde_json::from_slice(json).map_err(|e| self.codec_error("decode", e.to_string()))?;
        if meta.format != FORMAT {
            return Err(self.codec_error(
                "decode",
                format!(
                    "window index format {} (this runtime reads {FORMAT})",
                    meta.format
                ),
            ));
        }
        if let Err(m) = self.codec.restore(&meta.codec) {
            return Err(self.codec_error("decode", m));
        }
        self.next_id = meta.next_id;
        let n = r.count("segments", 4).map_err(bad)?;
        let (mut id, mut ts) = (0u64, 0i64);
        for _ in 0..n {
            id = id.wrapping_add(r.u64("segment id").map_err(bad)?);
            let len = usize::try_from(r.u64("segment events").map_err(bad)?).unwrap_or(usize::MAX);
            let min_ts = ts.wrapping_add(r.i64("segment start").map_err(bad)?);
            let max_ts = min_ts.wrapping_add(r.i64("segment end").map_err(bad)?);
            ts = max_ts;
            self.len = self.len.saturating_add(len);
            self.segments.push_back(Segment {
                id,
                len,
                min_ts,
                max_ts,
                events: None,
                dirty: false,
            });
        }
        r.finish().map_err(bad)?;
        self.shown = meta.shown.min(self.len);
        Ok(meta.extra)
    }

    fn new_segment(&mut self) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        self.segments.push_back(Segment {
            id,
            len: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            events: Some(VecDeque::with_capacity(self.segment_events.min(4096))),
            dirty: true,
        });
        self.segments.len() - 1
    }
}

/// Read segment `id` (of `len` events) from the state.
fn read_segment<T, C: EventCodec<T>>(
    backend: &dyn KvBackend,
    codec: &C,
    id: u64,
    len: usize,
) -> Result<VecDeque<Event<T>>, StateError> {
    let codec_err = |m: String| StateError::Codec {
        namespace: backend.namespace().to_string(),
        action: "decode",
        what: "value",
        message: format!("window segment {id}: {m}"),
    };
    let Some(bytes) = backend.get(&segment_key(id))? else {
        return Err(StateError::Store {
            namespace: backend.namespace().to_string(),
            message: format!("window segment {id} ({len} events) is missing from the state"),
        });
    };
    let mut r = RecordReader::new(&bytes);
    let n = r
        .count("segment events", 2)
        .map_err(|e| codec_err(e.to_string()))?;
    let mut events = VecDeque::with_capacity(n);
    for _ in 0..n {
        let ts = r.i64("event time").map_err(|e| codec_err(e.to_string()))?;
        let item = codec.decode(&mut r).map_err(codec_err)?;
        events.push_back(Event {
            ts,
            shown: false,
            item,
        });
    }
    r.finish().map_err(|e| codec_err(e.to_string()))?;
    Ok(events)
}

impl<T, C: EventCodec<T>> EventStore<T> for PagedStore<T, C> {
    const KEEPS_EXPIRED: bool = false;

    fn insert(&mut self, event: Event<T>) {
        let ts = event.ts;
        let last_full = self
            .segments
            .back()
            .is_none_or(|s| s.len >= self.segment_events && s.max_ts <= ts);
        let i = if last_full {
            self.new_segment()
        } else if self.segments.back().is_some_and(|s| s.max_ts <= ts) {
            self.segments.len() - 1
        } else {
            // Out of order: the segment of the last event with a time <= ts.
            let k = self.segments.partition_point(|s| s.min_ts <= ts);
            k.saturating_sub(1)
        };
        self.page_in(i);
        let Some(seg) = self.segments.get_mut(i) else {
            return;
        };
        let Some(events) = seg.events.as_mut() else {
            return;
        };
        match events.back() {
            Some(last) if last.ts > ts => {
                let at = events.partition_point(|e| e.ts <= ts);
                events.insert(at, event);
            }
            _ => events.push_back(event),
        }
        seg.len += 1;
        seg.min_ts = seg.min_ts.min(ts);
        seg.max_ts = seg.max_ts.max(ts);
        seg.dirty = true;
        self.len += 1;
        self.resident += 1;
        self.note_resident();
        if self.resident > self.budget {
            self.shrink(Some(i));
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn ts_at(&mut self, index: usize) -> Option<i64> {
        let (i, at) = self.locate(index)?;
        let seg = &self.segments[i];
        if at == 0 {
            return Some(seg.min_ts);
        }
        if at + 1 == seg.len {
            return Some(seg.max_ts);
        }
        self.page_in(i);
        self.segments[i]
            .events
            .as_ref()
            .and_then(|e| e.get(at))
            .map(|e| e.ts)
    }

    fn mark_shown(&mut self, n: usize) {
        self.shown = self.shown.max(n).min(self.len);
    }

    fn pop_front(&mut self) -> Option<Event<T>> {
        loop {
            let front = self.segments.front()?;
            if front.len == 0 {
                let id = front.id;
                self.segments.pop_front();
                if let Err(e) = self.backend.delete(segment_key(id)) {
                    self.fail(e);
                }
                continue;
            }
            break;
        }
        self.page_in(0);
        let seg = self.segments.front_mut()?;
        let event = seg.events.as_mut()?.pop_front()?;
        seg.len -= 1;
        seg.dirty = true;
        if let Some(next) = seg.events.as_ref().and_then(|e| e.front()) {
            seg.min_ts = next.ts;
        }
        self.len -= 1;
        self.resident -= 1;
        self.shown = self.shown.saturating_sub(1);
        if seg.len == 0 {
            let id = seg.id;
            self.segments.pop_front();
            if let Err(e) = self.backend.delete(segment_key(id)) {
                self.fail(e);
            }
        }
        Some(event)
    }

    fn count_until(&mut self, ts: i64) -> usize {
        match self.segments.back() {
            None => return 0,
            Some(last) if last.max_ts <= ts => return self.len,
            _ => {}
        }
        // The first segment with an event after ts.
        let k = self.segments.partition_point(|s| s.max_ts <= ts);
        let before: usize = if k < self.segments.len() / 2 {
            self.segments.iter().take(k).map(|s| s.len).sum()
        } else {
            self.len - self.segments.iter().skip(k).map(|s| s.len).sum::<usize>()
        };
        if self.segments[k].min_ts > ts {
            return before;
        }
        self.page_in(k);
        let inside = self.segments[k]
            .events
            .as_ref()
            .map_or(0, |e| e.partition_point(|e| e.ts <= ts));
        before + inside
    }

    fn with_window<R>(
        &mut self,
        n: usize,
        _expired: &[T],
        start: Option<i64>,
        end: i64,
        f: impl FnOnce(&TupleWindow<'_, T>) -> R,
    ) -> R {
        // A window read loads one page at a time: count it against the cap.
        let page = self
            .segments
            .iter()
            .filter(|s| s.events.is_none())
            .map(|s| s.len)
            .max()
            .unwrap_or(0);
        self.max_resident = self.max_resident.max(self.resident + page);
        let shown = self.shown;
        f(&TupleWindow::paged(&*self, n, shown, start, end))
    }
}

impl<T, C: EventCodec<T>> PagedSource<T> for PagedStore<T, C> {
    fn range<'s>(
        &'s self,
        from: usize,
        to: usize,
    ) -> Box<dyn Iterator<Item = WindowTuple<'s, T>> + 's> {
        let to = to.min(self.len);
        let Some((seg, at)) = self.locate(from).filter(|_| from < to) else {
            return Box::new(std::iter::empty());
        };
        Box::new(RangeIter {
            store: self,
            seg,
            at,
            left: to - from,
            page: None,
        })
    }
}

/// Reads positions of a [`PagedStore`] in order, loading paged-out segments one at a
/// time.
struct RangeIter<'s, T, C> {
    store: &'s PagedStore<T, C>,
    seg: usize,
    at: usize,
    left: usize,
    /// The paged-out segment being read (loaded for this read).
    page: Option<std::iter::Skip<std::collections::vec_deque::IntoIter<Event<T>>>>,
}

impl<'s, T, C: EventCodec<T>> Iterator for RangeIter<'s, T, C> {
    type Item = WindowTuple<'s, T>;

    fn next(&mut self) -> Option<WindowTuple<'s, T>> {
        while self.left > 0 {
            let store = self.store;
            let seg = store.segments.get(self.seg)?;
            if self.at >= seg.len {
                self.seg += 1;
                self.at = 0;
                self.page = None;
                continue;
            }
            let item = match &seg.events {
                Some(events) => events.get(self.at).map(|e| WindowTuple::Borrowed(&e.item)),
                None => {
                    if self.page.is_none() {
                        match read_segment(&*store.backend, &store.codec, seg.id, seg.len) {
                            Ok(events) => self.page = Some(events.into_iter().skip(self.at)),
                            Err(e) => {
                                let mut slot = store.read_error.borrow_mut();
                                if slot.is_none() {
                                    tracing::error!(error = %e,
                                        "persistent window: a page could not be read; the \
                                         window handed to the bolt is incomplete");
                                    *slot = Some(e);
                                }
                                return None;
                            }
                        }
                    }
                    self.page
                        .as_mut()
                        .and_then(Iterator::next)
                        .map(|e| WindowTuple::Loaded(e.item))
                }
            };
            self.at += 1;
            self.left -= 1;
            if item.is_some() {
                return item;
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "paged_tests.rs"]
mod tests;
