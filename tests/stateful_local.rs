//! Stateful word count end to end through the real `squall` binary in local mode: the
//! built-in `StatefulWordCountBolt` keeps its counts in a checkpointed key-value state
//! on the redb provider; after the run, the committed state holds the exact count of
//! every word. A stateful topology without acking is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::squall;
use squall_runtime::state::kv::KeyValueState;
use squall_runtime::state::provider::StateProvider;
use squall_runtime::state::provider::redb::RedbProvider;

const TIMEOUT: Duration = Duration::from_secs(90);

fn yaml(input: &str, state_dir: &str, ackers: &str) -> String {
    format!(
        r#"name: stateful-local
config:
  topology.acker.executors: {ackers}
  topology.state.provider: redb
  topology.state.provider.config: '{{"path": "{state_dir}"}}'
  topology.state.checkpoint.interval.ms: 100
spouts:
  - id: lines
    className: LineFileSpout
    constructorArgs: ["{input}"]
bolts:
  - id: split
    className: SplitSentenceBolt
    parallelism: 2
  - id: count
    className: org.apache.storm.flux.examples.StatefulWordCounter
    parallelism: 2
streams:
  - from: lines
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: ["word"]}}
"#
    )
}

#[test]
fn a_stateful_word_count_commits_exact_counts_to_redb() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    let words = [
        "storm", "squall", "storm", "bolt", "spout", "storm", "squall",
    ];
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    let mut text = String::new();
    for i in 0..300 {
        let line: Vec<&str> = (0..5).map(|j| words[(i * 3 + j) % words.len()]).collect();
        for w in &line {
            *want.entry(w.to_string()).or_insert(0) += 1;
        }
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    std::fs::write(&input, text).unwrap();
    let state_dir = dir.path().join("state");
    let topo = dir.path().join("stateful.yaml");
    std::fs::write(
        &topo,
        yaml(input.to_str().unwrap(), state_dir.to_str().unwrap(), "1"),
    )
    .unwrap();
    let run = squall(&["local", topo.to_str().unwrap(), "--json"], TIMEOUT);
    assert_eq!(run.code, Some(0), "squall local failed: {}", run.stderr);

    assert_eq!(
        committed_counts(&state_dir),
        want,
        "the committed counts are exact"
    );

    // The checkpoint spout's state is lost (its file deleted) while the bolts' states
    // stay, committed far past where a new spout starts (txid -1): the bolts keep their
    // counts and take the new spout's txids, instead of refusing every PREPARE.
    let mut spout_files = 0;
    for entry in std::fs::read_dir(&state_dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("%24checkpointspout"))
        {
            std::fs::remove_file(path).unwrap();
            spout_files += 1;
        }
    }
    assert_eq!(
        spout_files, 1,
        "the checkpoint spout kept its state in a file"
    );
    let run = squall(&["local", topo.to_str().unwrap(), "--json"], TIMEOUT);
    assert_eq!(
        run.code,
        Some(0),
        "squall local over states ahead of a new checkpoint spout failed: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("state was committed past the topology's checkpoint"),
        "no warning that the states were ahead: {}",
        run.stderr
    );
    let twice: BTreeMap<String, i64> = want.iter().map(|(w, n)| (w.clone(), 2 * n)).collect();
    assert_eq!(
        committed_counts(&state_dir),
        twice,
        "the second run counted on from the first"
    );
}

/// The committed counts of the count tasks, added up: every word is counted by one task
/// (fields grouping), and both tasks have some.
fn committed_counts(state_dir: &std::path::Path) -> BTreeMap<String, i64> {
    let provider = RedbProvider::new(state_dir);
    let mut got: BTreeMap<String, i64> = BTreeMap::new();
    let mut tasks_with_state = 0;
    for task in 1..=16 {
        let state: KeyValueState<String, i64> =
            KeyValueState::new(provider.open(&format!("count-{task}")).unwrap());
        let entries: Vec<(String, i64)> = state.iter().unwrap().map(|e| e.unwrap()).collect();
        if !entries.is_empty() {
            tasks_with_state += 1;
        }
        for (w, n) in entries {
            assert!(
                got.insert(w.clone(), n).is_none(),
                "{w} counted by two tasks"
            );
        }
    }
    assert_eq!(tasks_with_state, 2, "both count tasks committed state");
    got
}

#[test]
fn a_stateful_topology_without_acking_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("stateful.yaml");
    std::fs::write(&topo, yaml("/nonexistent", "/tmp/unused", "0")).unwrap();
    let run = squall(&["validate", topo.to_str().unwrap()], TIMEOUT);
    assert_ne!(
        run.code,
        Some(0),
        "validate accepted a stateful topology without acking"
    );
    assert!(
        run.stderr.contains("stateful") && run.stderr.contains("topology.acker.executors"),
        "{}",
        run.stderr
    );
}
