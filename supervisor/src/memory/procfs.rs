//! The resident memory of a worker's process tree, read from `/proc`: every process
//! whose parent chain leads to the worker, plus every process still in the worker's
//! process group (a multi-lang subprocess whose worker died is re-parented, but stays in
//! the group). One pass over `/proc/*/stat` serves every slot.

use std::collections::HashMap;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// What one `/proc/PID/stat` says that the memory watch needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcEntry {
    /// The process id.
    pub pid: u32,
    /// Its parent's id.
    pub ppid: u32,
    /// Its process group.
    pub pgrp: i32,
    /// Its resident set, in pages.
    pub rss_pages: u64,
    /// CPU time it used (user + system) plus that of its children it waited for, in
    /// clock ticks ([`clock_ticks_per_sec`]).
    pub cpu_ticks: u64,
}

/// Parse the text of `/proc/PID/stat` (fields counted after the last `)`, since the
/// command name may hold spaces and parentheses).
pub fn parse_stat(text: &str) -> Option<ProcEntry> {
    let open = text.find(" (")?;
    let pid = text[..open].trim().parse().ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: ppid is field 4 of proc(5), pgrp 5, utime 14, stime 15, cutime
    // 16, cstime 17, rss 24.
    let ticks = |i: usize| -> Option<u64> { fields.get(i)?.parse().ok() };
    let cpu_ticks = [11, 12, 13, 14]
        .into_iter()
        .map(ticks)
        .try_fold(0u64, |sum, t| Some(sum.saturating_add(t?)))?;
    Some(ProcEntry {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        rss_pages: fields.get(21)?.parse().ok()?,
        cpu_ticks,
    })
}

/// Every process of the machine (of this pid namespace) now; processes that end while
/// `/proc` is read are skipped.
pub fn snapshot() -> Vec<ProcEntry> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let pid: u32 = name.to_str()?.parse().ok()?;
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(&text)
        })
        .collect()
}

/// The bytes of a page (the unit of `rss` in `/proc/PID/stat`).
pub fn page_size() -> u64 {
    static PAGE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(4096)
    })
}

/// Clock ticks per second (the unit of CPU times in `/proc/PID/stat`).
pub fn clock_ticks_per_sec() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(100)
    })
}

/// A worker's process tree at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    /// Its processes, the worker first (when it still exists).
    pub pids: Vec<u32>,
    /// Their resident sets added up, in pages (pages two of them share count twice).
    pub rss_pages: u64,
    /// Their CPU times added up (with their waited-for children's), in clock ticks.
    pub cpu_ticks: u64,
}

/// Indexes one [`snapshot`] by parent, for the trees of several workers.
#[derive(Debug)]
pub struct Processes {
    by_pid: HashMap<u32, ProcEntry>,
    children: HashMap<u32, Vec<u32>>,
}

impl Processes {
    /// Index `procs`.
    pub fn new(procs: Vec<ProcEntry>) -> Processes {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for p in &procs {
            children.entry(p.ppid).or_default().push(p.pid);
        }
        Processes {
            by_pid: procs.into_iter().map(|p| (p.pid, p)).collect(),
            children,
        }
    }

    /// The tree of the worker `root`: its descendants and its process group's members.
    pub fn tree(&self, root: u32) -> Tree {
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![root];
        if let Ok(group) = i32::try_from(root) {
            stack.extend(
                self.by_pid
                    .values()
                    .filter(|p| p.pgrp == group)
                    .map(|p| p.pid),
            );
        }
        let mut tree = Tree::default();
        while let Some(pid) = stack.pop() {
            if !seen.insert(pid) {
                continue;
            }
            let Some(p) = self.by_pid.get(&pid) else {
                continue;
            };
            tree.pids.push(pid);
            tree.rss_pages = tree.rss_pages.saturating_add(p.rss_pages);
            tree.cpu_ticks = tree.cpu_ticks.saturating_add(p.cpu_ticks);
            if let Some(kids) = self.children.get(&pid) {
                stack.extend(kids.iter().copied());
            }
        }
        // The worker first, then the rest in pid order (for logs and tests).
        tree.pids.sort_by_key(|p| (*p != root, *p));
        tree
    }
}

/// SIGKILL every process of `tree` one by one (the daemon kills the worker's process
/// group; this reaches the descendants that left it).
pub fn kill_tree(tree: &Tree) {
    for pid in &tree.pids {
        if let Ok(pid) = i32::try_from(*pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(pid: u32, ppid: u32, pgrp: i32, rss_pages: u64) -> ProcEntry {
        ProcEntry {
            pid,
            ppid,
            pgrp,
            rss_pages,
            cpu_ticks: rss_pages / 10,
        }
    }

    #[test]
    fn stat_lines_parse_after_the_last_parenthesis() {
        let text = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 1 0 0 0 3 1 0 0 20 0 9 0 \
                    123456 1000 777 18446744073709551615";
        let mut want = entry(4242, 1, 4242, 777);
        // utime 3 + stime 1 + cutime 0 + cstime 0.
        want.cpu_ticks = 4;
        assert_eq!(parse_stat(text), Some(want));
        assert_eq!(parse_stat("4242 (cut) S 1 4242"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn a_tree_holds_descendants_and_group_members_but_not_strangers() {
        let procs = Processes::new(vec![
            entry(1, 0, 1, 1000),
            entry(10, 1, 10, 100),   // the worker
            entry(11, 10, 10, 20),   // its multi-lang child
            entry(12, 11, 12, 3),    // a grandchild that left the group
            entry(13, 1, 10, 4),     // a re-parented group member
            entry(20, 1, 20, 50000), // another worker
            entry(21, 20, 20, 7),
        ]);
        let t = procs.tree(10);
        assert_eq!(t.pids, [10, 11, 12, 13]);
        assert_eq!(t.rss_pages, 127);
        assert_eq!(t.cpu_ticks, 10 + 2);
        assert_eq!(procs.tree(99), Tree::default());
    }

    #[test]
    fn this_process_is_in_the_snapshot_with_a_resident_set() {
        let me = std::process::id();
        let procs = Processes::new(snapshot());
        let t = procs.tree(me);
        assert_eq!(t.pids.first(), Some(&me));
        assert!(t.rss_pages * page_size() > 1 << 20, "{t:?}");
    }
}
