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
use squall_kafka::testing::{Broker, committed_offsets, log_ends, produce};

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
    let lines: Vec<String> = (0..60)
        .map(|i| {
            let words: Vec<&str> = (0..=(i % 5))
                .map(|j| WORDS[(i + j * 7) % WORDS.len()])
                .collect();
            for w in &words {
                *expected.entry(w.to_string()).or_default() += 1;
            }
            words.join(" ")
        })
        .collect();
    let records: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (Some((i % 3) as i32), None, l.as_bytes()))
        .collect();
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
