//! The protocol version every cluster message carries, and the range of versions a
//! peer accepts (so daemons can be upgraded one at a time).

use std::fmt;
use std::ops::RangeInclusive;

/// The HTTP header every request and answer between cluster processes carries: the
/// sender's protocol version.
pub const VERSION_HEADER: &str = "squall-protocol";

/// The version of the cluster protocol this build speaks.
pub const PROTOCOL_VERSION: u32 = 3;

/// The versions this build accepts from a peer. A new version that only adds optional
/// fields keeps the previous one in range; one that changes a message's meaning raises
/// the lower bound. Version 3 changed the heartbeat exchange only (versioned
/// assignments): the CLI and workers of 1 and 2 still talk to nimbus, but supervisors
/// and nimbus on either side of [`super::ASSIGNMENT_PROTOCOL`] refuse each other.
pub const COMPATIBLE_VERSIONS: RangeInclusive<u32> = 1..=3;

/// A peer speaks a version outside [`COMPATIBLE_VERSIONS`], or none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct IncompatibleVersion {
    /// What the peer sent (`None`: no version at all, or one that is not a number).
    pub theirs: Option<u32>,
}

impl fmt::Display for IncompatibleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lo, hi) = (COMPATIBLE_VERSIONS.start(), COMPATIBLE_VERSIONS.end());
        match self.theirs {
            Some(v) => write!(
                f,
                "the peer speaks Squall cluster protocol {v}; this build speaks {PROTOCOL_VERSION} \
                 and accepts {lo}..={hi}: upgrade the older side"
            ),
            None => write!(
                f,
                "the peer sent no Squall cluster protocol version (header `{VERSION_HEADER}`); \
                 this build speaks {PROTOCOL_VERSION} and accepts {lo}..={hi}"
            ),
        }
    }
}

/// Check a peer's version header value.
///
/// ```
/// use squall_runtime::cluster::protocol::{check_version, PROTOCOL_VERSION};
/// assert!(check_version(Some(&PROTOCOL_VERSION.to_string())).is_ok());
/// let e = check_version(Some("99")).unwrap_err();
/// assert!(e.to_string().contains("protocol 99"));
/// assert!(check_version(None).is_err());
/// ```
pub fn check_version(header: Option<&str>) -> Result<u32, IncompatibleVersion> {
    let theirs = header.and_then(|h| h.trim().parse::<u32>().ok());
    match theirs {
        Some(v) if COMPATIBLE_VERSIONS.contains(&v) => Ok(v),
        _ => Err(IncompatibleVersion { theirs }),
    }
}
