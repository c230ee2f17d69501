//! `squall validate FILE` through the real binary: every error case is reported on
//! stderr as `FILE:LINE:COL: ...` at the offending node, with exit code 1.
//!
//! The offending line of each YAML below carries a `# <-` comment; the expected column
//! is where a given token starts on that line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Run, squall_env, squall_file};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Write `yaml` to a temp file and validate it.
fn validate(yaml: &str) -> (Run, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("topology.yaml");
    std::fs::write(&file, yaml).unwrap();
    let run = squall_file(&["validate"], &file, TIMEOUT);
    (run, file, dir)
}

/// `(line, column)`, 1-based, of `token` on the `n`-th line marked `# <-`.
fn marked(yaml: &str, n: usize, token: &str) -> (usize, usize) {
    let (i, line) = yaml
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("# <-"))
        .nth(n)
        .unwrap_or_else(|| panic!("no marked line #{n} in:\n{yaml}"));
    let col = line
        .find(token)
        .unwrap_or_else(|| panic!("token {token:?} not on line {line:?}"));
    (i + 1, col + 1)
}

/// Validation fails with exactly one error at the marked `token`, containing `words`.
fn assert_one_error(yaml: &str, token: &str, words: &[&str]) {
    let (run, file, _dir) = validate(yaml);
    assert_eq!(
        run.code,
        Some(1),
        "expected exit 1; stderr:\n{}",
        run.stderr
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one error line, got:\n{}",
        run.stderr
    );
    let (line, col) = marked(yaml, 0, token);
    let at = format!("{}:{line}:{col}: ", file.display());
    assert!(
        lines[0].starts_with(&at),
        "expected the error at {at}, got:\n{}",
        run.stderr
    );
    for w in words {
        assert!(lines[0].contains(w), "error lacks {w:?}:\n{}", run.stderr);
    }
}

/// A valid spout and two bolts (split -> count), for stream-section tests.
const HEAD: &str = "\
name: t
spouts:
  - id: sentences
    className: RandomSentenceSpout
bolts:
  - id: split
    className: SplitSentenceBolt
  - id: count
    className: WordCountBolt
streams:
";

#[test]
fn duplicate_component_id() {
    let yaml = "\
name: t
spouts:
  - id: twin
    className: RandomSentenceSpout
bolts:
  - id: twin  # <-
    className: SplitSentenceBolt
";
    assert_one_error(
        yaml,
        "twin",
        &[
            "bolts[0].id",
            "duplicate component id 'twin'",
            "first declared at line 3",
        ],
    );
}

#[test]
fn unknown_class_name_lists_registered_names() {
    let yaml = "\
name: t
spouts:
  - id: s
    className: NoSuchSpout  # <-
";
    assert_one_error(
        yaml,
        "NoSuchSpout",
        &[
            "unknown spout class 'NoSuchSpout'",
            "RandomSentenceSpout",
            "LineFileSpout",
        ],
    );
}

#[test]
fn spout_class_under_bolts() {
    let yaml = "\
name: t
spouts:
  - id: s
    className: RandomSentenceSpout
bolts:
  - id: b
    className: WordSpout  # <-
";
    assert_one_error(yaml, "WordSpout", &["'WordSpout' is a spout", "`bolts`"]);
}

#[test]
fn unknown_to_component() {
    let yaml = format!(
        "{HEAD}  - from: sentences
    to: nowhere  # <-
    grouping: {{type: SHUFFLE}}
"
    );
    assert_one_error(
        &yaml,
        "nowhere",
        &[
            "streams[0].to",
            "unknown component 'nowhere'",
            "split, count",
        ],
    );
}

#[test]
fn unknown_from_component() {
    let yaml = format!(
        "{HEAD}  - from: ghost  # <-
    to: split
    grouping: {{type: SHUFFLE}}
"
    );
    assert_one_error(
        &yaml,
        "ghost",
        &["streams[0].from", "unknown component 'ghost'", "sentences"],
    );
}

#[test]
fn unknown_stream_id() {
    let yaml = format!(
        "{HEAD}  - from: sentences
    to: split
    grouping:
      type: SHUFFLE
      streamId: sideways  # <-
"
    );
    assert_one_error(
        &yaml,
        "sideways",
        &[
            "streams[0].grouping.streamId",
            "'sentences' does not declare stream 'sideways'",
            "default",
        ],
    );
}

#[test]
fn fields_grouping_on_undeclared_field() {
    let yaml = format!(
        "{HEAD}  - from: sentences
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: count
    grouping:
      type: FIELDS
      args: [\"wrd\"]  # <-
"
    );
    assert_one_error(
        &yaml,
        "\"wrd\"",
        &[
            "streams[1].grouping.args[0]",
            "field 'wrd' is not declared by 'split'",
            "word",
        ],
    );
}

#[test]
fn parallelism_zero() {
    let yaml = "\
name: t
spouts:
  - id: s
    className: RandomSentenceSpout
    parallelism: 0  # <-
";
    assert_one_error(
        yaml,
        "0",
        &["spouts[0].parallelism", "parallelism must be at least 1"],
    );
}

#[test]
fn cycle_between_bolts() {
    let yaml = "\
name: t
spouts:
  - id: s
    className: RandomSentenceSpout
bolts:
  - id: a
    className: IdBolt
  - id: b
    className: IdBolt
streams:
  - from: s
    to: a
    grouping: {type: SHUFFLE}
  - from: a
    to: b
    grouping: {type: SHUFFLE}
  - from: b  # <-
    to: a
    grouping: {type: SHUFFLE}
";
    assert_one_error(yaml, "from", &["streams[2]", "cycle", "a -> b -> a"]);
}

#[test]
fn malformed_yaml() {
    let yaml = "\
name: t
spouts:
  - id: s
     className: RandomSentenceSpout  # <-
";
    assert_one_error(yaml, ":", &["mapping values are not allowed"]);
}

#[test]
fn unclosed_flow_sequence_names_where_it_opened() {
    let yaml = "\
name: t
spouts:
  - id: s
    className: RandomSentenceSpout
    constructorArgs: [1, 2
bolts: []  # <-
";
    assert_one_error(yaml, ":", &["flow sequence", "line 5"]);
}

#[test]
fn unknown_grouping_type() {
    let yaml = format!(
        "{HEAD}  - from: sentences
    to: split
    grouping:
      type: ROUND_ROBIN  # <-
"
    );
    assert_one_error(
        &yaml,
        "ROUND_ROBIN",
        &[
            "streams[0].grouping.type",
            "unknown grouping type 'ROUND_ROBIN'",
            "SHUFFLE",
            "PARTIAL_KEY",
        ],
    );
}

#[test]
fn lower_case_grouping_type_gets_a_hint() {
    let yaml = format!(
        "{HEAD}  - from: sentences
    to: split
    grouping: {{type: shuffle}}  # <-
"
    );
    assert_one_error(&yaml, "shuffle", &["upper case: 'SHUFFLE'"]);
}

#[test]
fn line_file_spout_without_constructor_args() {
    // No `constructorArgs` key: the error points at the component itself.
    let yaml = "\
name: t
spouts:
  - id: s  # <-
    className: LineFileSpout
";
    assert_one_error(
        yaml,
        "id",
        &[
            "spouts[0].constructorArgs",
            "cannot create 's' (LineFileSpout)",
            "constructorArgs[0]",
            "missing",
        ],
    );
}

#[test]
fn line_file_spout_with_a_number_for_the_path() {
    let yaml = "\
name: t
spouts:
  - id: s
    className: LineFileSpout
    constructorArgs: [42]  # <-
";
    assert_one_error(
        yaml,
        "constructorArgs",
        &["cannot create 's' (LineFileSpout)", "got 42"],
    );
}

#[test]
fn wrong_config_value_type() {
    let yaml = "\
name: t
config:
  topology.workers: two  # <-
spouts:
  - id: s
    className: RandomSentenceSpout
";
    assert_one_error(
        yaml,
        "two",
        &["config.topology.workers", "expected an integer >= 1", "two"],
    );
}

#[test]
fn huge_config_value_is_refused_naming_the_key() {
    // Before the bound this validated, and `squall local` then panicked with "overflow
    // when adding duration to instant".
    let yaml = "\
name: t
config:
  topology.message.timeout.secs: 9223372036854775807  # <-
spouts:
  - id: s
    className: RandomSentenceSpout
";
    assert_one_error(
        yaml,
        "9223372036854775807",
        &[
            "config.topology.message.timeout.secs",
            "expected at most 31536000",
        ],
    );
    let yaml = "\
name: t
spouts:
  - id: s
    className: RandomSentenceSpout
    config:
      topology.executor.receive.buffer.size: 9223372036854775807  # <-
";
    assert_one_error(
        yaml,
        "9223372036854775807",
        &["topology.executor.receive.buffer.size", "expected at most"],
    );
    let yaml = "\
name: t
config:
  topology.stats.sample.rate: .inf  # <-
spouts:
  - id: s
    className: RandomSentenceSpout
";
    assert_one_error(
        yaml,
        ".inf",
        &[
            "config.topology.stats.sample.rate",
            "expected a number in (0, 1]",
        ],
    );
}

#[test]
fn unknown_component_key() {
    let yaml = "\
name: t
spouts:
  - id: s
    className: RandomSentenceSpout
    paralelism: 2  # <-
";
    assert_one_error(
        yaml,
        "paralelism",
        &["unknown field `paralelism`", "`parallelism`"],
    );
}

#[test]
fn valid_file_exits_zero() {
    let yaml = format!(
        "{HEAD}  - from: sentences
    to: split
    grouping: {{type: LOCAL_OR_SHUFFLE}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: [word]}}
"
    );
    let (run, file, _dir) = validate(&yaml);
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
    assert!(run.stderr.is_empty(), "stderr:\n{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("{}: topology 't' is valid", file.display())),
        "stdout:\n{}",
        run.stdout
    );
}

#[test]
fn every_error_in_a_file_is_reported_at_once() {
    let yaml = "\
name: t
spouts:
  - id: s
    className: RandomSentenceSpout
    parallelism: 0  # <-
bolts:
  - id: split
    className: SplitBolt  # <-
streams:
  - from: s
    to: nosuch  # <-
    grouping: {type: SHUFFLE}
";
    let (run, file, _dir) = validate(yaml);
    assert_eq!(run.code, Some(1), "stderr:\n{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "expected 3 errors, got:\n{}", run.stderr);
    let expected = [
        (marked(yaml, 0, "0"), "parallelism must be at least 1"),
        (
            marked(yaml, 1, "SplitBolt"),
            "unknown bolt class 'SplitBolt'",
        ),
        (marked(yaml, 2, "nosuch"), "unknown component 'nosuch'"),
    ];
    for (got, ((line, col), words)) in lines.iter().zip(expected) {
        let at = format!("{}:{line}:{col}: ", file.display());
        assert!(got.starts_with(&at), "expected {at}..., got {got}");
        assert!(got.contains(words), "expected {words:?} in {got}");
    }
}

#[test]
fn every_shipped_topology_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "no topologies found in {}", dir.display());
    // What `${ENV-...}` in the shipped files (kafka-wordcount.yaml) asks for.
    let env = [
        ("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        ("KAFKA_TOPIC", "lines"),
        ("KAFKA_GROUP", "wordcount"),
        ("SINK_FILE", "/tmp/counts.jsonl"),
    ];
    for f in &files {
        let path = f.to_str().expect("utf-8 path");
        let run = squall_env(&["validate", path], &env, TIMEOUT);
        assert_eq!(
            run.code,
            Some(0),
            "{} does not validate:\n{}",
            f.display(),
            run.stderr
        );
        assert!(
            run.stdout.contains("is valid"),
            "{}: {}",
            f.display(),
            run.stdout
        );
    }
}
