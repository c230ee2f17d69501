//! Metrics nimbus keeps from what workers report: per-task rolling windows
//! ([`rollup`]).

pub mod rollup;
