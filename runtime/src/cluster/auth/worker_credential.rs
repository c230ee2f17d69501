//! A worker's credential to nimbus (stats reports, Trident metadata):
//! `squall-worker.<topology_id>.<hex HMAC-SHA256(secret, "squall worker nimbus credential v1")>`,
//! sent as `Authorization: Bearer <credential>`. Nimbus, which holds every topology's
//! secret, recomputes the MAC for the named topology and compares in constant time (see
//! [`verify`]); the credential is valid for that topology only and changes when its
//! secret is rotated.

use std::fmt;

use subtle::ConstantTimeEq;

use super::topology_secret::TopologySecret;

/// What every worker credential starts with.
pub const WORKER_BEARER_PREFIX: &str = "squall-worker.";

/// The label the credential's MAC covers.
const LABEL: &[u8] = b"squall worker nimbus credential v1";

/// Longest credential text looked at (a topology id is at most a few hundred bytes).
const MAX_CREDENTIAL_LEN: usize = 1024;

/// A worker's credential text. `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct WorkerCredential(String);

impl WorkerCredential {
    /// The credential of the workers of topology `topology_id` whose secret is `secret`.
    pub fn derive(topology_id: &str, secret: &TopologySecret) -> WorkerCredential {
        let mac = secret.hmac(&[LABEL]);
        WorkerCredential(format!(
            "{WORKER_BEARER_PREFIX}{topology_id}.{}",
            hex::encode(mac)
        ))
    }

    /// The `Authorization` header value: `Bearer <credential>`.
    pub fn header_value(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// The credential text (the bearer token).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WorkerCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for WorkerCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The topology id a bearer token claims to be a worker credential of (`None`: not a
/// worker credential). Says nothing about its validity: check it with [`verify`].
pub fn claimed_topology(bearer: &str) -> Option<&str> {
    if bearer.len() > MAX_CREDENTIAL_LEN {
        return None;
    }
    let rest = bearer.strip_prefix(WORKER_BEARER_PREFIX)?;
    let (topology_id, mac) = rest.rsplit_once('.')?;
    (!topology_id.is_empty() && mac.len() == 64).then_some(topology_id)
}

/// Whether `bearer` is the worker credential of topology `topology_id` with secret
/// `secret` (the MAC is compared in constant time).
pub fn verify(bearer: &str, topology_id: &str, secret: &TopologySecret) -> bool {
    let expected = WorkerCredential::derive(topology_id, secret);
    let (a, b) = (bearer.as_bytes(), expected.0.as_bytes());
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_credential_is_valid_for_its_topology_and_secret_only() {
        let s = TopologySecret::from_bytes([1; 32]);
        let other = TopologySecret::from_bytes([2; 32]);
        let c = WorkerCredential::derive("wc-1-100", &s);
        let text = c.expose();
        assert!(text.starts_with("squall-worker.wc-1-100."));
        assert_eq!(claimed_topology(text), Some("wc-1-100"));
        assert!(verify(text, "wc-1-100", &s));
        assert!(!verify(text, "wc-1-100", &other));
        assert!(!verify(text, "wc-2-100", &s));
        let mut flipped = text.to_string();
        flipped.pop();
        flipped.push(if text.ends_with('0') { '1' } else { '0' });
        assert!(!verify(&flipped, "wc-1-100", &s));
        assert_eq!(claimed_topology("squall1.abc.def"), None);
        assert_eq!(claimed_topology("squall-worker.x.short"), None);
        assert_eq!(format!("{c:?} {c}"), "<redacted> <redacted>");
        assert_eq!(c.header_value(), format!("Bearer {text}"));
    }

    /// The derivation is HMAC-SHA256(secret, label), hex: pinned so that nimbus and
    /// workers of different builds agree.
    #[test]
    fn the_derivation_is_stable() {
        let s = TopologySecret::from_bytes([0; 32]);
        let c = WorkerCredential::derive("t-1-0", &s);
        let mac = super::super::topology_secret::hmac_sha256(&[0; 32], &[LABEL]);
        assert_eq!(
            c.expose(),
            format!("squall-worker.t-1-0.{}", hex::encode(mac))
        );
    }
}
