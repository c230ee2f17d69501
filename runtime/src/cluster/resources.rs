//! A topology's resources directory (`topology.resources.dir`): the files its shell
//! components run with (scripts, data), where multi-lang subprocesses start.
//!
//! `squall local FILE --resources DIR` points the key at DIR (default: FILE's directory).
//! `squall submit FILE --resources DIR` ships DIR with the artifact: [`pack`] makes a
//! deterministic tar of it (so its SHA-256 names it: nimbus stores it content-addressed
//! next to the artifacts), each supervisor fetches it and [`unpack`]s it into the
//! worker's directory, and the worker points `topology.resources.dir` there
//! ([`set_resources_dir`]).

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

use crate::topology::config::TOPOLOGY_RESOURCES_DIR;
use crate::topology::yaml::ValidTopology;

/// The largest resources archive `squall submit` ships and a supervisor unpacks
/// (256 MiB of file content).
pub const MAX_RESOURCES_BYTES: u64 = 256 * 1024 * 1024;

/// The most files and directories a resources archive may hold.
pub const MAX_ENTRIES: usize = 100_000;

/// Why a resources directory could not be packed or unpacked.
#[derive(Debug, Error)]
pub enum ResourcesError {
    /// A file or directory could not be read or written.
    #[error("resources: {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// `--resources` does not name a directory.
    #[error("resources: {0} is not a directory")]
    NotADirectory(String),
    /// Symbolic links are not shipped.
    #[error(
        "resources: {0} is a symbolic link; only regular files and directories are shipped \
         (copy what it points to into the directory)"
    )]
    Symlink(String),
    /// A socket, device or other special file.
    #[error("resources: {0} is not a regular file or a directory")]
    Special(String),
    /// Past [`MAX_RESOURCES_BYTES`] (or the limit given).
    #[error("resources: {what} holds more than the limit of {limit} bytes")]
    TooLarge {
        /// The directory or archive.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// Past [`MAX_ENTRIES`].
    #[error("resources: {0} holds more than {MAX_ENTRIES} files and directories")]
    TooManyEntries(String),
    /// A malformed archive or one with an unsafe entry (absolute path, `..`, a link).
    #[error("resources archive: {0}")]
    Archive(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ResourcesError + '_ {
    move |source| ResourcesError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The tar of `dir`: every regular file and directory below it, sorted, with zeroed
/// owners and times and modes reduced to 0755/0644 (so equal trees give equal bytes).
///
/// Errors: `dir` is not a directory, holds a symbolic link or special file, more than
/// `limit` bytes of file content or more than [`MAX_ENTRIES`] entries.
pub fn pack(dir: &Path, limit: u64) -> Result<Vec<u8>, ResourcesError> {
    let meta = std::fs::metadata(dir).map_err(io(dir))?;
    if !meta.is_dir() {
        return Err(ResourcesError::NotADirectory(dir.display().to_string()));
    }
    let mut entries = Vec::new();
    walk(dir, Path::new(""), &mut entries)?;
    if entries.len() > MAX_ENTRIES {
        return Err(ResourcesError::TooManyEntries(dir.display().to_string()));
    }
    let mut total: u64 = 0;
    let mut builder = tar::Builder::new(Vec::new());
    for (rel, is_dir) in entries {
        let full = dir.join(&rel);
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        if is_dir {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, &rel, std::io::empty())
                .map_err(io(&full))?;
            continue;
        }
        let meta = std::fs::metadata(&full).map_err(io(&full))?;
        total += meta.len();
        if total > limit {
            return Err(ResourcesError::TooLarge {
                what: dir.display().to_string(),
                limit,
            });
        }
        use std::os::unix::fs::PermissionsExt;
        let exec = meta.permissions().mode() & 0o111 != 0;
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(if exec { 0o755 } else { 0o644 });
        header.set_size(meta.len());
        let file = std::fs::File::open(&full).map_err(io(&full))?;
        builder
            .append_data(&mut header, &rel, file.take(meta.len()))
            .map_err(io(&full))?;
    }
    builder.into_inner().map_err(io(dir))
}

/// Every entry below `dir` as (relative path, is a directory), sorted by name.
fn walk(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, bool)>) -> Result<(), ResourcesError> {
    let dir = root.join(rel);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let entry = entry.map_err(io(&dir))?;
        names.push(entry.file_name());
    }
    names.sort();
    for name in names {
        let rel = rel.join(&name);
        let full = root.join(&rel);
        let meta = std::fs::symlink_metadata(&full).map_err(io(&full))?;
        let ty = meta.file_type();
        if ty.is_symlink() {
            return Err(ResourcesError::Symlink(full.display().to_string()));
        } else if ty.is_dir() {
            out.push((rel.clone(), true));
            if out.len() > MAX_ENTRIES {
                return Err(ResourcesError::TooManyEntries(root.display().to_string()));
            }
            walk(root, &rel, out)?;
        } else if ty.is_file() {
            out.push((rel, false));
        } else {
            return Err(ResourcesError::Special(full.display().to_string()));
        }
    }
    Ok(())
}

/// Unpack a resources archive made by [`pack`] into `dest`, replacing what was there
/// (it is unpacked next to `dest` first, then renamed into place).
///
/// Refused: entries other than regular files and directories, absolute paths or `..`,
/// more than `limit` bytes of content, more than [`MAX_ENTRIES`] entries.
pub fn unpack(archive: impl Read, dest: &Path, limit: u64) -> Result<(), ResourcesError> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "resources".to_string());
    let tmp = dest.with_file_name(format!(".{name}.partial"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    if let Err(e) = unpack_into(archive, &tmp, limit) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(io(dest))?;
    }
    std::fs::rename(&tmp, dest).map_err(io(dest))
}

fn unpack_into(archive: impl Read, dest: &Path, limit: u64) -> Result<(), ResourcesError> {
    let bad = |e: std::io::Error| ResourcesError::Archive(e.to_string());
    let mut ar = tar::Archive::new(archive);
    let mut total: u64 = 0;
    for (n, entry) in ar.entries().map_err(bad)?.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(ResourcesError::TooManyEntries("the archive".to_string()));
        }
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(ResourcesError::Archive(format!(
                "entry {} is not a relative path inside the directory",
                path.display()
            )));
        }
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Directory => {}
            other => {
                return Err(ResourcesError::Archive(format!(
                    "entry {} is a {other:?}; only regular files and directories are unpacked",
                    path.display()
                )));
            }
        }
        total += entry.size();
        if total > limit {
            return Err(ResourcesError::TooLarge {
                what: "the archive".to_string(),
                limit,
            });
        }
        let unpacked = entry.unpack_in(dest).map_err(bad)?;
        if !unpacked {
            return Err(ResourcesError::Archive(format!(
                "entry {} would be unpacked outside the directory",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Point `topology.resources.dir` at `dir` in the topology config and every
/// component's: always with `replace` (`--resources` given, or a shipped directory),
/// otherwise only where the topology leaves it unset.
pub fn set_resources_dir(topo: &mut ValidTopology, dir: &Path, replace: bool) {
    let value = serde_yaml::Value::String(dir.to_string_lossy().into_owned());
    topo.set_config_everywhere(TOPOLOGY_RESOURCES_DIR, value, replace);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree(root: &Path) {
        std::fs::create_dir_all(root.join("lib/deep")).unwrap();
        std::fs::write(root.join("split.py"), "print('hi')\n").unwrap();
        std::fs::set_permissions(
            root.join("split.py"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::fs::write(root.join("lib/deep/data.txt"), "a b c\n").unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
    }

    #[test]
    fn pack_is_deterministic_and_unpack_restores_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        tree(&src);
        let a = pack(&src, MAX_RESOURCES_BYTES).unwrap();
        // Same content, other times: same bytes.
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::fs::write(src.join("split.py"), "print('hi')\n").unwrap();
        let b = pack(&src, MAX_RESOURCES_BYTES).unwrap();
        assert_eq!(a, b);
        let dest = dir.path().join("out/resources");
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::write(dest.join("stale.txt"), "old").unwrap();
        unpack(a.as_slice(), &dest, MAX_RESOURCES_BYTES).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("lib/deep/data.txt")).unwrap(),
            "a b c\n"
        );
        assert!(dest.join("empty").is_dir());
        assert!(!dest.join("stale.txt").exists(), "the old tree is replaced");
        let mode = std::fs::metadata(dest.join("split.py"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "executable bit kept: {mode:o}");
    }

    #[test]
    fn limits_links_and_missing_directories_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        tree(&src);
        let e = pack(&src, 10).unwrap_err();
        assert!(
            e.to_string().contains("more than the limit of 10 bytes"),
            "{e}"
        );
        let archive = pack(&src, MAX_RESOURCES_BYTES).unwrap();
        let e = unpack(archive.as_slice(), &dir.path().join("x"), 3).unwrap_err();
        assert!(matches!(e, ResourcesError::TooLarge { .. }), "{e}");
        assert!(!dir.path().join("x").exists());
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        let e = pack(&src, MAX_RESOURCES_BYTES).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = pack(&dir.path().join("nope"), MAX_RESOURCES_BYTES).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        let e = pack(&src.join("split.py"), MAX_RESOURCES_BYTES).unwrap_err();
        assert!(e.to_string().contains("is not a directory"), "{e}");
    }

    #[test]
    fn unsafe_entries_are_refused() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder
            .append_link(&mut header, "evil", "/etc/passwd")
            .unwrap();
        let archive = builder.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = unpack(
            archive.as_slice(),
            &dir.path().join("r"),
            MAX_RESOURCES_BYTES,
        )
        .unwrap_err();
        assert!(e.to_string().contains("only regular files"), "{e}");
        let e = unpack(
            &b"not a tar at all, just some bytes"[..],
            &dir.path().join("r"),
            100,
        )
        .unwrap_err();
        assert!(matches!(e, ResourcesError::Archive(_)), "{e}");
    }
}
