//! [`TupleWindow`]: what a windowed bolt sees when its window fires (Storm's
//! `TupleWindow`).

use std::ops::Deref;

use crate::api::tuple::Tuple;

/// The tuples of one activation of a window.
///
/// `get()` is every tuple in the window, in time order (arrival order for processing
/// time, event-time order for event time). `get_new()` are those that were not in the
/// previous window handed to the bolt, and `get_expired()` those of the previous window
/// that are not in this one — so `get() = previous get() − get_expired() + get_new()`,
/// and an aggregate can be kept incrementally. (Unlike Storm, a tuple that arrived and
/// expired between two activations, never being in a window, is in neither list.)
///
/// A **persistent** window (`topology.bolts.window.persistent`) may not fit in memory:
/// read it with [`TupleWindow::get_iter`] and [`TupleWindow::get_new_iter`], which page
/// its tuples in as they go (Storm's `getIter()`); `get()`, `get_new()` and
/// `get_expired()` panic on it (Storm throws `UnsupportedOperationException`), which fails
/// the window with that message. The iterators work on every window.
pub struct TupleWindow<'a, T = Tuple> {
    contents: Contents<'a, T>,
    start: Option<i64>,
    end: i64,
}

impl<T> std::fmt::Debug for TupleWindow<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TupleWindow")
            .field("len", &self.len())
            .field("start", &self.start)
            .field("end", &self.end)
            .finish()
    }
}

/// Where a window's tuples are.
enum Contents<'a, T> {
    /// In memory, as slices.
    Slices {
        all: &'a [&'a T],
        new: &'a [&'a T],
        expired: &'a [&'a T],
    },
    /// In a paged store: `len` tuples, the first `shown` of which were in the previous
    /// window.
    Paged {
        source: &'a dyn PagedSource<T>,
        len: usize,
        shown: usize,
    },
}

/// A store a persistent window's tuples are read from, page by page.
pub(crate) trait PagedSource<T> {
    /// The tuples at positions `from..to`, in order.
    fn range<'s>(
        &'s self,
        from: usize,
        to: usize,
    ) -> Box<dyn Iterator<Item = WindowTuple<'s, T>> + 's>;
}

/// One tuple of a window read through an iterator: borrowed from memory, or loaded from
/// the state (a persistent window's paged-out tuples). Dereferences to the tuple.
#[derive(Debug)]
pub enum WindowTuple<'a, T = Tuple> {
    /// A tuple held in memory.
    Borrowed(&'a T),
    /// A tuple loaded from the state for this read.
    Loaded(T),
}

impl<T> Deref for WindowTuple<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self {
            WindowTuple::Borrowed(t) => t,
            WindowTuple::Loaded(t) => t,
        }
    }
}

const PAGED: &str = "a persistent window does not hold its tuples in memory: read it with \
                     get_iter() / get_new_iter() (get(), get_new() and get_expired() are for \
                     windows that are not persistent)";

impl<'a, T> TupleWindow<'a, T> {
    /// A window held in memory.
    pub(crate) fn slices(
        all: &'a [&'a T],
        new: &'a [&'a T],
        expired: &'a [&'a T],
        start: Option<i64>,
        end: i64,
    ) -> TupleWindow<'a, T> {
        TupleWindow {
            contents: Contents::Slices { all, new, expired },
            start,
            end,
        }
    }

    /// A window read from a paged store.
    pub(crate) fn paged(
        source: &'a dyn PagedSource<T>,
        len: usize,
        shown: usize,
        start: Option<i64>,
        end: i64,
    ) -> TupleWindow<'a, T> {
        TupleWindow {
            contents: Contents::Paged {
                source,
                len,
                shown: shown.min(len),
            },
            start,
            end,
        }
    }

    /// Every tuple in the window, in time order.
    ///
    /// # Panics
    /// On a persistent window (use [`TupleWindow::get_iter`]).
    pub fn get(&self) -> &'a [&'a T] {
        match self.contents {
            Contents::Slices { all, .. } => all,
            Contents::Paged { .. } => panic!("get(): {PAGED}"),
        }
    }

    /// The tuples not in the previous window.
    ///
    /// # Panics
    /// On a persistent window (use [`TupleWindow::get_new_iter`]).
    pub fn get_new(&self) -> &'a [&'a T] {
        match self.contents {
            Contents::Slices { new, .. } => new,
            Contents::Paged { .. } => panic!("get_new(): {PAGED}"),
        }
    }

    /// The tuples of the previous window that left it.
    ///
    /// # Panics
    /// On a persistent window (the tuples that left are not kept, as in Storm).
    pub fn get_expired(&self) -> &'a [&'a T] {
        match self.contents {
            Contents::Slices { expired, .. } => expired,
            Contents::Paged { .. } => panic!("get_expired(): {PAGED}"),
        }
    }

    /// Every tuple in the window, in time order, loading the paged-out ones of a
    /// persistent window as it goes (Storm's `getIter()`): at most one page is loaded at
    /// a time.
    pub fn get_iter(&self) -> Box<dyn Iterator<Item = WindowTuple<'a, T>> + 'a> {
        match self.contents {
            Contents::Slices { all, .. } => Box::new(all.iter().map(|t| WindowTuple::Borrowed(*t))),
            Contents::Paged { source, len, .. } => source.range(0, len),
        }
    }

    /// The tuples not in the previous window, as [`TupleWindow::get_iter`] reads them.
    pub fn get_new_iter(&self) -> Box<dyn Iterator<Item = WindowTuple<'a, T>> + 'a> {
        match self.contents {
            Contents::Slices { new, .. } => Box::new(new.iter().map(|t| WindowTuple::Borrowed(*t))),
            Contents::Paged { source, len, shown } => source.range(shown, len),
        }
    }

    /// Number of tuples in the window.
    pub fn len(&self) -> usize {
        match self.contents {
            Contents::Slices { all, .. } => all.len(),
            Contents::Paged { len, .. } => len,
        }
    }

    /// Whether the window is empty (a window handed to a bolt never is).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the window is persistent (read it with the iterators).
    pub fn is_paged(&self) -> bool {
        matches!(self.contents, Contents::Paged { .. })
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

    /// The tuples an emit is anchored to: every tuple of a window in memory; none for a
    /// persistent window (its emits are unanchored).
    pub(crate) fn anchors(&self) -> &'a [&'a T] {
        match self.contents {
            Contents::Slices { all, .. } => all,
            Contents::Paged { .. } => &[],
        }
    }
}
