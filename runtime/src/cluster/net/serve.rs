//! One accepted connection: the handshake (see `handshake`), then check each frame's
//! MAC, decode it and route its envelope until the peer closes, sends something corrupt
//! or forged, or the listener stops.

use std::io::ErrorKind;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;

use super::handshake;
use super::listener::Shared;
use super::{NetError, Peer};
use crate::cluster::auth::frame_mac::FrameMacError;
use crate::cluster::wire::{self, WireError};

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
    /// A frame failed its MAC check at this stream offset.
    Forged(FrameMacError, u64),
}

/// Serve connection `id` until it ends, then close it and forget it.
pub(super) fn serve(shared: &Shared, stream: TcpStream, mut peer: Peer, id: u64) {
    let end = run(shared, &stream, &mut peer, id);
    let stopping = shared.stop.load(Ordering::SeqCst);
    match end {
        End::Closed => tracing::debug!(%peer, "connection closed by the peer"),
        End::Stopped => tracing::debug!(%peer, "connection closed: listener stopping"),
        End::Refused(_) | End::Broken(..) | End::Forged(..) if stopping => {
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
        End::Forged(e, at) => {
            shared.stats.bad_mac.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                %peer,
                error = %e,
                stream_offset = at,
                "closing connection: a frame failed its MAC check (forged, altered or \
                 replayed on the way); nothing of it was delivered"
            );
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    shared.forget(id);
}

fn run(shared: &Shared, stream: &TcpStream, peer: &mut Peer, id: u64) -> End {
    let identity = &shared.identity;
    let (established, mut frames) = match handshake::server(stream, peer, identity, &shared.cfg) {
        Ok(done) => done,
        // Closed before saying anything (a port probe, an evicted idle connection).
        Err(NetError::Refused { .. }) if peer.worker.is_none() => return End::Closed,
        Err(e) => return End::Refused(e),
    };
    shared.handshaken(id);
    let mut mac = established.mac;
    shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
    tracing::info!(%peer, "accepted connection");
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return End::Stopped;
        }
        let at = frames.stream_offset();
        let frame = match frames.next_frame_mut() {
            Ok(Some(f)) => f,
            Ok(None) => return End::Closed,
            Err(WireError::Io(e)) if is_disconnect(&e) => return End::Closed,
            Err(e) => return End::Broken(e, at),
        };
        let frame = match mac.as_mut() {
            Some(mac) => match mac.open(frame) {
                Ok(len) => &frame[..len],
                Err(e) => return End::Forged(e, at),
            },
            None => frame,
        };
        let env = match wire::decode(frame, &identity.schemas) {
            Ok(env) => env,
            Err(e) => return End::Broken(e, at),
        };
        shared.stats.envelopes.fetch_add(1, Ordering::Relaxed);
        shared.route.route(env, peer);
    }
}

/// Errors that mean the peer went away rather than sent something wrong.
fn is_disconnect(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}
