//! Accepting connections from other workers.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use super::serve::serve;
use super::{Identity, NetConfig, NetError, Peer, Route};
use crate::engine::backoff::{Backoff, Failures};

/// Pause after a failed accept (e.g. out of file descriptors): 20 ms, doubling, at most
/// 1.28 s, so the loop does not spin.
const ACCEPT_BACKOFF: Backoff =
    Backoff::new(Duration::from_millis(20), Duration::from_millis(1280));

/// Lock, ignoring poisoning (the data are plain registries and counters).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counters of a listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ListenerStats {
    /// Connections whose handshake succeeded.
    pub(crate) accepted: u64,
    /// Connections refused at the handshake.
    pub(crate) refused: u64,
    /// Connections closed because of corrupt data or a read error.
    pub(crate) broken: u64,
    /// Connections closed because a frame failed its MAC check.
    pub(crate) bad_mac: u64,
    /// Connections closed in their handshake to make room (past `max_pending`).
    pub(crate) evicted: u64,
    /// Envelopes received and routed.
    pub(crate) envelopes: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) accepted: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) broken: AtomicU64,
    pub(super) bad_mac: AtomicU64,
    pub(super) evicted: AtomicU64,
    pub(super) envelopes: AtomicU64,
}

/// Open connections and their reader threads.
#[derive(Default)]
struct Conns {
    /// A handle on each open socket, to shut it down on stop.
    open: HashMap<u64, TcpStream>,
    /// Ids of the open connections still in their handshake, oldest first.
    pending: VecDeque<u64>,
    readers: Vec<JoinHandle<()>>,
}

/// What the accept thread and the reader threads share.
pub(super) struct Shared {
    pub(super) identity: Identity,
    pub(super) cfg: NetConfig,
    pub(super) route: Arc<dyn Route>,
    pub(super) stop: AtomicBool,
    pub(super) stats: Counters,
    conns: Mutex<Conns>,
}

impl Shared {
    /// Drop the registry entry of a closed connection.
    pub(super) fn forget(&self, id: u64) {
        let mut conns = lock(&self.conns);
        conns.open.remove(&id);
        conns.pending.retain(|p| *p != id);
    }

    /// Connection `id` finished its handshake: it no longer counts as pending.
    pub(super) fn handshaken(&self, id: u64) {
        lock(&self.conns).pending.retain(|p| *p != id);
    }
}

/// A listening socket accepting connections from other workers, with a reader thread
/// per connection that routes what arrives. Stops (bounded) on [`Listener::shutdown`]
/// or drop.
pub(crate) struct Listener {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    /// Disconnected once every thread of the listener has exited.
    lifeline: Receiver<()>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Listener {
    /// Listen on `addr` (port 0: any free port) and route every envelope that arrives
    /// through `route`.
    pub(crate) fn bind(
        addr: SocketAddr,
        identity: Identity,
        cfg: NetConfig,
        route: Arc<dyn Route>,
    ) -> Result<Listener, NetError> {
        let bind_err = |source| NetError::Bind {
            addr: addr.to_string(),
            source,
        };
        let socket = TcpListener::bind(addr).map_err(bind_err)?;
        let addr = socket.local_addr().map_err(bind_err)?;
        let shared = Arc::new(Shared {
            identity,
            cfg,
            route,
            stop: AtomicBool::new(false),
            stats: Counters::default(),
            conns: Mutex::new(Conns::default()),
        });
        let (life, lifeline) = bounded::<()>(0);
        let s = shared.clone();
        let accept = std::thread::Builder::new()
            .name(format!("squall-net-accept-{}", addr.port()))
            .spawn(move || accept_loop(socket, &s, life))?;
        tracing::info!(%addr, "listening for workers");
        Ok(Listener {
            addr,
            shared,
            accept: Some(accept),
            lifeline,
        })
    }

    /// The address the listener is bound to.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listener's counters.
    pub(crate) fn stats(&self) -> ListenerStats {
        let c = &self.shared.stats;
        ListenerStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            broken: c.broken.load(Ordering::Relaxed),
            bad_mac: c.bad_mac.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            envelopes: c.envelopes.load(Ordering::Relaxed),
        }
    }

    /// Stop accepting, close every connection and wait (at most the configured shutdown
    /// timeout) for the threads. `false`: some thread did not stop in time (a reader
    /// blocked delivering to a full queue) and was abandoned.
    pub(crate) fn shutdown(mut self) -> bool {
        self.stop()
    }

    fn stop(&mut self) -> bool {
        let Some(accept) = self.accept.take() else {
            return true;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept thread with a connection of our own.
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let _ = TcpStream::connect_timeout(
            &SocketAddr::new(ip, self.addr.port()),
            Duration::from_secs(1),
        );
        for s in lock(&self.shared.conns).open.values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + self.shared.cfg.shutdown_timeout;
        if let Err(RecvTimeoutError::Disconnected) = self.lifeline.recv_deadline(deadline) {
            let _ = accept.join();
            for r in std::mem::take(&mut lock(&self.shared.conns).readers) {
                let _ = r.join();
            }
            tracing::debug!(addr = %self.addr, "listener stopped");
            true
        } else {
            tracing::warn!(
                addr = %self.addr,
                timeout = ?self.shared.cfg.shutdown_timeout,
                "listener threads did not stop in time; abandoning them"
            );
            false
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(socket: TcpListener, shared: &Arc<Shared>, life: Sender<()>) {
    let mut next_id = 0u64;
    let mut failures = Failures::new(ACCEPT_BACKOFF);
    loop {
        let (stream, addr) = match socket.accept() {
            Ok(conn) => {
                failures.reset();
                conn
            }
            Err(e) => {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "accepting a connection failed");
                std::thread::sleep(failures.failed());
                continue;
            }
        };
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let handle = match stream.try_clone() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(peer = %addr, error = %e, "cannot register connection; closing it");
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        let mut conns = lock(&shared.conns);
        // Checked under the lock: a stop either sees this connection or we see the stop.
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        if conns.open.len() >= shared.cfg.max_connections {
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                peer = %addr,
                max = shared.cfg.max_connections,
                "refusing a connection: the connection limit is reached"
            );
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        if conns.pending.len() >= shared.cfg.max_pending.max(1)
            && let Some(oldest) = conns.pending.pop_front()
        {
            // Idle or trickling handshakes make room for new ones (a real peer's takes a
            // round trip): they cannot keep real peers out.
            if let Some(s) = conns.open.get(&oldest) {
                let _ = s.shutdown(Shutdown::Both);
            }
            let evicted = shared.stats.evicted.fetch_add(1, Ordering::Relaxed) + 1;
            if evicted == 1 || evicted.is_multiple_of(100) {
                tracing::warn!(
                    peer = %addr,
                    max_pending = shared.cfg.max_pending,
                    evicted,
                    "too many connections in their handshake: closing the oldest"
                );
            }
        }
        conns.open.insert(id, handle);
        conns.pending.push_back(id);
        conns.readers.retain(|r| !r.is_finished());
        let s = shared.clone();
        let life = life.clone();
        let peer = Peer { addr, worker: None };
        let spawned = std::thread::Builder::new()
            .name(format!("squall-net-in-{addr}"))
            .spawn(move || {
                let _life = life;
                serve(&s, stream, peer, id);
            });
        match spawned {
            Ok(r) => conns.readers.push(r),
            Err(e) => {
                conns.open.remove(&id);
                conns.pending.retain(|p| *p != id);
                tracing::error!(peer = %addr, error = %e, "cannot start a reader thread; closing the connection");
            }
        }
    }
}
