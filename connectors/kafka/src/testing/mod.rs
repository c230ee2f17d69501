//! Test helpers (feature `test-util`): a real broker ([`Broker`], tansu on loopback,
//! optionally behind TLS and requiring SASL: [`Broker::start_tls`], [`TlsProxy`]), a
//! proxy that cuts and restores its connections ([`Proxy`]), and clients to produce
//! records and read a group's committed offsets; an in-memory log and consumer
//! ([`MemoryLog`], [`MemoryConsumer`]) to inject offset gaps behind the spout; word-count
//! input with known totals ([`word_lines`], [`round_robin`]).

mod broker;
mod clients;
mod files;
mod lines;
mod memory;
mod proxy;
mod tls;

pub use broker::{Broker, DEFAULT_TANSU_VENV, TANSU_ENV, tansu_binary};
pub use clients::{
    Delivered, Outgoing, committed_offsets, log_ends, produce, produce_one_per_batch, produce_with,
};
pub use files::write_with_mode;
pub use lines::{round_robin, word_lines};
pub use memory::{MemoryConsumer, MemoryLog};
pub use proxy::{Proxy, ProxyListener};
pub use tls::{TestCa, TlsProxy};

use thiserror::Error;

/// A test helper failed: what, in words.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct TestError(String);

impl TestError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> TestError {
        TestError(msg.into())
    }
}
