//! Where a window's events are kept: [`EventStore`], the small interface the window
//! manager uses, and [`MemoryStore`], a sorted ring buffer.
//!
//! The manager only ever inserts (mostly at the back), reads and flags a prefix, and
//! removes from the front, so a store that pages its middle out (to a state provider,
//! for persistent windows) can implement the same interface with only its two ends in
//! memory.

use std::collections::VecDeque;

use crate::window::tuple_window::TupleWindow;

/// One event: an item with its time (processing or event time, milliseconds) and
/// whether it was in an activated window already.
#[derive(Debug)]
pub(crate) struct Event<T> {
    /// Arrival or event time, in milliseconds.
    pub(crate) ts: i64,
    /// It was in a window handed to the bolt.
    pub(crate) shown: bool,
    /// The tuple.
    pub(crate) item: T,
}

/// The events of a window, in `(ts, arrival)` order.
///
/// Reads take `&mut self`: a store that pages (see [`crate::window::paged`]) loads the
/// part it is asked about.
pub(crate) trait EventStore<T> {
    /// Whether the manager keeps the shown events that expire, for the next window's
    /// `get_expired` (a paged store does not: they may be more than fit in memory).
    const KEEPS_EXPIRED: bool = true;
    /// Insert after every event with a time `<= event.ts`.
    fn insert(&mut self, event: Event<T>);
    /// Number of events.
    fn len(&self) -> usize;
    /// The time of the event at `index` (in time order).
    fn ts_at(&mut self, index: usize) -> Option<i64>;
    /// Mark the first `n` events as shown.
    fn mark_shown(&mut self, n: usize);
    /// Remove the earliest event.
    fn pop_front(&mut self) -> Option<Event<T>>;
    /// Number of events with a time `<= ts`.
    fn count_until(&mut self, ts: i64) -> usize;
    /// Hand `f` the window of the first `n` events (`expired`: the shown events that
    /// left since the last window, kept by the manager when [`EventStore::KEEPS_EXPIRED`]).
    fn with_window<R>(
        &mut self,
        n: usize,
        expired: &[T],
        start: Option<i64>,
        end: i64,
        f: impl FnOnce(&TupleWindow<'_, T>) -> R,
    ) -> R;
}

/// Events in memory, sorted: a ring buffer, inserted into by binary search (at the back
/// for in-order input, a short move for slightly out-of-order input).
#[derive(Debug)]
pub(crate) struct MemoryStore<T> {
    events: VecDeque<Event<T>>,
}

impl<T> Default for MemoryStore<T> {
    fn default() -> Self {
        MemoryStore {
            events: VecDeque::new(),
        }
    }
}

impl<T> MemoryStore<T> {
    /// The event at `index` (in time order).
    #[cfg(test)]
    pub(crate) fn get(&self, index: usize) -> Option<&Event<T>> {
        self.events.get(index)
    }

    /// The first `n` events, in order.
    pub(crate) fn prefix(&self, n: usize) -> impl Iterator<Item = &Event<T>> {
        self.events.iter().take(n)
    }
}

impl<T> EventStore<T> for MemoryStore<T> {
    #[inline]
    fn insert(&mut self, event: Event<T>) {
        match self.events.back() {
            Some(last) if last.ts > event.ts => {
                let at = self.events.partition_point(|e| e.ts <= event.ts);
                self.events.insert(at, event);
            }
            _ => self.events.push_back(event),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.events.len()
    }

    #[inline]
    fn ts_at(&mut self, index: usize) -> Option<i64> {
        self.events.get(index).map(|e| e.ts)
    }

    fn mark_shown(&mut self, n: usize) {
        for e in self.events.iter_mut().take(n) {
            e.shown = true;
        }
    }

    #[inline]
    fn pop_front(&mut self) -> Option<Event<T>> {
        self.events.pop_front()
    }

    #[inline]
    fn count_until(&mut self, ts: i64) -> usize {
        match self.events.back() {
            Some(last) if last.ts <= ts => self.events.len(),
            _ => self.events.partition_point(|e| e.ts <= ts),
        }
    }

    fn with_window<R>(
        &mut self,
        n: usize,
        expired: &[T],
        start: Option<i64>,
        end: i64,
        f: impl FnOnce(&TupleWindow<'_, T>) -> R,
    ) -> R {
        let all: Vec<&T> = self.prefix(n).map(|e| &e.item).collect();
        let new: Vec<&T> = self
            .prefix(n)
            .filter(|e| !e.shown)
            .map(|e| &e.item)
            .collect();
        let expired: Vec<&T> = expired.iter().collect();
        f(&TupleWindow::slices(&all, &new, &expired, start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_in_time_then_arrival_order() {
        let mut s = MemoryStore::default();
        for (ts, item) in [(5, 'a'), (3, 'b'), (5, 'c'), (1, 'd'), (9, 'e'), (3, 'f')] {
            s.insert(Event {
                ts,
                shown: false,
                item,
            });
        }
        let order: String = s.prefix(s.len()).map(|e| e.item).collect();
        assert_eq!(order, "dbfacE".to_lowercase());
        assert_eq!(s.count_until(3), 3);
        assert_eq!(s.count_until(0), 0);
        assert_eq!(s.count_until(100), 6);
        s.mark_shown(2);
        assert!(s.get(1).is_some_and(|e| e.shown) && s.get(2).is_some_and(|e| !e.shown));
        assert_eq!(s.pop_front().map(|e| e.item), Some('d'));
    }
}
