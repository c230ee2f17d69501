//! Running a topology in one process: the engine and its executors, the transfer of
//! tuples between them, groupings, acking, statistics, local mode and the test harness.

pub(crate) mod acking;
pub(crate) mod assemble;
pub mod backoff;
pub mod clock;
pub(crate) mod doorbell;
pub(crate) mod executor;
pub mod grouping;
pub mod local;
pub mod metrics;
pub(crate) mod queue;
pub(crate) mod run_state;
mod runner;
pub mod stats;
pub mod testing;
pub(crate) mod transfer;

pub(crate) use runner::{Engine, EngineSpec, reports};
