//! What crosses a process boundary: the worker process, its network links and wire
//! codec, the client of nimbus's API, the daemon entry helpers and shipped resources.

pub mod addr;
pub mod auth;
pub mod client;
mod client_loglevel;
pub mod client_logs;
pub mod client_metrics;
pub mod client_storm;
pub mod daemon;
pub mod http;
pub mod log_filter;
pub mod logs;
pub(crate) mod net;
pub mod private_file;
pub mod protocol;
pub mod resources;
pub mod wire;
pub mod worker;

/// For `benches/` only: mean (TCP connect, TCP connect + data-link handshake) times over
/// `n` loopback connections, with or without frame MACs.
#[doc(hidden)]
pub fn bench_data_link_connect_times(
    n: u32,
    frame_mac: bool,
) -> Result<(std::time::Duration, std::time::Duration), String> {
    net::bench::connect_times(n, frame_mac).map_err(|e| e.to_string())
}

#[doc(hidden)]
pub use net::bench::LinkRun;

/// For `benches/` only: `total` tuples of one string field `value` through one worker
/// link on loopback (an executor's `Outbox` batching by `batch`, the writer thread, the
/// listener's reader thread, an executor queue and a consumer that drops them), with or
/// without frame MACs: the rate and each thread's CPU time per tuple.
#[doc(hidden)]
pub fn bench_link_throughput(
    total: u64,
    batch: usize,
    value: &'static str,
    frame_mac: bool,
) -> Result<LinkRun, String> {
    net::bench::link_throughput(total, batch, value, frame_mac).map_err(|e| e.to_string())
}
