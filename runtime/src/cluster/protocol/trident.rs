//! Trident coordination metadata kept by nimbus (Storm keeps it in ZooKeeper under
//! `/transactional`): small records a topology's master coordinator and Trident spouts
//! write before the batch they describe is emitted, read back wherever those components
//! run next.
//!
//! Routes: `GET /api/v1/topologies/{name}/trident/{key}?topology_id=ID` answers a
//! [`TridentMetaValue`]; `PUT` of the same path with a [`TridentMetaPut`] body stores a
//! value (`204`). Records belong to one topology id: a resubmitted topology of the same
//! name starts with none, and they are deleted with the topology.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest value nimbus stores under one key (64 KiB); larger is refused with 413.
pub const MAX_META_VALUE_BYTES: usize = 64 * 1024;

/// Largest request body of a metadata `PUT`: a value at the limit, JSON-escaped, and
/// the envelope. Larger bodies are refused (413) before they are read.
pub const MAX_META_BODY_BYTES: usize = 6 * MAX_META_VALUE_BYTES + 1024;

/// Most keys one topology may hold; a `PUT` of a new key beyond is refused (409).
pub const MAX_META_KEYS: usize = 256;

/// Longest key, in bytes.
pub const MAX_META_KEY_BYTES: usize = 256;

/// The body of a metadata `PUT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TridentMetaPut {
    /// The topology id the writer runs for (`name-seq-secs`); a write for another id
    /// than the topology's current one (a worker of a killed predecessor) is refused.
    pub topology_id: String,
    /// The record, at most [`MAX_META_VALUE_BYTES`] bytes.
    pub value: String,
}

/// The query of a metadata `GET`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TridentMetaQuery {
    /// When given, the read is refused (409) unless it is the topology's current id.
    #[serde(default)]
    pub topology_id: Option<String>,
}

/// The answer of a metadata `GET`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TridentMetaValue {
    /// The topology's current id.
    pub topology_id: String,
    /// The key read.
    pub key: String,
    /// The record, or `None` if nothing was stored under the key.
    pub value: Option<String>,
}

/// A key that cannot name a metadata record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid trident metadata key {key:?}: {reason}")]
pub struct BadMetaKey {
    /// The key refused.
    pub key: String,
    /// Why.
    pub reason: &'static str,
}

/// Check a metadata key: `/`-separated segments (like Storm's ZooKeeper paths, without
/// the leading `/`), none empty, `.` or `..`, no control characters or `\`, at most
/// [`MAX_META_KEY_BYTES`] bytes.
///
/// # Examples
///
/// ```
/// use squall_runtime::cluster::protocol::trident::check_meta_key;
/// assert!(check_meta_key("spouts/lines/offsets").is_ok());
/// assert!(check_meta_key("../etc").is_err());
/// ```
pub fn check_meta_key(key: &str) -> Result<(), BadMetaKey> {
    let bad = |reason| {
        Err(BadMetaKey {
            key: key.chars().take(MAX_META_KEY_BYTES).collect(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("it is empty");
    }
    if key.len() > MAX_META_KEY_BYTES {
        return bad("it is longer than 256 bytes");
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return bad("it holds a control character or '\\'");
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("a '/'-separated segment is empty, '.' or '..'");
    }
    Ok(())
}

/// The API path of `key` of topology `name`, each key segment percent-encoded.
///
/// # Examples
///
/// ```
/// use squall_runtime::cluster::protocol::trident::meta_path;
/// assert_eq!(
///     meta_path("tw", "spouts/my lines/offsets"),
///     "/api/v1/topologies/tw/trident/spouts/my%20lines/offsets"
/// );
/// ```
pub fn meta_path(name: &str, key: &str) -> String {
    let segments: Vec<String> = key.split('/').map(encode_segment).collect();
    format!(
        "/api/v1/topologies/{}/trident/{}",
        encode_segment(name),
        segments.join("/")
    )
}

/// Percent-encode every byte of `s` but RFC 3986's unreserved characters.
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_segment_by_segment() {
        for ok in [
            "coordinator",
            "spouts/a b/offsets",
            "x.y-z_1",
            "spouts/ünï/o",
        ] {
            assert!(check_meta_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/a", "a/", "a//b", "a/../b", ".", "a\nb", "a\\b"] {
            assert!(check_meta_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_meta_key(&"k".repeat(MAX_META_KEY_BYTES + 1)).is_err());
    }

    #[test]
    fn paths_encode_each_segment() {
        assert_eq!(
            meta_path("t", "spouts/a%b/ü"),
            "/api/v1/topologies/t/trident/spouts/a%25b/%C3%BC"
        );
    }
}
