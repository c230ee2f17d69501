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
                    errors: Vec::new(),
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
