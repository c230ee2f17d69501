//! Content-addressed artifact files: `<data dir>/artifacts/<sha256 hex>`, mode 0755.
//!
//! An upload is streamed into a temporary file in the same directory while it is hashed;
//! the file is renamed into place only when the hash matches the name it was uploaded
//! under, so a reader never sees a partial or wrong artifact.
//!
//! Unused artifacts are garbage-collected ([`ArtifactStore::collect`]): one no stored
//! topology references is deleted once it was last uploaded or asked about (`HEAD`) a
//! grace period ago (`nimbus.artifact.gc.grace.secs`), judged on the monotonic clock;
//! artifacts found at start-up count as seen then. The grace covers the time between an
//! upload and its submission.

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use futures_util::Stream;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use squall_runtime::cluster::protocol::ArtifactHash;
use squall_runtime::engine::clock::Clock;

use crate::error::{ClusterError, StoreError};

/// Prefix of upload temporary files (left-overs are removed at start-up).
const UPLOAD_PREFIX: &str = ".upload-";

/// The artifact directory.
#[derive(Debug)]
pub struct ArtifactStore {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    /// Unreferenced artifacts older than this are deleted.
    gc_grace: Duration,
    /// When each stored artifact was last uploaded or asked about (monotonic).
    seen: Mutex<HashMap<ArtifactHash, Instant>>,
}

/// Parse an artifact name from a URL: the hash, or a bad request naming the text.
pub fn parse_hash(text: &str) -> Result<ArtifactHash, ClusterError> {
    text.parse::<ArtifactHash>().map_err(|e| {
        ClusterError::bad_request(format!(
            "{e}: an artifact is named by the SHA-256 of its bytes"
        ))
    })
}

impl ArtifactStore {
    /// Use (and create) `dir`, removing upload left-overs; artifacts no topology
    /// references are deleted `gc_grace` after they were last uploaded or asked about
    /// (on `clock`), the ones there now counting as seen now.
    pub fn open(
        dir: &Path,
        clock: Arc<dyn Clock>,
        gc_grace: Duration,
    ) -> Result<ArtifactStore, StoreError> {
        let io = |source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let now = clock.now();
        let mut seen = HashMap::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(UPLOAD_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
            } else if let Ok(hash) = name.parse::<ArtifactHash>() {
                seen.insert(hash, now);
            }
        }
        Ok(ArtifactStore {
            dir: dir.to_path_buf(),
            clock,
            gc_grace,
            seen: Mutex::new(seen),
        })
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<ArtifactHash, Instant>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Note that `hash` was uploaded or asked about now: it is kept at least the grace
    /// period from now.
    pub fn touch(&self, hash: &ArtifactHash) {
        let now = self.clock.now();
        self.seen().insert(*hash, now);
    }

    /// Delete the artifacts not in `referenced` that were last uploaded or asked about
    /// at least the grace period ago; returns them. Blocking (file deletions): run it on
    /// the blocking pool, holding the cluster state so no submission slips in between.
    pub fn collect(&self, referenced: &BTreeSet<ArtifactHash>) -> Vec<ArtifactHash> {
        let now = self.clock.now();
        let due: Vec<ArtifactHash> = self
            .seen()
            .iter()
            .filter(|(h, t)| {
                !referenced.contains(*h) && now.saturating_duration_since(**t) >= self.gc_grace
            })
            .map(|(h, _)| *h)
            .collect();
        let mut deleted = Vec::new();
        for hash in due {
            match std::fs::remove_file(self.path(&hash)) {
                Ok(()) => deleted.push(hash),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(artifact = %hash, "cannot delete an unused artifact: {e}");
                    continue;
                }
            }
            self.seen().remove(&hash);
        }
        deleted
    }

    /// Where the artifact `hash` is (or would be) stored.
    pub fn path(&self, hash: &ArtifactHash) -> PathBuf {
        self.dir.join(hash.to_string())
    }

    /// Whether the artifact `hash` is stored.
    pub fn contains(&self, hash: &ArtifactHash) -> bool {
        self.path(hash).is_file()
    }

    /// Size in bytes of a stored artifact.
    pub async fn size(&self, hash: &ArtifactHash) -> Result<u64, ClusterError> {
        match tokio::fs::metadata(self.path(hash)).await {
            Ok(m) if m.is_file() => Ok(m.len()),
            Ok(_) => Err(ClusterError::ArtifactNotFound(hash.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ClusterError::ArtifactNotFound(hash.to_string()))
            }
            Err(e) => Err(self.io_err(hash, e)),
        }
    }

    fn io_err(&self, hash: &ArtifactHash, source: std::io::Error) -> ClusterError {
        ClusterError::Store(StoreError::Io {
            path: self.path(hash),
            source,
        })
    }

    /// Store `body` as artifact `hash`, refusing it when its SHA-256 differs or it is
    /// longer than `limit` bytes. Returns whether the artifact is new.
    /// On error, the rest of `body` is left unread.
    pub async fn put(
        &self,
        hash: &ArtifactHash,
        body: &mut Body,
        limit: u64,
    ) -> Result<bool, ClusterError> {
        let existed = self.contains(hash);
        if existed {
            // Uploaded again: not collected while this upload runs. (A new hash is noted
            // only once stored, so refused uploads leave nothing behind.)
            self.touch(hash);
        }
        let tmp = tempfile::Builder::new()
            .prefix(UPLOAD_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(|e| self.io_err(hash, e))?;
        let (file, tmp_path) = tmp.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = ArtifactHash::hasher();
        let mut len: u64 = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ClusterError::bad_request(format!("artifact upload interrupted: {e}"))
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            len += data.len() as u64;
            if len > limit {
                return Err(ClusterError::TooLarge(format!(
                    "artifact is larger than the limit of {limit} bytes"
                )));
            }
            hasher.update(&data);
            file.write_all(&data)
                .await
                .map_err(|e| self.io_err(hash, e))?;
        }
        let actual = hasher.finish();
        if actual != *hash {
            return Err(ClusterError::bad_request(format!(
                "artifact hash mismatch: uploaded as {hash} but the {len} bytes received hash to \
                 {actual}"
            )));
        }
        file.flush().await.map_err(|e| self.io_err(hash, e))?;
        file.sync_all().await.map_err(|e| self.io_err(hash, e))?;
        drop(file);
        tokio::fs::set_permissions(&tmp_path, std::fs::Permissions::from_mode(0o755))
            .await
            .map_err(|e| self.io_err(hash, e))?;
        tmp_path
            .persist(self.path(hash))
            .map_err(|e| self.io_err(hash, e.error))?;
        self.touch(hash);
        Ok(!existed)
    }

    /// The artifact's bytes as a stream of chunks, with its length.
    pub async fn open_stream(
        &self,
        hash: &ArtifactHash,
    ) -> Result<(u64, impl Stream<Item = std::io::Result<Bytes>> + use<>), ClusterError> {
        let size = self.size(hash).await?;
        let file = tokio::fs::File::open(self.path(hash))
            .await
            .map_err(|e| self.io_err(hash, e))?;
        let stream = futures_util::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut buf = vec![0u8; 64 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok((size, stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_checks_the_hash_and_makes_the_file_executable() {
        let dir = tempfile::tempdir().unwrap();
        let clock = squall_runtime::engine::clock::system();
        let store = ArtifactStore::open(dir.path(), clock, Duration::from_secs(60)).unwrap();
        let bytes = b"#!/bin/sh\nexit 0\n".to_vec();
        let hash = ArtifactHash::of_bytes(&bytes);
        let wrong = ArtifactHash::of_bytes(b"other");
        let err = store
            .put(&wrong, &mut Body::from(bytes.clone()), 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(err.status(), 400, "{err}");
        assert!(!store.contains(&wrong));
        assert!(
            !store.seen().contains_key(&wrong),
            "a refused upload leaves no garbage-collection entry"
        );
        assert!(
            store
                .put(&hash, &mut Body::from(bytes.clone()), 1 << 20)
                .await
                .unwrap()
        );
        assert!(
            !store
                .put(&hash, &mut Body::from(bytes.clone()), 1 << 20)
                .await
                .unwrap()
        );
        assert!(store.seen().contains_key(&hash), "a stored upload is noted");
        let mode = std::fs::metadata(store.path(&hash))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(std::fs::read(store.path(&hash)).unwrap(), bytes);
        let too_big = store
            .put(&hash, &mut Body::from(bytes.clone()), 4)
            .await
            .unwrap_err();
        assert_eq!(too_big.status(), 413);
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![hash.to_string()]);
    }

    #[test]
    fn urls_name_artifacts_by_hash_only() {
        let h = ArtifactHash::of_bytes(b"x");
        assert_eq!(parse_hash(&h.to_string()).unwrap(), h);
        for bad in ["abc", "../../etc/passwd", ""] {
            let e = parse_hash(bad).unwrap_err();
            assert_eq!(e.status(), 400, "{e}");
        }
    }
}
