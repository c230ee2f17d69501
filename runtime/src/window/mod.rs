//! Windowed bolts (Storm's `IWindowedBolt` / `BaseWindowedBolt`): a [`WindowedBolt`]
//! gets the tuples of a window — sliding or tumbling, by count or duration, in
//! processing time or event time (watermarks) — each time the window fires.
//!
//! - [`config`]: [`WindowConfig`] and its component-config keys.
//! - [`policy`]: trigger and eviction; [`manager`]: the window state machine;
//!   [`store`]: where events are kept (the interface persistent windows page through).
//! - [`paged`]: the store of persistent windows (Storm's `withPersistence()`), paged to
//!   the task's state; `persistent`: the executor part that checkpoints it, acks at
//!   commits and recovers without firing windows twice; `ids`: the message ids it knows,
//!   to drop replays.
//! - [`watermark`]: event-time progress per input, with idleness; `int_field`: the
//!   timestamp / message id field read from each input.
//! - [`bolt`], [`tuple_window`]: the user API; [`executor`]: the [`Windowed`] bolt that
//!   runs one; [`timer`]: its wake-ups; [`flux`]: Flux's `configMethods`.
//!
//! ```rust,ignore
//! registry.windowed_bolt("SlidingSum", |args| Ok(SlidingSum::new(args.str(0, "field")?)));
//! ```

pub mod bolt;
pub mod config;
pub mod error;
pub mod executor;
pub mod flux;
mod ids;
mod int_field;
pub(crate) mod manager;
pub(crate) mod paged;
mod persistent;
pub(crate) mod policy;
pub(crate) mod store;
mod timer;
pub mod tuple_window;
pub(crate) mod watermark;

pub use bolt::{WindowedBolt, WindowedCollector};
pub use config::{Span, WindowConfig};
pub use error::WindowError;
pub use executor::{LATE_TUPLE_FIELD, Windowed};
pub use tuple_window::{TupleWindow, WindowTuple};

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod persistent_tests;
