//! One accepted connection: check the peer's handshake, answer it, then decode frames
//! and route envelopes until the peer closes, sends something corrupt, or the listener
//! stops.

use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;

use super::listener::Shared;
use super::{NetError, Peer};
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
    if let Err(e) = stream.set_read_timeout(Some(cfg.handshake_timeout)) {
        return End::Refused(e.into());
    }
    let mut frames = FrameReader::new(stream, cfg.max_frame);
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

/// Errors that mean the peer went away rather than sent something wrong.
fn is_disconnect(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}
