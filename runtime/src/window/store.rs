//! Where a window's events are kept: [`EventStore`], the small interface the window
//! manager uses, and [`MemoryStore`], a sorted ring buffer.
//!
//! The manager only ever inserts (mostly at the back), reads and flags a prefix, and
//! removes from the front, so a store that pages its middle out (to a state provider,
//! for persistent windows) can implement the same interface with only its two ends in
//! memory.

use std::collections::VecDeque;

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
pub(crate) trait EventStore<T> {
    /// Insert after every event with a time `<= event.ts`.
    fn insert(&mut self, event: Event<T>);
    /// Number of events.
    fn len(&self) -> usize;
    /// The event at `index` (in time order).
    fn get(&self, index: usize) -> Option<&Event<T>>;
    /// Mark the first `n` events as shown.
    fn mark_shown(&mut self, n: usize);
    /// Remove the earliest event.
    fn pop_front(&mut self) -> Option<Event<T>>;
    /// Number of events with a time `<= ts`.
    fn count_until(&self, ts: i64) -> usize;
    /// The first `n` events, in order.
    fn prefix<'a>(&'a self, n: usize) -> impl Iterator<Item = &'a Event<T>>
    where
        T: 'a;
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
    fn get(&self, index: usize) -> Option<&Event<T>> {
        self.events.get(index)
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
    fn count_until(&self, ts: i64) -> usize {
        match self.events.back() {
            Some(last) if last.ts <= ts => self.events.len(),
            _ => self.events.partition_point(|e| e.ts <= ts),
        }
    }

    fn prefix<'a>(&'a self, n: usize) -> impl Iterator<Item = &'a Event<T>>
    where
        T: 'a,
    {
        self.events.iter().take(n)
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
