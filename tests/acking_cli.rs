//! Acking through the real binary: a file word count reports every line acked with a
//! complete latency, and with a flaky bolt (failures and drops, 1 s message timeout) it
//! still ends by itself with at-least-once counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::squall_file;
use serde_json::Value as Json;

const TIMEOUT: Duration = Duration::from_secs(60);
const LINES: usize = 100;

const VOCABULARY: [&str; 12] = [
    "amber", "birch", "cedar", "dune", "ember", "fjord", "grove", "heath", "inlet", "jade",
    "knoll", "loch",
];

/// Write `LINES` lines of 1..=10 words from a fixed pseudo-random sequence; returns the
/// exact count per word.
fn write_input(path: &Path) -> BTreeMap<String, u64> {
    let mut state = 0x5eed_u64;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) % n as u64) as usize
    };
    let mut counts = BTreeMap::new();
    let mut text = String::new();
    for _ in 0..LINES {
        let words: Vec<&str> = (0..1 + next(10))
            .map(|_| VOCABULARY[next(VOCABULARY.len())])
            .collect();
        for w in &words {
            *counts.entry(w.to_string()).or_insert(0) += 1;
        }
        text.push_str(&words.join(" "));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
    counts
}

/// Run `squall local FILE --json` on `yaml` to completion; returns the report.
fn run_json(dir: &Path, yaml: &str) -> Json {
    let topo = dir.join("topology.yaml");
    std::fs::write(&topo, yaml).unwrap();
    let run = squall_file(&["local", "--json"], &topo, TIMEOUT);
    assert_eq!(
        run.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let report: Json = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{}", run.stdout));
    assert_eq!(
        report["completed"],
        Json::Bool(true),
        "the run must end by itself: {report}"
    );
    report
}

fn num(report: &Json, id: &str, field: &str) -> u64 {
    report["components"][id][field]
        .as_u64()
        .unwrap_or_else(|| panic!("components.{id}.{field} missing in {report}"))
}

fn quoted(p: &Path) -> String {
    serde_json::to_string(p.to_str().unwrap()).unwrap()
}

#[test]
fn wordcount_reports_every_line_acked_with_complete_latency() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    let exact = write_input(&input);
    let words: u64 = exact.values().sum();
    let yaml = format!(
        "
name: wordcount-acked
spouts: [{{id: reader, className: LineFileSpout, constructorArgs: [{input}]}}]
bolts:
  - {{id: split, className: SplitSentenceBolt}}
  - {{id: count, className: WordCountBolt, parallelism: 2}}
streams:
  - {{from: reader, to: split, grouping: {{type: SHUFFLE}}}}
  - {{from: split, to: count, grouping: {{type: FIELDS, args: [word]}}}}
",
        input = quoted(&input)
    );
    let r = run_json(dir.path(), &yaml);
    assert_eq!(num(&r, "reader", "emitted"), LINES as u64, "{r}");
    assert_eq!(num(&r, "reader", "acked"), LINES as u64, "{r}");
    assert_eq!(num(&r, "reader", "failed"), 0, "{r}");
    assert_eq!(num(&r, "reader", "replayed"), 0, "{r}");
    assert_eq!(num(&r, "count", "executed"), words, "{r}");
    let lat = &r["components"]["reader"]["complete_latency_ms"];
    let get = |k: &str| {
        lat[k]
            .as_f64()
            .unwrap_or_else(|| panic!("complete_latency_ms.{k} missing: {r}"))
    };
    let (p50, p99, max) = (get("p50"), get("p99"), get("max"));
    assert!(
        0.0 <= p50 && p50 <= p99 && p99 <= max && max < TIMEOUT.as_secs_f64() * 1e3,
        "{lat}"
    );
    assert!(
        r["components"]["split"]
            .get("complete_latency_ms")
            .is_none(),
        "only spouts have a complete latency: {r}"
    );
}

#[test]
fn flaky_wordcount_ends_by_itself_with_at_least_once_counts() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    let output = dir.path().join("counts.jsonl");
    let exact = write_input(&input);
    let yaml = format!(
        "
name: wordcount-flaky
config: {{topology.message.timeout.secs: 1}}
spouts: [{{id: reader, className: LineFileSpout, constructorArgs: [{input}]}}]
bolts:
  - {{id: flaky, className: FlakyBolt, constructorArgs: [0.2, 0.1, [line]]}}
  - {{id: split, className: SplitSentenceBolt}}
  - {{id: count, className: WordCountBolt, parallelism: 2}}
  - {{id: sink, className: FileSinkBolt, constructorArgs: [{output}]}}
streams:
  - {{from: reader, to: flaky, grouping: {{type: SHUFFLE}}}}
  - {{from: flaky, to: split, grouping: {{type: SHUFFLE}}}}
  - {{from: split, to: count, grouping: {{type: FIELDS, args: [word]}}}}
  - {{from: count, to: sink, grouping: {{type: GLOBAL}}}}
",
        input = quoted(&input),
        output = quoted(&output)
    );
    let r = run_json(dir.path(), &yaml);
    let (failed, replayed) = (num(&r, "reader", "failed"), num(&r, "reader", "replayed"));
    assert!(
        failed >= 1 && replayed >= 1,
        "30% of first attempts fail or drop: {r}"
    );
    assert_eq!(failed, replayed, "every failed line was emitted again: {r}");
    assert_eq!(num(&r, "reader", "acked"), LINES as u64, "{r}");
    assert_eq!(num(&r, "reader", "emitted"), LINES as u64 + replayed, "{r}");
    let flaky = &r["components"]["flaky"];
    assert!(flaky["failed"].as_u64().unwrap() >= 1, "{r}");

    // The sink has `[word, count]` per update; the last (largest) count of each word is
    // at least its exact count: replays may count a line twice, never lose one.
    let text = std::fs::read_to_string(&output).unwrap();
    let mut max: BTreeMap<String, u64> = BTreeMap::new();
    for line in text.lines() {
        let v: Json = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("sink line {line:?} is not JSON: {e}"));
        let (w, c) = (v[0].as_str().unwrap(), v[1].as_u64().unwrap());
        let m = max.entry(w.to_string()).or_insert(0);
        *m = (*m).max(c);
    }
    assert_eq!(
        max.keys().collect::<Vec<_>>(),
        exact.keys().collect::<Vec<_>>(),
        "words in the sink"
    );
    for (w, want) in &exact {
        assert!(
            max[w] >= *want,
            "{w}: counted {} < exact {want} (a line was lost)",
            max[w]
        );
    }
}
