//! Per-task statistics: counted locally on the executor thread, published to shared
//! atomics every batch, summed per component for reports.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::api::ids::TaskId;
use crate::api::tuple::Values;
use crate::topology::yaml::ComponentKind;

/// Exact counters of one task (or a sum of tasks), kept by the executor thread as plain
/// integers (no sharing on the hot path) and published to the task's shared statistics
/// every batch. Workers report them to nimbus as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counters {
    /// Tuples emitted (one per emit call).
    pub emitted: u64,
    /// Tuple copies sent to tasks (an emit reaching 3 tasks counts 3).
    pub transferred: u64,
    /// Tuples executed (bolts); ack messages handled (ackers).
    pub executed: u64,
    /// Bolts: inputs acked. Spouts: messages fully processed. Ackers: trees completed.
    pub acked: u64,
    /// Bolts: inputs failed. Spouts: messages failed. Ackers: trees failed.
    pub failed: u64,
    /// Errors reported (including caught panics).
    pub errors: u64,
    /// Spouts: failed messages emitted again.
    pub replayed: u64,
}

impl Counters {
    /// Add `other` to these counters (saturating: a sum never wraps).
    pub fn add(&mut self, other: &Counters) {
        self.emitted = self.emitted.saturating_add(other.emitted);
        self.transferred = self.transferred.saturating_add(other.transferred);
        self.executed = self.executed.saturating_add(other.executed);
        self.acked = self.acked.saturating_add(other.acked);
        self.failed = self.failed.saturating_add(other.failed);
        self.errors = self.errors.saturating_add(other.errors);
        self.replayed = self.replayed.saturating_add(other.replayed);
    }
}

/// Published statistics of one task, readable from any thread.
#[derive(Debug)]
pub(crate) struct TaskStats {
    /// The task these are the statistics of.
    pub(crate) task: TaskId,
    pub(crate) component: String,
    emitted: AtomicU64,
    transferred: AtomicU64,
    executed: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
    errors: AtomicU64,
    replayed: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Complete latency of acked messages (spouts with acking on), set at shutdown.
    latency: Mutex<Option<hdrhistogram::Histogram<u64>>>,
    /// Captured emits (stream, values), filled at shutdown when capturing.
    pub(crate) captured: Mutex<Vec<(String, Values)>>,
}

impl TaskStats {
    pub(crate) fn new(task: TaskId, component: &str) -> TaskStats {
        TaskStats {
            task,
            component: component.to_string(),
            emitted: AtomicU64::new(0),
            transferred: AtomicU64::new(0),
            executed: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            last_error: Mutex::new(None),
            latency: Mutex::new(None),
            captured: Mutex::new(Vec::new()),
        }
    }

    /// Publish the executor's counters (single writer per task: plain stores).
    pub(crate) fn publish(&self, c: &Counters) {
        self.emitted.store(c.emitted, Ordering::Relaxed);
        self.transferred.store(c.transferred, Ordering::Relaxed);
        self.executed.store(c.executed, Ordering::Relaxed);
        self.acked.store(c.acked, Ordering::Relaxed);
        self.failed.store(c.failed, Ordering::Relaxed);
        self.errors.store(c.errors, Ordering::Relaxed);
        self.replayed.store(c.replayed, Ordering::Relaxed);
    }

    pub(crate) fn set_last_error(&self, e: String) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }

    pub(crate) fn set_latency(&self, h: hdrhistogram::Histogram<u64>) {
        *self.latency.lock().unwrap_or_else(|p| p.into_inner()) = Some(h);
    }

    pub(crate) fn latency(&self) -> Option<hdrhistogram::Histogram<u64>> {
        self.latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn snapshot(&self) -> Counters {
        Counters {
            emitted: self.emitted.load(Ordering::Relaxed),
            transferred: self.transferred.load(Ordering::Relaxed),
            executed: self.executed.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            replayed: self.replayed.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Totals of one component over all its tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentReport {
    /// `spout` or `bolt`.
    pub kind: ComponentKind,
    /// Number of tasks.
    pub tasks: u32,
    /// Tuples emitted (one per emit call).
    pub emitted: u64,
    /// Tuple copies sent to tasks (an emit reaching 3 tasks counts 3).
    pub transferred: u64,
    /// Tuples executed (bolts).
    pub executed: u64,
    /// Acks: by the bolt for its inputs; for a spout, its messages fully processed.
    pub acked: u64,
    /// Fails: by the bolt for its inputs; for a spout, its messages failed.
    pub failed: u64,
    /// Errors reported (including caught panics).
    pub errors: u64,
    /// Spouts: failed messages that were emitted again.
    pub replayed: u64,
    /// Spouts with acking on: time from emit to the tree's completion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete_latency_ms: Option<LatencyReport>,
    /// The most recent error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl ComponentReport {
    pub(crate) fn new(kind: ComponentKind, tasks: u32) -> ComponentReport {
        ComponentReport {
            kind,
            tasks,
            emitted: 0,
            transferred: 0,
            executed: 0,
            acked: 0,
            failed: 0,
            errors: 0,
            replayed: 0,
            complete_latency_ms: None,
            last_error: None,
        }
    }

    pub(crate) fn add(&mut self, c: &Counters) {
        self.emitted += c.emitted;
        self.transferred += c.transferred;
        self.executed += c.executed;
        self.acked += c.acked;
        self.failed += c.failed;
        self.errors += c.errors;
        self.replayed += c.replayed;
    }

    /// The per-tuple rate shown live: spouts by emitted, bolts by executed.
    pub fn activity(&self) -> u64 {
        match self.kind {
            ComponentKind::Spout => self.emitted,
            ComponentKind::Bolt => self.executed,
        }
    }
}

/// Percentiles of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyReport {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl LatencyReport {
    /// Percentiles of a histogram recorded in microseconds (`None` if empty).
    pub fn from_micros(h: &hdrhistogram::Histogram<u64>) -> Option<LatencyReport> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(LatencyReport {
            p50: ms(h.value_at_quantile(0.5)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        })
    }
}

/// Per-component totals of a run, in component id order.
pub type ComponentReports = BTreeMap<String, ComponentReport>;
