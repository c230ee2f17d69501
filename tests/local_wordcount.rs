//! End to end through the real `squall` binary: a file word count that must end by itself
//! with exact counts, an unbounded topology stopped by `--duration`, and `ConstSpout`'s
//! payload argument.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{squall, squall_file};
use serde_json::Value as Json;

const TIMEOUT: Duration = Duration::from_secs(90);

const VOCABULARY: [&str; 24] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray",
];

/// A tiny deterministic generator (Knuth's MMIX LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Write `lines` lines of 1..=12 random words; returns the exact count per word.
fn write_input(path: &Path, lines: usize, seed: u64) -> BTreeMap<String, u64> {
    let mut rng = Lcg(seed);
    let mut counts = BTreeMap::new();
    let mut text = String::new();
    for _ in 0..lines {
        let n = 1 + rng.below(12);
        let words: Vec<&str> = (0..n)
            .map(|_| VOCABULARY[rng.below(VOCABULARY.len())])
            .collect();
        for w in &words {
            *counts.entry(w.to_string()).or_insert(0) += 1;
        }
        // Vary the separators: SplitSentenceBolt splits on any ASCII whitespace.
        text.push_str(&words.join(if rng.below(4) == 0 { "  \t" } else { " " }));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
    counts
}

/// The single JSON object `squall local --json` printed.
fn report(stdout: &str) -> Json {
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one line on stdout, got:\n{stdout}"
    );
    let v: Json = serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"));
    assert!(v.is_object(), "stdout is not a JSON object: {v}");
    v
}

/// `components.<id>.<field>` as an integer, with a clear failure.
fn num(report: &Json, id: &str, field: &str) -> u64 {
    report["components"][id][field]
        .as_u64()
        .unwrap_or_else(|| panic!("components.{id}.{field} missing or not a number in {report}"))
}

#[test]
fn file_wordcount_ends_by_itself_with_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    let sink = dir.path().join("counts.jsonl");
    let lines = 3000;
    let expected = write_input(&input, lines, 0x5eed_1234);
    let total: u64 = expected.values().sum();

    let yaml = format!(
        "\
name: file-wordcount
spouts:
  - id: lines
    className: LineFileSpout
    constructorArgs: [{input}]
bolts:
  - id: split
    className: SplitSentenceBolt
    parallelism: 2
  - id: count
    className: WordCountBolt
    parallelism: 3
  - id: sink
    className: FileSinkBolt
    constructorArgs: [{sink}]
streams:
  - from: lines
    to: split
    grouping:
      type: SHUFFLE
  - from: split
    to: count
    grouping:
      type: FIELDS
      args: [word]
  - from: count
    to: sink
    grouping:
      type: SHUFFLE
",
        input = serde_json::to_string(input.to_str().unwrap()).unwrap(),
        sink = serde_json::to_string(sink.to_str().unwrap()).unwrap(),
    );
    let topo = dir.path().join("wordcount.yaml");
    std::fs::write(&topo, yaml).unwrap();

    let run = squall_file(&["local", "--json"], &topo, TIMEOUT);
    assert_eq!(run.code, Some(0), "squall local failed:\n{}", run.stderr);
    let r = report(&run.stdout);

    assert_eq!(r["topology"], "file-wordcount", "{r}");
    assert_eq!(r["completed"], true, "{r}");
    for (id, kind, tasks) in [
        ("lines", "spout", 1),
        ("split", "bolt", 2),
        ("count", "bolt", 3),
        ("sink", "bolt", 1),
    ] {
        assert_eq!(r["components"][id]["kind"], kind, "{id}: {r}");
        assert_eq!(num(&r, id, "tasks"), tasks, "{id}: {r}");
        for field in ["emitted", "executed", "acked", "failed"] {
            num(&r, id, field);
        }
        assert_eq!(num(&r, id, "failed"), 0, "{id}: {r}");
        assert_eq!(num(&r, id, "errors"), 0, "{id}: {r}");
    }
    assert_eq!(num(&r, "lines", "emitted"), lines as u64, "{r}");
    assert_eq!(num(&r, "split", "executed"), lines as u64, "{r}");
    assert_eq!(num(&r, "split", "emitted"), total, "{r}");
    assert_eq!(num(&r, "count", "executed"), total, "{r}");
    assert_eq!(num(&r, "count", "emitted"), total, "{r}");
    assert_eq!(num(&r, "sink", "executed"), total, "{r}");

    let out = std::fs::read_to_string(&sink).unwrap();
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut sink_lines = 0u64;
    for line in out.lines() {
        sink_lines += 1;
        let v: Json = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("sink line {sink_lines} is not JSON ({e}): {line:?}"));
        let (Some(word), Some(count)) = (v[0].as_str(), v[1].as_u64()) else {
            panic!("sink line {sink_lines} is not [word, count]: {line:?}");
        };
        seen.entry(word.to_string()).or_default().push(count);
    }
    assert_eq!(sink_lines, total, "sink lines vs total words");
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "words in the sink"
    );
    for (word, want) in &expected {
        let mut counts = seen[word].clone();
        assert_eq!(counts.iter().max(), Some(want), "final count of '{word}'");
        // One task counts each word (fields grouping): it emits 1, 2, ..., n exactly once.
        counts.sort_unstable();
        assert!(
            counts.iter().copied().eq(1..=*want),
            "counts of '{word}' are not 1..={want}: {counts:?}"
        );
    }
}

#[test]
fn unbounded_wordcount_stops_after_duration_with_one_json_object() {
    let topo = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/wordcount.yaml");
    let run = squall(
        &[
            "local",
            topo.to_str().unwrap(),
            "--duration",
            "1s",
            "--json",
        ],
        TIMEOUT,
    );
    assert_eq!(run.code, Some(0), "squall local failed:\n{}", run.stderr);
    let r = report(&run.stdout);
    assert_eq!(r["topology"], "wordcount", "{r}");
    assert_eq!(
        r["completed"], false,
        "an unbounded spout never completes: {r}"
    );
    let elapsed = r["elapsed_secs"].as_f64().expect("elapsed_secs");
    assert!(
        (1.0..3.0).contains(&elapsed),
        "elapsed_secs {elapsed} is not about the 1s duration"
    );
    assert!(
        run.wall >= Duration::from_secs(1) && run.wall < Duration::from_secs(20),
        "process ran for {:?}, expected about 1s plus start and stop",
        run.wall
    );
    assert!(num(&r, "sentences", "emitted") > 0, "{r}");
    assert!(num(&r, "split", "executed") > 0, "{r}");
    assert!(num(&r, "count", "executed") > 0, "{r}");
    assert_eq!(r["components"]["count"]["kind"], "bolt", "{r}");
    assert_eq!(num(&r, "count", "tasks"), 2, "{r}");
}

/// `ConstSpout`'s optional third argument replaces its 100-byte payload (storm-perf's
/// shapes emit "some data"); without it the spout emits the default one.
#[test]
fn const_spout_emits_the_payload_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        ("[5, 0, \"some data\"]", "some data"),
        // The start of `ConstSpout`'s 100-byte default.
        ("[5, 0]", "0123456789abcdefghijklmnopqrstuvwxyz"),
    ] {
        let sink = dir.path().join("out.jsonl");
        let _ = std::fs::remove_file(&sink);
        let yaml = format!(
            "name: const-payload\nspouts:\n  - id: spout\n    className: ConstSpout\n    \
             constructorArgs: {args}\nbolts:\n  - id: sink\n    className: FileSinkBolt\n    \
             constructorArgs: [{sink}]\nstreams:\n  - from: spout\n    to: sink\n    \
             grouping: {{type: SHUFFLE}}\n",
            sink = serde_json::to_string(sink.to_str().unwrap()).unwrap(),
        );
        let topo = dir.path().join("const.yaml");
        std::fs::write(&topo, yaml).unwrap();
        let run = squall_file(&["local", "--json"], &topo, TIMEOUT);
        assert_eq!(run.code, Some(0), "squall local failed:\n{}", run.stderr);
        let out = std::fs::read_to_string(&sink).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{args}: {out}");
        for l in lines {
            assert!(l.contains(expected), "{args}: {l}");
        }
    }
}
