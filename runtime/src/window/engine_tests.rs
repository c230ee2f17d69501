//! Windowed bolts in the real engine (local mode): acks at expiry, replays of a failed
//! window, late tuples, an idle input, and the prepare-time refusals at validation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::collector::SpoutCollector;
use crate::api::component::Spout;
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::ids::MessageId;
use crate::api::registry::Registry;
use crate::api::tuple::Values;
use crate::engine::local::{LocalOptions, run_local};
use crate::testing::{complete_topology, validate_yaml};
use crate::values;
use crate::window::{Span, TupleWindow, WindowedBolt, WindowedCollector};

const TIMEOUT: Duration = Duration::from_secs(30);

/// What a test spout does next.
#[derive(Clone)]
enum Step {
    /// Emit with a message id (the step's index).
    Tracked(Values),
    /// Emit without a message id.
    Untracked(Values),
    /// Emit nothing until the flag is set.
    WaitFor(&'static AtomicBool),
    /// Emit nothing until this many failed tuples were emitted again.
    AwaitReplays(usize),
    /// Emit these values (untracked) this many times, one every 2 ms: an input that
    /// stays active.
    Repeat(Values, usize),
}

type Log = Arc<Mutex<Vec<String>>>;

/// Runs its steps once (replaying failed tracked steps), logging emits, acks and fails.
struct Script {
    steps: Vec<Step>,
    next: usize,
    replay: Vec<MessageId>,
    replayed: usize,
    repeated: usize,
    last: Option<Instant>,
    log: Log,
}

impl Script {
    fn new(steps: Vec<Step>, log: Log) -> Script {
        Script {
            steps,
            next: 0,
            replay: Vec::new(),
            replayed: 0,
            repeated: 0,
            last: None,
            log,
        }
    }

    fn push(&self, s: String) {
        self.log.lock().unwrap().push(s);
    }
}

impl Spout for Script {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n", "ts"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if let Some(id) = self.replay.pop() {
            if let Step::Tracked(v) = &self.steps[id as usize] {
                out.emit_id(v.clone(), id)?;
                self.replayed += 1;
                self.push(format!("replay {id}"));
            }
            return Ok(());
        }
        let Some(step) = self.steps.get(self.next).cloned() else {
            return Ok(());
        };
        match step {
            Step::Tracked(v) => {
                out.emit_id(v, self.next as MessageId)?;
                self.push(format!("emit {}", self.next));
            }
            Step::Untracked(v) => out.emit(v)?,
            Step::WaitFor(flag) => {
                if !flag.load(Ordering::Acquire) {
                    return Ok(());
                }
            }
            Step::AwaitReplays(n) => {
                if self.replayed < n {
                    return Ok(());
                }
            }
            Step::Repeat(v, n) => {
                if self
                    .last
                    .is_some_and(|t| t.elapsed() < Duration::from_millis(2))
                {
                    return Ok(());
                }
                self.last = Some(Instant::now());
                out.emit(v)?;
                self.repeated += 1;
                if self.repeated < n {
                    return Ok(());
                }
            }
        }
        self.next += 1;
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.steps.len() && self.replay.is_empty()
    }

    fn ack(&mut self, id: MessageId) {
        self.push(format!("ack {id}"));
    }

    fn fail(&mut self, id: MessageId) {
        self.push(format!("fail {id}"));
        self.replay.push(id);
    }
}

/// Emits `[count, sum of n, end]` per window; fails the first `fail_first` windows; sets
/// `fired` after each window.
struct Summer {
    fail_first: &'static AtomicUsize,
    fired: &'static AtomicBool,
}

impl WindowedBolt for Summer {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["count", "sum", "end"]);
    }

    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        out: &mut WindowedCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.fired.store(true, Ordering::Release);
        if self
            .fail_first
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(ComponentError::msg("failing this window on purpose"));
        }
        let mut sum = 0;
        for t in window.get() {
            sum += t.i64_by_field("n")?;
        }
        out.emit(values![
            window.get().len() as i64,
            sum,
            window.end_timestamp()
        ])?;
        Ok(())
    }
}

fn registry(
    steps: Vec<Step>,
    log: &Log,
    fail_first: &'static AtomicUsize,
    fired: &'static AtomicBool,
) -> Registry {
    let mut r = Registry::new();
    let log = log.clone();
    r.spout("Script", move |_| {
        Ok(Script::new(steps.clone(), log.clone()))
    });
    r.spout("Silent", |_| Ok(Script::new(Vec::new(), Log::default())));
    r.windowed_bolt("Summer", move |_| Ok(Summer { fail_first, fired }));
    r
}

fn yaml(window: &str) -> String {
    format!(
        "name: w\nconfig: {{topology.acker.executors: 1}}\n\
         spouts: [{{id: script, className: Script}}]\n\
         bolts: [{{id: sum, className: Summer, config: {{{window}}}}}]\n\
         streams: [{{from: script, to: sum, grouping: {{type: SHUFFLE}}}}]\n"
    )
}

fn position(log: &[String], what: &str) -> usize {
    log.iter()
        .position(|l| l == what)
        .unwrap_or_else(|| panic!("{what} not in {log:?}"))
}

fn rows(report: &crate::engine::local::RunReport) -> Vec<(i64, i64)> {
    report
        .emitted("sum", "default")
        .iter()
        .map(|v| (v[0].as_i64().unwrap(), v[1].as_i64().unwrap()))
        .collect()
}

#[test]
fn window_tuples_are_acked_when_they_expire() {
    static FAIL: AtomicUsize = AtomicUsize::new(0);
    static FIRED: AtomicBool = AtomicBool::new(false);
    // Tumbling windows of 3: tracked 1..=6, then 3 untracked fillers expire 4..=6.
    let mut steps: Vec<Step> = (1..=6).map(|n| Step::Tracked(values![n, 0])).collect();
    steps.extend((0..3).map(|_| Step::Untracked(values![100, 0])));
    let log = Log::default();
    let r = registry(steps, &log, &FAIL, &FIRED);
    let w =
        "topology.bolts.window.length.count: 3, topology.bolts.window.sliding.interval.count: 3";
    let report = complete_topology(&r, &yaml(w), TIMEOUT).unwrap();
    assert_eq!(rows(&report), [(3, 6), (3, 15), (3, 300)]);
    let log = log.lock().unwrap().clone();
    // Tuple 0 (n = 1) leaves the window when the second one fires, after tuple 5 arrived.
    assert!(
        position(&log, "ack 0") > position(&log, "emit 5"),
        "{log:?}"
    );
    for id in 0..6 {
        position(&log, &format!("ack {id}"));
    }
    assert!(!log.iter().any(|l| l.starts_with("fail")), "{log:?}");
}

#[test]
fn emits_anchored_to_a_large_window_complete_every_tree() {
    static FAIL: AtomicUsize = AtomicUsize::new(0);
    static FIRED: AtomicBool = AtomicBool::new(false);
    // Sliding windows of 40 every 10: each sum is anchored to 40 trees; the sink acks
    // the sums, the window acks its tuples at expiry; every tree completes.
    let mut steps: Vec<Step> = (1..=100).map(|n| Step::Tracked(values![n, 0])).collect();
    steps.extend((0..40).map(|_| Step::Untracked(values![0, 0])));
    let log = Log::default();
    let mut r = registry(steps, &log, &FAIL, &FIRED);
    r.basic_bolt("Plain", |_| Ok(Plain));
    let y = yaml(
        "topology.bolts.window.length.count: 40, topology.bolts.window.sliding.interval.count: 10",
    )
    .replace("bolts: [", "bolts: [{id: sink, className: Plain}, ")
    .replace(
        "streams: [",
        "streams: [{from: sum, to: sink, grouping: {type: SHUFFLE}}, ",
    );
    let report = complete_topology(&r, &y, TIMEOUT).unwrap();
    assert_eq!(rows(&report).len(), 14);
    let log = log.lock().unwrap().clone();
    for id in 0..100 {
        position(&log, &format!("ack {id}"));
    }
    assert!(!log.iter().any(|l| l.starts_with("fail")), "{log:?}");
}

#[test]
fn processing_time_duration_windows_fire_on_the_timer_and_ack_at_expiry() {
    static FAIL: AtomicUsize = AtomicUsize::new(0);
    static FIRED: AtomicBool = AtomicBool::new(false);
    // Tumbling 20 ms windows: no tuple after the last one, the timer alone fires the
    // windows and expires (acks) every tuple, so the run completes.
    let steps: Vec<Step> = (1..=5).map(|n| Step::Tracked(values![n, 0])).collect();
    let log = Log::default();
    let r = registry(steps, &log, &FAIL, &FIRED);
    let w = "topology.bolts.window.length.duration.ms: 20, \
             topology.bolts.window.sliding.interval.duration.ms: 20";
    let report = complete_topology(&r, &yaml(w), TIMEOUT).unwrap();
    let rows = rows(&report);
    assert_eq!(rows.iter().map(|r| r.0).sum::<i64>(), 5, "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.1).sum::<i64>(), 15, "{rows:?}");
    // Window ends are on the 20 ms grid from the bolt's start.
    let ends: Vec<i64> = report
        .emitted("sum", "default")
        .iter()
        .map(|v| v[2].as_i64().unwrap())
        .collect();
    assert!(ends.windows(2).all(|w| (w[1] - w[0]) % 20 == 0), "{ends:?}");
    let log = log.lock().unwrap().clone();
    for id in 0..5 {
        position(&log, &format!("ack {id}"));
    }
    assert!(!log.iter().any(|l| l.starts_with("fail")), "{log:?}");
}

#[test]
fn a_failed_window_is_replayed() {
    static FAIL: AtomicUsize = AtomicUsize::new(1);
    static FIRED: AtomicBool = AtomicBool::new(false);
    let mut steps: Vec<Step> = (1..=2).map(|n| Step::Tracked(values![n, 0])).collect();
    // After the replays, two fillers expire the replayed tuples.
    steps.push(Step::AwaitReplays(2));
    steps.extend((0..2).map(|_| Step::Untracked(values![0, 0])));
    let log = Log::default();
    let r = registry(steps, &log, &FAIL, &FIRED);
    let w =
        "topology.bolts.window.length.count: 2, topology.bolts.window.sliding.interval.count: 2";
    let report = complete_topology(&r, &yaml(w), TIMEOUT).unwrap();
    let log = log.lock().unwrap().clone();
    // The first window (both tracked tuples) failed: both replayed, then acked.
    assert!(
        position(&log, "fail 0") < position(&log, "replay 0"),
        "{log:?}"
    );
    assert!(
        position(&log, "fail 1") < position(&log, "replay 1"),
        "{log:?}"
    );
    position(&log, "ack 0");
    position(&log, "ack 1");
    let sums: i64 = rows(&report).iter().map(|r| r.1).sum();
    assert_eq!(
        sums,
        3,
        "the replayed tuples were summed once: {:?}",
        rows(&report)
    );
}

#[test]
fn late_tuples_go_to_the_late_stream_and_are_acked() {
    static FAIL: AtomicUsize = AtomicUsize::new(0);
    static FIRED: AtomicBool = AtomicBool::new(false);
    // Event time, tumbling 10 ms windows; a tuple at ts 3 after the first window fired.
    let mut steps: Vec<Step> = [(1, 1), (2, 5), (4, 12)]
        .iter()
        .map(|&(n, ts)| Step::Tracked(values![n, ts]))
        .collect();
    steps.push(Step::Untracked(values![0, 25]));
    steps.push(Step::WaitFor(&FIRED));
    steps.push(Step::Tracked(values![8, 3]));
    // Push event time past 30: every window fires and expires.
    steps.push(Step::Untracked(values![0, 45]));
    let log = Log::default();
    let r = registry(steps, &log, &FAIL, &FIRED);
    let w = "topology.bolts.window.length.duration.ms: 10, \
             topology.bolts.window.sliding.interval.duration.ms: 10, \
             topology.bolts.tuple.timestamp.field.name: ts, \
             topology.bolts.watermark.event.interval.ms: 5, \
             topology.bolts.late.tuple.stream: late";
    let report = complete_topology(&r, &yaml(w), TIMEOUT).unwrap();
    let late: Vec<String> = report
        .emitted("sum", "late")
        .iter()
        .map(|v| v.to_json().to_string())
        .collect();
    assert_eq!(late, ["[[8,3]]"]);
    assert_eq!(rows(&report)[..3], [(2, 3), (1, 4), (1, 0)]);
    let log = log.lock().unwrap().clone();
    for id in [0, 1, 2, 5] {
        position(&log, &format!("ack {id}"));
    }
    assert!(!log.iter().any(|l| l.starts_with("fail")), "{log:?}");
}

#[test]
fn an_idle_input_does_not_stall_event_time() {
    static FAIL: AtomicUsize = AtomicUsize::new(0);
    static FIRED: AtomicBool = AtomicBool::new(false);
    let mut steps: Vec<Step> = [(1, 1), (2, 15)]
        .iter()
        .map(|&(n, ts)| Step::Untracked(values![n, ts]))
        .collect();
    // The script's input stays active (a tuple every 2 ms, at time 25).
    steps.push(Step::Repeat(values![0, 25], 150));
    let log = Log::default();
    let r = registry(steps, &log, &FAIL, &FIRED);
    // A second input that never sends: without the idle timeout the watermark waits
    // for it forever.
    let topology = |idle: u64| {
        format!(
            "name: w\nconfig: {{topology.acker.executors: 0}}\n\
             spouts: [{{id: script, className: Script}}, {{id: silent, className: Silent}}]\n\
             bolts: [{{id: sum, className: Summer, config: {{\
               topology.bolts.window.length.duration.ms: 10, \
               topology.bolts.tuple.timestamp.field.name: ts, \
               topology.bolts.window.sliding.interval.duration.ms: 10, \
               topology.bolts.watermark.event.interval.ms: 5, \
               topology.bolts.watermark.idle.timeout.ms: {idle}}}}}]\n\
             streams: [{{from: script, to: sum, grouping: {{type: SHUFFLE}}}}, \
                       {{from: silent, to: sum, grouping: {{type: SHUFFLE}}}}]\n"
        )
    };
    let run = |idle: u64, wait: Duration| {
        let topo = validate_yaml(&r, &topology(idle)).unwrap();
        let deadline = Instant::now() + wait;
        loop {
            FIRED.store(false, Ordering::Release);
            let report = run_local(
                &r,
                &topo,
                LocalOptions {
                    duration: Some(Duration::from_millis(300)),
                    capture: true,
                    progress: None,
                    stop_on_interrupt: false,
                },
            )
            .unwrap();
            let got = rows(&report);
            if got.len() >= 2 || Instant::now() >= deadline {
                return got;
            }
        }
    };
    // The silent input is idle after 20 ms: the windows ending at 10 and 20 fire (the
    // active input is at 25).
    assert_eq!(run(20, TIMEOUT), [(1, 1), (1, 2)]);
    // Never idle (Storm's behaviour): nothing fires.
    assert_eq!(run(0, Duration::ZERO), []);
}

#[test]
fn windows_that_do_not_fit_the_topology_are_refused_at_validation() {
    static FAIL: AtomicUsize = AtomicUsize::new(0);
    static FIRED: AtomicBool = AtomicBool::new(false);
    let r = registry(Vec::new(), &Log::default(), &FAIL, &FIRED);
    let err = validate_yaml(
        &r,
        &yaml("topology.bolts.window.length.duration.ms: 25000, topology.bolts.window.sliding.interval.duration.ms: 10000"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("window duration (length + sliding interval) 35000 ms is more than topology.message.timeout.secs 30 s"), "{err}");
    assert!(err.contains("topology.bolts.window.length.duration.ms / topology.bolts.window.sliding.interval.duration.ms"), "{err}");
    assert!(err.contains("bolts[0]"), "{err}");
    let err = validate_yaml(
        &r,
        &yaml("topology.bolts.window.length.count: 100, topology.max.spout.pending: 50"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("window count (length + sliding interval) 101 is more than topology.max.spout.pending 50"), "{err}");
    let err = validate_yaml(&r, &yaml("x: 1")).unwrap_err().to_string();
    assert!(err.contains("the window length is not set"), "{err}");
    // The late stream is declared with its one field.
    let topo = validate_yaml(
        &r,
        &yaml("topology.bolts.window.length.count: 3, topology.bolts.tuple.timestamp.field.name: ts, topology.bolts.late.tuple.stream: late"),
    )
    .unwrap();
    let late = topo
        .component("sum")
        .unwrap()
        .streams
        .iter()
        .find(|s| s.id == "late")
        .unwrap();
    assert_eq!(late.fields, [crate::window::LATE_TUPLE_FIELD]);
}

#[test]
fn flux_config_methods_and_window_values_set_the_window() {
    static FAIL: AtomicUsize = AtomicUsize::new(0);
    static FIRED: AtomicBool = AtomicBool::new(false);
    let mut r = registry(Vec::new(), &Log::default(), &FAIL, &FIRED);
    r.basic_bolt("Plain", |_| Ok(Plain));
    let flux = r#"
name: flux-window
components:
  - id: ten
    className: "org.apache.storm.topology.base.BaseWindowedBolt$Duration"
    constructorArgs: [10, SECONDS]
  - id: two
    className: "org.apache.storm.topology.base.BaseWindowedBolt$Duration"
    constructorArgs: [2000, MILLISECONDS]
  - id: hundred
    className: "org.apache.storm.topology.base.BaseWindowedBolt$Count"
    constructorArgs: [100]
spouts: [{id: script, className: Script}]
bolts:
  - id: sum
    className: Summer
    configMethods:
      - {name: withWindow, args: [ref: ten, ref: two]}
      - {name: withTimestampField, args: [ts]}
      - {name: withLag, args: [ref: two]}
      - {name: withWatermarkInterval, args: [ref: two]}
      - {name: withLateTupleStream, args: [late]}
  - id: count
    className: Summer
    configMethods:
      - {name: withTumblingWindow, args: [ref: hundred]}
streams:
  - {from: script, to: sum, grouping: {type: SHUFFLE}}
  - {from: script, to: count, grouping: {type: SHUFFLE}}
"#;
    let topo = validate_yaml(&r, flux).unwrap();
    let config = |id: &str| crate::Config::merged([&topo.component(id).unwrap().config]);
    let w = crate::window::WindowConfig::from_config(&config("sum")).unwrap();
    assert_eq!(
        w,
        crate::window::WindowConfig::sliding(Span::secs(10), Span::millis(2000))
            .with_timestamp_field("ts")
            .with_lag(Duration::from_secs(2))
            .with_watermark_interval(Duration::from_secs(2))
            .with_late_tuple_stream("late")
    );
    let w = crate::window::WindowConfig::from_config(&config("count")).unwrap();
    assert_eq!(
        (w.length(), w.slide()),
        (Span::Count(100), Span::Count(100))
    );
    assert!(
        topo.component("sum")
            .unwrap()
            .streams
            .iter()
            .any(|s| s.id == "late")
    );

    // Misuse is refused, located, naming what the method takes.
    let bad = flux
        .replace("args: [ref: ten, ref: two]", "args: [10, 2]")
        .replace(
            "className: Summer\n    configMethods:\n      - {name: withTumblingWindow",
            "className: Plain\n    configMethods:\n      - {name: withTumblingWindow",
        );
    let err = validate_yaml(&r, &bad).unwrap_err().to_string();
    assert!(
        err.contains("bolts[0].configMethods[0].name: withWindow takes the window length"),
        "{err}"
    );
    assert!(
        err.contains("config method 'withTumblingWindow' cannot be called on 'Plain'"),
        "{err}"
    );
}

/// A bolt that is not windowed.
struct Plain;

impl crate::api::component::BasicBolt for Plain {
    fn execute(
        &mut self,
        _input: &crate::api::tuple::Tuple,
        _out: &mut crate::api::collector::BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }
}
