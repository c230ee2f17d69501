//! Typed errors: the store's, the cluster operations' (each maps to one HTTP status), and
//! nimbus start-up's.

use std::net::SocketAddr;
use std::path::PathBuf;

use squall_runtime::cluster::protocol::ErrorCode;

/// A failure of the durable store (the redb file or an artifact file).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database refused an operation.
    #[error("database {path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// What redb said.
        #[source]
        source: Box<redb::Error>,
    },
    /// A stored record does not decode (written by an incompatible nimbus, or damaged).
    #[error("stored {what} is unreadable: {source}")]
    Decode {
        /// Which record.
        what: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A record could not be encoded.
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// Which record.
        what: String,
        /// The encoding error.
        #[source]
        source: serde_json::Error,
    },
    /// File system error on an artifact or a data-dir file.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A stored value is not what it should be.
    #[error("the database is corrupt: {0}")]
    Corrupt(String),
    /// A topology secret could not be made.
    #[error(transparent)]
    Secret(#[from] squall_runtime::cluster::auth::topology_secret::SecretError),
}

/// Why a cluster operation (an API request) was refused or failed.
///
/// Each variant is one class of answer: [`ClusterError::status`] gives its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The request itself is wrong (bad field, bad YAML, failing validation, bad hash).
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
        /// One line per problem, when there are several (e.g. YAML errors with line:column).
        details: Vec<String>,
    },
    /// No topology of this name.
    #[error("topology '{0}' not found")]
    TopologyNotFound(String),
    /// No artifact with this hash.
    #[error("artifact {0} not found")]
    ArtifactNotFound(String),
    /// A topology of this name already exists.
    #[error("a topology named '{0}' already exists; kill it first or choose another name")]
    AlreadyExists(String),
    /// The operation does not apply in the topology's current state.
    #[error("{0}")]
    Conflict(String),
    /// A worker reported for a topology whose current assignment does not hold it (the
    /// topology is gone, was resubmitted, or moved the slot): answered 409 with the code
    /// `not_assigned`, on which the worker exits.
    #[error("{0}")]
    NotAssigned(String),
    /// The body is over the size limit.
    #[error("{0}")]
    TooLarge(String),
    /// The request did not arrive in time (a body sent too slowly).
    #[error("{0}")]
    Timeout(String),
    /// The caller is not authenticated (401); the message says how to authenticate.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this (403); the message says who may.
    #[error("{0}")]
    Forbidden(String),
    /// The caller's token made too many mutating requests (429).
    #[error("{message}")]
    TooManyRequests {
        /// What happened.
        message: String,
        /// Seconds until a request is accepted again.
        retry_after_secs: u64,
    },
    /// Something other than a topology or an artifact does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A service nimbus relies on (a supervisor serving logs) cannot take the request
    /// now (503).
    #[error("{0}")]
    Unavailable(String),
    /// A supervisor did not answer in time (504); the message names it.
    #[error("{0}")]
    UpstreamTimeout(String),
    /// Storage failed: the operation was not applied.
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
    /// A bug or an environment failure (e.g. a worker thread died).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ClusterError {
    /// A bad request with a single message.
    pub fn bad_request(message: impl Into<String>) -> ClusterError {
        ClusterError::BadRequest {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ClusterError::BadRequest { .. } => 400,
            ClusterError::TopologyNotFound(_)
            | ClusterError::ArtifactNotFound(_)
            | ClusterError::NotFound(_) => 404,
            ClusterError::AlreadyExists(_)
            | ClusterError::Conflict(_)
            | ClusterError::NotAssigned(_) => 409,
            ClusterError::TooLarge(_) => 413,
            ClusterError::Unauthorized(_) => 401,
            ClusterError::Forbidden(_) => 403,
            ClusterError::TooManyRequests { .. } => 429,
            ClusterError::Timeout(_) => 408,
            ClusterError::Unavailable(_) => 503,
            ClusterError::UpstreamTimeout(_) => 504,
            ClusterError::Store(_) | ClusterError::Internal(_) => 500,
        }
    }

    /// The machine-readable code this error is answered with, if it has one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClusterError::NotAssigned(_) => Some(ErrorCode::NotAssigned),
            _ => None,
        }
    }
}

/// Why nimbus could not start.
#[derive(Debug, thiserror::Error)]
pub enum NimbusError {
    /// The data directory or the database could not be opened or read.
    #[error("cannot open the nimbus store: {0}")]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// Another nimbus holds the data directory (or it cannot be locked).
    #[error(transparent)]
    Locked(#[from] squall_runtime::daemon::LockError),
    /// TLS could not be set up (the CA, a custom certificate).
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsSetupError),
    /// The validation sandbox cannot be set up (its user does not exist, or is root).
    #[error(transparent)]
    Sandbox(#[from] crate::validate::sandbox::SandboxError),
}
