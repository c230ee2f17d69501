//! [`TupleWindow`]: what a windowed bolt sees when its window fires (Storm's
//! `TupleWindow`).

use crate::api::tuple::Tuple;

/// The tuples of one activation of a window.
///
/// `get()` is every tuple in the window, in time order (arrival order for processing
/// time, event-time order for event time). `get_new()` are those that were not in the
/// previous window handed to the bolt, and `get_expired()` those of the previous window
/// that are not in this one — so `get() = previous get() − get_expired() + get_new()`,
/// and an aggregate can be kept incrementally. (Unlike Storm, a tuple that arrived and
/// expired between two activations, never being in a window, is in neither list.)
#[derive(Debug)]
pub struct TupleWindow<'a, T = Tuple> {
    pub(crate) all: &'a [&'a T],
    pub(crate) new: &'a [&'a T],
    pub(crate) expired: &'a [&'a T],
    pub(crate) start: Option<i64>,
    pub(crate) end: i64,
}

impl<'a, T> TupleWindow<'a, T> {
    /// Every tuple in the window, in time order.
    pub fn get(&self) -> &'a [&'a T] {
        self.all
    }

    /// The tuples not in the previous window.
    pub fn get_new(&self) -> &'a [&'a T] {
        self.new
    }

    /// The tuples of the previous window that left it.
    pub fn get_expired(&self) -> &'a [&'a T] {
        self.expired
    }

    /// The window's start, in milliseconds (exclusive): its end minus its length, for a
    /// duration window; `None` for a count window (as Storm).
    pub fn start_timestamp(&self) -> Option<i64> {
        self.start
    }

    /// The window's end, in milliseconds (inclusive): the reference time it fired at —
    /// the trigger's wall-clock time in processing time, the window's end in event time
    /// (for a count trigger, the time of the tuple that completed the count).
    pub fn end_timestamp(&self) -> i64 {
        self.end
    }
}
