//! What crosses a process boundary: the worker process, its network links and wire
//! codec, the client of nimbus's API, the daemon entry helpers and shipped resources.

pub mod addr;
pub mod auth;
pub mod client;
pub mod daemon;
pub mod http;
pub mod logs;
pub(crate) mod net;
pub mod protocol;
pub mod resources;
pub mod wire;
pub mod worker;
