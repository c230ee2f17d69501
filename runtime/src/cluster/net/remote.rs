//! Sending to another worker: a bounded envelope queue drained by a writer thread that
//! keeps one connection open (reconnecting with backoff) and writes coalesced bursts.

use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, bounded};

use super::listener::lock;
use super::writer::Writer;
use super::{Identity, NetConfig, NetError};
use crate::engine::transfer::{self, Destination};

/// Where a link to a remote worker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Not connected (yet, or again); envelopes wait in the queue.
    Connecting,
    /// Connected and handshaken.
    Connected,
    /// Shut down.
    Stopped,
}

/// Counters of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LinkStats {
    /// Successful connections (handshake included).
    pub(crate) connects: u64,
    /// Envelopes written.
    pub(crate) envelopes_sent: u64,
    /// Tuples written.
    pub(crate) tuples_sent: u64,
    /// Bytes written.
    pub(crate) bytes_sent: u64,
    /// Envelopes lost to broken connections or shutdown.
    pub(crate) envelopes_dropped: u64,
    /// Tuples lost (broken connections, shutdown, unencodable or oversized tuples).
    pub(crate) tuples_dropped: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) connects: AtomicU64,
    pub(super) envelopes_sent: AtomicU64,
    pub(super) tuples_sent: AtomicU64,
    pub(super) bytes_sent: AtomicU64,
    pub(super) envelopes_dropped: AtomicU64,
    pub(super) tuples_dropped: AtomicU64,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) stop: AtomicBool,
    /// A handle on the current socket, to unblock the writer on stop.
    pub(super) socket: Mutex<Option<TcpStream>>,
    state: Mutex<LinkState>,
    changed: Condvar,
    pub(super) stats: Counters,
}

impl Shared {
    pub(super) fn set_state(&self, s: LinkState) {
        *lock(&self.state) = s;
        self.changed.notify_all();
    }
}

/// The sending side of a connection to another worker.
///
/// [`destination`](RemoteDestination::destination) gives a plain
/// [`transfer::Destination`] (clone it for every remote task of that worker): envelopes
/// sent to it are encoded and written by the writer thread, and emptied tuple batches
/// go back to its pool as with a local executor. See the [module docs](super) for the
/// delivery guarantees.
#[derive(Debug)]
pub(crate) struct RemoteDestination {
    dest: Destination,
    peer: SocketAddr,
    shared: Arc<Shared>,
    /// Dropped to wake the writer for shutdown.
    wake: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    timeout: Duration,
}

impl RemoteDestination {
    /// Start the writer thread for the worker listening at `peer`; it connects (and
    /// reconnects) in the background until shut down.
    pub(crate) fn connect(
        peer: SocketAddr,
        identity: Identity,
        cfg: NetConfig,
    ) -> Result<RemoteDestination, NetError> {
        let (dest, inbox) = transfer::channel(cfg.queue_capacity.max(1));
        let (wake, woken) = bounded(0);
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            socket: Mutex::new(None),
            state: Mutex::new(LinkState::Connecting),
            changed: Condvar::new(),
            stats: Counters::default(),
        });
        let timeout = cfg.shutdown_timeout;
        let writer = Writer::new(inbox, woken, peer, identity, cfg, shared.clone());
        let thread = std::thread::Builder::new()
            .name(format!("squall-net-out-{peer}"))
            .spawn(move || writer.run())?;
        Ok(RemoteDestination {
            dest,
            peer,
            shared,
            wake: Some(wake),
            thread: Some(thread),
            timeout,
        })
    }

    /// The queue to send envelopes for the peer's tasks to.
    pub(crate) fn destination(&self) -> Destination {
        self.dest.clone()
    }

    /// The peer's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Where the link stands.
    #[cfg(test)]
    pub(crate) fn state(&self) -> LinkState {
        *lock(&self.shared.state)
    }

    /// Wait up to `timeout` for the link to be connected; whether it is.
    pub(crate) fn wait_connected(&self, timeout: Duration) -> bool {
        let state = lock(&self.shared.state);
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, timeout, |s| *s == LinkState::Connecting)
            .unwrap_or_else(|p| p.into_inner());
        *state == LinkState::Connected
    }

    /// The link's counters.
    pub(crate) fn stats(&self) -> LinkStats {
        let c = &self.shared.stats;
        LinkStats {
            connects: c.connects.load(Ordering::Relaxed),
            envelopes_sent: c.envelopes_sent.load(Ordering::Relaxed),
            tuples_sent: c.tuples_sent.load(Ordering::Relaxed),
            bytes_sent: c.bytes_sent.load(Ordering::Relaxed),
            envelopes_dropped: c.envelopes_dropped.load(Ordering::Relaxed),
            tuples_dropped: c.tuples_dropped.load(Ordering::Relaxed),
        }
    }

    /// Stop the writer (what is still queued is dropped), close the connection and wait
    /// for the thread, at most the configured shutdown timeout. `false`: it did not stop
    /// in time and was abandoned.
    pub(crate) fn shutdown(mut self) -> bool {
        self.stop()
    }

    fn stop(&mut self) -> bool {
        let Some(thread) = self.thread.take() else {
            return true;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        self.wake.take();
        if let Some(s) = lock(&self.shared.socket).as_ref() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let state = lock(&self.shared.state);
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, self.timeout, |s| *s != LinkState::Stopped)
            .unwrap_or_else(|p| p.into_inner());
        if *state == LinkState::Stopped {
            drop(state);
            let _ = thread.join();
            true
        } else {
            tracing::warn!(peer = %self.peer, timeout = ?self.timeout, "writer did not stop in time; abandoning it");
            false
        }
    }
}

impl Drop for RemoteDestination {
    fn drop(&mut self) {
        self.stop();
    }
}
