//! One task's metrics over time: workers report TOTALS since they started; nimbus keeps
//! the previous totals and the worker incarnation they came from ([`Baseline`]), adds
//! the difference to the task's rolling windows ([`TaskSeries`]), and so keeps exact
//! all-time counts across worker restarts and task moves (a new incarnation or another
//! slot: the new totals are all new).
//!
//! Memory per task is fixed by the window bucket count (3 × 20 buckets and an all-time
//! total of [`TaskFigures`]) and the caps on a report (at most
//! [`MAX_STREAMS_PER_TASK`] outputs and inputs, histograms of at most
//! `histogram::NUM_BUCKETS` pairs); see [`TaskSeries::approx_bytes`].

use std::collections::BTreeMap;

use squall_runtime::cluster::protocol::stats::MAX_STREAMS_PER_TASK;
use squall_runtime::cluster::protocol::{Counters, Histogram, TaskStats};
use squall_runtime::engine::metrics::{Mergeable, Rolling};

use crate::model::SlotId;

/// Output streams, and inputs, of one task whose latency histograms the windows keep
/// per stream; further streams keep their counts per stream, and their latencies count
/// in the task's (and component's) histograms only. Bounds the histograms of one window
/// bucket to `3 + 8 + 2 × 8`.
pub const MAX_LATENCY_STREAMS_PER_TASK: usize = 8;

/// One output stream's figures over some time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputFigures {
    /// Emit calls.
    pub emitted: u64,
    /// Tuple copies sent.
    pub transferred: u64,
    /// Spouts: trees completed.
    pub acked: u64,
    /// Spouts: trees failed.
    pub failed: u64,
    /// Spouts: complete latency of sampled trees, µs.
    pub complete_latency_us: Histogram,
}

/// One bolt input's figures over some time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputFigures {
    /// `execute` calls.
    pub executed: u64,
    /// Inputs acked.
    pub acked: u64,
    /// Inputs failed.
    pub failed: u64,
    /// Sampled execute latency, µs.
    pub execute_latency_us: Histogram,
    /// Sampled process latency, µs.
    pub process_latency_us: Histogram,
}

/// What one task did over some time: the value its windows roll up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFigures {
    /// Exact counters.
    pub counters: Counters,
    /// Nanoseconds senders were blocked on this task's executor queue.
    pub upstream_blocked_ns: u64,
    /// Nanoseconds this task was blocked sending.
    pub send_blocked_ns: u64,
    /// Per output stream (at most [`MAX_STREAMS_PER_TASK`]).
    pub outputs: BTreeMap<String, OutputFigures>,
    /// Per input `(source component, stream)` (at most [`MAX_STREAMS_PER_TASK`]).
    pub inputs: BTreeMap<(String, String), InputFigures>,
    /// Streams left out of `outputs`/`inputs` by the cap.
    pub dropped_streams: u64,
    /// Complete latency of the output streams not in `outputs` with their own, µs.
    pub other_complete_latency_us: Histogram,
    /// Execute latency of the inputs not in `inputs` with their own, µs.
    pub other_execute_latency_us: Histogram,
    /// Process latency of the inputs not in `inputs` with their own, µs.
    pub other_process_latency_us: Histogram,
}

/// Where the latencies of streams left without their own histograms go.
struct Spill<'a> {
    complete: &'a mut Histogram,
    execute: &'a mut Histogram,
    process: &'a mut Histogram,
}

impl Mergeable for OutputFigures {
    fn merge(&mut self, o: &OutputFigures) {
        self.emitted = self.emitted.saturating_add(o.emitted);
        self.transferred = self.transferred.saturating_add(o.transferred);
        self.acked = self.acked.saturating_add(o.acked);
        self.failed = self.failed.saturating_add(o.failed);
        self.complete_latency_us.merge(&o.complete_latency_us);
    }
}

impl Mergeable for InputFigures {
    fn merge(&mut self, o: &InputFigures) {
        self.executed = self.executed.saturating_add(o.executed);
        self.acked = self.acked.saturating_add(o.acked);
        self.failed = self.failed.saturating_add(o.failed);
        self.execute_latency_us.merge(&o.execute_latency_us);
        self.process_latency_us.merge(&o.process_latency_us);
    }
}

/// A stream's figures with latency histograms, or without them (counts only).
trait StreamFigures: Mergeable {
    /// Whether it holds a latency histogram.
    fn has_latency(&self) -> bool;
    /// The same counts without latencies.
    fn counts_only(&self) -> Self;
    /// Add its latencies to the task's others.
    fn spill(&self, to: &mut Spill<'_>);
}

impl StreamFigures for OutputFigures {
    fn has_latency(&self) -> bool {
        !self.complete_latency_us.is_empty()
    }
    fn counts_only(&self) -> OutputFigures {
        OutputFigures {
            complete_latency_us: Histogram::new(),
            ..self.clone()
        }
    }
    fn spill(&self, to: &mut Spill<'_>) {
        to.complete.merge(&self.complete_latency_us);
    }
}

impl StreamFigures for InputFigures {
    fn has_latency(&self) -> bool {
        !self.execute_latency_us.is_empty() || !self.process_latency_us.is_empty()
    }
    fn counts_only(&self) -> InputFigures {
        InputFigures {
            execute_latency_us: Histogram::new(),
            process_latency_us: Histogram::new(),
            ..self.clone()
        }
    }
    fn spill(&self, to: &mut Spill<'_>) {
        to.execute.merge(&self.execute_latency_us);
        to.process.merge(&self.process_latency_us);
    }
}

/// Merge `value` into `map[key]`, adding the key only while the map is under
/// [`MAX_STREAMS_PER_TASK`], and latencies only for [`MAX_LATENCY_STREAMS_PER_TASK`]
/// streams (the others' go to `spill`).
fn merge_capped<K: Ord + Clone, V: StreamFigures>(
    map: &mut BTreeMap<K, V>,
    key: &K,
    value: &V,
    dropped: &mut u64,
    spill: &mut Spill<'_>,
) {
    let room = map.values().filter(|v| v.has_latency()).count() < MAX_LATENCY_STREAMS_PER_TASK;
    let len = map.len();
    match map.get_mut(key) {
        Some(v) if v.has_latency() || room => v.merge(value),
        Some(v) => {
            value.spill(spill);
            v.merge(&value.counts_only());
        }
        None if len >= MAX_STREAMS_PER_TASK => {
            value.spill(spill);
            *dropped = dropped.saturating_add(1);
        }
        None if room => {
            map.insert(key.clone(), value.clone());
        }
        None => {
            value.spill(spill);
            map.insert(key.clone(), value.counts_only());
        }
    }
}

impl Mergeable for TaskFigures {
    fn merge(&mut self, o: &TaskFigures) {
        self.counters.add(&o.counters);
        self.upstream_blocked_ns = self
            .upstream_blocked_ns
            .saturating_add(o.upstream_blocked_ns);
        self.send_blocked_ns = self.send_blocked_ns.saturating_add(o.send_blocked_ns);
        self.dropped_streams = self.dropped_streams.saturating_add(o.dropped_streams);
        self.other_complete_latency_us
            .merge(&o.other_complete_latency_us);
        self.other_execute_latency_us
            .merge(&o.other_execute_latency_us);
        self.other_process_latency_us
            .merge(&o.other_process_latency_us);
        let mut spill = Spill {
            complete: &mut self.other_complete_latency_us,
            execute: &mut self.other_execute_latency_us,
            process: &mut self.other_process_latency_us,
        };
        for (k, v) in &o.outputs {
            merge_capped(
                &mut self.outputs,
                k,
                v,
                &mut self.dropped_streams,
                &mut spill,
            );
        }
        for (k, v) in &o.inputs {
            merge_capped(
                &mut self.inputs,
                k,
                v,
                &mut self.dropped_streams,
                &mut spill,
            );
        }
    }
}

impl TaskFigures {
    /// Complete latency over every output stream.
    pub fn complete_latency_us(&self) -> Histogram {
        let mut h = self.other_complete_latency_us.clone();
        self.outputs
            .values()
            .for_each(|o| h.merge(&o.complete_latency_us));
        h
    }

    /// Execute latency over every input.
    pub fn execute_latency_us(&self) -> Histogram {
        let mut h = self.other_execute_latency_us.clone();
        self.inputs
            .values()
            .for_each(|i| h.merge(&i.execute_latency_us));
        h
    }

    /// Process latency over every input.
    pub fn process_latency_us(&self) -> Histogram {
        let mut h = self.other_process_latency_us.clone();
        self.inputs
            .values()
            .for_each(|i| h.merge(&i.process_latency_us));
        h
    }

    /// Bytes this value holds, roughly (its maps' entries and histogram buckets).
    pub fn approx_bytes(&self) -> usize {
        const HIST: usize = 48;
        const PAIR: usize = 16;
        let outputs: usize = self
            .outputs
            .iter()
            .map(|(k, v)| 64 + k.len() + 4 * 8 + HIST + PAIR * v.complete_latency_us.buckets_used())
            .sum();
        let inputs: usize = self
            .inputs
            .iter()
            .map(|((c, s), v)| {
                64 + c.len()
                    + s.len()
                    + 3 * 8
                    + 2 * HIST
                    + PAIR
                        * (v.execute_latency_us.buckets_used()
                            + v.process_latency_us.buckets_used())
            })
            .sum();
        let task = PAIR
            * (self.other_complete_latency_us.buckets_used()
                + self.other_execute_latency_us.buckets_used()
                + self.other_process_latency_us.buckets_used());
        std::mem::size_of::<TaskFigures>() + outputs + inputs + task
    }

    /// What the task did between `earlier` and `now`, two totals of one worker
    /// incarnation (`None`: everything in `now` is new).
    pub fn delta(earlier: Option<&TaskStats>, now: &TaskStats) -> TaskFigures {
        let c0 = earlier.map(|e| e.counters).unwrap_or_default();
        let c = &now.counters;
        let counters = Counters {
            emitted: c.emitted.saturating_sub(c0.emitted),
            transferred: c.transferred.saturating_sub(c0.transferred),
            executed: c.executed.saturating_sub(c0.executed),
            acked: c.acked.saturating_sub(c0.acked),
            failed: c.failed.saturating_sub(c0.failed),
            errors: c.errors.saturating_sub(c0.errors),
            replayed: c.replayed.saturating_sub(c0.replayed),
        };
        let q0 = earlier.map(|e| e.queue).unwrap_or_default();
        let mut out = TaskFigures {
            counters,
            upstream_blocked_ns: now
                .queue
                .upstream_blocked_ns
                .saturating_sub(q0.upstream_blocked_ns),
            send_blocked_ns: now.queue.send_blocked_ns.saturating_sub(q0.send_blocked_ns),
            ..TaskFigures::default()
        };
        for o in now.outputs.iter().take(MAX_STREAMS_PER_TASK) {
            let before = earlier.and_then(|e| e.outputs.iter().find(|p| p.stream == o.stream));
            let f = OutputFigures {
                emitted: o.emitted.saturating_sub(before.map_or(0, |b| b.emitted)),
                transferred: o
                    .transferred
                    .saturating_sub(before.map_or(0, |b| b.transferred)),
                acked: o.acked.saturating_sub(before.map_or(0, |b| b.acked)),
                failed: o.failed.saturating_sub(before.map_or(0, |b| b.failed)),
                complete_latency_us: match before {
                    Some(b) => o.complete_latency_us.since(&b.complete_latency_us),
                    None => o.complete_latency_us.clone(),
                },
            };
            let mut spill = Spill {
                complete: &mut out.other_complete_latency_us,
                execute: &mut out.other_execute_latency_us,
                process: &mut out.other_process_latency_us,
            };
            merge_capped(
                &mut out.outputs,
                &o.stream,
                &f,
                &mut out.dropped_streams,
                &mut spill,
            );
        }
        for i in now.inputs.iter().take(MAX_STREAMS_PER_TASK) {
            let before = earlier.and_then(|e| {
                e.inputs
                    .iter()
                    .find(|p| p.component == i.component && p.stream == i.stream)
            });
            let f = InputFigures {
                executed: i.executed.saturating_sub(before.map_or(0, |b| b.executed)),
                acked: i.acked.saturating_sub(before.map_or(0, |b| b.acked)),
                failed: i.failed.saturating_sub(before.map_or(0, |b| b.failed)),
                execute_latency_us: match before {
                    Some(b) => i.execute_latency_us.since(&b.execute_latency_us),
                    None => i.execute_latency_us.clone(),
                },
                process_latency_us: match before {
                    Some(b) => i.process_latency_us.since(&b.process_latency_us),
                    None => i.process_latency_us.clone(),
                },
            };
            let key = (i.component.clone(), i.stream.clone());
            let mut spill = Spill {
                complete: &mut out.other_complete_latency_us,
                execute: &mut out.other_execute_latency_us,
                process: &mut out.other_process_latency_us,
            };
            merge_capped(
                &mut out.inputs,
                &key,
                &f,
                &mut out.dropped_streams,
                &mut spill,
            );
        }
        out.dropped_streams = (now.outputs.len().saturating_sub(MAX_STREAMS_PER_TASK)
            + now.inputs.len().saturating_sub(MAX_STREAMS_PER_TASK))
            as u64;
        out
    }
}

/// The latest totals of a task and where they came from.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The slot whose worker reported them.
    pub slot: SlotId,
    /// That worker's incarnation (`WorkerStats.started_at_ms`; 0 from an older worker).
    pub started_at_ms: u64,
    /// The totals (streams capped at [`MAX_STREAMS_PER_TASK`]).
    pub totals: TaskStats,
    /// When they arrived (unix ms).
    pub at_ms: u64,
}

/// What [`TaskSeries::record`] made of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The difference from the previous totals of the same incarnation was added.
    Delta,
    /// A new incarnation, another slot, or the first report: the totals were added.
    NewIncarnation,
    /// Totals of an older incarnation than the one already seen: ignored.
    Stale,
    /// The first totals of a worker that started long before (nimbus restarted, or a
    /// worker too old to say when it started): added to all time only, since when they
    /// happened is unknown (in the current bucket they would make a spike).
    Backlog,
}

/// A first report of a worker that started more than this long before it counts in all
/// time only ([`Recorded::Backlog`]): a worker's first report comes a second or two
/// after it starts.
pub const BACKLOG_AFTER_MS: u64 = 30_000;

/// One task's rolling windows and latest totals.
#[derive(Debug, Clone)]
pub struct TaskSeries {
    /// Its component.
    pub component: String,
    /// The windows.
    pub windows: Rolling<TaskFigures>,
    /// The latest totals; `None` once the task moved off the slot that sent them
    /// (until its new worker reports).
    pub current: Option<Baseline>,
    /// When the task first reported, as the start of the time its windows cover (the
    /// first incarnation's start if known, else the first report's arrival), unix ms.
    pub since_ms: u64,
}

/// Whether any exact counter of `now` is below `before` (a restarted worker that does
/// not say its incarnation).
fn went_back(before: &Counters, now: &Counters) -> bool {
    now.emitted < before.emitted
        || now.transferred < before.transferred
        || now.executed < before.executed
        || now.acked < before.acked
        || now.failed < before.failed
}

impl TaskSeries {
    /// A series with nothing recorded yet.
    pub fn new(component: &str) -> TaskSeries {
        TaskSeries {
            component: component.to_string(),
            windows: Rolling::new(),
            current: None,
            since_ms: 0,
        }
    }

    /// Record a report's totals of this task, from worker incarnation `started_at_ms`
    /// on `slot`, arrived at `now_ms`.
    pub fn record(
        &mut self,
        slot: &SlotId,
        started_at_ms: u64,
        mut totals: TaskStats,
        now_ms: u64,
    ) -> Recorded {
        totals.outputs.truncate(MAX_STREAMS_PER_TASK);
        totals.inputs.truncate(MAX_STREAMS_PER_TASK);
        let (delta, how) = match &self.current {
            Some(b)
                if b.slot == *slot
                    && b.started_at_ms == started_at_ms
                    && !went_back(&b.totals.counters, &totals.counters) =>
            {
                (
                    TaskFigures::delta(Some(&b.totals), &totals),
                    Recorded::Delta,
                )
            }
            Some(b) if b.slot == *slot && started_at_ms < b.started_at_ms => {
                return Recorded::Stale;
            }
            Some(_) if started_at_ms == 0 => {
                // An older worker restarted (its counters went back): new totals.
                (TaskFigures::delta(None, &totals), Recorded::NewIncarnation)
            }
            _ => {
                let recent = started_at_ms > 0
                    && started_at_ms <= now_ms
                    && now_ms - started_at_ms <= BACKLOG_AFTER_MS;
                let how = if recent {
                    Recorded::NewIncarnation
                } else {
                    Recorded::Backlog
                };
                (TaskFigures::delta(None, &totals), how)
            }
        };
        if self.since_ms == 0 {
            self.since_ms = if how == Recorded::NewIncarnation && started_at_ms > 0 {
                started_at_ms
            } else {
                now_ms
            };
        }
        if how == Recorded::Backlog {
            self.windows.add_all_time(&delta);
        } else {
            self.windows.add(now_ms, &delta);
        }
        self.current = Some(Baseline {
            slot: slot.clone(),
            started_at_ms,
            totals,
            at_ms: now_ms,
        });
        how
    }

    /// Bytes this series holds, roughly: every window bucket, the all-time total and the
    /// latest totals.
    pub fn approx_bytes(&self) -> usize {
        let windows: usize = self.windows.values().map(TaskFigures::approx_bytes).sum();
        let current = self.current.as_ref().map_or(0, |b| {
            let f = TaskFigures::delta(None, &b.totals);
            f.approx_bytes()
                + b.totals
                    .errors
                    .iter()
                    .map(|e| 32 + e.error.len())
                    .sum::<usize>()
                + b.totals.metrics.len() * 256
        });
        std::mem::size_of::<TaskSeries>() + windows + current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use squall_runtime::cluster::protocol::{InputStreamStats, OutputStreamStats, QueueStats};

    const T0: u64 = 1_700_000_000_000 / 30_000 * 30_000;

    fn slot(port: u16) -> SlotId {
        SlotId {
            supervisor: "a".into(),
            port,
        }
    }

    fn totals(executed: u64, lat_us: &[u64], blocked_ns: u64) -> TaskStats {
        let mut h = Histogram::new();
        lat_us.iter().for_each(|v| h.record(*v));
        totals_h(executed, &h, blocked_ns)
    }

    fn totals_h(executed: u64, h: &Histogram, blocked_ns: u64) -> TaskStats {
        TaskStats {
            task: 3,
            component: "b".into(),
            counters: Counters {
                executed,
                emitted: executed,
                ..Counters::default()
            },
            outputs: vec![OutputStreamStats {
                stream: "default".into(),
                emitted: executed,
                transferred: executed,
                ..OutputStreamStats::default()
            }],
            inputs: vec![InputStreamStats {
                component: "s".into(),
                stream: "default".into(),
                executed,
                acked: executed,
                failed: 0,
                execute_latency_us: h.clone(),
                process_latency_us: h.clone(),
            }],
            queue: QueueStats {
                depth: 1,
                capacity: 8,
                upstream_blocked_ns: blocked_ns,
                send_blocked_ns: 0,
            },
            ..TaskStats::default()
        }
    }

    #[test]
    fn deltas_of_one_incarnation_and_totals_of_the_next() {
        let mut s = TaskSeries::new("b");
        let r = s.record(&slot(1), T0, totals(10, &[100, 200], 5), T0 + 1000);
        assert_eq!(r, Recorded::NewIncarnation);
        let r = s.record(&slot(1), T0, totals(25, &[100, 200, 300], 9), T0 + 2000);
        assert_eq!(r, Recorded::Delta);
        let all = s.windows.all_time();
        assert_eq!(all.counters.executed, 25);
        assert_eq!(all.upstream_blocked_ns, 9);
        assert_eq!(all.execute_latency_us().count(), 3);
        // The worker restarts: its totals start again at 4, and are all new.
        let r = s.record(&slot(1), T0 + 5000, totals(4, &[50], 1), T0 + 6000);
        assert_eq!(r, Recorded::NewIncarnation);
        assert_eq!(s.windows.all_time().counters.executed, 29);
        assert_eq!(
            s.windows
                .all_time()
                .inputs
                .values()
                .next()
                .unwrap()
                .executed,
            29
        );
        // A late report of the old incarnation changes nothing.
        let r = s.record(&slot(1), T0, totals(30, &[], 9), T0 + 7000);
        assert_eq!(r, Recorded::Stale);
        assert_eq!(s.windows.all_time().counters.executed, 29);
        // Moved to another slot: its new worker's totals are all new.
        let r = s.record(&slot(2), T0 + 5000, totals(2, &[], 0), T0 + 8000);
        assert_eq!(r, Recorded::NewIncarnation);
        assert_eq!(s.windows.all_time().counters.executed, 31);
        assert_eq!(s.since_ms, T0);
    }

    #[test]
    fn an_old_worker_without_incarnation_is_seen_restarting_by_its_counters() {
        let mut s = TaskSeries::new("b");
        let r = s.record(&slot(1), 0, totals(10, &[], 0), T0);
        assert_eq!(
            r,
            Recorded::Backlog,
            "when its first counts happened is unknown"
        );
        s.record(&slot(1), 0, totals(12, &[], 0), T0 + 1000);
        let r = s.record(&slot(1), 0, totals(3, &[], 0), T0 + 2000);
        assert_eq!(r, Recorded::NewIncarnation);
        assert_eq!(s.windows.all_time().counters.executed, 15);
        assert_eq!(s.windows.total(Some(600), T0 + 2000).counters.executed, 5);
    }

    #[test]
    fn a_worker_seen_first_long_after_it_started_counts_in_all_time_only() {
        // Nimbus restarted under a worker running for an hour: its totals are history.
        let mut s = TaskSeries::new("b");
        let started = T0 - 3_600_000;
        let r = s.record(&slot(1), started, totals(1_000_000, &[100], 0), T0);
        assert_eq!(r, Recorded::Backlog);
        let r = s.record(
            &slot(1),
            started,
            totals(1_000_300, &[100, 100], 0),
            T0 + 1000,
        );
        assert_eq!(r, Recorded::Delta);
        assert_eq!(s.windows.all_time().counters.executed, 1_000_300);
        let ten = s.windows.total(Some(600), T0 + 1000);
        assert_eq!(ten.counters.executed, 300, "no spike in the window");
        assert_eq!(ten.execute_latency_us().count(), 1);
        assert_eq!(
            s.since_ms, T0,
            "the windows hold data from the first report on"
        );
    }

    #[test]
    fn streams_are_capped() {
        let mut t = totals(1, &[], 0);
        t.outputs = (0..MAX_STREAMS_PER_TASK + 5)
            .map(|i| OutputStreamStats {
                stream: format!("s{i}"),
                emitted: 1,
                ..OutputStreamStats::default()
            })
            .collect();
        let mut s = TaskSeries::new("b");
        s.record(&slot(1), T0, t, T0);
        assert_eq!(s.windows.all_time().outputs.len(), MAX_STREAMS_PER_TASK);
        assert!(s.approx_bytes() > 0);
    }

    #[test]
    fn latencies_are_kept_per_stream_for_the_first_streams_and_per_task_for_all() {
        let mut t = totals(1, &[], 0);
        t.outputs = (0..MAX_LATENCY_STREAMS_PER_TASK + 3)
            .map(|i| OutputStreamStats {
                stream: format!("s{i:02}"),
                emitted: 1,
                complete_latency_us: {
                    let mut h = Histogram::new();
                    h.record(1000 * (i as u64 + 1));
                    h
                },
                ..OutputStreamStats::default()
            })
            .collect();
        let mut s = TaskSeries::new("b");
        s.record(&slot(1), T0, t, T0);
        let all = s.windows.all_time();
        assert_eq!(all.outputs.len(), MAX_LATENCY_STREAMS_PER_TASK + 3);
        let with = all
            .outputs
            .values()
            .filter(|o| !o.complete_latency_us.is_empty())
            .count();
        assert_eq!(with, MAX_LATENCY_STREAMS_PER_TASK);
        assert_eq!(all.outputs["s10"].emitted, 1, "counts of every stream");
        assert_eq!(
            all.complete_latency_us().count(),
            MAX_LATENCY_STREAMS_PER_TASK as u64 + 3,
            "the task's latency counts every stream"
        );
    }

    #[test]
    fn a_typical_bolt_series_stays_small() {
        // One input and one output, latencies spread over three decades, reported every
        // second for a day: memory does not grow with time.
        let mut s = TaskSeries::new("b");
        let mut h = Histogram::new();
        let mut at_hour = 0;
        for sec in 0..86_400u64 {
            for k in 0..3 {
                h.record(10 + (sec * 7919 + k * 104_729) % 100_000);
            }
            s.record(&slot(1), T0, totals_h(sec * 10, &h, sec), T0 + sec * 1000);
            if sec == 3600 {
                at_hour = s.approx_bytes();
            }
        }
        let bytes = s.approx_bytes();
        eprintln!("a typical bolt task: {at_hour} bytes after 1 h, {bytes} after 1 day");
        assert!(bytes < 1_000_000, "{bytes} bytes");
        assert!(bytes < at_hour * 3, "grew from {at_hour} to {bytes}");
    }
}
