//! The per-topology secret: 32 random bytes nimbus creates for each topology (anew on
//! rotation), delivers only in the slot assignments of the supervisors that run its
//! workers, and that a supervisor writes (mode 0600) into the worker's directory. The
//! workers of a topology prove to each other that they know it (the data-link
//! handshake) and derive their credential to nimbus from it.
//!
//! It never appears in a log or a view: its `Debug` and `Display` print `<redacted>`.
//! It serializes as 64 hex characters, for the heartbeat answer and nimbus's store only.

use std::fmt;
use std::io::Read;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use rand::TryRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// Length of a topology secret, in bytes.
pub const SECRET_LEN: usize = 32;

/// Name of the secret's file in a worker's directory.
pub const SECRET_FILE: &str = "topology.secret";

/// A topology secret could not be made, read or written.
#[derive(Debug, Error)]
pub enum SecretError {
    /// The operating system's random generator failed.
    #[error("cannot draw a topology secret from the OS random generator: {0}")]
    Rng(String),
    /// A file could not be read or written.
    #[error("topology secret file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file or text does not hold a secret (its content is never echoed).
    #[error("{what} does not hold a topology secret (64 hex characters expected)")]
    Malformed {
        /// Where it came from.
        what: String,
    },
}

/// A topology's secret. Compared in constant time; never printed. (Boxed: assignments
/// that carry one stay small.)
#[derive(Clone)]
pub struct TopologySecret(Box<[u8; SECRET_LEN]>);

impl TopologySecret {
    /// A fresh secret from the operating system's random generator.
    pub fn generate() -> Result<TopologySecret, SecretError> {
        let mut bytes = [0u8; SECRET_LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| SecretError::Rng(e.to_string()))?;
        Ok(TopologySecret(Box::new(bytes)))
    }

    /// A secret from its bytes (tests, stores).
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> TopologySecret {
        TopologySecret(Box::new(bytes))
    }

    /// The raw bytes, for keying a MAC.
    pub fn expose(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// HMAC-SHA256 keyed with the secret over the concatenation of `parts`.
    pub fn hmac(&self, parts: &[&[u8]]) -> [u8; 32] {
        hmac_sha256(&*self.0, parts)
    }

    /// Parse 64 hex characters (surrounding whitespace ignored); `what` names the source
    /// in the error, which never holds the text.
    pub fn from_hex(text: &str, what: &str) -> Result<TopologySecret, SecretError> {
        let malformed = || SecretError::Malformed {
            what: what.to_string(),
        };
        let mut bytes = [0u8; SECRET_LEN];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| malformed())?;
        Ok(TopologySecret(Box::new(bytes)))
    }

    fn to_hex(&self) -> String {
        hex::encode(*self.0)
    }

    /// Write the secret to `path` as hex and a newline, in a new file created with mode
    /// 0600 that replaces any older one (so the mode is never an older, wider one, and a
    /// link at `path` is not followed).
    pub fn write_file(&self, path: &Path) -> Result<(), SecretError> {
        let text = format!("{}\n", self.to_hex());
        crate::cluster::private_file::replace(path, text.as_bytes(), 0o600).map_err(|source| {
            SecretError::Io {
                path: path.display().to_string(),
                source,
            }
        })
    }

    /// Read a secret written by [`TopologySecret::write_file`] (at most a few hundred
    /// bytes are read).
    pub fn read_file(path: &Path) -> Result<TopologySecret, SecretError> {
        let io = |source| SecretError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        file.take(256).read_to_string(&mut text).map_err(io)?;
        TopologySecret::from_hex(&text, &format!("file {}", path.display()))
    }
}

/// HMAC-SHA256 keyed with `key` over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length: this never fails.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl PartialEq for TopologySecret {
    fn eq(&self, other: &TopologySecret) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

impl Eq for TopologySecret {}

impl fmt::Debug for TopologySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for TopologySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for TopologySecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for TopologySecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TopologySecret, D::Error> {
        let text = String::deserialize(d)?;
        TopologySecret::from_hex(&text, "a topology secret field").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn debug_display_and_errors_never_show_the_secret() {
        let s = TopologySecret::from_bytes([0xab; SECRET_LEN]);
        let hex = "ab".repeat(SECRET_LEN);
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(<redacted>)");
        let bad = format!("{}zz", &hex[..62]);
        let err = TopologySecret::from_hex(&bad, "test")
            .unwrap_err()
            .to_string();
        assert!(!err.contains(&hex[..62]), "{err}");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, format!("\"{hex}\""));
        assert_eq!(serde_json::from_str::<TopologySecret>(&json).unwrap(), s);
    }

    #[test]
    fn generated_secrets_differ() {
        let a = TopologySecret::generate().unwrap();
        let b = TopologySecret::generate().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn the_file_is_created_0600_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRET_FILE);
        // A wider file left there is replaced, not reused.
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = TopologySecret::generate().unwrap();
        s.write_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(TopologySecret::read_file(&path).unwrap(), s);
    }
}
