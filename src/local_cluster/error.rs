//! What can go wrong driving a [`super::LocalCluster`].

use std::time::Duration;

use squall_runtime::client::ClientError;
use thiserror::Error;

/// A [`super::LocalCluster`] operation failed.
#[derive(Debug, Error)]
pub enum LocalClusterError {
    /// The cluster could not be set up (temp dirs, ports, nimbus, a supervisor).
    #[error("cannot start the local cluster: {0}")]
    Start(String),
    /// Nimbus refused a request or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// There is no supervisor with this index (or it was stopped).
    #[error("no running supervisor #{0} in the local cluster")]
    NoSupervisor(usize),
    /// No worker was ever launched on this supervisor's port.
    #[error("supervisor #{supervisor} has launched no worker on port {port}")]
    NoWorker {
        /// The supervisor's index.
        supervisor: usize,
        /// The slot port.
        port: u16,
    },
    /// A bounded wait ran out.
    #[error("timed out after {limit:?} waiting for {what}; last seen: {last}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long it was awaited (real time).
        limit: Duration,
        /// The last observation, for the failure message.
        last: String,
    },
}
