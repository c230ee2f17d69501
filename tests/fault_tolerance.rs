//! Faults in user components: bolts that panic or return errors on some inputs keep the
//! topology running and are counted and reported; a spout or bolt that cannot open or
//! prepare makes the run fail with an error naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

use common::{CountSpout, Recorder, int, squall_file};
use squall_runtime::local::RunReport;
use squall_runtime::testing::{TestRunError, complete_topology};
use squall_runtime::{
    BasicBolt, BasicCollector, Bolt, BoltCollector, ComponentError, OutputDeclarer, Registry,
    RunError, Spout, SpoutCollector, TopologyContext, Tuple, Value,
};

const TIMEOUT: Duration = Duration::from_secs(30);
const N: i64 = 200;

/// Panics on every input divisible by 10; passes the others on.
struct PanicEveryTenth;

impl BasicBolt for PanicEveryTenth {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        let n = input.get_i64(0)?;
        if n % 10 == 0 {
            panic!("boom on {n}");
        }
        out.emit(Value::from(n))?;
        Ok(())
    }
}

/// A plain bolt: returns `Err` (after failing the input) when `n % 7 == 3`, else passes
/// the input on and acks it.
struct ErrSomeInputs;

impl Bolt for ErrSomeInputs {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let n = input.get_i64(0)?;
        if n % 7 == 3 {
            out.fail(&input);
            return Err(ComponentError::msg(format!("bad input {n}")));
        }
        out.emit_anchored(&input, Value::from(n))?;
        out.ack(&input);
        Ok(())
    }
}

/// A plain bolt that panics when `n % 9 == 4` (neither acking nor failing that input).
struct RawPanic;

impl Bolt for RawPanic {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let n = input.get_i64(0)?;
        assert!(n % 9 != 4, "raw boom on {n}");
        out.emit_anchored(&input, Value::from(n))?;
        out.ack(&input);
        Ok(())
    }
}

/// A bolt whose `prepare` panics.
struct PanicInPrepare;

#[squall_runtime::async_trait]
impl Bolt for PanicInPrepare {
    async fn prepare(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        panic!("prepare exploded");
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        out.ack(&input);
        Ok(())
    }
}

/// Emits `0..count` (field `n`), but its `next_tuple` panics before emitting 50 and
/// returns `Err` before emitting 100 (once each; the next call emits the number).
struct FlakySpout {
    next: i64,
    count: i64,
    tripped: BTreeSet<i64>,
}

impl Spout for FlakySpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if self.next >= self.count {
            return Ok(());
        }
        if self.tripped.insert(self.next) {
            match self.next {
                50 => panic!("spout tripped at 50"),
                100 => return Err(ComponentError::msg("spout stumbled at 100")),
                _ => {}
            }
        }
        out.emit(Value::from(self.next))?;
        self.next += 1;
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.count
    }
}

fn registry() -> Registry {
    let mut reg = Registry::new();
    reg.spout("Count", |a| Ok(CountSpout::new(a.u64(0, "count")? as i64)))
        .basic_bolt("PanicEveryTenth", |_| Ok(PanicEveryTenth))
        .bolt("ErrSomeInputs", |_| Ok(ErrSomeInputs))
        .bolt("RawPanic", |_| Ok(RawPanic))
        .bolt("PanicInPrepare", |_| Ok(PanicInPrepare))
        .spout("Flaky", |a| {
            Ok(FlakySpout {
                next: 0,
                count: a.u64(0, "count")? as i64,
                tripped: BTreeSet::new(),
            })
        })
        .basic_bolt("Recorder", |a| Recorder::from_args(a, None));
    reg
}

/// `src` (Count N) -> `faulty` (class, 2 tasks) -> `after` (Recorder).
fn run_faulty(class: &str) -> RunReport {
    let yaml = format!(
        "\
name: faults
spouts:
  - id: src
    className: Count
    constructorArgs: [{N}]
bolts:
  - id: faulty
    className: {class}
    parallelism: 2
  - id: after
    className: Recorder
    constructorArgs: [n]
streams:
  - from: src
    to: faulty
    grouping: {{type: SHUFFLE}}
  - from: faulty
    to: after
    grouping: {{type: SHUFFLE}}
"
    );
    complete_topology(&registry(), &yaml, TIMEOUT)
        .unwrap_or_else(|e| panic!("a faulty bolt must not stop the topology: {e}"))
}

/// Check the report of `run_faulty`: inputs matching `bad` were lost, every other one
/// reached `after`, and the errors were counted with `message` as the last one.
fn check(report: &RunReport, bad: impl Fn(i64) -> bool, message: &str) -> u64 {
    let n_bad = (0..N).filter(|n| bad(*n)).count() as u64;
    assert!(n_bad > 0);
    let src = &report.components["src"];
    let faulty = &report.components["faulty"];
    assert_eq!(src.emitted, N as u64, "{src:?}");
    assert_eq!(
        faulty.executed, N as u64,
        "every input is executed: {faulty:?}"
    );
    assert_eq!(faulty.errors, n_bad, "one error per bad input: {faulty:?}");
    let last = faulty
        .last_error
        .as_deref()
        .unwrap_or_else(|| panic!("no last_error: {faulty:?}"));
    assert!(
        last.contains(message),
        "last_error {last:?} lacks {message:?}"
    );
    assert_eq!(faulty.emitted, N as u64 - n_bad, "{faulty:?}");
    let seen: BTreeSet<i64> = report
        .emitted("after", "default")
        .iter()
        .map(|v| int(v, 1))
        .collect();
    let want: BTreeSet<i64> = (0..N).filter(|n| !bad(*n)).collect();
    assert_eq!(seen, want, "tuples that reached the downstream bolt");
    assert_eq!(report.emitted("after", "default").len(), want.len());
    assert_eq!(report.components["after"].errors, 0);
    n_bad
}

#[test]
fn basic_bolt_panics_are_caught_counted_and_failed() {
    let report = run_faulty("PanicEveryTenth");
    let n_bad = check(&report, |n| n % 10 == 0, "panicked: boom on ");
    let faulty = &report.components["faulty"];
    assert_eq!(
        faulty.failed, n_bad,
        "a panicking basic bolt fails its input"
    );
    assert_eq!(faulty.acked, N as u64 - n_bad);
}

#[test]
fn bolt_errors_are_reported_and_processing_goes_on() {
    let report = run_faulty("ErrSomeInputs");
    let n_bad = check(&report, |n| n % 7 == 3, "bad input ");
    let faulty = &report.components["faulty"];
    assert_eq!(faulty.failed, n_bad);
    assert_eq!(faulty.acked, N as u64 - n_bad);
}

#[test]
fn plain_bolt_panics_are_caught_and_counted() {
    let report = run_faulty("RawPanic");
    let n_bad = check(&report, |n| n % 9 == 4, "panicked: raw boom on ");
    let faulty = &report.components["faulty"];
    assert_eq!(faulty.acked, N as u64 - n_bad);
    assert_eq!(
        faulty.failed, 0,
        "the panicking bolt never failed its input itself"
    );
}

#[test]
fn spout_panics_and_errors_are_caught_and_counted() {
    let yaml = format!(
        "\
name: flaky-spout
spouts:
  - id: src
    className: Flaky
    constructorArgs: [{N}]
bolts:
  - id: after
    className: Recorder
    constructorArgs: [n]
streams:
  - from: src
    to: after
    grouping: {{type: SHUFFLE}}
"
    );
    let report = complete_topology(&registry(), &yaml, TIMEOUT)
        .unwrap_or_else(|e| panic!("a faulty spout must not stop the topology: {e}"));
    let src = &report.components["src"];
    assert_eq!(src.errors, 2, "{src:?}");
    assert_eq!(src.emitted, N as u64, "{src:?}");
    let last = src.last_error.as_deref().unwrap_or_default();
    assert!(
        last.contains("spout stumbled at 100"),
        "last_error: {last:?}"
    );
    let seen: BTreeSet<i64> = report
        .emitted("after", "default")
        .iter()
        .map(|v| int(v, 1))
        .collect();
    assert_eq!(seen, (0..N).collect::<BTreeSet<_>>());
}

#[test]

fn panic_in_prepare_fails_the_run_instead_of_hanging() {
    let yaml = "\
name: prepare-panic
spouts:
  - id: src
    className: Count
    constructorArgs: [10]
bolts:
  - id: fragile
    className: PanicInPrepare
streams:
  - from: src
    to: fragile
    grouping: {type: SHUFFLE}
";
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(complete_topology(&registry(), yaml, TIMEOUT));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("run_local hung after a panic in prepare (no result within 20s)");
    match result {
        Err(TestRunError::Run(RunError::Lifecycle {
            component, source, ..
        })) => {
            assert_eq!(component, "fragile");
            assert!(source.to_string().contains("prepare exploded"), "{source}");
        }
        other => panic!("expected a lifecycle error naming 'fragile', got {other:?}"),
    }
}

#[test]
fn spout_that_cannot_open_fails_the_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-input.txt");
    let yaml = format!(
        "\
name: missing-input
spouts:
  - id: reader
    className: LineFileSpout
    constructorArgs: [{missing}]
bolts:
  - id: split
    className: SplitSentenceBolt
streams:
  - from: reader
    to: split
    grouping: {{type: SHUFFLE}}
",
        missing = serde_json::to_string(missing.to_str().unwrap()).unwrap()
    );
    let topo = dir.path().join("topology.yaml");
    std::fs::write(&topo, yaml).unwrap();
    let run = squall_file(&["local", "--json"], &topo, Duration::from_secs(60));
    assert_eq!(
        run.code,
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout.trim().is_empty(),
        "no report on failure: {}",
        run.stdout
    );
    assert!(
        run.stderr.contains("reader"),
        "error names the component:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(missing.to_str().unwrap()),
        "error names the file:\n{}",
        run.stderr
    );
}

#[test]
fn bolt_that_cannot_prepare_fails_the_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no-such-dir").join("out.jsonl");
    let yaml = format!(
        "\
name: bad-sink
spouts:
  - id: numbers
    className: ConstSpout
    constructorArgs: [10]
bolts:
  - id: sink
    className: FileSinkBolt
    constructorArgs: [{out}]
streams:
  - from: numbers
    to: sink
    grouping: {{type: SHUFFLE}}
",
        out = serde_json::to_string(out.to_str().unwrap()).unwrap()
    );
    let topo = dir.path().join("topology.yaml");
    std::fs::write(&topo, yaml).unwrap();
    let run = squall_file(&["local"], &topo, Duration::from_secs(60));
    assert_eq!(
        run.code,
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stderr.contains("sink"), "{}", run.stderr);
    assert!(run.stderr.contains(out.to_str().unwrap()), "{}", run.stderr);
}
