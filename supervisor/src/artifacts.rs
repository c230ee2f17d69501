//! The supervisor's artifact cache: topology binaries and resources archives fetched
//! from nimbus by content hash, stored executable under `DIR/artifacts/<sha256>`.
//!
//! A download streams to a temporary file in the cache directory while it is hashed,
//! bounded in size and by an idle timeout (no byte for that long: it fails); only a file
//! whose bytes hash to its name is fsynced, renamed into place and the directory fsynced,
//! so a crash never leaves a partial file under an artifact's name. A file already in the
//! cache is hashed again before its first use (and whenever its length or modification
//! time changed since): a truncated or corrupted cache file is deleted and downloaded
//! again instead of being launched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use squall_runtime::cluster::protocol::ArtifactHash;
use tokio::io::AsyncWriteExt;

use crate::error::SupervisorError;

/// Names of files being downloaded start with this (left-overs are removed by
/// [`ArtifactCache::scan`]).
const PART_PREFIX: &str = ".part-";

/// How a download is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Fail when no byte arrived for this long (`supervisor.download.idle.timeout.secs`).
    pub idle_timeout: Duration,
    /// Refuse an artifact larger than this.
    pub max_bytes: u64,
}

/// What a verified file looked like when it was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// Artifacts stored under `DIR/artifacts/<sha256>`.
#[derive(Debug)]
pub struct ArtifactCache {
    dir: PathBuf,
    /// Files hashed to their name, and how they looked then.
    verified: Mutex<HashMap<ArtifactHash, Stamp>>,
    /// Numbers the temporary files of concurrent downloads.
    next_part: AtomicU64,
}

impl ArtifactCache {
    /// A cache in `data_dir/artifacts`.
    pub fn new(data_dir: &Path) -> ArtifactCache {
        ArtifactCache {
            dir: data_dir.join("artifacts"),
            verified: Mutex::new(HashMap::new()),
            next_part: AtomicU64::new(0),
        }
    }

    /// Path of an artifact (whether or not it is present).
    pub fn path(&self, hash: &ArtifactHash) -> PathBuf {
        self.dir.join(hash.to_string())
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<ArtifactHash, Stamp>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The artifacts in the cache, removing the temporary files of downloads a previous
    /// run left. Blocking: run it off the async threads.
    pub fn scan(&self) -> Result<Vec<ArtifactHash>, SupervisorError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io("reading the cache", e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.io("reading the cache", e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(PART_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
            } else if let Ok(hash) = name.parse::<ArtifactHash>() {
                found.push(hash);
            }
        }
        Ok(found)
    }

    /// Delete a cached artifact (a missing one is not an error).
    pub async fn remove(&self, hash: &ArtifactHash) -> Result<(), SupervisorError> {
        self.verified().remove(hash);
        match tokio::fs::remove_file(self.path(hash)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(&format!("deleting artifact {hash}"), e)),
        }
    }

    fn io(&self, what: &str, e: std::io::Error) -> SupervisorError {
        SupervisorError::Io(format!("{what} in {}: {e}", self.dir.display()))
    }

    /// The artifact's path, downloading it from nimbus first if it is not cached or the
    /// cached file does not hash to `hash`.
    pub async fn fetch(
        &self,
        http: &reqwest::Client,
        nimbus: &str,
        hash: &ArtifactHash,
        limits: FetchLimits,
    ) -> Result<PathBuf, SupervisorError> {
        if self.cached(hash).await? {
            return Ok(self.path(hash));
        }
        self.download(http, nimbus, hash, limits).await?;
        Ok(self.path(hash))
    }

    /// Whether the cache holds `hash` intact: a file not verified before (in this run,
    /// with this length and modification time) is hashed, and deleted when it is wrong.
    async fn cached(&self, hash: &ArtifactHash) -> Result<bool, SupervisorError> {
        let path = self.path(hash);
        let meta = match tokio::fs::metadata(&path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(self.io(&format!("artifact {hash}"), e)),
        };
        let stamp = Stamp::of(&meta);
        if self.verified().get(hash) == Some(&stamp) {
            return Ok(true);
        }
        let file = path.clone();
        let got = tokio::task::spawn_blocking(move || {
            std::fs::File::open(&file)
                .and_then(|f| ArtifactHash::of_reader(std::io::BufReader::new(f)))
        })
        .await
        .map_err(|e| SupervisorError::Io(format!("hashing artifact {hash}: {e}")))?;
        match got {
            Ok(got) if got == *hash => {
                self.verified().insert(*hash, stamp);
                Ok(true)
            }
            Ok(got) => {
                tracing::warn!(artifact = %hash, len = stamp.len, actual = %got,
                    "cached artifact is corrupt (truncated or changed); downloading it again");
                self.remove(hash).await?;
                Ok(false)
            }
            Err(e) => {
                tracing::warn!(artifact = %hash, "cached artifact unreadable ({e}); downloading it again");
                self.remove(hash).await?;
                Ok(false)
            }
        }
    }

    /// Stream `hash` from nimbus into the cache (see the module documentation).
    async fn download(
        &self,
        http: &reqwest::Client,
        nimbus: &str,
        hash: &ArtifactHash,
        limits: FetchLimits,
    ) -> Result<(), SupervisorError> {
        let url = format!("{nimbus}/api/v1/artifacts/{hash}");
        let nimbus_err =
            |e: &dyn std::fmt::Display| SupervisorError::Nimbus(format!("GET {url}: {e}"));
        let mut resp = tokio::time::timeout(limits.idle_timeout, http.get(&url).send())
            .await
            .map_err(|_| nimbus_err(&format!("no answer within {:?}", limits.idle_timeout)))?
            .map_err(|e| nimbus_err(&e))?;
        if !resp.status().is_success() {
            return Err(nimbus_err(&resp.status()));
        }
        let too_large = || {
            SupervisorError::Artifact(format!(
                "artifact {hash} is larger than the limit of {} bytes: refusing it",
                limits.max_bytes
            ))
        };
        if resp.content_length().is_some_and(|n| n > limits.max_bytes) {
            return Err(too_large());
        }
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| self.io("creating the cache", e))?;
        let n = self.next_part.fetch_add(1, Ordering::Relaxed);
        let part = PartFile(Some(
            self.dir
                .join(format!("{PART_PREFIX}{hash}-{}-{n}", std::process::id())),
        ));
        let io = |e: std::io::Error| self.io(&format!("storing artifact {hash}"), e);
        let mut file = tokio::fs::File::create(part.path()).await.map_err(io)?;
        let mut hasher = ArtifactHash::hasher();
        let mut len: u64 = 0;
        loop {
            let chunk = tokio::time::timeout(limits.idle_timeout, resp.chunk())
                .await
                .map_err(|_| {
                    nimbus_err(&format!(
                        "no data for {:?} after {len} bytes: giving up",
                        limits.idle_timeout
                    ))
                })?
                .map_err(|e| nimbus_err(&format!("after {len} bytes: {e}")))?;
            let Some(chunk) = chunk else { break };
            len = len.saturating_add(chunk.len() as u64);
            if len > limits.max_bytes {
                return Err(too_large());
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(io)?;
        }
        let got = hasher.finish();
        if got != *hash {
            return Err(SupervisorError::Artifact(format!(
                "artifact {hash} from nimbus ({len} bytes) hashes to {got}: refusing it"
            )));
        }
        file.flush().await.map_err(io)?;
        file.sync_all().await.map_err(io)?;
        drop(file);
        {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(part.path(), std::fs::Permissions::from_mode(0o755))
                .await
                .map_err(io)?;
        }
        let path = self.path(hash);
        tokio::fs::rename(part.path(), &path).await.map_err(io)?;
        part.persisted();
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()))
            .await
            .map_err(|e| SupervisorError::Io(format!("syncing the cache directory: {e}")))?
            .map_err(io)?;
        let meta = tokio::fs::metadata(&path).await.map_err(io)?;
        self.verified().insert(*hash, Stamp::of(&meta));
        tracing::info!(artifact = %hash, bytes = len, "artifact downloaded");
        Ok(())
    }
}

/// A download's temporary file, deleted when dropped before it was renamed into place
/// (a failed or cancelled download).
struct PartFile(Option<PathBuf>);

impl PartFile {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn persisted(mut self) {
        self.0 = None;
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        let Some(path) = self.0.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(move || std::fs::remove_file(path));
            }
            Err(_) => {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_corrupt_or_truncated_cache_file_is_deleted_not_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ArtifactCache::new(dir.path());
        let bytes = b"#!/bin/sh\nexit 0\n";
        let hash = ArtifactHash::of_bytes(bytes);
        std::fs::create_dir_all(dir.path().join("artifacts")).expect("mkdir");
        std::fs::write(cache.path(&hash), bytes).expect("write");
        assert!(cache.cached(&hash).await.expect("intact"));
        // Truncated after it was verified: its length changed, so it is hashed again.
        std::fs::write(cache.path(&hash), &bytes[..5]).expect("truncate");
        assert!(!cache.cached(&hash).await.expect("truncated"));
        assert!(!cache.path(&hash).exists(), "the truncated file is deleted");
        assert!(!cache.cached(&hash).await.expect("missing"));
    }

    #[test]
    fn scan_lists_artifacts_and_removes_partial_downloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ArtifactCache::new(dir.path());
        assert_eq!(cache.scan().expect("no dir yet"), Vec::new());
        let hash = ArtifactHash::of_bytes(b"x");
        std::fs::create_dir_all(dir.path().join("artifacts")).expect("mkdir");
        std::fs::write(cache.path(&hash), b"x").expect("write");
        let part = dir
            .path()
            .join("artifacts")
            .join(format!("{PART_PREFIX}{hash}-1-0"));
        std::fs::write(&part, b"partial").expect("write");
        std::fs::write(dir.path().join("artifacts/notes.txt"), b"?").expect("write");
        assert_eq!(cache.scan().expect("scan"), vec![hash]);
        assert!(!part.exists(), "a partial download is removed");
    }
}
