//! Worker-to-worker connections: the data plane of cluster mode.
//!
//! Each worker runs one [`Listener`]. For every other worker it sends to, it keeps one
//! [`RemoteDestination`]: a bounded queue of envelopes (a plain
//! [`transfer::Destination`](crate::engine::transfer::Destination), so an `Outbox` sends to a
//! remote task exactly as to a local one) drained by a writer thread that encodes whole
//! bursts of envelopes into one buffer and writes them with one `write_all`.
//!
//! Every connection starts with a challenge–response handshake (see the `handshake`
//! module): magic bytes, protocol version, topology id and schema-table digest must
//! match, and each side proves it knows the topology secret with a MAC over both sides'
//! fresh nonces, or the listener logs an error naming the peer and closes the
//! connection (and the connecting side logs the refusal and retries with backoff).
//! Connections are one-way: after the handshake, only the connecting side sends, and
//! every frame it sends is sealed (AES-256-GCM: encrypted, with a tag) under a key of
//! that connection with an implicit sequence number (see
//! [`cluster::auth::frame_mac`](crate::cluster::auth::frame_mac)): the listener checks
//! the tag before decoding anything and cuts the connection on a bad one.
//!
//! A listener holds at most [`NetConfig::max_connections`] connections, of which at most
//! [`NetConfig::max_pending`] still in their handshake: past that, the oldest pending one
//! is closed to make room, so idle or trickling clients cannot keep real peers out (a
//! real handshake takes a round trip), and each pending one is cut at the handshake
//! deadline anyway.
//!
//! The listener's reader thread per connection decodes frames and hands each envelope
//! to a [`Route`], which sends it to the local executor queue of its task, blocking
//! while that queue is full. The blocked reader stops reading the socket, TCP flow
//! control fills the sender's socket buffer, the writer blocks in `write_all`, its
//! bounded queue fills and the emitting executors block: backpressure across workers
//! with nothing dropped.
//!
//! # Delivery
//!
//! Envelopes are delivered in order, at most once. When a connection breaks, the
//! envelopes of the burst being written are dropped with a warning (and counted in
//! [`LinkStats`]); the writer reconnects with exponential backoff and carries on with
//! the envelopes still queued (which stay queued, blocking senders when full, while
//! there is no connection). A write into a connection the peer has already closed can
//! succeed locally, so one more burst may be lost without an error. Tuple trees that
//! lose tuples this way time out and their spouts replay them: at-least-once
//! processing covers connection loss, as with Storm's Netty transport.

pub(crate) mod bench;
mod handshake;
mod listener;
mod remote;
mod route;
mod serve;
mod writer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auth;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::cluster::auth::frame_mac::FrameMacError;
use crate::cluster::auth::topology_secret::{SecretError, TopologySecret};
use crate::cluster::wire::{DEFAULT_MAX_FRAME, Handshake, SchemaTable, WireError};

pub(crate) use listener::Listener;
pub(crate) use remote::RemoteDestination;
pub(crate) use route::{Route, TaskRouter};
#[cfg(test)]
pub(crate) use {listener::ListenerStats, remote::LinkState, remote::LinkStats};

/// Largest handshake frame accepted, either way: a connection that has not shown it is
/// a worker of the topology cannot make this side buffer more.
pub(crate) const MAX_HANDSHAKE: usize = 4 * 1024;

/// Tuning of connections.
#[derive(Debug, Clone)]
pub(crate) struct NetConfig {
    /// Largest frame payload sent or accepted (a larger incoming frame closes the
    /// connection; a larger outgoing batch is split).
    pub(crate) max_frame: usize,
    /// Capacity of a remote destination's queue, in tuples (see `engine::queue`).
    pub(crate) queue_capacity: usize,
    /// A writer stops coalescing queued envelopes into one write at this many bytes.
    pub(crate) burst_bytes: usize,
    /// Longest wait for the peer's whole handshake (a client trickling it is cut).
    pub(crate) handshake_timeout: Duration,
    /// Most incoming connections open at once; past it a new one is closed at once.
    pub(crate) max_connections: usize,
    /// Most incoming connections still in their handshake; past it the oldest of them is
    /// closed to make room for the new one.
    pub(crate) max_pending: usize,
    /// Longest wait for a TCP connect.
    pub(crate) connect_timeout: Duration,
    /// First reconnect delay; doubles up to `backoff_max`.
    pub(crate) backoff_min: Duration,
    /// Longest reconnect delay.
    pub(crate) backoff_max: Duration,
    /// How long a shutdown waits for threads before abandoning them.
    pub(crate) shutdown_timeout: Duration,
}

impl Default for NetConfig {
    fn default() -> NetConfig {
        NetConfig {
            max_frame: DEFAULT_MAX_FRAME,
            // As many tuples as the 1,024 full batches of 1,000 it held when counted
            // in batches (the remote writer coalesces them into bursts).
            queue_capacity: 1024 * 1000,
            burst_bytes: 256 * 1024,
            handshake_timeout: Duration::from_secs(5),
            max_connections: 1024,
            max_pending: 64,
            connect_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_secs(2),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// Who this worker is, as the handshake tells it.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// Id of the topology (both sides must agree).
    pub(crate) topology_id: String,
    /// This worker's id, for the peer's logs.
    pub(crate) worker_id: String,
    /// The stream table (both sides must have the same digest).
    pub(crate) schemas: Arc<SchemaTable>,
    /// The topology's secret, which both sides prove they know.
    pub(crate) secret: TopologySecret,
    /// Whether frames carry MACs (both sides must agree; off only in a benchmark).
    pub(crate) frame_mac: bool,
}

impl Identity {
    /// Whether the peer's handshake is for the same topology, stream table and frame MAC
    /// setting.
    pub(crate) fn check(&self, theirs: &Handshake) -> Result<(), NetError> {
        if theirs.topology_id != self.topology_id {
            return Err(NetError::TopologyMismatch {
                ours: self.topology_id.clone(),
                theirs: theirs.topology_id.clone(),
            });
        }
        if theirs.schema_digest != self.schemas.digest() {
            return Err(NetError::SchemaMismatch {
                ours: self.schemas.digest(),
                theirs: theirs.schema_digest,
            });
        }
        if theirs.frame_mac != self.frame_mac {
            return Err(NetError::FrameMacSetting {
                ours: self.frame_mac,
            });
        }
        Ok(())
    }
}

/// A connection could not be set up.
#[derive(Debug, Error)]
pub(crate) enum NetError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The peer runs another topology.
    #[error("peer runs topology '{theirs}', this worker runs '{ours}'")]
    TopologyMismatch {
        /// Ours.
        ours: String,
        /// Theirs.
        theirs: String,
    },
    /// The peer's streams differ (another build or version of the topology).
    #[error(
        "peer's stream table (digest {theirs:016x}) differs from this worker's ({ours:016x}): \
         another version of the topology?"
    )]
    SchemaMismatch {
        /// Our digest.
        ours: u64,
        /// Theirs.
        theirs: u64,
    },
    /// The peer closed the connection during the handshake (it refused ours).
    #[error("{peer} closed the connection during the handshake (it refused this worker)")]
    Refused {
        /// The peer.
        peer: SocketAddr,
    },
    /// The peer did not prove it knows the topology secret.
    #[error(
        "{peer} did not prove it knows the topology secret (a stale worker after a secret \
         rotation, or not a worker of this topology)"
    )]
    BadProof {
        /// The peer, as named in logs.
        peer: String,
    },
    /// One side seals frames with MACs and the other does not.
    #[error(
        "frame MACs are {} here and not on the peer (`SQUALL_BENCH_INSECURE_NO_FRAME_MAC` \
         is for benchmarks, on every worker or none)",
        if *ours { "on" } else { "off" }
    )]
    FrameMacSetting {
        /// Ours.
        ours: bool,
    },
    /// A data frame failed its MAC check.
    #[error(transparent)]
    FrameMac(#[from] FrameMacError),
    /// No nonce could be drawn.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A malformed handshake.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Socket error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A peer as named in logs: its address, and its worker id once known.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// Remote address.
    pub(crate) addr: SocketAddr,
    /// Worker id from its handshake.
    pub(crate) worker: Option<String>,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.worker {
            Some(w) => write!(f, "worker '{w}' at {}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}
