//! Executors: one thread each, running the tasks of one component.
//!
//! Lifecycle: create (on the coordinator) → `open`/`prepare` on the executor thread →
//! report ready → wait at the start gate → run the loop → `close`/`cleanup` → publish the
//! final statistics.

mod acker;
mod bolt;
mod gate;
mod idle;
mod spout;
mod ticks;

pub(crate) use acker::AckerExecutor;
pub(crate) use bolt::{BoltExecutor, BoltTask};
pub(crate) use gate::Gate;
pub(crate) use spout::{SpoutExecutor, SpoutTask};
pub(crate) use ticks::{TickTarget, TickTimer};

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::api::error::ComponentError;

/// Run `f`, turning a panic into a [`ComponentError::Panic`].
#[inline]
pub(crate) fn guarded<T>(
    f: impl FnOnce() -> Result<T, ComponentError>,
) -> Result<T, ComponentError> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(ComponentError::from_panic(p.as_ref())))
}
