//! The cryptography of the worker data-link handshake (the exchange itself is in
//! `cluster::net`): each side sends a fresh nonce; each proves it knows the topology
//! secret with HMAC-SHA256 over the [`Transcript`] (both nonces, the topology id, the
//! stream layout digest, both worker ids, the frame-MAC setting) and its role; both
//! derive per-direction session keys (HKDF-SHA256: extract with the nonces as salt,
//! expand over the transcript) that authenticate every frame after the handshake.
//!
//! A proof is bound to both nonces, so it cannot be replayed on another connection, and
//! to the role, so a server's proof cannot be reflected as a client's.

use subtle::ConstantTimeEq;

use super::topology_secret::{SecretError, TopologySecret, hmac_sha256};

/// Length of a handshake nonce, in bytes.
pub const NONCE_LEN: usize = 32;

/// Length of a proof, in bytes.
pub const PROOF_LEN: usize = 32;

/// Length of a session key, in bytes.
pub const KEY_LEN: usize = 32;

/// A fresh nonce from the operating system's random generator.
pub fn nonce() -> Result<[u8; NONCE_LEN], SecretError> {
    use rand::TryRngCore;
    let mut n = [0u8; NONCE_LEN];
    rand::rngs::OsRng
        .try_fill_bytes(&mut n)
        .map_err(|e| SecretError::Rng(e.to_string()))?;
    Ok(n)
}

/// Which end of a connection (connections are opened by the sending worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The connecting (sending) worker.
    Client,
    /// The listening (receiving) worker.
    Server,
}

impl Role {
    fn proof_label(self) -> &'static [u8] {
        match self {
            Role::Client => b"squall data link v1 client proof",
            Role::Server => b"squall data link v1 server proof",
        }
    }
}

/// Everything both proofs and the session keys are bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript<'a> {
    /// The topology id both sides run.
    pub topology_id: &'a str,
    /// The stream table digest both sides have.
    pub schema_digest: u64,
    /// The client's nonce.
    pub client_nonce: &'a [u8; NONCE_LEN],
    /// The server's nonce.
    pub server_nonce: &'a [u8; NONCE_LEN],
    /// The client's worker id.
    pub client_worker: &'a str,
    /// The server's worker id.
    pub server_worker: &'a str,
    /// Whether frames carry MACs (off only in a benchmark; both sides must agree).
    pub frame_mac: bool,
}

impl Transcript<'_> {
    /// The unambiguous encoding: every variable-length field is length-prefixed.
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + self.topology_id.len());
        let mut put = |b: &[u8]| {
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            out.extend_from_slice(b);
        };
        put(b"squall data link v1");
        put(self.topology_id.as_bytes());
        put(&self.schema_digest.to_le_bytes());
        put(self.client_nonce);
        put(self.server_nonce);
        put(self.client_worker.as_bytes());
        put(self.server_worker.as_bytes());
        put(&[u8::from(self.frame_mac)]);
        out
    }
}

/// The proof that the side playing `role` knows `secret`.
pub fn proof(secret: &TopologySecret, role: Role, t: &Transcript<'_>) -> [u8; PROOF_LEN] {
    secret.hmac(&[role.proof_label(), &t.bytes()])
}

/// Whether `theirs` is the proof of the side playing `role` (constant-time compare).
pub fn check_proof(secret: &TopologySecret, role: Role, t: &Transcript<'_>, theirs: &[u8]) -> bool {
    let expected = proof(secret, role, t);
    theirs.len() == PROOF_LEN && bool::from(expected.ct_eq(theirs))
}

/// The keys of one connection's two directions.
pub struct SessionKeys {
    /// Authenticates frames the client sends.
    pub client_to_server: [u8; KEY_LEN],
    /// Authenticates frames the server sends.
    pub server_to_client: [u8; KEY_LEN],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(<redacted>)")
    }
}

/// HKDF-SHA256 of the secret with both nonces as salt, expanded over the transcript
/// into one key per direction.
pub fn session_keys(secret: &TopologySecret, t: &Transcript<'_>) -> SessionKeys {
    let prk = hmac_sha256(
        &[&t.client_nonce[..], &t.server_nonce[..]].concat(),
        &[secret.expose()],
    );
    let info = t.bytes();
    let expand = |label: &[u8]| hmac_sha256(&prk, &[&info, label, &[1u8]]);
    SessionKeys {
        client_to_server: expand(b"client to server frames"),
        server_to_client: expand(b"server to client frames"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn t<'a>(cn: &'a [u8; 32], sn: &'a [u8; 32]) -> Transcript<'a> {
        Transcript {
            topology_id: "t-1-0",
            schema_digest: 42,
            client_nonce: cn,
            server_nonce: sn,
            client_worker: "s1:6700",
            server_worker: "s2:6701",
            frame_mac: true,
        }
    }

    #[test]
    fn proofs_bind_the_secret_the_role_and_every_field() {
        let s = TopologySecret::from_bytes([9; 32]);
        let (cn, sn) = (nonce().unwrap(), nonce().unwrap());
        let tr = t(&cn, &sn);
        let p = proof(&s, Role::Client, &tr);
        assert!(check_proof(&s, Role::Client, &tr, &p));
        assert!(!check_proof(&s, Role::Server, &tr, &p), "reflected");
        assert!(!check_proof(
            &TopologySecret::from_bytes([8; 32]),
            Role::Client,
            &tr,
            &p
        ));
        let other_nonce = nonce().unwrap();
        assert!(
            !check_proof(&s, Role::Client, &t(&cn, &other_nonce), &p),
            "replayed"
        );
        let mut tr2 = tr.clone();
        tr2.schema_digest = 43;
        assert!(!check_proof(&s, Role::Client, &tr2, &p));
        let mut tr3 = tr.clone();
        tr3.frame_mac = false;
        assert!(!check_proof(&s, Role::Client, &tr3, &p), "downgrade");
        assert!(!check_proof(&s, Role::Client, &tr, &p[..31]));
    }

    #[test]
    fn session_keys_differ_per_direction_and_connection() {
        let s = TopologySecret::from_bytes([9; 32]);
        let (cn, sn) = (nonce().unwrap(), nonce().unwrap());
        let k = session_keys(&s, &t(&cn, &sn));
        assert_ne!(k.client_to_server, k.server_to_client);
        let sn2 = nonce().unwrap();
        let k2 = session_keys(&s, &t(&cn, &sn2));
        assert_ne!(k.client_to_server, k2.client_to_server);
        assert_eq!(format!("{k:?}"), "SessionKeys(<redacted>)");
    }
}
