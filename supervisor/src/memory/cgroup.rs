//! cgroup v2 confinement of workers, where the machine delegates the memory controller
//! to the supervisor's cgroup.
//!
//! At start the supervisor finds its own cgroup (`0::PATH` in `/proc/self/cgroup`) on
//! the cgroup2 mount (`/proc/self/mountinfo`). If `memory` is among that cgroup's
//! `cgroup.controllers`, it moves itself into a leaf `squall-supervisor` (a cgroup with
//! controllers enabled for its children may hold no process itself: the "no internal
//! processes" rule) and enables `+memory` in `cgroup.subtree_control`. Each worker with
//! a limit then gets a sibling cgroup `squall-worker-PORT` with `memory.max` = the
//! limit, `memory.swap.max` = 0 and `memory.oom.group` = 1 (an OOM kill takes the worker
//! and its subprocesses together); the supervisor moves the worker into it right after
//! starting it, before the worker starts any subprocess. The kernel enforces the limit;
//! `memory.events` counts the OOM kills, which name the cause of the worker's exit.
//!
//! Anything missing (no cgroup2 mount, the controller not delegated, other processes in
//! the supervisor's cgroup, no write access) leaves the supervisor polling instead: said
//! once, at info level.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The leaf the supervisor moves itself into.
const SUPERVISOR_LEAF: &str = "squall-supervisor";
/// The prefix of a worker's cgroup (the slot port follows).
const WORKER_PREFIX: &str = "squall-worker-";

/// A cgroup2 directory whose children get the memory controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegated {
    /// The supervisor's cgroup directory (parent of the supervisor's leaf and of the
    /// workers' cgroups).
    pub dir: PathBuf,
}

/// The cgroup2 mount point in `/proc/self/mountinfo` text, with the root it mounts.
pub fn cgroup2_mount(mountinfo: &str) -> Option<(PathBuf, String)> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let fields: Vec<&str> = left.split_whitespace().collect();
        Some((PathBuf::from(fields.get(4)?), fields.get(3)?.to_string()))
    })
}

/// The unified (v2) cgroup path in `/proc/self/cgroup` text (`0::PATH`).
pub fn own_cgroup(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// The directory of cgroup `path` on a cgroup2 mount at `mount` of root `root`.
pub fn cgroup_dir(mount: &Path, root: &str, path: &str) -> PathBuf {
    let rel = path
        .strip_prefix(root)
        .unwrap_or(path)
        .trim_start_matches('/');
    if rel.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(rel)
    }
}

/// The count of `key` (`oom_kill`, ...) in `memory.events` text.
pub fn events_count(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("writing {value:?} to {}: {e}", path.display()))
}

/// Whether a space-separated controller list names `memory`.
fn has_memory(list: &str) -> bool {
    list.split_whitespace().any(|c| c == "memory")
}

/// Set up delegation from the supervisor's own cgroup, or say why it cannot be used.
fn setup() -> Result<Delegated, String> {
    let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
    let (mount, root) =
        cgroup2_mount(&mountinfo).ok_or("no cgroup2 file system is mounted".to_string())?;
    let own = own_cgroup(&read(Path::new("/proc/self/cgroup"))?)
        .ok_or("/proc/self/cgroup names no cgroup v2 path".to_string())?;
    setup_in(cgroup_dir(&mount, &root, &own), std::process::id())
}

/// Set up delegation for process `pid` (this one) whose cgroup directory is `dir`.
fn setup_in(mut dir: PathBuf, pid: u32) -> Result<Delegated, String> {
    // A supervisor restarted in the leaf a previous run moved it to.
    if dir.file_name().is_some_and(|n| n == SUPERVISOR_LEAF)
        && let Some(parent) = dir.parent()
    {
        dir = parent.to_path_buf();
    }
    let controllers = read(&dir.join("cgroup.controllers"))?;
    if !has_memory(&controllers) {
        return Err(format!(
            "the memory controller is not delegated to cgroup {} (its cgroup.controllers: \
             {:?})",
            dir.display(),
            controllers.trim()
        ));
    }
    if !has_memory(&read(&dir.join("cgroup.subtree_control"))?) {
        let leaf = dir.join(SUPERVISOR_LEAF);
        std::fs::create_dir_all(&leaf).map_err(|e| format!("{}: {e}", leaf.display()))?;
        let me = pid.to_string();
        write(&leaf.join("cgroup.procs"), &me)?;
        if let Err(e) = write(&dir.join("cgroup.subtree_control"), "+memory") {
            // Other processes share the cgroup: go back where we were.
            let _ = write(&dir.join("cgroup.procs"), &me);
            return Err(format!(
                "{e} (other processes share cgroup {})",
                dir.display()
            ));
        }
    }
    Ok(Delegated { dir })
}

/// The delegated cgroup, set up once per process, on the first call (`None`: the
/// supervisor polls). `squall supervisor` calls it at start, before any worker runs: a
/// worker left in the supervisor's cgroup would keep the memory controller from being
/// enabled for its children.
pub fn delegated() -> Option<&'static Delegated> {
    static DELEGATED: OnceLock<Option<Delegated>> = OnceLock::new();
    DELEGATED
        .get_or_init(|| match setup() {
            Ok(d) => {
                tracing::info!(cgroup = %d.dir.display(),
                    "worker memory limits are enforced by cgroup v2 (memory.max)");
                Some(d)
            }
            Err(why) => {
                tracing::info!(
                    "worker memory limits are enforced by polling the workers' resident \
                     memory every second: cgroup v2 is not usable here ({why})"
                );
                None
            }
        })
        .as_ref()
}

impl Delegated {
    /// The cgroup of the worker of slot `name` (its port).
    pub fn worker(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{WORKER_PREFIX}{name}"))
    }

    /// A fresh cgroup for the worker of slot `name`, limited to `limit_bytes`.
    pub fn prepare(&self, name: &str, limit_bytes: u64) -> Result<PathBuf, String> {
        let cg = self.worker(name);
        remove(&cg);
        std::fs::create_dir(&cg).map_err(|e| format!("{}: {e}", cg.display()))?;
        write(&cg.join("memory.max"), &limit_bytes.to_string())?;
        // Without swap off the limit would push the worker into swap instead of ending it.
        if cg.join("memory.swap.max").exists() {
            write(&cg.join("memory.swap.max"), "0")?;
        }
        write(&cg.join("memory.oom.group"), "1")?;
        Ok(cg)
    }
}

/// Move process `pid` into cgroup `cg`.
pub fn enter(cg: &Path, pid: u32) -> Result<(), String> {
    write(&cg.join("cgroup.procs"), &pid.to_string())
}

/// Whether `pid` is in cgroup `cg`.
pub fn holds(cg: &Path, pid: u32) -> bool {
    std::fs::read_to_string(cg.join("cgroup.procs"))
        .is_ok_and(|t| t.lines().any(|l| l.trim() == pid.to_string()))
}

/// How many processes of cgroup `cg` the kernel's OOM killer has killed.
pub fn oom_kills(cg: &Path) -> u64 {
    std::fs::read_to_string(cg.join("memory.events"))
        .map(|t| events_count(&t, "oom_kill"))
        .unwrap_or(0)
}

/// Kill what is left in cgroup `cg` and remove it (best effort: a cgroup still holding
/// a process stays, and is killed and removed at the next launch).
pub fn remove(cg: &Path) {
    if !cg.exists() {
        return;
    }
    if cg.join("cgroup.kill").exists() {
        let _ = std::fs::write(cg.join("cgroup.kill"), "1");
    }
    // The kill is asynchronous: a few tries while the processes go.
    for _ in 0..50 {
        if std::fs::remove_dir(cg).is_ok() || !cg.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    tracing::warn!(cgroup = %cg.display(), "cannot remove a worker's cgroup");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_unified_mount_and_path_are_found() {
        let mountinfo = "24 29 0:22 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n\
                         31 25 0:27 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n";
        let (mount, root) = cgroup2_mount(mountinfo).unwrap();
        assert_eq!(mount, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(root, "/");
        assert_eq!(
            cgroup2_mount("24 29 0:22 / /x rw - cgroup cgroup rw\n"),
            None
        );
        let cg = "4:memory:/a\n0::/system.slice/squall.service\n";
        let own = own_cgroup(cg).unwrap();
        assert_eq!(own, "/system.slice/squall.service");
        assert_eq!(
            cgroup_dir(&mount, &root, &own),
            Path::new("/sys/fs/cgroup/unified/system.slice/squall.service")
        );
        assert_eq!(
            cgroup_dir(Path::new("/sys/fs/cgroup"), "/", "/"),
            Path::new("/sys/fs/cgroup")
        );
    }

    /// A directory standing for a cgroup (the real thing needs a delegated memory
    /// controller, which this machine lacks): its control files as plain files.
    fn fake_cgroup(controllers: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.controllers"), controllers).unwrap();
        std::fs::write(dir.path().join("cgroup.subtree_control"), "").unwrap();
        dir
    }

    #[test]
    fn without_the_memory_controller_there_is_no_delegation() {
        let cg = fake_cgroup("cpu io pids\n");
        let err = setup_in(cg.path().to_path_buf(), 42).unwrap_err();
        assert!(err.contains("memory controller is not delegated"), "{err}");
        assert!(err.contains("cpu io pids"), "{err}");
        assert!(!cg.path().join(SUPERVISOR_LEAF).exists());
        let err = setup_in(PathBuf::from("/nonexistent/cgroup"), 42).unwrap_err();
        assert!(
            err.contains("/nonexistent/cgroup/cgroup.controllers"),
            "{err}"
        );
    }

    #[test]
    fn delegation_moves_the_supervisor_to_a_leaf_and_workers_get_limited_cgroups() {
        let cg = fake_cgroup("cpu memory pids\n");
        let d = setup_in(cg.path().to_path_buf(), 42).unwrap();
        assert_eq!(d.dir, cg.path());
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(
            read(&cg.path().join(SUPERVISOR_LEAF).join("cgroup.procs")),
            "42"
        );
        assert_eq!(read(&cg.path().join("cgroup.subtree_control")), "+memory");
        // Restarted inside its leaf: the same parent.
        let again = setup_in(cg.path().join(SUPERVISOR_LEAF), 43).unwrap();
        assert_eq!(again, d);
        let w = d.prepare("6700", 512 << 20).unwrap();
        assert_eq!(w, cg.path().join("squall-worker-6700"));
        assert_eq!(read(&w.join("memory.max")), (512u64 << 20).to_string());
        assert_eq!(read(&w.join("memory.oom.group")), "1");
        enter(&w, 77).unwrap();
        assert!(holds(&w, 77) && !holds(&w, 7));
        assert_eq!(oom_kills(&w), 0);
        std::fs::write(w.join("memory.events"), "oom 1\noom_kill 1\n").unwrap();
        assert_eq!(oom_kills(&w), 1);
    }

    #[test]
    fn oom_kills_are_read_from_memory_events() {
        let text = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 1\n";
        assert_eq!(events_count(text, "oom_kill"), 1);
        assert_eq!(events_count(text, "max"), 12);
        assert_eq!(events_count(text, "missing"), 0);
        assert!(has_memory("cpu io memory pids"));
        assert!(!has_memory("cpu memoryx"));
    }
}
