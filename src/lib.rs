//! # squall
//!
//! The `squall` package: the CLI binary (`squall local|submit|nimbus|supervisor|…`, with
//! the example components of `squall-topologies` built in) and, as a library, what needs
//! every crate of the workspace at once: [`local_cluster`], a nimbus, supervisors and
//! their workers in one process, for tests.

pub mod local_cluster;

pub use local_cluster::{LocalCluster, LocalClusterBuilder, LocalClusterError};
