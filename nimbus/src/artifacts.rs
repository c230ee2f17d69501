//! Content-addressed artifact files: `<data dir>/artifacts/<sha256 hex>`, mode 0755.
//!
//! An upload is streamed into a temporary file in the same directory while it is hashed;
//! the file is renamed into place only when the hash matches the name it was uploaded
//! under, so a reader never sees a partial or wrong artifact.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use futures_util::Stream;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{ClusterError, StoreError};

/// Prefix of upload temporary files (left-overs are removed at start-up).
const UPLOAD_PREFIX: &str = ".upload-";

/// The artifact directory.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    dir: PathBuf,
}

/// The SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `s` is a SHA-256 in lowercase hex (64 characters).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A bad-request error unless `hash` is a lowercase SHA-256 hex string.
pub fn check_hash(hash: &str) -> Result<(), ClusterError> {
    if is_sha256_hex(hash) {
        Ok(())
    } else {
        Err(ClusterError::bad_request(format!(
            "'{hash}' is not an artifact hash: expected the SHA-256 of the file as 64 lowercase \
             hex characters"
        )))
    }
}

impl ArtifactStore {
    /// Use (and create) `dir`, removing upload left-overs.
    pub fn open(dir: &Path) -> Result<ArtifactStore, StoreError> {
        let io = |source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(UPLOAD_PREFIX)
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(ArtifactStore {
            dir: dir.to_path_buf(),
        })
    }

    /// Where the artifact `hash` is (or would be) stored. `hash` must be checked first.
    pub fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(hash)
    }

    /// Whether the artifact `hash` is stored.
    pub fn contains(&self, hash: &str) -> bool {
        is_sha256_hex(hash) && self.path(hash).is_file()
    }

    /// Size in bytes of a stored artifact.
    pub async fn size(&self, hash: &str) -> Result<u64, ClusterError> {
        check_hash(hash)?;
        match tokio::fs::metadata(self.path(hash)).await {
            Ok(m) if m.is_file() => Ok(m.len()),
            Ok(_) => Err(ClusterError::ArtifactNotFound(hash.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ClusterError::ArtifactNotFound(hash.to_string()))
            }
            Err(e) => Err(self.io_err(hash, e)),
        }
    }

    fn io_err(&self, hash: &str, source: std::io::Error) -> ClusterError {
        ClusterError::Store(StoreError::Io {
            path: self.path(hash),
            source,
        })
    }

    /// Store `body` as artifact `hash`, refusing it when its SHA-256 differs or it is
    /// longer than `limit` bytes. Returns whether the artifact is new.
    /// On error, the rest of `body` is left unread.
    pub async fn put(&self, hash: &str, body: &mut Body, limit: u64) -> Result<bool, ClusterError> {
        check_hash(hash)?;
        let existed = self.contains(hash);
        let tmp = tempfile::Builder::new()
            .prefix(UPLOAD_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(|e| self.io_err(hash, e))?;
        let (file, tmp_path) = tmp.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = Sha256::new();
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
        let actual = hex::encode(hasher.finalize());
        if actual != hash {
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
        Ok(!existed)
    }

    /// The artifact's bytes as a stream of chunks, with its length.
    pub async fn open_stream(
        &self,
        hash: &str,
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
        let store = ArtifactStore::open(dir.path()).unwrap();
        let bytes = b"#!/bin/sh\nexit 0\n".to_vec();
        let hash = sha256_hex(&bytes);
        let wrong = sha256_hex(b"other");
        let err = store
            .put(&wrong, &mut Body::from(bytes.clone()), 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(err.status(), 400, "{err}");
        assert!(!store.contains(&wrong));
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
        assert_eq!(names, vec![hash]);
    }

    #[test]
    fn hash_syntax() {
        assert!(is_sha256_hex(&sha256_hex(b"x")));
        assert!(!is_sha256_hex("abc"));
        assert!(!is_sha256_hex(&sha256_hex(b"x").to_uppercase()));
    }
}
