//! The cluster secret: 32 random bytes in `DATA/cluster.secret` (mode 0600), made at
//! nimbus's first start. Tokens are random and need no key; the secret is the root the
//! other parts of the security work derive internal credentials from.

use std::io::Read;
use std::path::{Path, PathBuf};

use squall_runtime::cluster::auth::credentials::write_secret_file;
use squall_runtime::cluster::auth::token::{Secret, random_bytes};

use crate::error::StoreError;

/// The cluster secret's file name in the data directory.
pub const CLUSTER_SECRET_FILE: &str = "cluster.secret";

/// Read the cluster secret, making it first if there is none.
pub fn ensure_cluster_secret(dir: &Path) -> Result<Secret<[u8; 32]>, StoreError> {
    let path = dir.join(CLUSTER_SECRET_FILE);
    let io = |path: PathBuf| move |source| StoreError::Io { path, source };
    if !path.exists() {
        let bytes = random_bytes::<32>().map_err(|e| StoreError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_secret_file(&path, &bytes).map_err(io(path.clone()))?;
        tracing::info!(path = %path.display(), "cluster secret created (mode 0600)");
        return Ok(Secret::new(bytes));
    }
    let mut buf = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(64).read_to_end(&mut buf))
        .map_err(io(path.clone()))?;
    let bytes: [u8; 32] = buf.try_into().map_err(|_| StoreError::Io {
        path: path.clone(),
        source: std::io::Error::other("the cluster secret is not 32 bytes"),
    })?;
    Ok(Secret::new(bytes))
}
