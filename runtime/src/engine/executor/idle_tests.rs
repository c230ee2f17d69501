//! Idle spouts in a real local run: they wait instead of spinning (few wake-ups a second
//! per executor thread, counted by the kernel), and a spout's waker ends the wait at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::collector::{BoltCollector, SpoutCollector};
use crate::api::component::{Bolt, Spout};
use crate::api::context::{TopologyContext, Waker};
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::error::RunError;
use crate::api::registry::Registry;
use crate::api::tuple::Tuple;
use crate::api::value::Value;
use crate::engine::local::{LocalOptions, RunReport, run_local};
use crate::testing::load_yaml;

/// When the data source had data and woke its spout, and when the bolt got the tuple.
#[derive(Default)]
struct Times {
    pushed: Option<Instant>,
    received: Option<Instant>,
}

/// Emits nothing until its source thread (task 0's) sets `ready` and wakes it.
struct Quiet {
    ready: Arc<AtomicBool>,
    times: Arc<Mutex<Times>>,
    after: Duration,
}

#[async_trait::async_trait]
impl Spout for Quiet {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["x"]);
    }

    async fn open(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        if ctx.this_task_index() == 0 {
            let waker: Waker = ctx.waker().expect("spouts have a waker");
            let (ready, times, after) = (self.ready.clone(), self.times.clone(), self.after);
            // The source: data arrives `after` the spout opened (not a synchronisation).
            std::thread::spawn(move || {
                std::thread::sleep(after);
                times.lock().unwrap().pushed = Some(Instant::now());
                ready.store(true, Ordering::Release);
                waker.wake();
            });
        }
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if self.ready.swap(false, Ordering::AcqRel) {
            out.emit(vec![Value::Int(1)])?;
        }
        Ok(())
    }
}

struct Sink {
    times: Arc<Mutex<Times>>,
}

impl Bolt for Sink {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        self.times
            .lock()
            .unwrap()
            .received
            .get_or_insert_with(Instant::now);
        out.ack(&input);
        Ok(())
    }
}

/// Voluntary plus involuntary context switches of each thread of this process whose name
/// starts with `prefix`.
fn switches(prefix: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let n: u64 = status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
            .sum();
        out.push(n);
    }
    out
}

/// Run `spouts` tasks of the registered `QuietSpout` (component `spout`) into `QuietSink`
/// (component `sink`) for `run_for` on a thread of their own, returning once every spout
/// thread exists.
fn run_quiet(
    reg: &Registry,
    name: &str,
    (spout, sink): (&str, &str),
    spouts: usize,
    wait_max_ms: u64,
    run_for: Duration,
) -> std::thread::JoinHandle<Result<RunReport, RunError>> {
    let yaml = format!(
        "name: {name}\nconfig:\n  topology.acker.executors: 0\n  topology.spout.wait.max.millis: {wait_max_ms}\n\
         spouts:\n  - id: {spout}\n    className: QuietSpout\n    parallelism: {spouts}\n\
         bolts:\n  - id: {sink}\n    className: QuietSink\n\
         streams:\n  - from: {spout}\n    to: {sink}\n    grouping: {{type: SHUFFLE}}\n"
    );
    let (topo, reg) = load_yaml(reg, &yaml).unwrap_or_else(|e| panic!("{e}"));
    let run = std::thread::spawn(move || {
        run_local(
            &reg,
            &topo,
            LocalOptions {
                duration: Some(run_for),
                ..LocalOptions::default()
            },
        )
    });
    let prefix = format!("{spout}-");
    let deadline = Instant::now() + Duration::from_secs(10);
    while switches(&prefix).len() < spouts {
        assert!(
            Instant::now() < deadline,
            "the spout threads did not start in 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    run
}

/// Context switches a second of each of `threads` threads named `prefix…`, over one
/// second starting `settle` from now.
fn switch_rate(prefix: &str, threads: usize, settle: Duration) -> f64 {
    std::thread::sleep(settle);
    let before: u64 = switches(prefix).iter().sum();
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let after: u64 = switches(prefix).iter().sum();
    (after - before) as f64 / window.elapsed().as_secs_f64() / threads as f64
}

#[test]
fn idle_spouts_wait_and_a_waker_ends_the_wait() {
    const SPOUTS: usize = 4;
    let ready = Arc::new(AtomicBool::new(false));
    let times = Arc::new(Mutex::new(Times::default()));
    // Data comes once the spouts' waits are over a second long (1 ms doubling).
    let after = Duration::from_millis(2300);
    let mut reg = Registry::new();
    let (r, t) = (ready.clone(), times.clone());
    reg.spout("QuietSpout", move |_| {
        Ok(Quiet {
            ready: r.clone(),
            times: t.clone(),
            after,
        })
    });
    let t = times.clone();
    reg.bolt("QuietSink", move |_| Ok(Sink { times: t.clone() }));
    let run = run_quiet(
        &reg,
        "idle",
        ("zzidle", "zzsink"),
        SPOUTS,
        600_000,
        Duration::from_millis(3500),
    );
    // Measure over a second once the waits have grown past 100 ms.
    let per_thread = switch_rate("zzidle-", SPOUTS, Duration::from_millis(300));
    // A fixed 1 ms wait (Storm's) is about 1,000 waits a second, each with a few yields.
    assert!(
        per_thread < 100.0,
        "an idle spout thread switched {per_thread:.0} times a second"
    );
    let report = run.join().unwrap().unwrap();
    assert_eq!(report.components["zzsink"].executed, 1, "{report:?}");
    let t = times.lock().unwrap();
    let (pushed, received) = (t.pushed.unwrap(), t.received.unwrap());
    // Without the waker the spout would sleep on for up to another 2 s.
    let delay = received.duration_since(pushed);
    assert!(
        delay < Duration::from_millis(1000),
        "the woken spout emitted after {delay:?}"
    );
}

#[test]
fn an_idle_spout_sleeps_without_yielding_first() {
    // Waits capped at 20 ms: ~50 waits a second per spout. Parked, each wait is one or two
    // context switches; a queue's timed receive also yields several times before it
    // sleeps (~9 switches a wait, ~450 a second).
    const SPOUTS: usize = 2;
    let mut reg = Registry::new();
    reg.spout("QuietSpout", move |_| {
        Ok(Quiet {
            ready: Arc::new(AtomicBool::new(false)),
            times: Arc::new(Mutex::new(Times::default())),
            after: Duration::from_secs(3600),
        })
    });
    let times = Arc::new(Mutex::new(Times::default()));
    reg.bolt("QuietSink", move |_| {
        Ok(Sink {
            times: times.clone(),
        })
    });
    let run = run_quiet(
        &reg,
        "park",
        ("zzpark", "zzparksink"),
        SPOUTS,
        20,
        Duration::from_millis(1500),
    );
    // Past the first waits (1 ms doubling to 20 ms), measure over a second.
    let per_thread = switch_rate("zzpark-", SPOUTS, Duration::from_millis(100));
    assert!(
        per_thread < 150.0,
        "an idle spout waiting 20 ms at a time switched {per_thread:.0} times a second \
         (a park is 1-2 per wait, 50 waits a second)"
    );
    run.join().unwrap().unwrap();
}
