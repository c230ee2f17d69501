//! [`ArtifactHash`]: the content address of an uploaded artifact or resources archive.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// SHA-256 of an artifact (a topology binary) or a resources archive, as 64 lower-case
/// hex digits. Nimbus stores blobs under it, supervisors fetch and verify by it.
///
/// Parsing accepts upper-case digits and normalises them, so the same content has one
/// name everywhere; anything but 64 hex digits is refused.
///
/// ```
/// use squall_runtime::cluster::protocol::ArtifactHash;
/// let h = ArtifactHash::of_bytes(b"abc");
/// assert_eq!(h.to_string().len(), 64);
/// assert_eq!(h.to_string().to_uppercase().parse::<ArtifactHash>().unwrap(), h);
/// assert!("not-a-hash".parse::<ArtifactHash>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArtifactHash([u8; 32]);

/// The largest artifact (topology binary or resources archive) nimbus accepts and a
/// supervisor downloads: 1 GiB.
pub const MAX_ARTIFACT_BYTES: u64 = 1024 * 1024 * 1024;

/// A string that is not 64 hex digits where an [`ArtifactHash`] was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{shown}' is not a SHA-256 digest (64 hex digits)")]
pub struct BadArtifactHash {
    /// The refused text, shortened to 80 characters.
    shown: String,
}

impl ArtifactHash {
    /// The hash of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> ArtifactHash {
        ArtifactHash(Sha256::digest(bytes).into())
    }

    /// The hash of everything `reader` yields, read in 64 KiB pieces (a large artifact
    /// is never held in memory to be hashed).
    pub fn of_reader(mut reader: impl Read) -> std::io::Result<ArtifactHash> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(ArtifactHash(hasher.finalize().into()))
    }

    /// An incremental hasher, for content that arrives in pieces (an upload).
    pub fn hasher() -> ArtifactHasher {
        ArtifactHasher(Sha256::new())
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Builds an [`ArtifactHash`] from pieces of content.
#[derive(Clone)]
pub struct ArtifactHasher(Sha256);

impl ArtifactHasher {
    /// Add the next piece.
    pub fn update(&mut self, piece: &[u8]) {
        self.0.update(piece);
    }

    /// The hash of every piece added.
    pub fn finish(self) -> ArtifactHash {
        ArtifactHash(self.0.finalize().into())
    }
}

impl fmt::Display for ArtifactHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ArtifactHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArtifactHash({self})")
    }
}

impl FromStr for ArtifactHash {
    type Err = BadArtifactHash;

    fn from_str(s: &str) -> Result<ArtifactHash, BadArtifactHash> {
        let bad = || BadArtifactHash {
            shown: s.chars().take(80).collect(),
        };
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.to_ascii_lowercase(), &mut out).map_err(|_| bad())?;
        Ok(ArtifactHash(out))
    }
}

impl TryFrom<String> for ArtifactHash {
    type Error = BadArtifactHash;

    fn try_from(s: String) -> Result<ArtifactHash, BadArtifactHash> {
        s.parse()
    }
}

impl From<ArtifactHash> for String {
    fn from(h: ArtifactHash) -> String {
        h.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_per_content_whatever_the_case() {
        let h = ArtifactHash::of_bytes(b"x");
        let upper: ArtifactHash = h.to_string().to_uppercase().parse().unwrap();
        assert_eq!(upper, h);
        assert_eq!(upper.to_string(), h.to_string());
        assert_eq!(ArtifactHash::of_reader(&b"x"[..]).unwrap(), h);
        let mut inc = ArtifactHash::hasher();
        inc.update(b"");
        inc.update(b"x");
        assert_eq!(inc.finish(), h);
    }

    #[test]
    fn refuses_what_is_not_64_hex_digits() {
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"a".repeat(65),
            "../../etc/passwd",
        ] {
            let e = bad.parse::<ArtifactHash>().unwrap_err();
            assert!(e.to_string().contains("SHA-256"), "{e}");
        }
        let json = serde_json::to_string(&ArtifactHash::of_bytes(b"x")).unwrap();
        assert_eq!(json.len(), 66);
        assert!(serde_json::from_str::<ArtifactHash>("\"zz\"").is_err());
    }
}
