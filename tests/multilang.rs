//! Multi-lang components with real subprocesses, in local mode: pystorm bolts and a
//! pystorm reliable spout, raw-protocol Node.js components (no library), and shell
//! bolts that crash, hang or send garbage mid-stream — every tuple accounted for
//! (exact counts), replays observed, errors reported. Fixture scripts: `tests/multilang/`.
//!
//! Needs `python3` with pystorm (`pip install pystorm`) and `node` on the PATH, as
//! `.ci/run` installs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Recorder, int, squall, string};
use squall_runtime::local::RunReport;
use squall_runtime::stats::MetricReport;
use squall_runtime::testing::{FixedSpout, complete_topology};
use squall_runtime::{
    BasicBolt, BasicCollector, Bolt, BoltCollector, ComponentError, OutputDeclarer, Registry,
    Tuple, Value, Values, multilang, values,
};

/// Longest a test topology may take (they take a second or two).
const TIMEOUT: Duration = Duration::from_secs(90);

const SENTENCES: [&str; 5] = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
];

type Counts = Arc<Mutex<BTreeMap<String, u64>>>;

/// The fixture scripts' directory (the topologies' resources directory).
fn resources() -> String {
    format!("{}/tests/multilang", env!("CARGO_MANIFEST_DIR"))
}

/// Fail with a clear message when an interpreter or pystorm is missing.
fn require(program: &str, args: &[&str], hint: &str) {
    let ok = Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "`{program} {}` failed: {hint}", args.join(" "));
}

fn require_pystorm() {
    require(
        "python3",
        &["-c", "import pystorm"],
        "these tests need python3 with pystorm (pip install pystorm; see .ci/run)",
    );
}

fn require_node() {
    require(
        "node",
        &["--version"],
        "these tests need Node.js (apt-get install nodejs; see .ci/run)",
    );
}

/// Counts the `word` field of its inputs into a shared map.
struct Counter(Counts);

impl BasicBolt for Counter {
    fn execute(
        &mut self,
        input: &Tuple,
        _out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        let word = input.str_by_field("word")?;
        *self.0.lock().unwrap().entry(word.to_string()).or_default() += 1;
        Ok(())
    }
}

/// Fails every `every`-th integer (field 0) the first time it sees it; passes the others
/// on (anchored) and acks them.
struct FailFirstSeen {
    every: i64,
    seen: BTreeSet<i64>,
}

impl Bolt for FailFirstSeen {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let n = input.get_i64(0)?;
        if self.seen.insert(n) && n % self.every == 0 {
            out.fail(&input);
            return Ok(());
        }
        out.emit_anchored(&input, Value::from(n))?;
        out.ack(&input);
        Ok(())
    }
}

/// `[id, sentence]` for ids `0..n`.
fn sentences(n: usize) -> Vec<Values> {
    (0..n)
        .map(|i| values![i as i64, SENTENCES[i % SENTENCES.len()]])
        .collect()
}

/// The word counts of sentences `0..n`.
fn expected_counts(n: usize) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for i in 0..n {
        for w in SENTENCES[i % SENTENCES.len()].split_whitespace() {
            *m.entry(w.to_string()).or_default() += 1;
        }
    }
    m
}

fn registry(counts: &Counts, sentence_count: usize) -> Registry {
    let mut r = Registry::new();
    multilang::register(&mut r);
    let c = counts.clone();
    r.basic_bolt("Counter", move |_| Ok(Counter(c.clone())))
        .spout("Sentences", move |_| {
            Ok(FixedSpout::new(
                &["id", "sentence"],
                sentences(sentence_count),
            ))
        })
        .spout("Words", |a| {
            let words = a.args()[0]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|w| values![w.as_str().unwrap()])
                .collect();
            Ok(FixedSpout::new(&["word"], words))
        })
        .bolt("FailFirstSeen", |a| {
            Ok(FailFirstSeen {
                every: a.u64(0, "every")? as i64,
                seen: BTreeSet::new(),
            })
        })
        .basic_bolt("Who", |a| Recorder::from_args(a, None));
    r
}

fn run(registry: &Registry, yaml: &str) -> RunReport {
    complete_topology(registry, yaml, TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

/// sentences (Rust, tracked) -> `split` (a shell bolt running `script`) -> count (Rust).
fn wordcount_yaml(script: &str, split_parallelism: u32, extra_config: &str) -> String {
    format!(
        r#"
name: multilang-wordcount
config:
  topology.resources.dir: "{dir}"
{extra_config}
spouts:
  - id: sentences
    className: Sentences
bolts:
  - id: split
    className: org.apache.storm.flux.wrappers.bolts.FluxShellBolt
    constructorArgs: [["python3", "{script}"], ["word"]]
    parallelism: {split_parallelism}
  - id: count
    className: Counter
    parallelism: 2
streams:
  - from: sentences
    to: split
    grouping: {{type: FIELDS, args: ["id"]}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: ["word"]}}
"#,
        dir = resources()
    )
}

#[test]
fn pystorm_split_bolt_counts_every_word_exactly() {
    require_pystorm();
    let counts = Counts::default();
    let n = 300;
    let report = run(
        &registry(&counts, n),
        &wordcount_yaml("split_sentence.py", 2, ""),
    );
    assert_eq!(*counts.lock().unwrap(), expected_counts(n));
    let split = &report.components["split"];
    assert_eq!(
        (split.executed, split.acked, split.failed, split.errors),
        (n as u64, n as u64, 0, 0),
        "{split:?}"
    );
    let words: u64 = expected_counts(n).values().sum();
    assert_eq!(split.emitted, words);
    let spout = &report.components["sentences"];
    assert_eq!((spout.acked, spout.failed), (n as u64, 0));
}

#[test]
fn pystorm_metrics_command_adds_to_the_task_counters() {
    require_pystorm();
    let counts = Counts::default();
    let n = 200;
    let report = run(
        &registry(&counts, n),
        &wordcount_yaml("metrics_split.py", 2, ""),
    );
    assert_eq!(*counts.lock().unwrap(), expected_counts(n));
    let split = &report.components["split"];
    let words: u64 = expected_counts(n).values().sum();
    // Summed over both tasks; the refused commands (a string value, an invalid name)
    // added nothing and registered nothing.
    let want = BTreeMap::from([
        ("sentences".to_string(), MetricReport::Counter(n as u64)),
        ("words".to_string(), MetricReport::Counter(words)),
    ]);
    assert_eq!(split.metrics, want, "{split:?}");
    assert_eq!((split.acked, split.errors), (n as u64, 0), "{split:?}");
}

#[test]
fn pystorm_split_bolt_without_acking_completes_with_every_word() {
    require_pystorm();
    // Nothing is tracked: the run may end only when the subprocess has answered for
    // every input (the shell bolt counts them as in flight until then).
    let counts = Counts::default();
    let n = 300;
    let report = run(
        &registry(&counts, n),
        &wordcount_yaml("split_sentence.py", 1, "  topology.acker.executors: 0"),
    );
    assert!(report.completed);
    assert_eq!(*counts.lock().unwrap(), expected_counts(n));
}

/// Emits sentence 0, then sentence 1 once `gap` has passed (the bolt idles meanwhile).
struct Paced {
    gap: Duration,
    first: Option<std::time::Instant>,
    sent: usize,
}

impl squall_runtime::Spout for Paced {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["id", "sentence"]);
    }

    fn next_tuple(
        &mut self,
        out: &mut squall_runtime::SpoutCollector,
    ) -> Result<(), ComponentError> {
        let due = match (self.sent, self.first) {
            (0, _) => true,
            (1, Some(t)) => t.elapsed() >= self.gap,
            _ => false,
        };
        if due {
            let i = self.sent;
            out.emit_id(values![i as i64, SENTENCES[i]], i as u64)?;
            self.first.get_or_insert_with(std::time::Instant::now);
            self.sent += 1;
        }
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.sent == 2
    }
}

#[test]
fn idle_bolt_subprocess_lives_on_heartbeats_and_takes_ticks() {
    require_pystorm();
    // Timeout 2 s, idle for 4 s: only heartbeat answers keep the subprocess alive.
    let counts = Counts::default();
    let mut reg = registry(&counts, 0);
    reg.spout("Paced", |_| {
        Ok(Paced {
            gap: Duration::from_secs(4),
            first: None,
            sent: 0,
        })
    });
    let yaml = format!(
        r#"
name: multilang-idle
config:
  topology.resources.dir: "{dir}"
  topology.subprocess.timeout.secs: 2
spouts:
  - id: sentences
    className: Paced
bolts:
  - id: split
    className: ShellBolt
    constructorArgs: [["python3", "split_sentence.py"], ["word"]]
    config:
      topology.tick.tuple.freq.secs: 1
  - id: count
    className: Counter
streams:
  - from: sentences
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: ["word"]}}
"#,
        dir = resources()
    );
    let report = run(&reg, &yaml);
    assert_eq!(*counts.lock().unwrap(), expected_counts(2));
    let split = &report.components["split"];
    assert_eq!(split.errors, 0, "{split:?}");
    // Two sentences and the ticks (pystorm acks ticks), nothing failed.
    assert!(
        split.executed >= 4,
        "ticks reached the subprocess: {split:?}"
    );
    assert_eq!(split.acked, split.executed, "{split:?}");
    assert_eq!(report.components["sentences"].acked, 2);
}

#[test]
fn pystorm_bolt_failures_are_replayed_and_counted_once() {
    require_pystorm();
    let counts = Counts::default();
    let n = 200;
    let every = 7;
    let failures = (0..n).filter(|i| i % every == 0).count() as u64;
    let report = run(
        &registry(&counts, n),
        &wordcount_yaml("flaky_split.py", 2, &format!("  test.fail.every: {every}")),
    );
    assert_eq!(*counts.lock().unwrap(), expected_counts(n));
    let spout = &report.components["sentences"];
    assert_eq!(
        (spout.acked, spout.failed, spout.replayed),
        (n as u64, failures, failures),
        "{spout:?}"
    );
    let split = &report.components["split"];
    assert_eq!(split.failed, failures, "{split:?}");
    // pystorm reports each exception with an `error` command.
    assert_eq!(split.errors, failures, "{split:?}");
    let last = split.last_error.as_deref().unwrap_or_default();
    assert!(
        last.contains("split:") && last.contains("ValueError: failing sentence"),
        "{last}"
    );
}

#[test]
fn pystorm_reliable_spout_replays_failed_messages() {
    require_pystorm();
    let counts = Counts::default();
    let n = 150;
    let every = 5;
    let failures = (0..n).filter(|i| i % every == 0).count() as u64;
    let yaml = format!(
        r#"
name: multilang-spout
config:
  topology.resources.dir: "{dir}"
  test.sentences: {n}
  test.fail.every: {every}
spouts:
  - id: sentences
    className: org.apache.storm.flux.wrappers.spouts.FluxShellSpout
    constructorArgs: [["python3", "sentence_spout.py"], ["id", "sentence"]]
bolts:
  - id: split
    className: ShellBolt
    constructorArgs: [["python3", "flaky_split.py"], ["word"]]
  - id: count
    className: Counter
streams:
  - from: sentences
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: ["word"]}}
"#,
        dir = resources()
    );
    let report = run(&registry(&counts, 0), &yaml);
    assert_eq!(*counts.lock().unwrap(), expected_counts(n));
    let spout = &report.components["sentences"];
    assert_eq!(
        (
            spout.emitted,
            spout.acked,
            spout.failed,
            spout.replayed,
            spout.errors
        ),
        (n as u64 + failures, n as u64, failures, failures, 0),
        "{spout:?}"
    );
}

#[test]
fn raw_node_bolt_answers_task_ids_logs_metrics_and_errors() {
    require_node();
    let words = [
        "alpha", "beta", "oops", "gamma", "delta", "alpha", "epsilon", "zeta",
    ];
    let yaml = format!(
        r#"
name: multilang-node-bolt
config:
  topology.resources.dir: "{dir}"
spouts:
  - id: words
    className: Words
    constructorArgs: [{words:?}]
bolts:
  - id: tagger
    className: org.apache.storm.task.ShellBolt
    constructorArgs: [["node", "tagger.js"], ["word"], {{tasks: ["word", "tasks"]}}]
  - id: who
    className: Who
    constructorArgs: ["word"]
    parallelism: 3
streams:
  - from: words
    to: tagger
    grouping: {{type: SHUFFLE}}
  - from: tagger
    to: who
    grouping: {{type: FIELDS, args: ["word"]}}
"#,
        dir = resources()
    );
    let report = run(&registry(&Counts::default(), 0), &yaml);
    // Where each word went, as the receiving task saw it.
    let received: BTreeMap<String, i64> = report
        .emitted("who", "default")
        .iter()
        .map(|v| (string(v, 1), int(v, 0)))
        .collect();
    let reported = report.emitted("tagger", "tasks");
    assert_eq!(reported.len(), words.len());
    for v in reported {
        let word = string(v, 0);
        let tasks: Vec<i64> = v[1]
            .as_list()
            .unwrap_or_else(|| panic!("task ids should be a list: {:?}", v.to_json()))
            .iter()
            .map(|t| t.as_i64().unwrap())
            .collect();
        assert_eq!(tasks, vec![received[&word]], "task ids of {word}");
    }
    let tagger = &report.components["tagger"];
    assert_eq!(
        (tagger.executed, tagger.acked, tagger.errors),
        (words.len() as u64, words.len() as u64, 1),
        "{tagger:?}"
    );
    assert!(
        tagger
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("tagger:") && e.contains("tagger saw oops")),
        "{tagger:?}"
    );
}

#[test]
fn raw_node_spout_replays_failed_ids_and_completes() {
    require_node();
    let n: i64 = 120;
    let every = 7;
    let failures = (0..n).filter(|i| i % every == 0).count() as u64;
    let yaml = format!(
        r#"
name: multilang-node-spout
config:
  topology.resources.dir: "{dir}"
  test.numbers: {n}
spouts:
  - id: numbers
    className: ShellSpout
    constructorArgs: [["node", "numbers.js"], ["n"]]
bolts:
  - id: gate
    className: FailFirstSeen
    constructorArgs: [{every}]
streams:
  - from: numbers
    to: gate
    grouping: {{type: SHUFFLE}}
"#,
        dir = resources()
    );
    let report = run(&registry(&Counts::default(), 0), &yaml);
    let passed: Vec<i64> = report
        .emitted("gate", "default")
        .iter()
        .map(|v| int(v, 0))
        .collect();
    assert_eq!(
        passed.iter().copied().collect::<BTreeSet<_>>(),
        (0..n).collect::<BTreeSet<_>>()
    );
    assert_eq!(passed.len(), n as usize, "each number passes exactly once");
    let spout = &report.components["numbers"];
    assert_eq!(
        (spout.acked, spout.failed, spout.replayed, spout.errors),
        (n as u64, failures, failures, 0),
        "{spout:?}"
    );
}

#[test]
fn crashing_spout_subprocess_is_restarted_and_reported() {
    require_node();
    let marker = tempfile::tempdir().unwrap();
    let n: i64 = 60;
    let yaml = format!(
        r#"
name: multilang-spout-crash
config:
  topology.resources.dir: "{dir}"
  test.numbers: {n}
  test.crash.at: 25
  test.marker: "{marker}"
spouts:
  - id: numbers
    className: ShellSpout
    constructorArgs: [["node", "numbers.js"], ["n"]]
bolts:
  - id: gate
    className: FailFirstSeen
    constructorArgs: [7]
streams:
  - from: numbers
    to: gate
    grouping: {{type: SHUFFLE}}
"#,
        dir = resources(),
        marker = marker.path().join("tripped").display()
    );
    let report = run(&registry(&Counts::default(), 0), &yaml);
    // The restarted spout starts over (its predecessor's replay state died with it, as
    // when Storm restarts a worker): every number passes, some twice.
    let passed: BTreeSet<i64> = report
        .emitted("gate", "default")
        .iter()
        .map(|v| int(v, 0))
        .collect();
    assert_eq!(passed, (0..n).collect::<BTreeSet<_>>());
    let spout = &report.components["numbers"];
    assert_eq!(spout.errors, 1, "{spout:?}");
    let error = spout.last_error.as_deref().unwrap_or_default();
    for part in [
        "numbers:",
        "numbers.js",
        "exited",
        "exit status: 4",
        "numbers: exiting before 25",
    ] {
        assert!(error.contains(part), "missing {part:?} in: {error}");
    }
}

/// Runs the faulty split (`fault` = exit or hang at sentence 37) and checks that every
/// word is counted exactly once and the failure is reported; returns the split's last
/// error.
fn faulty_run(fault: &str, extra_config: &str) -> String {
    require_pystorm();
    let marker = tempfile::tempdir().unwrap();
    let counts = Counts::default();
    let n = 120;
    let config = format!(
        "  test.fault: {fault}\n  test.fault.id: 37\n  test.fault.marker: \"{}\"\n{extra_config}",
        marker.path().join("tripped").display()
    );
    let report = run(
        &registry(&counts, n),
        &wordcount_yaml("faulty_split.py", 1, &config),
    );
    assert!(
        marker.path().join("tripped").exists(),
        "the fault never happened"
    );
    assert_eq!(*counts.lock().unwrap(), expected_counts(n));
    let spout = &report.components["sentences"];
    assert!(
        spout.failed >= 1,
        "the sentence in flight must fail: {spout:?}"
    );
    assert_eq!(spout.replayed, spout.failed, "{spout:?}");
    assert_eq!(spout.acked, n as u64, "{spout:?}");
    let split = &report.components["split"];
    assert_eq!(split.errors, 1, "one crash, reported once: {split:?}");
    split.last_error.clone().unwrap_or_default()
}

#[test]
fn crashing_bolt_subprocess_is_restarted_and_nothing_is_lost() {
    let error = faulty_run("exit", "");
    for part in [
        "split:",
        "faulty_split.py",
        "exited",
        "exit status: 3",
        "faulty_split: exiting on sentence 37",
        "failed for replay",
    ] {
        assert!(error.contains(part), "missing {part:?} in: {error}");
    }
}

#[test]
fn hung_bolt_subprocess_is_killed_restarted_and_nothing_is_lost() {
    let error = faulty_run("hang", "  topology.subprocess.timeout.secs: 2");
    for part in [
        "split:",
        "stopped answering",
        "topology.subprocess.timeout.secs",
        "SIGKILL",
        "failed for replay",
    ] {
        assert!(error.contains(part), "missing {part:?} in: {error}");
    }
}

#[test]
fn malformed_message_restarts_the_subprocess_and_names_the_text() {
    require_node();
    let marker = tempfile::tempdir().unwrap();
    let words = ["one", "two", "garbage", "three", "four", "five"];
    let yaml = format!(
        r#"
name: multilang-garbage
config:
  topology.resources.dir: "{dir}"
  test.marker: "{marker}"
spouts:
  - id: words
    className: Words
    constructorArgs: [{words:?}]
bolts:
  - id: tagger
    className: ShellBolt
    constructorArgs: [["node", "tagger.js"], ["word"], {{tasks: ["word", "tasks"]}}]
  - id: who
    className: Who
    constructorArgs: ["word"]
streams:
  - from: words
    to: tagger
    grouping: {{type: SHUFFLE}}
  - from: tagger
    to: who
    grouping: {{type: SHUFFLE}}
"#,
        dir = resources(),
        marker = marker.path().join("tripped").display()
    );
    let report = run(&registry(&Counts::default(), 0), &yaml);
    let mut got: Vec<String> = report
        .emitted("who", "default")
        .iter()
        .map(|v| string(v, 1))
        .collect();
    got.sort();
    let mut want: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "every word exactly once");
    let tagger = &report.components["tagger"];
    assert_eq!(tagger.errors, 1, "{tagger:?}");
    let error = tagger.last_error.as_deref().unwrap_or_default();
    for part in [
        "tagger:",
        "malformed '?' message",
        "this is not json",
        "failed for replay",
    ] {
        assert!(error.contains(part), "missing {part:?} in: {error}");
    }
}

#[test]
fn a_command_that_cannot_start_fails_the_run_with_the_reason() {
    let yaml = format!(
        r#"
name: multilang-missing
config:
  topology.resources.dir: "{dir}"
spouts:
  - id: sentences
    className: Sentences
bolts:
  - id: split
    className: ShellBolt
    constructorArgs: [["./no-such-program"], ["word"]]
streams:
  - from: sentences
    to: split
    grouping: {{type: SHUFFLE}}
"#,
        dir = resources()
    );
    let err = complete_topology(&registry(&Counts::default(), 3), &yaml, TIMEOUT)
        .expect_err("the run must fail")
        .to_string();
    assert!(
        err.contains("split") && err.contains("cannot start") && err.contains("no-such-program"),
        "{err}"
    );
}

#[test]
fn flux_shell_topology_runs_from_the_command_line() {
    require_pystorm();
    // Flux's shell_test.yaml shape (FluxShellSpout / FluxShellBolt with command and
    // fields), with the resources directory left unset: `squall local` runs the scripts
    // next to the topology file, whatever the current directory.
    let dir = tempfile::tempdir().unwrap();
    for script in ["sentence_spout.py", "split_sentence.py"] {
        std::fs::copy(format!("{}/{script}", resources()), dir.path().join(script)).unwrap();
    }
    let file = dir.path().join("shell.yaml");
    let n = 40;
    std::fs::write(
        &file,
        format!(
            r#"
name: "shell-topology"
config:
  topology.workers: 1
  test.sentences: {n}
spouts:
  - id: "sentence-spout"
    className: "org.apache.storm.flux.wrappers.spouts.FluxShellSpout"
    constructorArgs:
      - ["python3", "sentence_spout.py"]
      - ["id", "sentence"]
    parallelism: 1
bolts:
  - id: "splitsentence"
    className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
    constructorArgs:
      - ["python3", "split_sentence.py"]
      - ["word"]
    parallelism: 1
  - id: "count"
    className: "WordCountBolt"
    parallelism: 1
streams:
  - name: "spout --> split"
    from: "sentence-spout"
    to: "splitsentence"
    grouping:
      type: SHUFFLE
  - name: "split --> count"
    from: "splitsentence"
    to: "count"
    grouping:
      type: FIELDS
      args: ["word"]
"#
        ),
    )
    .unwrap();
    // Its own temporary directory, to see what the run leaves there.
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(common::SQUALL)
        .args(["local", "--json"])
        .arg(&file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["completed"], true, "{report}");
    let words: u64 = expected_counts(n).values().sum();
    assert_eq!(report["components"]["count"]["executed"], words, "{report}");
    // The subprocesses' pid directory went with the last of them.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("squall-pids-"))
        .collect();
    assert!(left.is_empty(), "the run left its pid directory: {left:?}");
    assert_eq!(
        report["components"]["sentence-spout"]["acked"], n as u64,
        "{report}"
    );
}

#[test]
fn bad_shell_arguments_are_validation_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "name: bad\nspouts:\n  - id: s\n    className: WordSpout\nbolts:\n  - id: b\n    \
         className: FluxShellBolt\n    constructorArgs: [\"python3 split.py\"]\n  - id: c\n    \
         className: org.apache.storm.flux.wrappers.bolts.FluxShellBolt\n    \
         constructorArgs: [[\"python3\", \"split.py\"], \"word\"]\nstreams:\n  - from: s\n    \
         to: b\n    grouping: {type: SHUFFLE}\n  - from: s\n    to: c\n    grouping: {type: SHUFFLE}\n",
    )
    .unwrap();
    let r = squall(
        &["validate", file.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    // The short name is not registered: only Storm's full class names and ShellBolt.
    assert!(
        r.stderr.contains("unknown bolt class 'FluxShellBolt'"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("constructorArgs[1] (the default stream's output fields)"),
        "{}",
        r.stderr
    );
}
