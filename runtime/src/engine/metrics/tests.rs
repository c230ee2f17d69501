//! What the executors measure, in real local runs: per-stream and per-input counts,
//! sampled latencies, backpressure, errors and user metrics, as a worker reports them.

use std::time::Duration;

use crate::api::collector::{BoltCollector, SpoutCollector};
use crate::api::component::{Bolt, Spout};
use crate::api::context::{TopologyContext, Waker};
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::ids::MessageId;
use crate::api::registry::Registry;
use crate::api::tuple::Tuple;
use crate::cluster::protocol::stats::{
    InputStreamStats, MAX_ERRORS_PER_TASK, OutputStreamStats, TaskStats, UserMetricValue,
};
use crate::engine::local::{LocalOptions, RunReport, run_local_with_stats};
use crate::engine::metrics::{Counter, Histogram};
use crate::engine::stats::MetricReport;
use crate::testing::load_yaml;

/// Tuples the counting tests emit.
const N: u64 = 2000;

/// Emits `0..N` on streams `odd` and `even` (by parity), each with a message id, or
/// forever (without ids) when `endless`.
struct TwoStreams {
    next: u64,
    endless: bool,
}

impl Spout for TwoStreams {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare_stream("odd", &["n"]);
        out.declare_stream("even", &["n"]);
        out.declare(&["n"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if self.endless {
            out.emit(crate::values![self.next as i64])?;
            self.next += 1;
            return Ok(());
        }
        if self.next >= N {
            return Ok(());
        }
        let n = self.next;
        self.next += 1;
        let stream = if n % 2 == 1 { "odd" } else { "even" };
        out.emit_stream(stream, crate::values![n as i64], Some(n as MessageId))?;
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        !self.endless && self.next >= N
    }
}

/// Holds each input and acks it from `wake`, after its `execute` returned: its process
/// latency is never below its execute latency. Counts inputs in the user counter `seen`.
#[derive(Default)]
struct AckLater {
    held: Vec<Tuple>,
    waker: Option<Waker>,
    seen: Counter,
}

#[async_trait::async_trait]
impl Bolt for AckLater {
    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.waker = ctx.waker();
        self.seen = ctx.counter("seen");
        // Refused: invalid, and a kind clash; neither may break anything.
        ctx.counter("not valid!").inc();
        ctx.gauge("seen").set(1.0);
        ctx.gauge("last.n").set(-1.0);
        Ok(())
    }

    fn execute(&mut self, input: Tuple, _out: &mut BoltCollector) -> Result<(), ComponentError> {
        self.seen.inc();
        std::thread::sleep(Duration::from_micros(50));
        self.held.push(input);
        if let Some(w) = &self.waker {
            w.wake();
        }
        Ok(())
    }

    fn wake(&mut self, out: &mut BoltCollector) -> Result<(), ComponentError> {
        for t in self.held.drain(..) {
            out.ack(&t);
        }
        Ok(())
    }
}

/// Sleeps `millis` per tuple, passes it on and acks it.
struct Slow {
    millis: u64,
}

impl Bolt for Slow {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        std::thread::sleep(Duration::from_millis(self.millis));
        out.emit_anchored(&input, input.values().clone())?;
        out.ack(&input);
        Ok(())
    }
}

/// Acks every input; reports an error for each of the first `errors` inputs.
struct Sink {
    errors: u64,
    seen: u64,
}

impl Bolt for Sink {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        self.seen += 1;
        if self.seen <= self.errors {
            out.report_error(&format!("error number {}", self.seen));
        }
        out.ack(&input);
        Ok(())
    }
}

/// A basic bolt: acked by the engine when `execute` returns.
struct Basic;

impl crate::api::component::BasicBolt for Basic {
    fn execute(
        &mut self,
        _input: &Tuple,
        _out: &mut crate::api::collector::BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        std::thread::sleep(Duration::from_micros(20));
        Ok(())
    }
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.basic_bolt("Basic", |_| Ok(Basic));
    r.spout("TwoStreams", |_| {
        Ok(TwoStreams {
            next: 0,
            endless: false,
        })
    })
    .spout("Endless", |_| {
        Ok(TwoStreams {
            next: 0,
            endless: true,
        })
    })
    .bolt("AckLater", |_| Ok(AckLater::default()))
    .bolt("Slow", |a| {
        Ok(Slow {
            millis: a.args().first().and_then(|v| v.as_u64()).unwrap_or(2),
        })
    })
    .bolt("Sink", |a| {
        Ok(Sink {
            errors: a.args().first().and_then(|v| v.as_u64()).unwrap_or(0),
            seen: 0,
        })
    });
    r
}

/// Run `yaml` until it completes (or for `duration`), returning the report and every
/// task's row as a worker would send it.
fn run(yaml: &str, duration: Option<Duration>) -> (RunReport, Vec<TaskStats>) {
    let (topo, reg) = load_yaml(&registry(), yaml).unwrap_or_else(|e| panic!("{e}"));
    let (report, stats) = run_local_with_stats(
        &reg,
        &topo,
        LocalOptions {
            duration: Some(duration.unwrap_or(Duration::from_secs(60))),
            ..LocalOptions::default()
        },
    )
    .unwrap();
    if duration.is_none() {
        assert!(
            report.completed,
            "did not complete: {:?}",
            report.components
        );
    }
    (report, stats.iter().map(|s| s.report()).collect())
}

fn rows<'a>(rows: &'a [TaskStats], component: &str) -> Vec<&'a TaskStats> {
    rows.iter().filter(|r| r.component == component).collect()
}

fn output<'a>(row: &'a TaskStats, stream: &str) -> &'a OutputStreamStats {
    row.outputs
        .iter()
        .find(|o| o.stream == stream)
        .unwrap_or_else(|| panic!("no output stream {stream}: {row:?}"))
}

fn input<'a>(row: &'a TaskStats, component: &str, stream: &str) -> &'a InputStreamStats {
    row.inputs
        .iter()
        .find(|i| i.component == component && i.stream == stream)
        .unwrap_or_else(|| panic!("no input {component}:{stream}: {row:?}"))
}

fn two_streams_yaml(rate: &str) -> String {
    format!(
        "
name: two-streams
config: {{topology.stats.sample.rate: {rate}}}
spouts: [{{id: src, className: TwoStreams}}]
bolts:
  - {{id: later, className: AckLater, parallelism: 2}}
streams:
  - {{from: src, to: later, grouping: {{type: SHUFFLE, streamId: odd}}}}
  - {{from: src, to: later, grouping: {{type: SHUFFLE, streamId: even}}}}
"
    )
}

#[test]
fn per_stream_and_per_input_counts_are_exact() {
    let (report, rows_all) = run(&two_streams_yaml("1.0"), None);
    let src = rows(&rows_all, "src");
    assert_eq!(src.len(), 1);
    let src = src[0];
    for stream in ["odd", "even"] {
        let o = output(src, stream);
        assert_eq!(
            (o.emitted, o.transferred, o.acked, o.failed),
            (N / 2, N / 2, N / 2, 0),
            "{stream}: {o:?}"
        );
        // Rate 1: every acked tree's complete latency is measured.
        assert_eq!(o.complete_latency_us.count(), N / 2, "{stream}");
    }
    assert_eq!(output(src, "default").emitted, 0);
    assert_eq!(src.counters.emitted, N);
    assert_eq!(src.counters.acked, N);

    let later = rows(&rows_all, "later");
    assert_eq!(later.len(), 2);
    for stream in ["odd", "even"] {
        let (mut executed, mut acked) = (0, 0);
        for row in &later {
            let i = input(row, "src", stream);
            assert_eq!(i.executed, i.acked, "{i:?}");
            assert_eq!(i.failed, 0);
            // Rate 1: every execute and every ack is measured.
            assert_eq!(i.execute_latency_us.count(), i.executed);
            assert_eq!(i.process_latency_us.count(), i.acked);
            executed += i.executed;
            acked += i.acked;
        }
        assert_eq!((executed, acked), (N / 2, N / 2), "{stream}");
    }
    let total: u64 = later.iter().map(|r| r.counters.executed).sum();
    assert_eq!(total, N);
    // Bolts have no spout-style acked trees on their outputs, and no queue blocking here
    // is required; the queue's capacity is known.
    for row in &later {
        assert!(row.queue.capacity >= 1024, "{:?}", row.queue);
    }
    let c = &report.components["later"];
    assert_eq!(c.executed, N);
    assert!(c.execute_latency_ms.is_some() && c.process_latency_ms.is_some());
    assert!(c.capacity.is_some_and(|x| x > 0.0), "{c:?}");
}

#[test]
fn process_latency_is_at_least_execute_latency_for_a_bolt_that_acks_later() {
    let (_, rows_all) = run(&two_streams_yaml("1.0"), None);
    let mut execute = Histogram::new();
    let mut process = Histogram::new();
    for row in rows(&rows_all, "later") {
        for i in &row.inputs {
            execute.merge(&i.execute_latency_us);
            process.merge(&i.process_latency_us);
        }
    }
    assert_eq!(execute.count(), N);
    assert_eq!(process.count(), N);
    // Each tuple's process latency is at least its execute latency, so every quantile
    // of the one is at least that of the other.
    for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
        assert!(
            process.quantile(q) >= execute.quantile(q),
            "q{q}: process {:?} < execute {:?}",
            process.quantile(q),
            execute.quantile(q)
        );
    }
    // execute sleeps 50 µs.
    assert!(execute.quantile(0.5).unwrap() >= 50, "{execute:?}");
    assert!(process.sum() > execute.sum());
}

#[test]
fn a_basic_bolt_input_acked_in_execute_has_its_execute_latency_as_process_latency() {
    let yaml = "
name: basic
config: {topology.stats.sample.rate: 1.0}
spouts: [{id: src, className: TwoStreams}]
bolts:
  - {id: basic, className: Basic}
streams:
  - {from: src, to: basic, grouping: {type: SHUFFLE, streamId: odd}}
";
    let (_, rows_all) = run(yaml, None);
    let i = input(rows(&rows_all, "basic")[0], "src", "odd");
    assert_eq!((i.executed, i.acked), (N / 2, N / 2));
    assert_eq!(i.execute_latency_us.count(), N / 2);
    // One clock read ends both.
    assert_eq!(i.process_latency_us, i.execute_latency_us);
    assert!(i.execute_latency_us.quantile(0.5).unwrap() >= 20);
}

/// The config refuses a rate of 0 (`(0, 1]`); the sampler's own tests cover it.
#[test]
fn a_small_sample_rate_measures_about_its_share() {
    let (_, rows_all) = run(&two_streams_yaml("0.05"), None);
    let sampled: u64 = rows(&rows_all, "later")
        .iter()
        .flat_map(|r| &r.inputs)
        .map(|i| i.execute_latency_us.count())
        .sum();
    // About N / 20 = 100 (each task samples its first tuple, then 1 in 20 on average).
    assert!((40..=200).contains(&sampled), "{sampled} of {N} sampled");
    let complete: u64 = rows(&rows_all, "src")[0]
        .outputs
        .iter()
        .map(|o| o.complete_latency_us.count())
        .sum();
    assert!((40..=200).contains(&complete), "{complete} of {N} sampled");
}

#[test]
fn user_metrics_are_reported_and_refused_names_record_nothing() {
    let (report, rows_all) = run(&two_streams_yaml("0.05"), None);
    let mut seen = 0;
    for row in rows(&rows_all, "later") {
        let names: Vec<&str> = row.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["seen", "last.n"],
            "refused names are not registered"
        );
        if let UserMetricValue::Counter(n) = row.metrics[0].value {
            seen += n;
        } else {
            panic!("{:?}", row.metrics[0]);
        }
        assert_eq!(row.metrics[1].value, UserMetricValue::Gauge(-1.0));
    }
    assert_eq!(seen, N);
    let c = &report.components["later"];
    assert_eq!(c.metrics["seen"], MetricReport::Counter(N));
    assert_eq!(c.metrics.get("not valid!"), None);
}

#[test]
fn the_last_ten_errors_are_kept_with_their_time() {
    let yaml = "
name: errors
spouts: [{id: src, className: TwoStreams}]
bolts:
  - {id: sink, className: Sink, constructorArgs: [15]}
streams:
  - {from: src, to: sink, grouping: {type: SHUFFLE, streamId: odd}}
  - {from: src, to: sink, grouping: {type: SHUFFLE, streamId: even}}
";
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (_, rows_all) = run(yaml, None);
    let sink = rows(&rows_all, "sink")[0];
    assert_eq!(sink.counters.errors, 15);
    assert_eq!(sink.errors.len(), MAX_ERRORS_PER_TASK);
    let texts: Vec<&str> = sink.errors.iter().map(|e| e.error.as_str()).collect();
    let want: Vec<String> = (6..=15).map(|i| format!("error number {i}")).collect();
    assert_eq!(texts, want, "the last ten, oldest first");
    assert!(sink.errors.iter().all(|e| e.time_ms >= before));
    assert!(sink.errors.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
    assert_eq!(sink.last_error.as_deref(), Some("error number 15"));
}

#[test]
fn a_slow_bolt_shows_backpressure_and_its_sink_none() {
    // A fast unbounded spout (acking off, so no spout pending limit) in front of a bolt
    // that sleeps 2 ms per tuple, then a fast sink. Batches of 50: the slow bolt sends
    // its output after each input batch (100 ms), not after 1000 tuples (2 s, most of
    // the run on a loaded machine, when the sink would see nothing).
    let yaml = "
name: slow
config: {topology.acker.executors: 0, topology.stats.sample.rate: 0.2, topology.producer.batch.size: 50}
spouts: [{id: src, className: Endless}]
bolts:
  - {id: slow, className: Slow, constructorArgs: [2]}
  - {id: sink, className: Sink}
streams:
  - {from: src, to: slow, grouping: {type: SHUFFLE}}
  - {from: slow, to: sink, grouping: {type: SHUFFLE}}
";
    let (report, rows_all) = run(yaml, Some(Duration::from_millis(2500)));
    let slow = &report.components["slow"];
    let sink = &report.components["sink"];
    assert!(slow.executed >= 200, "{slow:?}");
    assert!(
        slow.queue.upstream_blocked_ms > 500.0,
        "the spout waited on the slow bolt's full queue: {slow:?}"
    );
    assert!(
        slow.queue.depth > 0 && slow.queue.depth <= slow.queue.capacity,
        "{slow:?}"
    );
    let exec = slow.execute_latency_ms.expect("sampled execute latency");
    assert!(
        (1.9..6.0).contains(&exec.p50),
        "execute latency about 2 ms: {exec:?}"
    );
    assert!(
        slow.capacity.is_some_and(|c| c > 0.6),
        "the slow bolt is busy: {slow:?}"
    );
    assert!(
        sink.queue.upstream_blocked_ms < 1.0,
        "nothing waits on the sink: {sink:?}"
    );
    assert!(sink.capacity.is_some_and(|c| c < 0.2), "{sink:?}");
    let src = &report.components["src"];
    assert!(src.queue.send_blocked_ms > 500.0, "{src:?}");
    // The worker's rows say the same.
    let slow_row = rows(&rows_all, "slow")[0];
    assert!(slow_row.queue.upstream_blocked_ns > 500_000_000);
    assert!(input(slow_row, "src", "default").execute_latency_us.count() > 10);
    let line = slow.summary_line().unwrap();
    assert!(
        line.contains("execute") && line.contains("upstream blocked"),
        "{line}"
    );
}
