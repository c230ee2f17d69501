//! What the spout needs from the client, checked against the real broker (tansu):
//! produce, consume with manual assignment, commit offsets with metadata without
//! joining the group, read them back, list partitions and watermarks, pause, seek, and
//! a cut connection through the proxy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use squall_kafka::testing::{Broker, committed_offsets, log_ends, produce};

fn consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("log_level", "3")
        .create()
        .unwrap()
}

/// Poll until `n` records arrived (bounded); returns (partition, offset, value).
fn poll_n(c: &BaseConsumer, n: usize) -> Vec<(i32, i64, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records after 30 s",
            got.len()
        );
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string();
            got.push((m.partition(), m.offset(), v));
        }
    }
    got
}

#[test]
fn assign_consume_commit_with_metadata_and_read_back() {
    let broker = Broker::start().unwrap();
    broker.create_topic("probe", 3).unwrap();
    let values: Vec<String> = (0..30).map(|i| format!("v{i}")).collect();
    let records: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (Some((i % 3) as i32), None, v.as_bytes()))
        .collect();
    let delivered = produce(&broker.bootstrap(), "probe", &records).unwrap();
    let ends = log_ends(&delivered);
    assert_eq!(ends, BTreeMap::from([(0, 10), (1, 10), (2, 10)]));

    let c = consumer(&broker.bootstrap(), "g1");
    let md = c
        .fetch_metadata(Some("probe"), Duration::from_secs(5))
        .unwrap();
    assert_eq!(md.topics()[0].partitions().len(), 3);
    let (low, _high) = c
        .fetch_watermarks("probe", 1, Duration::from_secs(5))
        .unwrap();
    assert_eq!(low, 0);

    // Manual assignment from explicit offsets.
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset("probe", p, Offset::Offset(2))
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let got = poll_n(&c, 24);
    assert!(got.iter().all(|(_, o, _)| *o >= 2));

    // Commit with metadata, without joining the group (no subscribe).
    let mut commit = TopicPartitionList::new();
    for p in 0..3 {
        commit
            .add_partition_offset("probe", p, Offset::Offset(7 + i64::from(p)))
            .unwrap();
    }
    for mut e in commit.elements() {
        e.set_metadata(r#"{"topologyId":"t-1-0","taskId":3}"#);
    }
    c.commit(&commit, CommitMode::Sync).unwrap();
    let back = committed_offsets(&broker.bootstrap(), "g1", "probe", 3).unwrap();
    assert_eq!(back.len(), 3, "{back:?}");
    for p in 0..3 {
        assert_eq!(back[&p].0, 7 + i64::from(p));
        // tansu 0.6.0 stores the metadata but answers OffsetFetch with "" (the spout
        // falls back to a marker group then; see `squall_kafka::spout::ledger`).
        let meta = &back[&p].1;
        assert!(
            meta == r#"{"topologyId":"t-1-0","taskId":3}"# || meta.is_empty(),
            "{meta}"
        );
    }
    // Another group has none.
    assert!(
        committed_offsets(&broker.bootstrap(), "other", "probe", 3)
            .unwrap()
            .is_empty()
    );

    // Seek back and pause/resume.
    c.seek("probe", 0, Offset::Offset(0), Duration::from_secs(5))
        .unwrap();
    let mut paused = TopicPartitionList::new();
    paused.add_partition("probe", 1);
    paused.add_partition("probe", 2);
    c.pause(&paused).unwrap();
    let again = poll_n(&c, 10);
    assert!(
        again.iter().all(|(p, _, _)| *p == 0),
        "paused partitions delivered: {again:?}"
    );
    assert_eq!(again[0].1, 0);
}
