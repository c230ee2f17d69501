//! `topology.worker.max.memory.mb`: the most memory a worker process and its multi-lang
//! subprocesses may use together.
//!
//! Two ways, chosen once per supervisor process:
//! - **cgroup v2** ([`cgroup`]) where the supervisor's cgroup has the memory controller
//!   delegated: each limited worker runs in a cgroup of its own with `memory.max`; the
//!   kernel ends it (the whole group) at the limit, and `memory.events` names the cause.
//! - **polling** ([`procfs`]) everywhere else: every [`POLL`] the supervisor adds up the
//!   resident sets of each limited worker's process tree (descendants and process group
//!   members, from `/proc/*/stat`) and SIGKILLs a tree over its limit.
//!
//! Either way the slot records the cause as the worker's `last_exit` (e.g. `killed:
//! memory 612 MiB over the limit of 512 MiB (topology.worker.max.memory.mb)`), which
//! nimbus shows in `squall status`, and restarts the worker with its crash backoff. An
//! adopted worker (left by a previous supervisor run) is watched like a launched one.
//! `RLIMIT_AS` is not used: it limits address space, which multi-threaded glibc
//! processes reserve far beyond what they use (arenas), so it fails healthy workers.

pub mod cgroup;
pub mod procfs;
pub mod usage;

use std::time::Duration;

use squall_runtime::cluster::protocol::SlotAssignment;
use squall_runtime::topology::config::{Config, TOPOLOGY_WORKER_MAX_MEMORY_MB};

use crate::daemon::Daemon;
use crate::process::LaunchSpec;
use crate::slot::Event;

/// How often the workers' memory is measured when polling.
pub const POLL: Duration = Duration::from_secs(1);
/// Bytes in a MiB.
const MIB: u64 = 1 << 20;

/// The memory limit, in MiB, that the topology YAML `yaml` sets (`None`: no limit, or
/// a YAML that does not parse: nimbus refused such a topology at submit).
pub fn limit_mb(yaml: &str) -> Option<u64> {
    let parsed = squall_runtime::topology::yaml::parse_str(yaml, None).ok()?;
    Config::from_map(parsed.def.config).setting_u64(TOPOLOGY_WORKER_MAX_MEMORY_MB)
}

/// `last_exit` of a worker the poll killed: it used `used_bytes` against `limit_mb`.
pub fn over_limit_cause(used_bytes: u64, limit_mb: u64) -> String {
    format!(
        "killed: memory {} MiB over the limit of {limit_mb} MiB ({TOPOLOGY_WORKER_MAX_MEMORY_MB})",
        used_bytes.div_ceil(MIB)
    )
}

/// `last_exit` of a worker its cgroup's OOM killer ended at `limit_mb`.
pub fn oom_kill_cause(limit_mb: u64) -> String {
    format!(
        "killed: out of memory at the limit of {limit_mb} MiB \
         ({TOPOLOGY_WORKER_MAX_MEMORY_MB}; cgroup OOM kill)"
    )
}

/// A slot's limit, computed once per assignment YAML.
#[derive(Debug, Default)]
pub(crate) struct SlotMemory {
    yaml: String,
    limit: Option<u64>,
}

impl SlotMemory {
    /// The limit (MiB) of assignment `a`.
    pub(crate) fn limit(&mut self, a: &SlotAssignment) -> Option<u64> {
        if self.yaml != a.yaml {
            self.yaml = a.yaml.clone();
            self.limit = limit_mb(&a.yaml);
        }
        self.limit
    }
}

/// The launcher's hook, right after it started the worker `pid` of `spec`: put it in a
/// cgroup of its own limited to `spec.memory_limit_mb`, where cgroups are delegated
/// (elsewhere the poll watches it). Runs before the worker starts any subprocess (it
/// reads its spec and builds its topology first), so those are confined too.
pub fn confine(pid: u32, spec: &LaunchSpec) {
    let Some(limit) = spec.memory_limit_mb else {
        return;
    };
    let Some(delegated) = cgroup::delegated() else {
        return;
    };
    let name = slot_name(spec);
    let confined = delegated
        .prepare(&name, limit.saturating_mul(MIB))
        .and_then(|cg| cgroup::enter(&cg, pid).map(|()| cg));
    match confined {
        Ok(cg) => tracing::info!(pid, cgroup = %cg.display(), limit_mb = limit,
            "worker confined to its memory limit"),
        Err(e) => tracing::warn!(
            pid,
            limit_mb = limit,
            "cannot confine the worker to a cgroup, polling its memory instead: {e}"
        ),
    }
}

/// The name of a worker's cgroup: its directory's (the slot port).
fn slot_name(spec: &LaunchSpec) -> String {
    spec.dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Set up cgroup delegation now, before any worker runs (see [`cgroup::delegated`]).
pub fn init() {
    let _ = cgroup::delegated();
}

/// One worker to measure: slot index, port, pid, limit in MiB.
#[derive(Debug, Clone, Copy)]
struct Watched {
    slot: usize,
    port: u16,
    pid: u32,
    limit_mb: u64,
}

/// Measure the trees of `watched` (one `/proc` pass), SIGKILL those over their limit,
/// and return their slots with the cause. Workers confined by a cgroup are left to it.
fn measure(watched: &[Watched]) -> Vec<(usize, String)> {
    let delegated = cgroup::delegated();
    let polled: Vec<&Watched> = watched
        .iter()
        .filter(|w| {
            !delegated.is_some_and(|d| cgroup::holds(&d.worker(&w.port.to_string()), w.pid))
        })
        .collect();
    if polled.is_empty() {
        return Vec::new();
    }
    let procs = procfs::Processes::new(procfs::snapshot());
    let page = procfs::page_size();
    let mut over = Vec::new();
    for w in polled {
        let tree = procs.tree(w.pid);
        let used = tree.rss_pages.saturating_mul(page);
        if used > w.limit_mb.saturating_mul(MIB) {
            let cause = over_limit_cause(used, w.limit_mb);
            tracing::warn!(port = w.port, pid = w.pid, processes = ?tree.pids,
                "worker {cause}");
            procfs::kill_tree(&tree);
            over.push((w.slot, cause));
        }
    }
    over
}

impl Daemon {
    /// At most every [`POLL`]: measure each limited worker and stop those over their
    /// limit (their slots record the cause). Returns whether a reported state changed.
    pub(crate) async fn watch_memory(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        if now < self.memory_next_poll {
            return false;
        }
        self.memory_next_poll = now + POLL;
        let mut watched = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let worker = &mut self.workers[i];
            let (Some(pid), Some(a), Some(p)) =
                (slot.pid(), slot.assignment(), worker.process.as_mut())
            else {
                continue;
            };
            // A worker on a thread of this process has no tree of its own; one that
            // ended is not measured (its pid may be reused once it is reaped).
            if !p.separate_process() || p.try_wait().is_some() {
                continue;
            }
            if let Some(limit_mb) = worker.memory.limit(a) {
                watched.push(Watched {
                    slot: i,
                    port: slot.port(),
                    pid,
                    limit_mb,
                });
            }
        }
        if watched.is_empty() {
            return false;
        }
        let over = match tokio::task::spawn_blocking(move || measure(&watched)).await {
            Ok(over) => over,
            Err(e) => {
                tracing::warn!("measuring the workers' memory: {e}");
                return false;
            }
        };
        let mut changed = false;
        for (i, cause) in over {
            changed |= self.apply(i, Event::OverMemory(cause)).await;
        }
        changed
    }

    /// How the worker of slot `i` ended, `how` as its exit status says: its cgroup's
    /// OOM kill when there was one. Its cgroup is removed.
    pub(crate) async fn explain_exit(&mut self, i: usize, how: String) -> String {
        let limit = self.slots[i]
            .assignment()
            .and_then(|a| self.workers[i].memory.limit(a));
        let (Some(limit), Some(delegated)) = (limit, cgroup::delegated()) else {
            return how;
        };
        let cg = delegated.worker(&self.slots[i].port().to_string());
        let oom = tokio::task::spawn_blocking(move || {
            let kills = cgroup::oom_kills(&cg);
            cgroup::remove(&cg);
            kills
        })
        .await
        .unwrap_or(0);
        if oom == 0 {
            return how;
        }
        let cause = oom_kill_cause(limit);
        tracing::warn!(port = self.slots[i].port(), "worker {cause}");
        cause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_comes_from_the_topology_config() {
        let yaml = |config: &str| {
            format!(
                "name: t\nconfig:\n  {config}\nspouts:\n  - id: s\n    className: X\n\
                 bolts: []\nstreams: []\n"
            )
        };
        assert_eq!(
            limit_mb(&yaml("topology.worker.max.memory.mb: 512")),
            Some(512)
        );
        assert_eq!(limit_mb(&yaml("topology.workers: 1")), None);
        assert_eq!(limit_mb(&yaml("topology.worker.max.memory.mb: null")), None);
        // A bad value (refused by nimbus at submit) is no limit here.
        assert_eq!(limit_mb(&yaml("topology.worker.max.memory.mb: 0")), None);
        assert_eq!(limit_mb("not: [yaml"), None);
    }

    #[test]
    fn the_causes_name_the_sizes_and_the_key() {
        assert_eq!(
            over_limit_cause(612 * MIB, 512),
            "killed: memory 612 MiB over the limit of 512 MiB (topology.worker.max.memory.mb)"
        );
        // Rounded up: never "512 MiB over the limit of 512 MiB" for 512 MiB + 1 byte.
        assert!(over_limit_cause(512 * MIB + 1, 512).starts_with("killed: memory 513 MiB"));
        assert!(oom_kill_cause(64).contains("limit of 64 MiB (topology.worker.max.memory.mb"));
    }
}
