//! Where the topologies' host-local state (the redb state provider's files) lives on
//! this supervisor: `<data dir>/state/<topology id>/`, one directory per topology shared
//! by all of its slots here, so a task restarted in another slot of this host finds its
//! files. The directory belongs to the topology's workers (mode 0700, their uid when
//! workers run under uids of their own) and is deleted once no slot here has run the
//! topology for `supervisor.state.gc.grace.secs`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::worker_user::{self, WorkerUser};

/// The directory under the data directory holding one directory per topology.
pub(crate) const STATE_DIR: &str = "state";

/// Longest topology id used as a directory name.
const MAX_ID_LEN: usize = 200;

/// The state root of the data directory `data_dir`.
pub(crate) fn root(data_dir: &Path) -> PathBuf {
    data_dir.join(STATE_DIR)
}

/// The state directory of topology `topology_id`, or why the id (which comes from
/// nimbus) cannot name a directory.
pub(crate) fn of(data_dir: &Path, topology_id: &str) -> Result<PathBuf, String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if topology_id.is_empty() || topology_id.len() > MAX_ID_LEN || !topology_id.chars().all(ok_char)
    {
        return Err(format!(
            "topology id '{}' cannot name a state directory: expected at most {MAX_ID_LEN} \
             letters, digits, '-' and '_'",
            topology_id.escape_debug()
        ));
    }
    Ok(root(data_dir).join(topology_id))
}

/// Make `dir` (a topology's state directory) ready for a worker running as `user` (or
/// as this process): created, mode 0700, and with everything in it handed over to
/// `user`, whose uid may differ from the last worker's.
pub(crate) fn prepare(dir: &Path, user: Option<WorkerUser>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    match user {
        Some(u) => worker_user::hand_over(dir, u),
        None => Ok(()),
    }
}

/// The topology ids that have a state directory under `data_dir` (none when there is
/// no state root yet).
pub(crate) fn scan(data_dir: &Path) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(root(data_dir)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if let Some(id) = entry.file_name().to_str()
            && of(data_dir, id).is_ok()
        {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

/// Delete topology `topology_id`'s state directory (links inside are removed, not
/// followed).
pub(crate) fn remove(data_dir: &Path, topology_id: &str) -> std::io::Result<()> {
    let dir = of(data_dir, topology_id).map_err(std::io::Error::other)?;
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_that_are_not_plain_names_are_refused() {
        let data = Path::new("/data");
        assert_eq!(
            of(data, "wc-3-1700000000").unwrap(),
            Path::new("/data/state/wc-3-1700000000")
        );
        for bad in ["", "..", "a/b", "../x", "a b", &"x".repeat(201)] {
            let e = of(data, bad).unwrap_err();
            assert!(e.contains("cannot name a state directory"), "{bad}: {e}");
        }
    }

    #[test]
    fn prepared_directories_are_private_found_by_a_scan_and_removed() {
        let data = tempfile::tempdir().unwrap();
        assert!(scan(data.path()).unwrap().is_empty(), "no state root yet");
        let dir = of(data.path(), "t-1-5").unwrap();
        prepare(&dir, None).unwrap();
        std::fs::write(dir.join("count-1.redb"), b"x").unwrap();
        prepare(&dir, None).unwrap();
        assert!(
            dir.join("count-1.redb").exists(),
            "a second prepare keeps the files"
        );
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::write(root(data.path()).join("stray-file"), b"").unwrap();
        std::fs::create_dir(root(data.path()).join("not an id")).unwrap();
        assert_eq!(scan(data.path()).unwrap(), ["t-1-5"]);
        remove(data.path(), "t-1-5").unwrap();
        assert!(!dir.exists());
        remove(data.path(), "t-1-5").unwrap();
    }
}
