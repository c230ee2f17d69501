//! The writer thread of a [`RemoteDestination`](super::RemoteDestination): connect and
//! handshake (with backoff), then encode bursts of queued envelopes into one buffer and
//! write each burst with one `write_all`.

use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::{Receiver, RecvTimeoutError, Select, TryRecvError};

use super::handshake;
use super::listener::lock;
use super::remote::{LinkState, Shared};
use super::{Identity, NetConfig, NetError};
use crate::cluster::auth::frame_mac::FrameMac;
use crate::cluster::wire::{self, HEADER_LEN, WireError};
use crate::engine::backoff::{Backoff, Failures};
use crate::engine::transfer::{Envelope, Inbox};

/// Why the writer left a connection.
enum End {
    Stop,
    Broken,
}

/// The writer thread's state.
pub(super) struct Writer {
    inbox: Inbox,
    woken: Receiver<()>,
    peer: SocketAddr,
    identity: Identity,
    cfg: NetConfig,
    shared: Arc<Shared>,
    /// Reused encode buffer.
    buf: Vec<u8>,
    /// The current connection's frame MAC (`None`: MACs off for a benchmark).
    mac: Option<FrameMac>,
    /// (envelopes, tuples) in `buf`.
    burst: (u64, u64),
}

impl Writer {
    /// A writer draining `inbox` to the worker at `peer`; `woken` disconnects on stop.
    pub(super) fn new(
        inbox: Inbox,
        woken: Receiver<()>,
        peer: SocketAddr,
        identity: Identity,
        cfg: NetConfig,
        shared: Arc<Shared>,
    ) -> Writer {
        Writer {
            inbox,
            woken,
            peer,
            identity,
            cfg,
            shared,
            buf: Vec::new(),
            mac: None,
            burst: (0, 0),
        }
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Connect, write, reconnect until stopped; then drop what is queued.
    pub(super) fn run(mut self) {
        let mut failures = Failures::new(Backoff::new(self.cfg.backoff_min, self.cfg.backoff_max));
        loop {
            let stream = match self.connect() {
                Ok(s) => s,
                Err(e) => {
                    *lock(&self.shared.socket) = None;
                    if self.stopping() {
                        break;
                    }
                    let backoff = failures.failed();
                    let failures = failures.count();
                    if failures == 1 || failures.is_multiple_of(100) {
                        let refused = !matches!(e, NetError::Io(_));
                        if refused {
                            tracing::error!(peer = %self.peer, error = %e, failures, "cannot connect to worker; retrying");
                        } else {
                            tracing::warn!(peer = %self.peer, error = %e, failures, "cannot connect to worker; retrying");
                        }
                    }
                    match self.woken.recv_timeout(backoff) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => break,
                    }
                    continue;
                }
            };
            failures.reset();
            self.shared.stats.connects.fetch_add(1, Ordering::Relaxed);
            self.shared.set_state(LinkState::Connected);
            tracing::info!(peer = %self.peer, "connected to worker");
            let end = self.pump(&stream);
            let _ = stream.shutdown(Shutdown::Both);
            *lock(&self.shared.socket) = None;
            match end {
                End::Stop => break,
                End::Broken => self.shared.set_state(LinkState::Connecting),
            }
        }
        let mut dropped = (0, 0);
        while let Ok(env) = self.inbox.try_recv() {
            dropped.0 += 1;
            dropped.1 += tuples_in(&env);
        }
        self.count_dropped(dropped);
        if dropped.0 > 0 {
            tracing::debug!(peer = %self.peer, envelopes = dropped.0, tuples = dropped.1, "writer stopped; queued envelopes dropped");
        }
        self.shared.set_state(LinkState::Stopped);
    }

    /// Connect and handshake; the socket is registered for shutdown first.
    fn connect(&mut self) -> Result<TcpStream, NetError> {
        let stream = TcpStream::connect_timeout(&self.peer, self.cfg.connect_timeout)?;
        stream.set_nodelay(true)?;
        {
            let mut slot = lock(&self.shared.socket);
            if self.stopping() {
                return Err(std::io::Error::new(ErrorKind::Interrupted, "stopping").into());
            }
            *slot = Some(stream.try_clone()?);
        }
        let established = handshake::client(&stream, self.peer, &self.identity, &self.cfg)?;
        tracing::debug!(peer = %self.peer, worker = %established.peer_worker, "handshake done");
        self.mac = established.mac;
        Ok(stream)
    }

    /// Write bursts until the connection breaks or the writer is stopped.
    fn pump(&mut self, mut stream: &TcpStream) -> End {
        loop {
            // After an idle spell, look whether the peer closed the connection meanwhile
            // (a killed worker) before taking anything from the queue: the first burst
            // written into a dead connection is lost without an error, so it goes to the
            // peer's next incarnation instead (a restarted worker on the same port).
            let idle = self.inbox.is_empty();
            let mut wait = Select::new();
            let inbox = wait.recv(self.inbox.select_handle());
            wait.recv(&self.woken);
            if wait.ready() != inbox {
                return End::Stop;
            }
            if idle && peer_closed(stream) {
                tracing::info!(peer = %self.peer, "the worker closed the connection; reconnecting");
                return End::Broken;
            }
            let first = match self.inbox.try_recv() {
                Ok(env) => env,
                Err(TryRecvError::Empty) => continue,
                Err(TryRecvError::Disconnected) => return End::Stop,
            };
            self.buf.clear();
            self.burst = (0, 0);
            self.add(first);
            while self.buf.len() < self.cfg.burst_bytes {
                match self.inbox.try_recv() {
                    Ok(env) => self.add(env),
                    Err(_) => break,
                }
            }
            if self.buf.is_empty() {
                continue;
            }
            if let Err(e) = stream.write_all(&self.buf) {
                self.count_dropped(self.burst);
                if self.stopping() {
                    return End::Stop;
                }
                tracing::warn!(
                    peer = %self.peer,
                    error = %e,
                    envelopes = self.burst.0,
                    tuples = self.burst.1,
                    "connection to worker broken: dropping the envelopes being written \
                     (spouts replay their trees); reconnecting"
                );
                return End::Broken;
            }
            let c = &self.shared.stats;
            c.envelopes_sent.fetch_add(self.burst.0, Ordering::Relaxed);
            c.tuples_sent.fetch_add(self.burst.1, Ordering::Relaxed);
            c.bytes_sent
                .fetch_add(self.buf.len() as u64, Ordering::Relaxed);
            if self.buf.capacity() > 4 * self.cfg.burst_bytes {
                self.buf.shrink_to(2 * self.cfg.burst_bytes);
            }
        }
    }

    fn count_dropped(&self, (envelopes, tuples): (u64, u64)) {
        let c = &self.shared.stats;
        c.envelopes_dropped.fetch_add(envelopes, Ordering::Relaxed);
        c.tuples_dropped.fetch_add(tuples, Ordering::Relaxed);
    }

    /// Encode `env` into the burst buffer (split into several frames if it is over the
    /// maximum frame size) and recycle its tuple buffer.
    fn add(&mut self, env: Envelope) {
        if let Envelope::Tick { .. } | Envelope::Wake | Envelope::Stop = env {
            tracing::debug!(peer = %self.peer, "worker-local envelope sent to a remote destination; ignored");
            return;
        }
        let tuples = tuples_in(&env);
        let start = self.buf.len();
        let dropped = match wire::encode(&env, &self.identity.schemas, &mut self.buf) {
            Ok(()) if self.buf.len() - start - HEADER_LEN <= self.cfg.max_frame => 0,
            _ => {
                self.buf.truncate(start);
                self.encode_split(&env)
            }
        };
        let dropped = match self.mac.as_mut().map(|m| m.seal_from(&mut self.buf, start)) {
            // Unreachable under the frame limit; the frames sealed before stay.
            Some(Err(e)) => {
                tracing::error!(peer = %self.peer, error = %e, tuples, "envelope not sent");
                tuples
            }
            _ => dropped,
        };
        self.burst.0 += 1;
        self.burst.1 += tuples - dropped;
        self.count_dropped((0, dropped));
        if let Envelope::Batch { tuples, .. } = env {
            self.inbox.recycle(tuples);
        }
    }

    /// The slow path of [`Writer::add`]: encode in as many frames as it takes, dropping
    /// (and logging) only what cannot be sent. Returns the number of tuples dropped.
    #[cold]
    fn encode_split(&mut self, env: &Envelope) -> u64 {
        let (max, peer) = (self.cfg.max_frame, self.peer);
        let schemas = &*self.identity.schemas;
        let buf = &mut self.buf;
        match env {
            Envelope::Batch { task, tuples } => {
                let enc = |r: Range<usize>, out: &mut Vec<u8>| {
                    wire::encode_tuples(*task, &tuples[r], schemas, out)
                };
                split_encode(buf, max, 0..tuples.len(), &enc, peer)
            }
            Envelope::Acks { task, msgs } => {
                let enc =
                    |r: Range<usize>, out: &mut Vec<u8>| wire::encode_acks(*task, &msgs[r], out);
                split_encode(buf, max, 0..msgs.len(), &enc, peer);
                0
            }
            Envelope::Completions(c) => {
                let enc = |r: Range<usize>, out: &mut Vec<u8>| wire::encode_completions(&c[r], out);
                split_encode(buf, max, 0..c.len(), &enc, peer);
                0
            }
            Envelope::Tick { .. } | Envelope::Wake | Envelope::Stop => 0,
        }
    }
}

/// Number of tuples an envelope carries.
fn tuples_in(env: &Envelope) -> u64 {
    match env {
        Envelope::Batch { tuples, .. } => tuples.len() as u64,
        _ => 0,
    }
}

type Encoder<'a> = dyn Fn(Range<usize>, &mut Vec<u8>) -> Result<(), WireError> + 'a;

/// Encode items `range` as one frame; while that frame would exceed `max` payload bytes
/// or fails to encode, encode the halves instead. Returns how many items were dropped
/// (a single item over the maximum or that cannot be encoded), each logged.
fn split_encode(
    out: &mut Vec<u8>,
    max: usize,
    range: Range<usize>,
    enc: &Encoder<'_>,
    peer: SocketAddr,
) -> u64 {
    if range.is_empty() {
        return 0;
    }
    let start = out.len();
    let result = enc(range.clone(), out);
    let len = out.len() - start;
    if result.is_ok() && len - HEADER_LEN <= max {
        return 0;
    }
    out.truncate(start);
    if range.len() > 1 {
        let mid = range.start + range.len() / 2;
        return split_encode(out, max, range.start..mid, enc, peer)
            + split_encode(out, max, mid..range.end, enc, peer);
    }
    match result {
        Ok(()) => tracing::error!(
            %peer,
            len = len - HEADER_LEN,
            max,
            "dropping an item larger than the maximum frame size"
        ),
        Err(e) => tracing::error!(%peer, error = %e, "cannot encode for a remote worker; dropped"),
    }
    1
}

/// Whether the peer closed `stream` (end of stream or an error waiting to be read). The
/// receiving side never writes after the handshake, so readable data means it is alive.
fn peer_closed(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let closed = match stream.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted),
    };
    // Blocking again for the writes (a failure shows at the next write).
    let _ = stream.set_nonblocking(false);
    closed
}
