//! Trident map states: per-key values that absorb one batch at a time, keyed by the
//! grouping values of a `groupBy`.
//!
//! A [`MapState`] sits on a [`StateBackend`] (bytes to bytes, one atomic `put_batch` per
//! batch) and follows one of Storm's three update rules, chosen by [`StateKind`]:
//!
//! * **non-transactional** — the value only; a replayed batch is applied again;
//! * **transactional** — `(txid, value)`; a batch whose txid is already stored is skipped;
//! * **opaque** — `(txid, value, prev)`; a batch whose txid is already stored is
//!   recomputed from `prev`, so a replay with different contents replaces the first try.
//!
//! The kind is recorded in the store when the state is created, so [`dump`] can read a
//! store back without being told what it holds.

mod backend;
mod combiner;
pub mod dump;
mod error;
mod key;
mod map;
mod redb_backend;

pub use backend::{APPLIED_TXID_META, Entry, MemoryBackend, StateBackend};
pub use combiner::{Combiner, Count, Partial, Sum};
pub use error::StateError;
pub use key::{decode_key, encode_key};
pub use map::{MapState, Record, StateKind};
pub use redb_backend::RedbBackend;
