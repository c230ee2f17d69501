//! Kafka → Trident word count (`KafkaTridentWordCount`: the opaque Trident Kafka spout
//! and an opaque redb state) on a real cluster (nimbus, two supervisors, two workers)
//! against a real broker (tansu): 20% of batch attempts fail and every worker is
//! killed with SIGKILL mid-run; the final counts equal the words produced exactly.
#![cfg(feature = "kafka")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::collections::BTreeMap;
use std::path::Path;

use cluster_common::*;
use squall_kafka::testing::{Broker, log_ends, produce};
use squall_kafka::trident::ranges::PartitionRecord;

const PARTITIONS: i32 = 3;
const WORDS: [&str; 9] = [
    "kafka", "storm", "trident", "opaque", "batch", "spout", "state", "txid", "worker",
];

/// `n` lines starting at line `from`, and their word counts.
fn lines(from: usize, n: usize) -> (Vec<String>, BTreeMap<String, u64>) {
    let mut counts = BTreeMap::new();
    let lines = (from..from + n)
        .map(|i| {
            let words: Vec<&str> = (0..(1 + i % 6))
                .map(|j| WORDS[(i * 5 + j * 7 + i / 11) % WORDS.len()])
                .collect();
            for w in &words {
                *counts.entry(w.to_string()).or_insert(0) += 1;
            }
            words.join(" ")
        })
        .collect();
    (lines, counts)
}

/// Produce `lines` round robin over the partitions; returns the log ends.
fn produce_lines(broker: &Broker, lines: &[String]) -> BTreeMap<i32, i64> {
    let recs: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (Some((i % PARTITIONS as usize) as i32), None, l.as_bytes()))
        .collect();
    log_ends(&produce(&broker.bootstrap(), "lines", &recs).unwrap())
}

fn yaml(bootstrap: &str, store: &Path) -> String {
    format!(
        "name: ktw\ntopologySource:\n  className: KafkaTridentWordCount\n  constructorArgs:\n    \
         - bootstrap.servers: \"{bootstrap}\"\n      topics: [lines]\n      \
         first.poll.offset.strategy: EARLIEST\n      max.batch.size: 25\n    \
         - {:?}\n    - 0.2\nconfig:\n  topology.workers: 2\n  topology.max.spout.pending: 2\n  \
         topology.message.timeout.secs: 5\n  topology.trident.batch.emit.interval.millis: 50\n  \
         squall.trident.wordcount.parallelism: 2\n",
        store.display().to_string()
    )
}

/// The committed txid and, per partition, the offset its committed batches reach.
fn progress(url: &str) -> (u64, BTreeMap<i32, i64>) {
    let committed = trident_meta(url, "ktw", "coordinator").unwrap_or_default()["committed"]
        .as_u64()
        .unwrap_or(0);
    let reached = (0..PARTITIONS)
        .filter_map(|p| {
            let rec: PartitionRecord = serde_json::from_value(trident_meta(
                url,
                "ktw",
                &format!("spouts/lines/partitions/lines/{p}"),
            )?)
            .ok()?;
            Some((p, rec.committed_end(committed)?))
        })
        .collect();
    (committed, reached)
}

fn reached_all(reached: &BTreeMap<i32, i64>, ends: &BTreeMap<i32, i64>) -> bool {
    ends.iter()
        .all(|(p, e)| reached.get(p).is_some_and(|r| r >= e))
}

#[test]
fn kafka_trident_wordcount_is_exact_with_failed_batches_and_workers_killed() {
    let broker = Broker::start().unwrap();
    broker.create_topic("lines", PARTITIONS).unwrap();
    let (first, mut expected) = lines(0, 1500);
    let ends_first = produce_lines(&broker, &first);

    let c = cluster("");
    let store = c.root.join("counts.redb");
    submit(&c, &yaml(&broker.bootstrap(), &store));
    let st = wait_running(&c, "ktw", 2);
    wait_for(LONG, "a few committed batches", || {
        (progress(&c.url).0 >= 3).then_some(())
    });
    let (before, reached) = progress(&c.url);
    assert!(
        !reached_all(&reached, &ends_first),
        "everything was read before the kill; produce more lines"
    );
    // Both workers: whichever holds the master coordinator, the emitters, the state.
    for victim in worker_pids(&st) {
        kill_worker(victim);
    }
    // More records while the workers restart: read by the restarted emitters.
    let (second, counts) = lines(1500, 600);
    for (w, n) in counts {
        *expected.entry(w).or_insert(0) += n;
    }
    let ends = produce_lines(&broker, &second);
    let done = wait_for(LONG, "every record committed after the restarts", || {
        let (committed, reached) = progress(&c.url);
        (committed > before && reached_all(&reached, &ends)).then_some(committed)
    });
    assert!(done > before);
    let got = kill_and_dump(&c, "ktw", &store);
    assert_eq!(got, expected, "exact counts after kill -9 of the workers");
    assert_eq!(
        trident_meta(&c.url, "ktw", "spouts/lines/partitions/lines/0"),
        None,
        "the partition records went with the topology"
    );
}
