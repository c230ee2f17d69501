//! Metrics: what the executors measure (sampled latency histograms, per-stream counts,
//! backpressure), the user metrics registry, and the rolling windows both local mode
//! and nimbus roll them up in.

pub mod histogram;
pub(crate) mod inputs;
pub mod registry;
pub(crate) mod sampler;
pub(crate) mod samples;
pub(crate) mod ticks;

pub use histogram::Histogram;
pub mod window;

pub use registry::{Counter, Gauge, MetricError, MetricHistogram, MetricsRegistry};
pub use window::{Mergeable, Rolling};

#[cfg(test)]
mod tests;
