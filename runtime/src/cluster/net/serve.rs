//! One accepted connection: check the peer's handshake, answer it, then decode frames
//! and route envelopes until the peer closes, sends something corrupt, or the listener
//! stops.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::listener::Shared;
use super::{MAX_HANDSHAKE, NetError, Peer};
use crate::cluster::wire::{self, FrameReader, WireError};

/// Why a connection ended.
enum End {
    /// The peer closed it between frames.
    Closed,
    /// The listener is stopping.
    Stopped,
    /// The handshake failed.
    Refused(NetError),
    /// A corrupt frame (or a read error) at this stream offset.
    Broken(WireError, u64),
}

/// Serve connection `id` until it ends, then close it and forget it.
pub(super) fn serve(shared: &Shared, stream: TcpStream, mut peer: Peer, id: u64) {
    let end = run(shared, &stream, &mut peer);
    let stopping = shared.stop.load(Ordering::SeqCst);
    match end {
        End::Closed => tracing::debug!(%peer, "connection closed by the peer"),
        End::Stopped => tracing::debug!(%peer, "connection closed: listener stopping"),
        End::Refused(_) | End::Broken(..) if stopping => {
            tracing::debug!(%peer, "connection closed: listener stopping")
        }
        End::Refused(e) => {
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%peer, error = %e, "refusing connection: handshake failed");
        }
        End::Broken(e, at) => {
            shared.stats.broken.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                %peer,
                error = %e,
                stream_offset = at,
                "closing connection: bad data from the peer"
            );
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    shared.forget(id);
}

fn run(shared: &Shared, stream: &TcpStream, peer: &mut Peer) -> End {
    let cfg = &shared.cfg;
    let identity = &shared.identity;
    let deadline = Instant::now() + cfg.handshake_timeout;
    let mut frames = FrameReader::new(
        Deadline {
            stream,
            until: Some(deadline),
        },
        MAX_HANDSHAKE,
    );
    let theirs = match frames.next_frame() {
        Ok(Some(frame)) => match wire::decode_handshake(frame) {
            Ok(h) => h,
            Err(e) => return End::Refused(e.into()),
        },
        Ok(None) => return End::Closed,
        Err(e) => return End::Refused(e.into()),
    };
    peer.worker = Some(theirs.worker_id.clone());
    if let Err(e) = identity.check(&theirs) {
        return End::Refused(e);
    }
    if let Err(e) = answer(shared, stream) {
        return End::Refused(e);
    }
    frames.get_mut().until = None;
    frames.set_max_frame(cfg.max_frame);
    shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
    tracing::info!(%peer, "accepted connection");
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return End::Stopped;
        }
        let frame = match frames.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => return End::Closed,
            Err(WireError::Io(e)) if is_disconnect(&e) => return End::Closed,
            Err(e) => return End::Broken(e, frames.stream_offset()),
        };
        let len = frame.len() as u64;
        let env = match wire::decode(frame, &identity.schemas) {
            Ok(env) => env,
            Err(e) => return End::Broken(e, frames.stream_offset() - len),
        };
        shared.stats.envelopes.fetch_add(1, Ordering::Relaxed);
        shared.route.route(env, peer);
    }
}

/// Send our handshake back and leave handshake mode.
fn answer(shared: &Shared, mut stream: &TcpStream) -> Result<(), NetError> {
    let mut hello = Vec::new();
    wire::encode_handshake(&shared.identity.handshake(), &mut hello)?;
    stream.write_all(&hello)?;
    stream.set_read_timeout(None)?;
    Ok(())
}

/// The stream, read until a deadline (the handshake's: a per-read timeout alone lets a
/// client trickle a byte at a time for ever), or without one.
struct Deadline<'a> {
    stream: &'a TcpStream,
    until: Option<Instant>,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(until) = self.until {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::new(
                    ErrorKind::TimedOut,
                    "the handshake did not arrive in time",
                ));
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        let mut stream = self.stream;
        stream.read(buf)
    }
}

/// Errors that mean the peer went away rather than sent something wrong.
fn is_disconnect(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}
