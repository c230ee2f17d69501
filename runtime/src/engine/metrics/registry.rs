//! User metrics: the per-task registry behind `TopologyContext::counter`, `gauge` and
//! `histogram`, and the multi-lang `metrics` command.
//!
//! Handles are cheap to clone and to use from any thread: a counter or gauge is one
//! relaxed atomic operation, a histogram one uncontended lock (the worker's reporter
//! takes it once a second). A task registers at most [`MAX_USER_METRICS_PER_TASK`]
//! names of at most [`MAX_METRIC_NAME_CHARS`] characters from `[A-Za-z0-9_.:-]`; a name
//! over the cap, invalid, or already registered as another kind gets a handle that
//! records nothing, and an error is logged (never a panic: a metric must not take a
//! topology down). Asking again for a registered name returns the same metric.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use thiserror::Error;

use crate::cluster::protocol::stats::{
    MAX_METRIC_NAME_CHARS, MAX_USER_METRICS_PER_TASK, UserMetric, UserMetricValue,
};
use crate::engine::metrics::Histogram;

/// Refusals logged per task; later ones are counted only (a refused name asked for on
/// every tuple must not flood the log).
const MAX_REFUSALS_LOGGED: u32 = 16;

/// Why a metric was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetricError {
    /// The name is empty, too long or has a character outside `[A-Za-z0-9_.:-]`.
    #[error(
        "invalid metric name {name:?}: {reason} (at most {MAX_METRIC_NAME_CHARS} of A-Z a-z 0-9 _ . : -)"
    )]
    InvalidName {
        /// The name asked for (cut to a printable length).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The task already has [`MAX_USER_METRICS_PER_TASK`] metrics.
    #[error(
        "metric {name:?} refused: a task registers at most {MAX_USER_METRICS_PER_TASK} metrics"
    )]
    TooMany {
        /// The name asked for.
        name: String,
    },
    /// The name is registered as another kind.
    #[error("metric {name:?} is a {existing}, not a {wanted}")]
    KindMismatch {
        /// The name.
        name: String,
        /// Its registered kind.
        existing: &'static str,
        /// The kind asked for.
        wanted: &'static str,
    },
}

/// Check a metric name: 1 to [`MAX_METRIC_NAME_CHARS`] characters of `[A-Za-z0-9_.:-]`.
pub fn validate_name(name: &str) -> Result<(), MetricError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_METRIC_NAME_CHARS {
        Some("it is too long")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    {
        Some("it has a character outside the allowed set")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(MetricError::InvalidName {
            name: name.chars().take(MAX_METRIC_NAME_CHARS).collect(),
            reason,
        }),
    }
}

/// A monotonic count (`ctx.counter("name")`).
#[derive(Debug, Clone, Default)]
pub struct Counter(Option<Arc<AtomicU64>>);

impl Counter {
    /// Add one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Add `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        if let Some(c) = &self.0 {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Its value (0 for a refused metric).
    pub fn get(&self) -> u64 {
        self.0.as_ref().map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Whether this handle records (`false`: the name was refused).
    pub fn is_recording(&self) -> bool {
        self.0.is_some()
    }
}

/// The latest value set (`ctx.gauge("name")`).
#[derive(Debug, Clone, Default)]
pub struct Gauge(Option<Arc<AtomicU64>>);

impl Gauge {
    /// Set the value.
    #[inline]
    pub fn set(&self, v: f64) {
        if let Some(g) = &self.0 {
            g.store(v.to_bits(), Ordering::Relaxed);
        }
    }

    /// Its value (0 until set, or for a refused metric).
    pub fn get(&self) -> f64 {
        self.0
            .as_ref()
            .map_or(0.0, |g| f64::from_bits(g.load(Ordering::Relaxed)))
    }

    /// Whether this handle records (`false`: the name was refused).
    pub fn is_recording(&self) -> bool {
        self.0.is_some()
    }
}

/// A distribution of unsigned values (`ctx.histogram("name")`), e.g. sizes or
/// latencies in the unit of your choice; reported with the engine's [`Histogram`]
/// (percentiles within about 3%).
#[derive(Debug, Clone, Default)]
pub struct MetricHistogram(Option<Arc<Mutex<Histogram>>>);

impl MetricHistogram {
    /// Record one value.
    #[inline]
    pub fn record(&self, v: u64) {
        if let Some(h) = &self.0 {
            h.lock().unwrap_or_else(|p| p.into_inner()).record(v);
        }
    }

    /// A copy of what was recorded (empty for a refused metric).
    pub fn snapshot(&self) -> Histogram {
        self.0.as_ref().map_or_else(Histogram::new, |h| {
            h.lock().unwrap_or_else(|p| p.into_inner()).clone()
        })
    }

    /// Whether this handle records (`false`: the name was refused).
    pub fn is_recording(&self) -> bool {
        self.0.is_some()
    }
}

#[derive(Debug, Clone)]
enum Slot {
    Counter(Arc<AtomicU64>),
    Gauge(Arc<AtomicU64>),
    Histogram(Arc<Mutex<Histogram>>),
}

impl Slot {
    fn kind(&self) -> &'static str {
        match self {
            Slot::Counter(_) => "counter",
            Slot::Gauge(_) => "gauge",
            Slot::Histogram(_) => "histogram",
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Registration order.
    metrics: Vec<(String, Slot)>,
    /// Refusals so far (the first [`MAX_REFUSALS_LOGGED`] are logged).
    refusals: u32,
}

/// The user metrics of one task.
#[derive(Debug)]
pub struct MetricsRegistry {
    /// `component:task`, for the log.
    label: String,
    inner: Mutex<Inner>,
}

impl MetricsRegistry {
    /// An empty registry of the task labelled `label` (`component:task`).
    pub fn new(label: impl Into<String>) -> MetricsRegistry {
        MetricsRegistry {
            label: label.into(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The slot of `name`, registered as `make` makes it if new.
    fn slot(
        &self,
        name: &str,
        wanted: &'static str,
        make: impl FnOnce() -> Slot,
    ) -> Result<Slot, MetricError> {
        validate_name(name)?;
        let mut inner = self.lock();
        if let Some((_, s)) = inner.metrics.iter().find(|(n, _)| n == name) {
            if s.kind() != wanted {
                return Err(MetricError::KindMismatch {
                    name: name.to_string(),
                    existing: s.kind(),
                    wanted,
                });
            }
            return Ok(s.clone());
        }
        if inner.metrics.len() >= MAX_USER_METRICS_PER_TASK {
            return Err(MetricError::TooMany {
                name: name.to_string(),
            });
        }
        let s = make();
        inner.metrics.push((name.to_string(), s.clone()));
        Ok(s)
    }

    /// Log a refusal (the first few of this task).
    fn refused(&self, e: &MetricError) {
        let mut inner = self.lock();
        inner.refusals = inner.refusals.saturating_add(1);
        let n = inner.refusals;
        drop(inner);
        if n <= MAX_REFUSALS_LOGGED {
            let more = if n == MAX_REFUSALS_LOGGED {
                "; further refused metrics of this task are not logged"
            } else {
                ""
            };
            tracing::error!(component = %self.label, "user metric: {e}{more}");
        }
    }

    /// The counter `name` (see the module docs for refusals).
    pub fn counter(&self, name: &str) -> Counter {
        match self.slot(name, "counter", || {
            Slot::Counter(Arc::new(AtomicU64::new(0)))
        }) {
            Ok(Slot::Counter(c)) => Counter(Some(c)),
            Ok(_) => Counter(None),
            Err(e) => {
                self.refused(&e);
                Counter(None)
            }
        }
    }

    /// The gauge `name` (see the module docs for refusals).
    pub fn gauge(&self, name: &str) -> Gauge {
        match self.slot(name, "gauge", || {
            Slot::Gauge(Arc::new(AtomicU64::new(0f64.to_bits())))
        }) {
            Ok(Slot::Gauge(g)) => Gauge(Some(g)),
            Ok(_) => Gauge(None),
            Err(e) => {
                self.refused(&e);
                Gauge(None)
            }
        }
    }

    /// The histogram `name` (see the module docs for refusals).
    pub fn histogram(&self, name: &str) -> MetricHistogram {
        match self.slot(name, "histogram", || {
            Slot::Histogram(Arc::new(Mutex::new(Histogram::new())))
        }) {
            Ok(Slot::Histogram(h)) => MetricHistogram(Some(h)),
            Ok(_) => MetricHistogram(None),
            Err(e) => {
                self.refused(&e);
                MetricHistogram(None)
            }
        }
    }

    /// Add `n` to the counter `name`, registering it if new; the error says why not
    /// (not logged here: the multi-lang host logs it with the subprocess's pid).
    pub(crate) fn add_to_counter(&self, name: &str, n: u64) -> Result<(), MetricError> {
        match self.slot(name, "counter", || {
            Slot::Counter(Arc::new(AtomicU64::new(0)))
        })? {
            Slot::Counter(c) => {
                c.fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
            other => Err(MetricError::KindMismatch {
                name: name.to_string(),
                existing: other.kind(),
                wanted: "counter",
            }),
        }
    }

    /// Every metric's value now, in registration order.
    pub fn snapshot(&self) -> Vec<UserMetric> {
        let slots: Vec<(String, Slot)> = self.lock().metrics.clone();
        slots
            .into_iter()
            .map(|(name, s)| UserMetric {
                name,
                value: match s {
                    Slot::Counter(c) => UserMetricValue::Counter(c.load(Ordering::Relaxed)),
                    Slot::Gauge(g) => {
                        UserMetricValue::Gauge(f64::from_bits(g.load(Ordering::Relaxed)))
                    }
                    Slot::Histogram(h) => UserMetricValue::Histogram(
                        h.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                    ),
                },
            })
            .collect()
    }

    /// Number of metrics registered.
    pub fn len(&self) -> usize {
        self.lock().metrics.len()
    }

    /// Whether no metric is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(r: &MetricsRegistry, name: &str) -> Option<UserMetricValue> {
        r.snapshot()
            .into_iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    #[test]
    fn handles_record_into_the_registry() {
        let r = MetricsRegistry::new("c:1");
        let c = r.counter("events");
        c.inc();
        c.add(41);
        r.counter("events").inc(); // the same metric
        r.gauge("queue.size").set(2.5);
        let h = r.histogram("batch-bytes");
        for v in [10, 20, 30] {
            h.record(v);
        }
        assert_eq!(value(&r, "events"), Some(UserMetricValue::Counter(43)));
        assert_eq!(value(&r, "queue.size"), Some(UserMetricValue::Gauge(2.5)));
        match value(&r, "batch-bytes") {
            Some(UserMetricValue::Histogram(h)) => assert_eq!((h.count(), h.sum()), (3, 60)),
            other => panic!("{other:?}"),
        }
        let names: Vec<String> = r.snapshot().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["events", "queue.size", "batch-bytes"]);
    }

    #[test]
    fn invalid_names_get_a_handle_that_records_nothing() {
        let r = MetricsRegistry::new("c:1");
        let long = "x".repeat(MAX_METRIC_NAME_CHARS + 1);
        for bad in ["", "has space", "slash/no", "é", long.as_str()] {
            let c = r.counter(bad);
            assert!(!c.is_recording(), "{bad:?}");
            c.inc();
            assert_eq!(c.get(), 0);
            assert!(!r.gauge(bad).is_recording());
            assert!(!r.histogram(bad).is_recording());
            assert!(matches!(
                validate_name(bad),
                Err(MetricError::InvalidName { .. })
            ));
        }
        assert!(r.is_empty());
        let ok = "a".repeat(MAX_METRIC_NAME_CHARS);
        assert!(r.counter(&ok).is_recording());
        assert!(r.counter("Az09_.:-").is_recording());
    }

    #[test]
    fn the_cap_refuses_further_names_but_keeps_registered_ones() {
        let r = MetricsRegistry::new("c:1");
        for i in 0..MAX_USER_METRICS_PER_TASK {
            assert!(r.counter(&format!("m{i}")).is_recording());
        }
        let over = r.counter("one-more");
        assert!(!over.is_recording());
        over.add(5);
        assert!(!r.histogram("h-more").is_recording());
        assert_eq!(r.len(), MAX_USER_METRICS_PER_TASK);
        assert!(value(&r, "one-more").is_none());
        // Registered names still work.
        r.counter("m0").add(3);
        assert_eq!(value(&r, "m0"), Some(UserMetricValue::Counter(3)));
        assert!(matches!(
            r.add_to_counter("again", 1),
            Err(MetricError::TooMany { .. })
        ));
    }

    #[test]
    fn one_name_is_one_kind() {
        let r = MetricsRegistry::new("c:1");
        r.counter("x").inc();
        assert!(!r.gauge("x").is_recording());
        assert!(!r.histogram("x").is_recording());
        r.gauge("g").set(1.0);
        assert!(matches!(
            r.add_to_counter("g", 1),
            Err(MetricError::KindMismatch { .. })
        ));
        assert_eq!(r.len(), 2);
        assert_eq!(value(&r, "x"), Some(UserMetricValue::Counter(1)));
    }

    #[test]
    fn handles_work_across_threads() {
        let r = Arc::new(MetricsRegistry::new("c:1"));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = r.counter("n");
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.inc();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(value(&r, "n"), Some(UserMetricValue::Counter(4000)));
    }
}
