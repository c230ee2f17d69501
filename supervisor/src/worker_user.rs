//! Workers under uids of their own: a supervisor running as root never runs a worker as
//! root. Each topology's workers get a uid from `supervisor.worker.uid.range` (gid the
//! same number, no supplementary groups), so one topology cannot read another's worker
//! directory (its spec, heartbeat, logs, topology secret): that directory is owned by
//! the worker's uid, mode 0700. A supervisor that does not run as root runs its workers
//! as itself.
//!
//! The uid of a topology is chosen deterministically: `first + FNV-1a(topology id) mod
//! size`, moved on to the next free uid of the range while another topology's worker on
//! this supervisor holds it ([`choose_uid`]). Workers of one topology on this supervisor
//! share its uid; the uid is recorded by the ownership of the worker directory and the
//! process itself (an adopted worker keeps the uid it runs under), so nothing else needs
//! storing. Two supervisors on one host compute the same uid for a topology; two
//! topologies placed on *different* supervisors of one host share a uid only if their
//! hashes collide (about 1 in 10 000 per pair with the default range).
//!
//! What the worker still reaches of the supervisor's data directory, made traversable
//! (mode 0711, nothing listable) by [`open_data_dir`]: its own directory, the artifact
//! cache (`artifacts/`, binaries mode 0755: the artifact of another topology is readable
//! by a worker that knows its hash) and the supervisor's lock file (mode 0644), which it
//! locks shared to tell whether its supervisor still runs.

use std::ffi::CString;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};
use squall_runtime::daemon::UidRange;

/// The uid and gid a worker runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerUser {
    /// Its uid.
    pub uid: u32,
    /// Its gid (the same number as the uid).
    pub gid: u32,
}

impl WorkerUser {
    /// The user of uid `uid`, gid the same number.
    pub fn of(uid: u32) -> WorkerUser {
        WorkerUser { uid, gid: uid }
    }
}

/// Whether this supervisor runs workers under uids of their own (it runs as root).
pub fn isolating() -> bool {
    Uid::effective().is_root()
}

/// FNV-1a, 64 bits: a hash that stays the same across builds and machines.
fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The uid for `topology`'s workers, given the (topology, uid) of the other workers
/// running on this supervisor: the uid a worker of the same topology runs under, or the
/// topology's home uid in `range`, or the next one no other topology holds. An error if
/// every uid of the range is held by another topology.
pub fn choose_uid(
    range: UidRange,
    topology: &str,
    others: &[(String, u32)],
) -> Result<u32, String> {
    if let Some((_, uid)) = others.iter().find(|(t, _)| t == topology) {
        return Ok(*uid);
    }
    let size = u64::from(range.len());
    let home = fnv1a(topology) % size;
    for step in 0..size.min(others.len() as u64 + 1) {
        // `(home + step) % size` < size, which fits in u32.
        let uid = range.first + u32::try_from((home + step) % size).unwrap_or(0);
        if !others.iter().any(|(_, held)| *held == uid) {
            return Ok(uid);
        }
    }
    Err(format!(
        "supervisor.worker.uid.range {range} has no uid left for topology '{topology}' (the \
         other topologies on this supervisor hold them all): widen the range"
    ))
}

/// The real uid process `pid` runs under, from `/proc/PID/status`.
pub fn uid_of_process(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Make the supervisor's data directory usable by workers of other uids without
/// exposing it: the directory and `workers/` mode 0711 (traversable, not listable),
/// `artifacts/` 0755, the lock file 0644; and check that every directory above it is
/// traversable, or say which is not.
pub fn open_data_dir(data_dir: &Path, lock_file: &Path) -> Result<(), String> {
    let set = |path: &Path, mode: u32| {
        std::fs::create_dir_all(path)
            .and_then(|_| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    set(data_dir, 0o711)?;
    set(&data_dir.join("workers"), 0o711)?;
    set(&crate::state_dirs::root(data_dir), 0o711)?;
    set(&data_dir.join("artifacts"), 0o755)?;
    std::fs::set_permissions(lock_file, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("{}: {e}", lock_file.display()))?;
    for dir in data_dir.ancestors().skip(1) {
        let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if meta.permissions().mode() & 0o001 == 0 {
            return Err(format!(
                "workers run under uids of their own (supervisor.worker.uid.range) and must \
                 reach the data directory {}, but {} is not traversable by others: make it \
                 so (chmod o+x) or choose a data directory elsewhere",
                data_dir.display(),
                dir.display()
            ));
        }
    }
    Ok(())
}

/// Most directory levels [`hand_over`] descends (the unpacked resources are the deep
/// part).
const MAX_DEPTH: usize = 64;

/// Give the worker directory `dir` and everything in it to `user`, the directory mode
/// 0700. Descends through directory descriptors opened with `O_NOFOLLOW` and changes
/// owners relative to them without following links, so a link planted in the directory
/// (by a worker of the same uid) never makes root change a file elsewhere.
pub fn hand_over(dir: &Path, user: WorkerUser) -> std::io::Result<()> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let top = Dir::open(dir, flags, Mode::empty())?;
    let (uid, gid) = (Some(Uid::from_raw(user.uid)), Some(Gid::from_raw(user.gid)));
    nix::unistd::fchown(top.as_fd(), uid, gid)?;
    nix::sys::stat::fchmod(top.as_fd(), Mode::from_bits_truncate(0o700))?;
    hand_over_in(top, user, 0)
}

fn hand_over_in(mut dir: Dir, user: WorkerUser, depth: usize) -> std::io::Result<()> {
    if depth >= MAX_DEPTH {
        return Err(std::io::Error::other(format!(
            "more than {MAX_DEPTH} nested directories"
        )));
    }
    let (uid, gid) = (Some(Uid::from_raw(user.uid)), Some(Gid::from_raw(user.gid)));
    let mut entries: Vec<(CString, Option<Type>)> = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        entries.push((name.to_owned(), entry.file_type()));
    }
    for (name, kind) in entries {
        match nix::unistd::fchownat(
            dir.as_fd(),
            name.as_c_str(),
            uid,
            gid,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        if matches!(kind, Some(Type::Directory) | None) {
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            match Dir::openat(dir.as_fd(), name.as_c_str(), flags, Mode::empty()) {
                Ok(sub) => hand_over_in(sub, user, depth + 1)?,
                // Not a directory (any more), a link, or gone: nothing to descend into.
                Err(Errno::ENOTDIR | Errno::ELOOP | Errno::ENOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Before a worker of the topology `topology_id` uses the slot directory `dir`: if the
/// directory last served another topology, or another submission of the same name (its
/// spec file says so, or there is none), remove what that
/// one left there (spec, logs, heartbeat, secret), keeping `resources/`, just unpacked
/// for this topology. Returns whether anything was removed.
pub fn clear_other_topology(
    dir: &Path,
    spec_file: &str,
    topology_id: &str,
) -> std::io::Result<bool> {
    let same = crate::orphans::read_spec(&dir.join(spec_file))
        .is_ok_and(|spec| spec.assignment.topology_id == topology_id);
    if same {
        return Ok(false);
    }
    let mut removed = false;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == "resources" {
            continue;
        }
        let path = entry.path();
        // remove_dir_all does not follow links.
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
        removed = true;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_topology_keeps_its_uid_and_two_topologies_never_share_one() {
        let range = UidRange {
            first: 20000,
            last: 20003,
        };
        let a = choose_uid(range, "a-1", &[]).unwrap();
        assert!((20000..=20003).contains(&a));
        assert_eq!(choose_uid(range, "a-1", &[]).unwrap(), a, "deterministic");
        // Another topology whose home uid is taken moves on.
        let others = vec![("a-1".to_string(), a)];
        let mut seen = vec![a];
        let mut held = others.clone();
        for t in ["b-2", "c-3", "d-4"] {
            let uid = choose_uid(range, t, &held).unwrap();
            assert!(!seen.contains(&uid), "{t} got {uid}, held: {held:?}");
            seen.push(uid);
            held.push((t.to_string(), uid));
        }
        // A worker of a topology already here shares its uid.
        assert_eq!(choose_uid(range, "c-3", &held).unwrap(), seen[2]);
        let e = choose_uid(range, "e-5", &held).unwrap_err();
        assert!(e.contains("no uid left"), "{e}");
    }

    #[test]
    fn another_topology_s_leftovers_are_cleared_and_the_same_one_s_kept() {
        let dir = tempfile::tempdir().unwrap();
        let slot = dir.path();
        let spec = |topology_id: &str| {
            let mut v: serde_json::Value = serde_json::json!({
                "nimbus": "http://127.0.0.1:1", "supervisor": "s", "heartbeat_file": "hb",
                "assignment": {"topology": "t", "topology_id": topology_id, "status": "ACTIVE",
                    "port": 1, "artifact": "0".repeat(64), "yaml": "", "executors": [],
                    "task_locations": {}, "workers_total": 1}
            });
            v["resources_dir"] = serde_json::Value::Null;
            serde_json::to_vec(&v).unwrap()
        };
        std::fs::write(slot.join("worker.json"), spec("t-1-1")).unwrap();
        std::fs::write(slot.join("worker.log"), "old logs").unwrap();
        std::fs::create_dir_all(slot.join("resources")).unwrap();
        std::fs::create_dir_all(slot.join("state/x")).unwrap();
        // The same submission: nothing removed.
        assert!(!clear_other_topology(slot, "worker.json", "t-1-1").unwrap());
        assert!(slot.join("worker.log").exists());
        // Another submission (even of the same name): all but the fresh resources go.
        assert!(clear_other_topology(slot, "worker.json", "t-2-5").unwrap());
        let left: Vec<_> = std::fs::read_dir(slot)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["resources"]);
    }

    #[test]
    fn a_data_directory_others_cannot_reach_is_refused_naming_the_blocker() {
        let dir = tempfile::tempdir().unwrap();
        let closed = dir.path().join("closed");
        let data = closed.join("sup");
        std::fs::create_dir_all(&data).unwrap();
        let lock = data.join("supervisor.lock");
        std::fs::write(&lock, "").unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = open_data_dir(&data, &lock).unwrap_err();
        assert!(
            e.contains(&format!("{} is not traversable", closed.display())),
            "{e}"
        );
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o755)).unwrap();
        open_data_dir(&data, &lock).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o711);
        assert_eq!(mode(&data.join("workers")), 0o711);
        assert_eq!(mode(&lock), 0o644);
    }

    #[test]
    fn handing_over_does_not_follow_links() {
        if !isolating() {
            println!("skipped handing_over_does_not_follow_links: it needs root (chown)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("file"), "x").unwrap();
        let worker = dir.path().join("worker");
        std::fs::create_dir_all(worker.join("resources/deep")).unwrap();
        std::fs::write(worker.join("resources/deep/f"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, worker.join("link")).unwrap();
        hand_over(&worker, WorkerUser::of(20123)).unwrap();
        use std::os::unix::fs::MetadataExt;
        let owner = |p: &Path| std::fs::symlink_metadata(p).unwrap().uid();
        assert_eq!(owner(&worker), 20123);
        assert_eq!(owner(&worker.join("resources/deep/f")), 20123);
        assert_eq!(owner(&worker.join("link")), 20123);
        assert_eq!(owner(&outside), 0, "followed the link");
        assert_eq!(owner(&outside.join("file")), 0, "followed the link");
        let mode = std::fs::metadata(&worker).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
