//! Every message that crosses a process boundary in a Squall cluster, defined once and
//! used by both sides: nimbus's HTTP API bodies (submissions, actions, the views the CLI
//! prints), supervisor heartbeats and the assignments nimbus answers with, the worker
//! spec a supervisor starts a worker with, and the statistics workers report.
//!
//! Every HTTP exchange carries [`VERSION_HEADER`]; a peer outside
//! [`COMPATIBLE_VERSIONS`] is refused with a message naming both versions.

mod hash;
mod status;
pub mod trident;
mod version;

pub use hash::{ArtifactHash, ArtifactHasher, BadArtifactHash};
pub use status::{SlotState, TopologyStatus};
pub use version::{
    COMPATIBLE_VERSIONS, IncompatibleVersion, PROTOCOL_VERSION, VERSION_HEADER, check_version,
};
