//! The example `topologies/kafka-wordcount.yaml` through the real `squall` binary and a
//! real broker (tansu): exact word counts in the sink, and the group's offsets committed
//! at the log ends once the run is stopped.
#![cfg(feature = "kafka")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use squall_kafka::testing::{
    Broker, committed_offsets, log_ends, produce, round_robin, word_lines,
};

const WORDS: [&str; 6] = ["storm", "kafka", "squall", "spout", "bolt", "tuple"];

/// The last count the sink wrote for each word.
fn sink_counts(path: &Path) -> BTreeMap<String, i64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        if let Ok(serde_json::Value::Array(v)) = serde_json::from_str(line)
            && let (Some(w), Some(n)) = (
                v.first().and_then(|w| w.as_str()),
                v.get(1).and_then(|n| n.as_i64()),
            )
        {
            counts.insert(w.to_string(), n);
        }
    }
    counts
}

#[test]
fn kafka_wordcount_example_counts_exactly_and_commits_to_the_end() {
    let broker = Broker::start().unwrap();
    broker.create_topic("lines", 3).unwrap();
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    let lines = word_lines(0..60, &WORDS, 5, 7, &mut expected);
    let records = round_robin(&lines, 3);
    let ends = log_ends(&produce(&broker.bootstrap(), "lines", &records).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("counts.jsonl");
    let yaml = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/kafka-wordcount.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_squall"))
        .arg("local")
        .arg(&yaml)
        .env("KAFKA_BOOTSTRAP", broker.bootstrap())
        .env("KAFKA_TOPIC", "lines")
        .env("KAFKA_GROUP", "wc")
        .env("SINK_FILE", &sink)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink_counts(&sink) != expected {
        if Instant::now() >= deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "counts {:?}, expected {expected:?}; stderr:\n{}",
                sink_counts(&sink),
                std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Stop it as Ctrl-C would: the spout commits on close.
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("squall local did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let committed = committed_offsets(&broker.bootstrap(), "wc", "lines", 3).unwrap();
    for (p, end) in ends {
        assert_eq!(
            committed.get(&p).map(|c| c.0),
            Some(end),
            "partition {p}: {committed:?}"
        );
    }
}

/// How often each word is in a sink of `[word]` lines.
fn sink_word_totals(path: &Path) -> BTreeMap<String, i64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        if let Ok(serde_json::Value::Array(v)) = serde_json::from_str(line)
            && let Some(w) = v.first().and_then(|w| w.as_str())
        {
            *counts.entry(w.to_string()).or_default() += 1;
        }
    }
    counts
}

/// Storm's failure test: a `FlakyBolt` failing 5 % of the records between the spout and
/// the split; every word is counted at least its exact number of times, and the group's
/// commits reach the log ends (taken from the produce acknowledgements).
#[test]
fn word_count_through_a_flaky_bolt_counts_every_word_and_commits_to_the_end() {
    let broker = Broker::start().unwrap();
    broker.create_topic("flaky", 3).unwrap();
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    let lines = word_lines(0..300, &WORDS, 4, 5, &mut expected);
    let records = round_robin(&lines, 3);
    let ends = log_ends(&produce(&broker.bootstrap(), "flaky", &records).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("words.jsonl");
    let yaml = dir.path().join("flaky.yaml");
    std::fs::write(
        &yaml,
        format!(
            r#"name: kafka-flaky
config:
  topology.message.timeout.secs: 5
  topology.max.spout.pending: 500
spouts:
  - id: lines
    className: KafkaSpout
    parallelism: 2
    constructorArgs:
      - bootstrap.servers: "{bootstrap}"
        topics: [flaky]
        group.id: flaky
        first.poll.offset.strategy: EARLIEST
        record.translator: VALUE
        offset.commit.period.ms: 200
        retry.max.retries: -1
bolts:
  - id: flaky
    className: FlakyBolt
    parallelism: 2
    constructorArgs: [0.05, 0.0, ["value"]]
  - id: split
    className: SplitSentenceBolt
    parallelism: 2
  - id: sink
    className: FileSinkBolt
    constructorArgs: ["{sink}"]
streams:
  - {{from: lines, to: flaky, grouping: {{type: SHUFFLE}}}}
  - {{from: flaky, to: split, grouping: {{type: SHUFFLE}}}}
  - {{from: split, to: sink, grouping: {{type: SHUFFLE}}}}
"#,
            bootstrap = broker.bootstrap(),
            sink = sink.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_squall"))
        .arg("local")
        .arg(&yaml)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts = sink_word_totals(&sink);
        let all_counted = expected
            .iter()
            .all(|(w, n)| counts.get(w).is_some_and(|c| c >= n));
        let committed =
            committed_offsets(&broker.bootstrap(), "flaky", "flaky", 3).unwrap_or_default();
        let at_end = ends
            .iter()
            .all(|(p, e)| committed.get(p).map(|c| c.0) == Some(*e));
        if all_counted && at_end {
            break;
        }
        if Instant::now() >= deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "counts {counts:?} (expected at least {expected:?}), committed {committed:?} \
                 (log ends {ends:?}); stderr:\n{}",
                std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Wait (bounded) until `f` holds; panics with `what` and the run's stderr.
fn wait_until(what: &str, stderr: &Path, child: &mut std::process::Child, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        if Instant::now() >= deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}; stderr:\n{}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Through the CLI: a misspelt spout key is refused naming the key and the spout; a
/// run started while the broker is unreachable names the broker, then the missing
/// topic once the broker is back, and reads the topic once it exists.
#[test]
fn bad_keys_unreachable_brokers_and_missing_topics_are_named_and_the_run_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("words.jsonl");
    let yaml_of = |bootstrap: &str, key: &str| {
        format!(
            r#"name: kafka-errors
spouts:
  - id: lines
    className: KafkaSpout
    constructorArgs:
      - bootstrap.servers: "{bootstrap}"
        topics: [late]
        group.id: errors
        record.translator: VALUE
        {key}: 200
        partition.refresh.period.ms: 100
bolts:
  - id: split
    className: SplitSentenceBolt
  - id: sink
    className: FileSinkBolt
    constructorArgs: ["{sink}"]
streams:
  - {{from: lines, to: split, grouping: {{type: SHUFFLE}}}}
  - {{from: split, to: sink, grouping: {{type: SHUFFLE}}}}
"#,
            sink = sink.display()
        )
    };
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, yaml_of("127.0.0.1:9", "offset.commit.ms")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_squall"))
        .arg("validate")
        .arg(&bad)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("offset.commit.ms") && text.contains("lines"),
        "{text}"
    );

    let (broker, proxy) = Broker::start_with_proxy().unwrap();
    proxy.cut();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, yaml_of(&proxy.address(), "offset.commit.period.ms")).unwrap();
    let stderr = dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_squall"))
        .arg("local")
        .arg(&good)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
    wait_until(
        "no error naming the unreachable broker",
        &stderr,
        &mut child,
        || log().contains(&proxy.address()),
    );
    proxy.restore();
    wait_until(
        "no warning naming the missing topic",
        &stderr,
        &mut child,
        || log().contains("topic late"),
    );
    broker.create_topic("late", 1).unwrap();
    let lines = ["storm kafka", "kafka squall", "storm"];
    let records: Vec<_> = lines
        .iter()
        .map(|l| (Some(0), None, l.as_bytes()))
        .collect();
    produce(&broker.bootstrap(), "late", &records).unwrap();
    let expected: BTreeMap<String, i64> = [("kafka", 2), ("squall", 1), ("storm", 2)]
        .into_iter()
        .map(|(w, n)| (w.to_string(), n))
        .collect();
    wait_until(
        "the records were not counted after the broker and topic appeared",
        &stderr,
        &mut child,
        || sink_word_totals(&sink) == expected,
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Storm's own Flux file for the Kafka spout (`tests/flux/kafka_spout.yaml`:
/// `KafkaSpoutConfig$Builder` → `KafkaSpoutConfig` → `KafkaSpout`, Flux's
/// `OnlyValueRecordTranslator`, EARLIEST, a Python shell bolt splitting sentences, Storm's
/// `TestWordCounter` and `LogInfoBolt`), unchanged but for the broker's address and the
/// topic: every record is read, every word reaches the log bolt, and the group (the
/// topology's name, as no `group.id` is set) is committed at the log end on Ctrl-C.
#[test]
fn storms_flux_kafka_spout_file_runs_against_the_broker() {
    let broker = Broker::start().unwrap();
    broker.create_topic("sentences", 1).unwrap();
    let lines: Vec<String> = (0..20)
        .map(|i| {
            (0..=(i % 4))
                .map(|j| WORDS[(i + j) % WORDS.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let words: usize = lines.iter().map(|l| l.split(' ').count()).sum();
    let records: Vec<_> = lines.iter().map(|l| (None, None, l.as_bytes())).collect();
    let ends = log_ends(&produce(&broker.bootstrap(), "sentences", &records).unwrap());

    let flux = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flux");
    let dir = tempfile::tempdir().unwrap();
    let yaml = std::fs::read_to_string(flux.join("kafka_spout.yaml"))
        .unwrap()
        .replace("localhost:9092", &broker.bootstrap())
        .replace("myKafkaTopic", "sentences");
    let file = dir.path().join("kafka_spout.yaml");
    std::fs::write(&file, yaml).unwrap();
    std::fs::copy(
        flux.join("splitsentence.py"),
        dir.path().join("splitsentence.py"),
    )
    .unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(["local", file.to_str().unwrap(), "--json"])
        .env("SQUALL_LOG", "info")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let logged = || {
        std::fs::read_to_string(&err)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("LogInfoBolt"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while logged() < words {
        if Instant::now() >= deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} of {words} words logged; stderr:\n{}",
                logged(),
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("squall local did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let spout = &report["components"]["kafka-spout"];
    assert_eq!(
        spout["emitted"].as_u64(),
        Some(lines.len() as u64),
        "{report}"
    );
    assert_eq!(logged(), words);
    let committed =
        committed_offsets(&broker.bootstrap(), "kafka-topology", "sentences", 1).unwrap();
    assert_eq!(committed.get(&0).map(|c| c.0), ends.get(&0).copied());
}
