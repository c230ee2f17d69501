//! Metrics: what the executors measure (sampled latency histograms, per-stream counts,
//! backpressure), the user metrics registry, and the rolling windows both local mode
//! and nimbus roll them up in.

pub mod histogram;

pub use histogram::Histogram;
pub mod window;

pub use window::{Mergeable, Rolling};
