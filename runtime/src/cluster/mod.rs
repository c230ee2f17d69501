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
