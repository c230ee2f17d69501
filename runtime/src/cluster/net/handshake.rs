//! The challenge–response handshake that opens every connection (the cryptography is
//! in [`cluster::auth::handshake`](crate::cluster::auth::handshake)):
//!
//! ```text
//! client -> server   hello (topology id, stream digest, worker id, client nonce, MAC flag)
//! server -> client   hello (same, server nonce), proof(server)
//! client -> server   proof(client), then sealed data frames
//! ```
//!
//! Each side checks the other's hello (same topology, same stream table, same MAC
//! setting) and proof before anything else; the server reads nothing but these few
//! small frames ([`MAX_HANDSHAKE`] bytes each) until the client's proof checks, all
//! within one deadline for the whole handshake.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use super::{Identity, MAX_HANDSHAKE, NetConfig, NetError, Peer};
use crate::cluster::auth::frame_mac::FrameMac;
use crate::cluster::auth::handshake::{self as crypto, Role, Transcript};
use crate::cluster::wire::{self, FrameReader, Handshake, WireError};

/// A connection both sides have proven: the peer's worker id and, when frames carry
/// MACs, this direction's frame MAC.
#[derive(Debug)]
pub(super) struct Established {
    /// The peer's worker id.
    pub(super) peer_worker: String,
    /// MAC of the frames the client sends (`None`: MACs off for a benchmark).
    pub(super) mac: Option<FrameMac>,
}

/// The stream, read until a deadline (the handshake's: a per-read timeout alone lets a
/// client trickle a byte at a time for ever), or without one.
pub(super) struct Deadline<'a> {
    pub(super) stream: &'a TcpStream,
    pub(super) until: Option<Instant>,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(until) = self.until {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::new(
                    ErrorKind::TimedOut,
                    "the handshake did not complete in time",
                ));
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        let mut stream = self.stream;
        stream.read(buf)
    }
}

/// The hello this worker sends with `nonce`.
fn hello(identity: &Identity, nonce: [u8; wire::NONCE_LEN]) -> Handshake {
    Handshake {
        topology_id: identity.topology_id.clone(),
        worker_id: identity.worker_id.clone(),
        schema_digest: identity.schemas.digest(),
        nonce,
        frame_mac: identity.frame_mac,
    }
}

/// The next handshake frame, or `Refused` if the peer closed the connection.
fn next<'r>(
    frames: &'r mut FrameReader<Deadline<'_>>,
    peer: SocketAddr,
) -> Result<&'r [u8], NetError> {
    match frames.next_frame() {
        Ok(Some(frame)) => Ok(frame),
        Ok(None) => Err(NetError::Refused { peer }),
        Err(WireError::Io(e))
            if matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ) =>
        {
            Err(NetError::Refused { peer })
        }
        Err(e) => Err(e.into()),
    }
}

/// The connecting side: send our hello, check the server's hello and proof, send ours.
pub(super) fn client(
    mut stream: &TcpStream,
    peer: SocketAddr,
    identity: &Identity,
    cfg: &NetConfig,
) -> Result<Established, NetError> {
    let deadline = Instant::now() + cfg.handshake_timeout;
    let nonce = crypto::nonce()?;
    let mut out = Vec::new();
    wire::encode_handshake(&hello(identity, nonce), &mut out)?;
    stream.write_all(&out)?;
    let mut frames = FrameReader::new(
        Deadline {
            stream,
            until: Some(deadline),
        },
        MAX_HANDSHAKE,
    );
    let theirs = wire::decode_handshake(next(&mut frames, peer)?)?;
    identity.check(&theirs)?;
    let transcript = Transcript {
        topology_id: &identity.topology_id,
        schema_digest: identity.schemas.digest(),
        client_nonce: &nonce,
        server_nonce: &theirs.nonce,
        client_worker: &identity.worker_id,
        server_worker: &theirs.worker_id,
        frame_mac: identity.frame_mac,
    };
    let proof = wire::decode_proof(next(&mut frames, peer)?)?;
    if !crypto::check_proof(&identity.secret, Role::Server, &transcript, &proof) {
        return Err(NetError::BadProof {
            peer: Peer {
                addr: peer,
                worker: Some(theirs.worker_id),
            }
            .to_string(),
        });
    }
    out.clear();
    let ours = crypto::proof(&identity.secret, Role::Client, &transcript);
    wire::encode_proof(&ours, &mut out)?;
    stream.write_all(&out)?;
    stream.set_read_timeout(None)?;
    let keys = crypto::session_keys(&identity.secret, &transcript);
    Ok(Established {
        peer_worker: theirs.worker_id,
        mac: identity
            .frame_mac
            .then(|| FrameMac::new(&keys.client_to_server)),
    })
}

/// The listening side: check the client's hello, answer with ours and our proof, check
/// the client's proof. On success the reader is ready for the client's data frames (at
/// most `max_frame` payload bytes, plus their tags), without a deadline.
pub(super) fn server<'s>(
    mut stream: &'s TcpStream,
    peer: &mut Peer,
    identity: &Identity,
    cfg: &NetConfig,
) -> Result<(Established, FrameReader<Deadline<'s>>), NetError> {
    let deadline = Instant::now() + cfg.handshake_timeout;
    let mut frames = FrameReader::new(
        Deadline {
            stream,
            until: Some(deadline),
        },
        MAX_HANDSHAKE,
    );
    let theirs = wire::decode_handshake(next(&mut frames, peer.addr)?)?;
    peer.worker = Some(theirs.worker_id.clone());
    identity.check(&theirs)?;
    let nonce = crypto::nonce()?;
    let transcript = Transcript {
        topology_id: &identity.topology_id,
        schema_digest: identity.schemas.digest(),
        client_nonce: &theirs.nonce,
        server_nonce: &nonce,
        client_worker: &theirs.worker_id,
        server_worker: &identity.worker_id,
        frame_mac: identity.frame_mac,
    };
    let mut out = Vec::new();
    wire::encode_handshake(&hello(identity, nonce), &mut out)?;
    let ours = crypto::proof(&identity.secret, Role::Server, &transcript);
    wire::encode_proof(&ours, &mut out)?;
    stream.write_all(&out)?;
    let proof = wire::decode_proof(next(&mut frames, peer.addr)?)?;
    if !crypto::check_proof(&identity.secret, Role::Client, &transcript, &proof) {
        return Err(NetError::BadProof {
            peer: peer.to_string(),
        });
    }
    let keys = crypto::session_keys(&identity.secret, &transcript);
    let mac = identity
        .frame_mac
        .then(|| FrameMac::new(&keys.client_to_server));
    frames.get_mut().until = None;
    stream.set_read_timeout(None)?;
    let tags = if mac.is_some() {
        crate::cluster::auth::frame_mac::TAG_LEN
    } else {
        0
    };
    frames.set_max_frame(cfg.max_frame + tags);
    Ok((
        Established {
            peer_worker: theirs.worker_id,
            mac,
        },
        frames,
    ))
}
