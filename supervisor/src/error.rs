//! Supervisor errors.

use thiserror::Error;

/// What can go wrong in the supervisor.
#[derive(Debug, Error)]
pub enum SupervisorError {
    /// Another supervisor holds the data directory (or it cannot be locked).
    #[error(transparent)]
    Locked(#[from] squall_runtime::daemon::LockError),
    /// Talking to nimbus failed.
    #[error("nimbus: {0}")]
    Nimbus(String),
    /// Nimbus refused this supervisor's credential (401/403): it runs none of the
    /// cluster's work until nimbus accepts it again.
    #[error("nimbus refused this supervisor: {0}")]
    Refused(String),
    /// An artifact was missing or corrupt.
    #[error("artifact: {0}")]
    Artifact(String),
    /// Local file system trouble.
    #[error("{0}")]
    Io(String),
    /// Bad options.
    #[error("config: {0}")]
    Config(String),
}
