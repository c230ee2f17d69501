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
use squall_kafka::KafkaSpoutConfig;
use squall_kafka::spout::{Polled, RdConsumer, SpoutConsumer};
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

/// Poll the spout's consumer until `pred` holds for a record (bounded); returns every
/// record polled on the way as (partition, offset).
fn poll_until(
    c: &RdConsumer,
    what: &str,
    mut pred: impl FnMut(i32, i64) -> bool,
) -> Vec<(i32, i64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no {what} in 30 s; got {got:?}");
        match c.poll() {
            Some(m) => {
                let r = m.unwrap();
                let r = r.record();
                got.push((r.partition, r.offset));
                if pred(r.partition, r.offset) {
                    return got;
                }
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// The spout takes records from librdkafka in batches of up to 256: records of a
/// partition sought back while still in the batch are not handed out (the next one is
/// the record sought to), and a new assignment starts from what it says.
#[test]
fn records_taken_in_batches_follow_seeks_and_assignments() {
    let broker = Broker::start().unwrap();
    broker.create_topic("batched", 2).unwrap();
    let values: Vec<String> = (0..1000).map(|i| format!("v{i}")).collect();
    let records: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (Some((i % 2) as i32), None, v.as_bytes()))
        .collect();
    let ends = log_ends(&produce(&broker.bootstrap(), "batched", &records).unwrap());
    assert_eq!(ends, BTreeMap::from([(0, 500), (1, 500)]));
    let config = KafkaSpoutConfig::new(&broker.bootstrap(), &["batched"], "gb");
    let c = RdConsumer::create(&(), &config, "gb").unwrap();
    let tp = |p: i32| ("batched".to_string(), p);
    c.assign(&[(tp(0), 0), (tp(1), 0)]).unwrap();

    // Read partition 0 up to offset 10 (a batch holds more), then seek it back to 3.
    let first = poll_until(&c, "offset 10 of partition 0", |p, o| p == 0 && o == 10);
    c.seek("batched", 0, 3).unwrap();
    let after = poll_until(&c, "partition 0 after the seek", |p, _| p == 0);
    assert_eq!(after.last(), Some(&(0, 3)), "{after:?}");
    // Then every record of partition 0 in order, and partition 1 without a gap.
    let ones: Vec<i64> = first
        .iter()
        .chain(&after)
        .filter(|(p, _)| *p == 1)
        .map(|(_, o)| *o)
        .collect();
    assert!(
        ones.iter().copied().eq(0..ones.len() as i64),
        "partition 1: {ones:?}"
    );
    let mut next = BTreeMap::from([(0, 4i64), (1, ones.len() as i64)]);
    if next[&1] == 500 {
        next.remove(&1);
    }
    let rest = poll_until(&c, "the end of both partitions", |p, o| {
        let want = next.entry(p).or_insert(o);
        assert_eq!(o, *want, "partition {p}: offset {o} where {want} was next");
        *want = o + 1;
        next.get(&0) == Some(&500) && next.get(&1).is_none_or(|n| *n == 500)
    });
    assert!(rest.len() >= 496, "{} records", rest.len());

    // A new assignment drops whatever was taken and starts where it says.
    c.assign(&[(tp(1), 250)]).unwrap();
    let again = poll_until(&c, "partition 1 after the assignment", |_, _| true);
    assert_eq!(again, vec![(1, 250)]);
}

/// Client errors (here: no broker listening) come back from the spout's consumer as
/// errors (the spout counts them in `kafka.poll.errors`; their text is in the
/// `librdkafka` log), although records are read in batches.
#[test]
fn client_errors_come_back_from_the_spout_consumer() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let config = KafkaSpoutConfig::new(&address, &["nowhere"], "gerr");
    let c = RdConsumer::create(&(), &config, "gerr").unwrap();
    c.assign(&[(("nowhere".to_string(), 0), 0)]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let error = loop {
        assert!(
            Instant::now() < deadline,
            "no error from a consumer of {address} in 30 s"
        );
        match c.poll() {
            Some(Err(e)) => break e,
            Some(Ok(m)) => panic!("a record from nowhere: {:?}", m.record()),
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    assert!(
        matches!(error, rdkafka::error::KafkaError::Global(_)),
        "{error}"
    );
}
