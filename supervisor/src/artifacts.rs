//! The supervisor's artifact cache: topology binaries fetched from nimbus by content
//! hash, checked, stored executable.

use std::path::{Path, PathBuf};

use squall_runtime::cluster::protocol::ArtifactHash;

use crate::error::SupervisorError;

/// Artifacts stored under `DIR/artifacts/<sha256>`.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// A cache in `data_dir/artifacts`.
    pub fn new(data_dir: &Path) -> ArtifactCache {
        ArtifactCache {
            dir: data_dir.join("artifacts"),
        }
    }

    /// Path of an artifact (whether or not it is present).
    pub fn path(&self, hash: &ArtifactHash) -> PathBuf {
        self.dir.join(hash.to_string())
    }

    /// The artifact's path, downloading it from nimbus first if needed; the content
    /// must hash to `hash`.
    pub async fn fetch(
        &self,
        http: &reqwest::Client,
        nimbus: &str,
        hash: &ArtifactHash,
    ) -> Result<PathBuf, SupervisorError> {
        let path = self.path(hash);
        if path.exists() {
            return Ok(path);
        }
        let url = format!("{nimbus}/api/v1/artifacts/{hash}");
        let resp = http
            .get(&url)
            .send()
            .await
            .map_err(|e| SupervisorError::Nimbus(format!("GET {url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(SupervisorError::Nimbus(format!(
                "GET {url}: {}",
                resp.status()
            )));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| SupervisorError::Nimbus(format!("GET {url}: {e}")))?;
        let got = ArtifactHash::of_bytes(&bytes);
        if got != *hash {
            return Err(SupervisorError::Artifact(format!(
                "artifact {hash} from nimbus hashes to {got}: refusing it"
            )));
        }
        let io = |e: std::io::Error| SupervisorError::Io(format!("storing artifact {hash}: {e}"));
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let tmp = self.dir.join(format!(".{hash}.{}", std::process::id()));
        std::fs::write(&tmp, &bytes).map_err(io)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(path)
    }
}
