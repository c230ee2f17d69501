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
