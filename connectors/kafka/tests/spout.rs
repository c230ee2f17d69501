//! KafkaSpout against the real broker (tansu on loopback), in local topologies that end
//! when the spout's bounded read is fully acked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use squall_kafka::testing::{Broker, Delivered, committed_offsets, log_ends, produce};
use squall_kafka::{FirstPollOffsetStrategy, KafkaSpout, KafkaSpoutConfig};
use squall_runtime::retry::RetryPolicy;
use squall_runtime::testing::complete_topology;
use squall_runtime::{BasicBolt, BasicCollector, ComponentError, Registry, Tuple, Value, Values};

const TIMEOUT: Duration = Duration::from_secs(60);
const PARTITIONS: i32 = 3;

fn records(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn produce_values(broker: &Broker, topic: &str, values: &[String]) -> Vec<Delivered> {
    let recs: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (Some((i % PARTITIONS as usize) as i32), None, v.as_bytes()))
        .collect();
    produce(&broker.bootstrap(), topic, &recs).unwrap()
}

fn ends_of(topic: &str, delivered: &[Delivered]) -> BTreeMap<(String, i32), i64> {
    let mut ends: BTreeMap<(String, i32), i64> = (0..PARTITIONS)
        .map(|p| ((topic.to_string(), p), 0))
        .collect();
    for (p, e) in log_ends(delivered) {
        ends.insert((topic.to_string(), p), e);
    }
    ends
}

fn config(broker: &Broker, topic: &str, group: &str) -> KafkaSpoutConfig {
    let mut c = KafkaSpoutConfig::new(&broker.bootstrap(), &[topic], group);
    c.retry = RetryPolicy::new(
        Duration::ZERO,
        Duration::from_millis(5),
        Duration::from_millis(50),
    );
    c
}

/// How often the judge saw each value.
type Seen = Arc<Mutex<BTreeMap<String, u32>>>;

/// A bolt that fails what `fail` says (it sees the value and how often it saw it).
struct Judge {
    seen: Seen,
    fail: fn(&str, u32) -> bool,
}

impl BasicBolt for Judge {
    fn execute(
        &mut self,
        input: &Tuple,
        _out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        let value = input.values()[4].as_str().unwrap_or_default().to_string();
        let n = {
            let mut seen = self.seen.lock().unwrap();
            let n = seen.entry(value.clone()).or_insert(0);
            *n += 1;
            *n
        };
        if (self.fail)(&value, n) {
            return Err(ComponentError::msg(format!("{value} failed (time {n})")));
        }
        Ok(())
    }
}

/// Run `spout` → `judge` (2 spout tasks, acking on) until the bounded read completes;
/// returns what the spout emitted on its default and dead-letter streams.
fn run(
    spout: impl Fn() -> KafkaSpout + Send + Sync + 'static,
    fail: fn(&str, u32) -> bool,
    storm_id: &str,
) -> (Vec<Values>, Vec<Values>, Seen) {
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let mut registry = Registry::new();
    registry.spout("Kafka", move |_| Ok(spout()));
    let s = seen.clone();
    registry.basic_bolt("Judge", move |_| {
        Ok(Judge {
            seen: s.clone(),
            fail,
        })
    });
    registry.basic_bolt("Sink", move |_| {
        Ok(Judge {
            seen: Arc::default(),
            fail: |_, _| false,
        })
    });
    let yaml = format!(
        r#"
name: kafka-test
config:
  topology.acker.executors: 1
  storm.id: "{storm_id}"
spouts:
  - {{id: kafka, className: Kafka, parallelism: 2}}
bolts:
  - {{id: judge, className: Judge, parallelism: 2}}
  - {{id: dlq, className: Sink, parallelism: 1}}
streams:
  - {{from: kafka, to: judge, grouping: {{type: SHUFFLE}}}}
  - {{from: kafka, to: dlq, grouping: {{type: SHUFFLE, streamId: dead_letter}}}}
"#
    );
    let report = complete_topology(&registry, &yaml, TIMEOUT).unwrap();
    (
        report.emitted("kafka", "default").to_vec(),
        report.emitted("kafka", "dead_letter").to_vec(),
        seen,
    )
}

fn value_of(v: &Values) -> String {
    v[4].as_str().unwrap_or_default().to_string()
}

fn offsets_of(vals: &[Values]) -> Vec<(i64, i64)> {
    let mut o: Vec<(i64, i64)> = vals
        .iter()
        .map(|v| (v[1].as_i64().unwrap(), v[2].as_i64().unwrap()))
        .collect();
    o.sort();
    o
}

fn assert_committed_at(
    broker: &Broker,
    group: &str,
    topic: &str,
    ends: &BTreeMap<(String, i32), i64>,
) {
    let committed = committed_offsets(&broker.bootstrap(), group, topic, PARTITIONS).unwrap();
    for ((_, p), end) in ends {
        if *end == 0 {
            continue;
        }
        assert_eq!(
            committed.get(p).map(|c| c.0),
            Some(*end),
            "partition {p}: committed {committed:?}, log ends {ends:?}"
        );
    }
}

#[test]
fn reads_every_record_once_and_commits_to_the_end() {
    let broker = Broker::start().unwrap();
    broker.create_topic("t1", PARTITIONS).unwrap();
    let values = records("r", 300);
    let delivered = produce_values(&broker, "t1", &values);
    let ends = ends_of("t1", &delivered);
    let c = config(&broker, "t1", "g1");
    let e = ends.clone();
    let (emitted, dead, _) = run(
        move || KafkaSpout::new(c.clone()).stop_at(e.clone()),
        |_, _| false,
        "t1-1-0",
    );
    assert!(dead.is_empty());
    let got: Vec<String> = emitted.iter().map(value_of).collect();
    assert_eq!(got.len(), 300, "every record exactly once");
    let got: BTreeSet<String> = got.into_iter().collect();
    assert_eq!(got, values.into_iter().collect::<BTreeSet<_>>());
    assert_eq!(emitted[0].len(), 5);
    assert_eq!(emitted[0][0], Value::from("t1"));
    assert_committed_at(&broker, "g1", "t1", &ends);
}

#[test]
fn a_restart_resumes_from_its_commits_and_a_new_deployment_applies_earliest() {
    let broker = Broker::start().unwrap();
    broker.create_topic("t2", PARTITIONS).unwrap();
    let first = produce_values(&broker, "t2", &records("a", 30));
    let ends_a = ends_of("t2", &first);
    let mut c = config(&broker, "t2", "g2");
    c.first_poll = FirstPollOffsetStrategy::Earliest;
    let (c1, e1) = (c.clone(), ends_a.clone());
    let (emitted, _, _) = run(
        move || KafkaSpout::new(c1.clone()).stop_at(e1.clone()),
        |_, _| false,
        "t2-1-0",
    );
    assert_eq!(emitted.len(), 30);
    assert_committed_at(&broker, "g2", "t2", &ends_a);

    let second = produce_values(&broker, "t2", &records("b", 30));
    let all: Vec<Delivered> = first.iter().chain(&second).copied().collect();
    let ends_all = ends_of("t2", &all);
    // The same deployment restarted: resumes from its commits, EARLIEST does not apply.
    let (c2, e2) = (c.clone(), ends_all.clone());
    let (emitted, _, _) = run(
        move || KafkaSpout::new(c2.clone()).stop_at(e2.clone()),
        |_, _| false,
        "t2-1-0",
    );
    let got: BTreeSet<String> = emitted.iter().map(value_of).collect();
    assert_eq!(
        got,
        records("b", 30).into_iter().collect(),
        "only the new records"
    );
    assert_committed_at(&broker, "g2", "t2", &ends_all);

    // A new deployment with EARLIEST reads everything again.
    let (c3, e3) = (c.clone(), ends_all.clone());
    let (emitted, _, _) = run(
        move || KafkaSpout::new(c3.clone()).stop_at(e3.clone()),
        |_, _| false,
        "t2-2-0",
    );
    assert_eq!(emitted.len(), 60);

    // A new deployment with UNCOMMITTED_EARLIEST resumes from the group's commits.
    let mut c4 = c.clone();
    c4.first_poll = FirstPollOffsetStrategy::UncommittedEarliest;
    let e4 = ends_all.clone();
    let (emitted, _, _) = run(
        move || KafkaSpout::new(c4.clone()).stop_at(e4.clone()),
        |_, _| false,
        "t2-3-0",
    );
    assert!(emitted.is_empty(), "{} records re-read", emitted.len());
}

#[test]
fn failed_tuples_are_replayed_and_commits_reach_the_end() {
    let broker = Broker::start().unwrap();
    broker.create_topic("t3", PARTITIONS).unwrap();
    let values = records("f", 120);
    let delivered = produce_values(&broker, "t3", &values);
    let ends = ends_of("t3", &delivered);
    let c = config(&broker, "t3", "g3");
    let e = ends.clone();
    // Every 4th record fails its first two times.
    let (emitted, dead, seen) = run(
        move || KafkaSpout::new(c.clone()).stop_at(e.clone()),
        |v, n| v.trim_start_matches('f').parse::<u32>().unwrap_or(0) % 4 == 0 && n <= 2,
        "t3-1-0",
    );
    assert!(dead.is_empty());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 120, "every record processed");
    for v in &values {
        let n: u32 = v[1..].parse().unwrap();
        let expect = if n.is_multiple_of(4) { 3 } else { 1 };
        assert_eq!(seen[v], expect, "{v}");
    }
    assert_eq!(emitted.len(), 120 + 2 * 30);
    assert_committed_at(&broker, "g3", "t3", &ends);
}

#[test]
fn a_poison_record_goes_to_the_dead_letter_stream_and_is_committed_past() {
    let broker = Broker::start().unwrap();
    broker.create_topic("t4", PARTITIONS).unwrap();
    let mut values = records("p", 30);
    values[10] = "poison".to_string();
    let delivered = produce_values(&broker, "t4", &values);
    let ends = ends_of("t4", &delivered);
    let mut c = config(&broker, "t4", "g4");
    c.retry = c.retry.max_retries(2);
    let e = ends.clone();
    let (emitted, dead, _) = run(
        move || KafkaSpout::new(c.clone()).stop_at(e.clone()),
        |v, _| v == "poison",
        "t4-1-0",
    );
    let poison = emitted.iter().filter(|v| value_of(v) == "poison").count();
    assert_eq!(poison, 3, "emitted once and retried twice");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(value_of(&dead[0]), "poison");
    assert_eq!(dead[0].len(), 6);
    let error = dead[0][5].as_str().unwrap_or_default().to_string();
    assert!(error.contains("failed 3 times"), "{error}");
    assert_eq!(offsets_of(&dead), vec![(1, 3)]);
    assert_committed_at(&broker, "g4", "t4", &ends);
}

#[test]
fn failed_tuples_at_max_uncommitted_offsets_do_not_stop_emission() {
    let broker = Broker::start().unwrap();
    broker.create_topic("t5", PARTITIONS).unwrap();
    let values = records("m", 90);
    let delivered = produce_values(&broker, "t5", &values);
    let ends = ends_of("t5", &delivered);
    let mut c = config(&broker, "t5", "g5");
    c.max_uncommitted_offsets = 3;
    c.offset_commit_period = Duration::from_millis(10);
    let e = ends.clone();
    // Every 5th record fails its first time: with 3 uncommitted offsets per partition
    // the failed one is always at the limit, and must still be retried.
    let (emitted, _, seen) = run(
        move || KafkaSpout::new(c.clone()).stop_at(e.clone()),
        |v, n| v[1..].parse::<u32>().unwrap_or(0).is_multiple_of(5) && n == 1,
        "t5-1-0",
    );
    assert_eq!(seen.lock().unwrap().len(), 90);
    assert_eq!(emitted.len(), 90 + 18);
    assert_committed_at(&broker, "g5", "t5", &ends);
}

#[test]
fn latest_skips_what_is_there_for_a_new_deployment() {
    use squall_kafka::testing::produce_one_per_batch;
    let broker = Broker::start().unwrap();
    broker.create_topic("t6", PARTITIONS).unwrap();
    let values = records("l", 9);
    let recs: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (Some((i % 3) as i32), None, v.as_bytes()))
        .collect();
    // One record per batch: tansu's ListOffsets(latest) is right only then.
    let delivered = produce_one_per_batch(&broker.bootstrap(), "t6", &recs).unwrap();
    let ends = ends_of("t6", &delivered);
    let mut c = config(&broker, "t6", "g6");
    c.first_poll = FirstPollOffsetStrategy::Latest;
    let e = ends.clone();
    let (emitted, _, _) = run(
        move || KafkaSpout::new(c.clone()).stop_at(e.clone()),
        |_, _| false,
        "t6-1-0",
    );
    assert!(emitted.is_empty(), "{emitted:?}");
}

#[test]
fn an_unreachable_broker_is_waited_for_and_reading_starts_when_it_returns() {
    let (broker, proxy) = Broker::start_with_proxy().unwrap();
    broker.create_topic("t7", PARTITIONS).unwrap();
    let values = records("o", 30);
    let delivered = produce_values(&broker, "t7", &values);
    let ends = ends_of("t7", &delivered);
    proxy.cut();
    let mut c = KafkaSpoutConfig::new(&proxy.address(), &["t7"], "g7");
    c.partition_refresh_period = Duration::from_millis(200);
    let proxy = Arc::new(proxy);
    let p = proxy.clone();
    // Restore the broker once the spout has tried (and failed) to reach it.
    let restorer = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while p.refused() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the spout never tried"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        p.restore();
    });
    let e = ends.clone();
    let (emitted, _, _) = run(
        move || KafkaSpout::new(c.clone()).stop_at(e.clone()),
        |_, _| false,
        "t7-1-0",
    );
    restorer.join().unwrap();
    assert_eq!(emitted.len(), 30);
    assert_committed_at(&broker, "g7", "t7", &ends);
}

#[test]
fn at_most_once_and_no_guarantee_never_replay_and_commit_the_position() {
    use squall_kafka::ProcessingGuarantee;
    let broker = Broker::start().unwrap();
    for (topic, guarantee) in [
        ("t8", ProcessingGuarantee::AtMostOnce),
        ("t9", ProcessingGuarantee::NoGuarantee),
    ] {
        broker.create_topic(topic, PARTITIONS).unwrap();
        let values = records("u", 60);
        let delivered = produce_values(&broker, topic, &values);
        let ends = ends_of(topic, &delivered);
        let mut c = config(&broker, topic, topic);
        c.processing_guarantee = guarantee;
        let e = ends.clone();
        // Every tuple fails: nothing is replayed.
        let (emitted, dead, seen) = run(
            move || KafkaSpout::new(c.clone()).stop_at(e.clone()),
            |_, _| true,
            &format!("{topic}-1-0"),
        );
        assert_eq!(emitted.len(), 60, "{guarantee:?}");
        assert!(dead.is_empty());
        assert!(
            seen.lock().unwrap().values().all(|n| *n == 1),
            "{guarantee:?}"
        );
        assert_committed_at(&broker, topic, topic, &ends);
    }
}

#[test]
fn a_topic_appearing_mid_run_is_picked_up_and_shifted_partitions_handed_over() {
    let broker = Broker::start().unwrap();
    broker.create_topic("tb", PARTITIONS).unwrap();
    // 10 records per partition: the log ends are known before the topic exists.
    let per_partition = |prefix: &str| -> Vec<(Option<i32>, String)> {
        (0..30)
            .map(|i| {
                (
                    Some((i % PARTITIONS as usize) as i32),
                    format!("{prefix}{i}"),
                )
            })
            .collect()
    };
    let b = per_partition("b");
    let recs: Vec<_> = b.iter().map(|(p, v)| (*p, None, v.as_bytes())).collect();
    produce(&broker.bootstrap(), "tb", &recs).unwrap();
    let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for t in ["ta", "tb"] {
        for p in 0..PARTITIONS {
            ends.insert((t.to_string(), p), 10);
        }
    }
    let mut c = KafkaSpoutConfig::new(&broker.bootstrap(), &["ta", "tb"], "g10");
    c.partition_refresh_period = Duration::from_millis(100);
    c.offset_commit_period = Duration::from_millis(50);
    // Topic "ta" sorts first: once it exists, the 2 tasks' shares of "tb" shift.
    let bootstrap = broker.bootstrap();
    let broker = Arc::new(broker);
    let br = broker.clone();
    let creator = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while committed_offsets(&bootstrap, "g10", "tb", PARTITIONS)
            .unwrap()
            .is_empty()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing committed on tb"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        br.create_topic("ta", PARTITIONS).unwrap();
        let a = (0..30)
            .map(|i| (Some((i % PARTITIONS as usize) as i32), format!("a{i}")))
            .collect::<Vec<_>>();
        let recs: Vec<_> = a.iter().map(|(p, v)| (*p, None, v.as_bytes())).collect();
        produce(&bootstrap, "ta", &recs).unwrap();
    });
    let e = ends.clone();
    let (emitted, _, seen) = run(
        move || KafkaSpout::new(c.clone()).stop_at(e.clone()),
        |_, _| false,
        "t10-1-0",
    );
    creator.join().unwrap();
    let seen = seen.lock().unwrap();
    for i in 0..30 {
        assert!(seen.contains_key(&format!("a{i}")), "a{i} never read");
        assert!(seen.contains_key(&format!("b{i}")), "b{i} never read");
    }
    // At-least-once: a handed-over partition may re-read what was in flight, never
    // what was committed before.
    assert!(emitted.len() >= 60);
    let ta: BTreeMap<(String, i32), i64> = ends
        .iter()
        .filter(|((t, _), _)| t == "ta")
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let tb: BTreeMap<(String, i32), i64> = ends
        .iter()
        .filter(|((t, _), _)| t == "tb")
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_committed_at(&broker, "g10", "ta", &ta);
    assert_committed_at(&broker, "g10", "tb", &tb);
}

/// Counts what it sees, cuts the proxy after the 20th record, and is slow afterwards.
struct CutAfter {
    seen: Arc<Mutex<u32>>,
    proxy: Arc<squall_kafka::testing::Proxy>,
}

impl BasicBolt for CutAfter {
    fn execute(&mut self, _: &Tuple, _: &mut BasicCollector<'_>) -> Result<(), ComponentError> {
        let mut n = self.seen.lock().unwrap();
        *n += 1;
        if *n == 20 {
            self.proxy.cut();
        }
        drop(n);
        if self.proxy.is_cut() {
            // A slow bolt from now on: several commit periods pass while it works.
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

/// Commits do not block `next_tuple` while the broker is down: with commits every 20 ms
/// and the broker cut after 20 records, the records librdkafka had already fetched are
/// all emitted and acked while it stays cut (a synchronous commit would hold the spout
/// until the broker returned); once it returns, the commits reach the end.
#[test]
fn a_broker_outage_does_not_block_the_spout_on_commits() {
    let (broker, proxy) = Broker::start_with_proxy().unwrap();
    broker.create_topic("t9", 1).unwrap();
    let values = records("o", 200);
    let recs: Vec<_> = values
        .iter()
        .map(|v| (Some(0), None, v.as_bytes()))
        .collect();
    let ends: BTreeMap<(String, i32), i64> =
        log_ends(&produce(&broker.bootstrap(), "t9", &recs).unwrap())
            .into_iter()
            .map(|(p, e)| (("t9".to_string(), p), e))
            .collect();
    let mut c = config(&broker, "t9", "g9");
    c.offset_commit_period = Duration::from_millis(20);
    let seen = Arc::new(Mutex::new(0u32));
    let proxy = Arc::new(proxy);
    let mut registry = Registry::new();
    let e = ends.clone();
    registry.spout("Kafka", move |_| {
        Ok(KafkaSpout::new(c.clone()).stop_at(e.clone()))
    });
    let (s, p) = (seen.clone(), proxy.clone());
    registry.basic_bolt("Cut", move |_| {
        Ok(CutAfter {
            seen: s.clone(),
            proxy: p.clone(),
        })
    });
    let yaml = r#"
name: outage
config:
  topology.acker.executors: 1
  topology.max.spout.pending: 4
  storm.id: "outage-1"
spouts:
  - {id: kafka, className: Kafka, parallelism: 1}
bolts:
  - {id: cut, className: Cut, parallelism: 1}
streams:
  - {from: kafka, to: cut, grouping: {type: SHUFFLE}}
"#;
    let running =
        std::thread::spawn(move || complete_topology(&registry, yaml, TIMEOUT).map(|_| ()));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while *seen.lock().unwrap() < 200 {
        let n = *seen.lock().unwrap();
        if std::time::Instant::now() >= deadline {
            proxy.restore();
            panic!("only {n} of 200 prefetched records emitted while the broker was cut");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(proxy.is_cut(), "the broker was cut throughout");
    proxy.restore();
    running.join().unwrap().unwrap();
    assert_eq!(*seen.lock().unwrap(), 200);
    assert_committed_at(&broker, "g9", "t9", &ends);
}
