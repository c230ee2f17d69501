//! The metrics view of a topology over a window ([`TopologyMetrics`]).
//!
//! PLACEHOLDER (issue 13 contract): sums the latest counters, whatever the window; the
//! rolled-up windows replace it.

use std::collections::BTreeMap;

use squall_runtime::cluster::protocol::{
    ComponentWindowStats, TaskWindowStats, TopologyMetrics, Window, WindowFigures,
};

use super::Cluster;
use super::stats::component_stats;
use super::topologies::get;
use crate::error::ClusterError;

impl Cluster {
    /// Topology `name`'s figures over `window`.
    pub fn metrics(
        &self,
        name: &str,
        window: Window,
        now_ms: u64,
    ) -> Result<TopologyMetrics, ClusterError> {
        let st = self.lock();
        let t = get(&st, name)?;
        let figures = |c: &squall_runtime::cluster::protocol::Counters| WindowFigures {
            emitted: c.emitted,
            transferred: c.transferred,
            executed: c.executed,
            acked: c.acked,
            failed: c.failed,
            errors: c.errors,
            ..WindowFigures::default()
        };
        let components: BTreeMap<String, ComponentWindowStats> = component_stats(t)
            .into_iter()
            .map(|(id, c)| {
                let v = ComponentWindowStats {
                    kind: c.kind,
                    tasks: c.tasks,
                    executors: c.executors,
                    figures: figures(&c.counters),
                    errors: placeholder_errors(t, &id, now_ms),
                };
                (id, v)
            })
            .collect();
        let tasks = t
            .stats
            .values()
            .map(|(slot, s)| TaskWindowStats {
                task: s.task,
                component: s.component.clone(),
                supervisor: slot.supervisor.clone(),
                host: String::new(),
                port: slot.port,
                uptime_secs: 0,
                figures: figures(&s.counters),
            })
            .collect();
        let uptime = (now_ms / 1000).saturating_sub(t.record.submitted_at);
        Ok(TopologyMetrics {
            name: t.record.name.clone(),
            id: t.record.id.clone(),
            status: t.record.status,
            window,
            window_secs: window.secs().map_or(uptime, |w| w.min(uptime)),
            topology: WindowFigures::default(),
            components,
            tasks,
            user_metrics: Vec::new(),
        })
    }
}

/// STORMAPI BRIDGE, placeholder only (the `rollup` part replaces this file's body): a
/// component's errors from its tasks' reports, so Storm's `componentErrors` has data
/// before the engine reports `TaskStats::errors`. A task's `last_error` without a
/// record counts as reported now. The last ten, oldest first.
fn placeholder_errors(
    t: &super::Topo,
    component: &str,
    now_ms: u64,
) -> Vec<squall_runtime::cluster::protocol::ComponentError> {
    use squall_runtime::cluster::protocol::{ComponentError, ErrorRecord};
    let mut out = Vec::new();
    for (slot, s) in t.stats.values().filter(|(_, s)| s.component == component) {
        let host = t
            .assignment
            .workers
            .iter()
            .find(|w| w.supervisor == slot.supervisor && w.port == slot.port)
            .map(|w| w.host.clone())
            .unwrap_or_default();
        let records = if s.errors.is_empty() {
            s.last_error
                .iter()
                .map(|e| ErrorRecord {
                    time_ms: now_ms,
                    error: e.clone(),
                })
                .collect()
        } else {
            s.errors.clone()
        };
        out.extend(records.into_iter().map(|error| ComponentError {
            task: s.task,
            host: host.clone(),
            port: slot.port,
            error,
        }));
    }
    out.sort_by_key(|e| e.error.time_ms);
    let keep = out.len().saturating_sub(10);
    out.drain(..keep);
    out
}
