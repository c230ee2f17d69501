//! Metadata records as files under a directory (local mode): a key's segments are the
//! file's path below the directory; a put replaces the file atomically and durably.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{MetaError, MetaKey, MetaStore, check_size};

/// Records as files below a directory.
#[derive(Debug, Clone)]
pub struct FileMetaStore {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MetaError + '_ {
    move |source| MetaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl FileMetaStore {
    /// Records below `dir` (created on the first put).
    pub fn new(dir: impl Into<PathBuf>) -> FileMetaStore {
        FileMetaStore { dir: dir.into() }
    }

    /// The file of `key`.
    pub fn path(&self, key: &MetaKey) -> PathBuf {
        key.as_str()
            .split('/')
            .fold(self.dir.clone(), |p, s| p.join(s))
    }
}

impl MetaStore for FileMetaStore {
    fn get(&self, key: &MetaKey) -> Result<Option<String>, MetaError> {
        let path = self.path(key);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn put(&self, key: &MetaKey, value: &str) -> Result<(), MetaError> {
        check_size(key, value)?;
        let path = self.path(key);
        let dir = path.parent().unwrap_or(&self.dir).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(value.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        // The rename is durable once the directory is.
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))?;
        Ok(())
    }

    fn describe(&self, key: &MetaKey) -> String {
        self.path(key).display().to_string()
    }
}
