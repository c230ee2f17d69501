//! Per-partition lag gauges of one spout task ([`squall_runtime::cluster::protocol::lag`]
//! names them): the spout thread records what it owns and commits, the watcher thread
//! measures log ends off the spout thread and marks the values stale while the brokers
//! do not answer (the last known values stay published).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use squall_runtime::Gauge;
use squall_runtime::cluster::protocol::lag::{
    LAG_STALE_GAUGE, LagField, MAX_LAG_PARTITIONS_PER_TASK, lag_gauge_name,
};
use squall_runtime::metrics::MetricsRegistry;

use super::consumer::{SpoutConsumer, TopicPartition};

#[derive(Debug)]
struct PartGauges {
    committed: Gauge,
    head: Gauge,
    owned: bool,
}

#[derive(Debug)]
struct Inner {
    registry: Arc<MetricsRegistry>,
    parts: BTreeMap<TopicPartition, PartGauges>,
    stale_since: Gauge,
    stale: bool,
    warned: bool,
}

/// The lag gauges of one task, shared by the spout and watcher threads.
#[derive(Debug, Clone)]
pub(super) struct LagBoard(Arc<Mutex<Inner>>);

impl LagBoard {
    /// Gauges registered in `registry`.
    pub(super) fn new(registry: Arc<MetricsRegistry>) -> LagBoard {
        let stale_since = registry.gauge(LAG_STALE_GAUGE);
        LagBoard(Arc::new(Mutex::new(Inner {
            registry,
            parts: BTreeMap::new(),
            stale_since,
            stale: false,
            warned: false,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The task now owns `tp`; `committed` is the group's commit, if any.
    pub(super) fn track(&self, tp: &TopicPartition, committed: Option<i64>) {
        let mut inner = self.lock();
        if !inner.parts.contains_key(tp) {
            let names = (
                lag_gauge_name(&tp.0, tp.1, LagField::Committed),
                lag_gauge_name(&tp.0, tp.1, LagField::Head),
            );
            let (Some(c), Some(h)) = names else {
                tracing::warn!(topic = %tp.0, "Kafka spout: topic name too long for a lag metric; its lag is not published");
                return;
            };
            if inner.parts.len() >= MAX_LAG_PARTITIONS_PER_TASK {
                if !inner.warned {
                    inner.warned = true;
                    tracing::warn!(
                        "Kafka spout: lag is published for {MAX_LAG_PARTITIONS_PER_TASK} partitions per task; the others are left out"
                    );
                }
                return;
            }
            let g = PartGauges {
                committed: inner.registry.gauge(&c),
                head: inner.registry.gauge(&h),
                owned: true,
            };
            g.head.set(-1.0);
            inner.parts.insert(tp.clone(), g);
        }
        if let Some(g) = inner.parts.get_mut(tp) {
            g.owned = true;
            g.committed.set(committed.map_or(-1.0, |c| c as f64));
        }
    }

    /// The task gave `tp` up.
    pub(super) fn untrack(&self, tp: &TopicPartition) {
        if let Some(g) = self.lock().parts.get_mut(tp) {
            g.owned = false;
            g.committed.set(-1.0);
            g.head.set(-1.0);
        }
    }

    /// The group committed `offset` for `tp`.
    pub(super) fn committed(&self, tp: &TopicPartition, offset: i64) {
        if let Some(g) = self.lock().parts.get(tp).filter(|g| g.owned) {
            g.committed.set(offset as f64);
        }
    }

    /// Measure the log ends of the owned partitions (blocking; the watcher's thread).
    /// A failure marks the values stale and keeps them.
    pub(super) fn refresh<C: SpoutConsumer>(&self, consumer: &C) {
        let owned: Vec<TopicPartition> = self
            .lock()
            .parts
            .iter()
            .filter(|(_, g)| g.owned)
            .map(|(tp, _)| tp.clone())
            .collect();
        let mut heads = Vec::with_capacity(owned.len());
        for tp in owned {
            match consumer.watermarks(&tp.0, tp.1) {
                Ok((_, high)) => heads.push((tp, high)),
                Err(e) => {
                    tracing::debug!(topic = %tp.0, partition = tp.1, "Kafka spout: log end: {e}");
                    self.unreachable();
                    return;
                }
            }
        }
        let mut inner = self.lock();
        for (tp, high) in heads {
            if let Some(g) = inner.parts.get(&tp).filter(|g| g.owned) {
                g.head.set(high as f64);
            }
        }
        inner.stale = false;
        inner.stale_since.set(0.0);
    }

    /// The brokers did not answer: the values are stale from now (if not already).
    pub(super) fn unreachable(&self) {
        let mut inner = self.lock();
        if !inner.stale {
            inner.stale = true;
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_millis() as u64);
            inner.stale_since.set(now_ms as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use squall_runtime::cluster::protocol::UserMetricValue;

    fn gauge(r: &MetricsRegistry, name: &str) -> Option<f64> {
        r.snapshot().into_iter().find_map(|m| match m.value {
            UserMetricValue::Gauge(v) if m.name == name => Some(v),
            _ => None,
        })
    }

    #[test]
    fn owned_partitions_publish_commits_and_revoked_ones_unknown() {
        let r = Arc::new(MetricsRegistry::new("kafka:1"));
        let b = LagBoard::new(r.clone());
        let tp = ("t".to_string(), 0);
        b.track(&tp, None);
        let c = lag_gauge_name("t", 0, LagField::Committed).unwrap();
        let h = lag_gauge_name("t", 0, LagField::Head).unwrap();
        assert_eq!(gauge(&r, &c), Some(-1.0));
        b.committed(&tp, 5);
        assert_eq!(gauge(&r, &c), Some(5.0));
        assert_eq!(gauge(&r, &h), Some(-1.0));
        b.untrack(&tp);
        b.committed(&tp, 6);
        assert_eq!(gauge(&r, &c), Some(-1.0));
        b.unreachable();
        assert!(gauge(&r, LAG_STALE_GAUGE).unwrap() > 0.0);
        for p in 0..(MAX_LAG_PARTITIONS_PER_TASK as i32 + 5) {
            b.track(&("u".to_string(), p), Some(1));
        }
        assert!(r.len() <= 1 + 2 * MAX_LAG_PARTITIONS_PER_TASK);
    }
}
