//! What each worker process uses, for the heartbeat's [`WorkerReport`]s: the resident
//! memory and CPU time of its process tree (the worker, its multi-lang subprocesses),
//! from one pass over `/proc` (see [`procfs`]).
//!
//! [`WorkerReport`]: squall_runtime::cluster::protocol::WorkerReport

use std::collections::HashMap;

use super::procfs;
use crate::daemon::Daemon;

/// One worker tree's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Resident memory of its processes added up, bytes.
    pub rss_bytes: u64,
    /// CPU time (user + system) its processes used, with their waited-for children's,
    /// milliseconds.
    pub cpu_ms: u64,
}

/// The figures of the trees of `roots` (workers gone by now are left out).
pub fn measure(roots: &[u32]) -> HashMap<u32, Usage> {
    if roots.is_empty() {
        return HashMap::new();
    }
    let procs = procfs::Processes::new(procfs::snapshot());
    let page = procfs::page_size();
    let ticks = procfs::clock_ticks_per_sec();
    roots
        .iter()
        .filter_map(|root| {
            let tree = procs.tree(*root);
            if tree.pids.first() != Some(root) {
                return None;
            }
            let usage = Usage {
                rss_bytes: tree.rss_pages.saturating_mul(page),
                cpu_ms: tree.cpu_ticks.saturating_mul(1000) / ticks,
            };
            Some((*root, usage))
        })
        .collect()
}

impl Daemon {
    /// The figures of every worker that runs as a process of its own, by pid (measured
    /// on the blocking pool; empty if that fails). `&mut`: the daemon is not `Sync`.
    pub(crate) async fn worker_usage(&mut self) -> HashMap<u32, Usage> {
        let roots: Vec<u32> = self
            .slots
            .iter()
            .zip(&self.workers)
            .filter(|(_, w)| w.process.as_ref().is_some_and(|p| p.separate_process()))
            .filter_map(|(s, _)| s.pid())
            .collect();
        tokio::task::spawn_blocking(move || measure(&roots))
            .await
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_uses_memory_and_cpu() {
        // Burn a little CPU so the figure cannot be zero.
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let me = std::process::id();
        let usage = measure(&[me, u32::MAX]);
        let mine = usage.get(&me).copied().unwrap_or_default();
        assert!(mine.rss_bytes > 1 << 20, "{mine:?}");
        assert!(mine.cpu_ms > 0, "{mine:?}");
        assert!(!usage.contains_key(&u32::MAX), "no such process");
    }
}
