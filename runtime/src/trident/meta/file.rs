//! Metadata records as files under a directory (local mode): a key's segments are the
//! file's path below the directory; a put replaces the file atomically and durably: the
//! new content is written to a temporary file and synced, renamed over the record, and
//! the directory synced; a directory created on the way is synced into its parent.

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
        create_dirs_durably(&dir)?;
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(value.as_bytes())
            .and_then(|()| sync(&f, &tmp))
            .map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        // The rename is durable once the directory is.
        sync_dir(&dir)
    }

    fn describe(&self, key: &MetaKey) -> String {
        self.path(key).display().to_string()
    }
}

/// Create `dir` and its missing ancestors, syncing each new directory's parent so the
/// new entry survives a crash (`create_dir_all` leaves that to the page cache).
fn create_dirs_durably(dir: &Path) -> Result<(), MetaError> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.as_os_str().is_empty() && !d.is_dir() {
        missing.push(d);
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    for new in missing.into_iter().rev() {
        match std::fs::create_dir(new) {
            Ok(()) => {}
            // Made meanwhile by another writer: its parent entry is theirs to sync.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && new.is_dir() => continue,
            Err(e) => return Err(io(new)(e)),
        }
        if let Some(parent) = new.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Sync the directory `dir` (its entries: created, renamed files).
fn sync_dir(dir: &Path) -> Result<(), MetaError> {
    std::fs::File::open(dir)
        .and_then(|d| sync(&d, dir))
        .map_err(io(dir))
}

fn sync(f: &std::fs::File, path: &Path) -> std::io::Result<()> {
    f.sync_all()?;
    #[cfg(test)]
    synced::record(path);
    #[cfg(not(test))]
    let _ = path;
    Ok(())
}

/// What this thread synced, in order (tests check the sequence of a put).
#[cfg(test)]
pub(super) mod synced {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    thread_local! {
        static SYNCED: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
    }

    pub fn record(path: &Path) {
        SYNCED.with(|s| s.borrow_mut().push(path.to_path_buf()));
    }

    /// The paths synced since the last call.
    pub fn take() -> Vec<PathBuf> {
        SYNCED.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }
}
