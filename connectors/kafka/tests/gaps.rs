//! Storm's known failures behind the consumer seam (an in-memory log, [`MemoryLog`]):
//! offset gaps (records compacted away, deleted under the committed offset, a retried
//! record that vanished) must not stall the spout, and its commits move past them;
//! partitions handed to another task (a topic appearing shifts the assignment) and
//! partitions added to a topic must not re-emit committed records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use squall_kafka::testing::{MemoryConsumer, MemoryLog};
use squall_kafka::{FirstPollOffsetStrategy, KafkaSpout, KafkaSpoutConfig, SpoutConsumer};
use squall_runtime::retry::RetryPolicy;
use squall_runtime::testing::complete_topology;
use squall_runtime::{BasicBolt, BasicCollector, ComponentError, Registry, Tuple};

const TIMEOUT: Duration = Duration::from_secs(30);
const GROUP: &str = "g";

fn config(topics: &[&str]) -> KafkaSpoutConfig {
    let mut c = KafkaSpoutConfig::new("memory", topics, GROUP);
    c.retry = RetryPolicy::new(
        Duration::ZERO,
        Duration::from_millis(2),
        Duration::from_millis(20),
    );
    c.partition_refresh_period = Duration::from_millis(20);
    c.offset_commit_period = Duration::from_millis(50);
    c
}

/// How often each (topic, partition, offset) reached the bolt.
type Seen = Arc<Mutex<BTreeMap<(String, i64, i64), u32>>>;

/// What the bolt does on the n-th sight of a record: `Err` fails it.
type Act = Arc<dyn Fn(&MemoryLog, &(String, i64, i64), u32, usize) -> bool + Send + Sync>;

struct Judge {
    log: MemoryLog,
    seen: Seen,
    act: Act,
}

impl BasicBolt for Judge {
    fn execute(&mut self, t: &Tuple, _: &mut BasicCollector<'_>) -> Result<(), ComponentError> {
        let v = t.values();
        let key = (
            v[0].as_str().unwrap_or_default().to_string(),
            v[1].as_i64().unwrap_or(-1),
            v[2].as_i64().unwrap_or(-1),
        );
        let (n, distinct) = {
            let mut seen = self.seen.lock().unwrap();
            let n = seen.entry(key.clone()).or_insert(0);
            *n += 1;
            (*n, seen.len())
        };
        if (self.act)(&self.log, &key, n, distinct) {
            return Err(ComponentError::msg(format!("{key:?} failed")));
        }
        Ok(())
    }
}

/// Run a two-task spout over `log` to `ends` into the judge; what the judge saw.
fn run(log: &MemoryLog, c: KafkaSpoutConfig, ends: BTreeMap<(String, i32), i64>, act: Act) -> Seen {
    let seen: Seen = Arc::default();
    let mut registry = Registry::new();
    let l = log.clone();
    registry.spout("Kafka", move |_| {
        Ok(KafkaSpout::<MemoryConsumer>::with_consumer(c.clone(), l.clone()).stop_at(ends.clone()))
    });
    let (l, s) = (log.clone(), seen.clone());
    registry.basic_bolt("Judge", move |_| {
        Ok(Judge {
            log: l.clone(),
            seen: s.clone(),
            act: act.clone(),
        })
    });
    let yaml = r#"
name: gaps
config:
  topology.acker.executors: 1
  topology.max.spout.pending: 8
  storm.id: "gaps-1"
spouts:
  - {id: kafka, className: Kafka, parallelism: 2}
bolts:
  - {id: judge, className: Judge, parallelism: 2}
streams:
  - {from: kafka, to: judge, grouping: {type: SHUFFLE}}
"#;
    complete_topology(&registry, yaml, TIMEOUT).unwrap();
    seen
}

fn fill(log: &MemoryLog, topic: &str, partitions: i32, n: usize) -> BTreeMap<(String, i32), i64> {
    log.create_topic(topic, partitions);
    for i in 0..n {
        log.append(topic, i as i32 % partitions, &format!("{topic}{i}"));
    }
    (0..partitions)
        .map(|p| ((topic.to_string(), p), log.log_end(topic, p)))
        .collect()
}

fn assert_committed_at_ends(log: &MemoryLog, ends: &BTreeMap<(String, i32), i64>) {
    for ((t, p), end) in ends {
        assert_eq!(
            log.committed(GROUP, t, *p),
            Some(*end),
            "{t}-{p}, ends {ends:?}"
        );
    }
}

#[test]
fn compacted_offsets_and_records_deleted_under_the_commit_do_not_stall() {
    let log = MemoryLog::new();
    let ends = fill(&log, "t", 2, 40); // 20 records per partition
    for o in [3, 4, 5, 17] {
        log.delete("t", 0, o); // compacted away (never the last record, as Kafka)
    }
    // The group committed 2 on partition 1, then records up to 8 were deleted.
    MemoryConsumer::create(&log, &config(&["t"]), GROUP)
        .unwrap()
        .commit(&[(("t".to_string(), 1), 2)], "")
        .unwrap();
    log.delete_below("t", 1, 8);
    let seen = run(
        &log,
        config(&["t"]),
        ends.clone(),
        Arc::new(|_, _, _, _| false),
    );
    let seen = seen.lock().unwrap();
    let mut expected = BTreeMap::new();
    for o in log.offsets("t", 0) {
        expected.insert(("t".to_string(), 0, o), 1);
    }
    for o in log.offsets("t", 1) {
        expected.insert(("t".to_string(), 1, o), 1);
    }
    assert_eq!(*seen, expected);
    assert_committed_at_ends(&log, &ends);
}

#[test]
fn a_retried_record_that_vanished_is_committed_past() {
    let log = MemoryLog::new();
    let ends = fill(&log, "t", 2, 40);
    // Offset 7 of each partition fails once and is compacted away before its retry;
    // partition 1's log start then moves past a failed offset 12 (DeleteRecords).
    let seen = run(
        &log,
        config(&["t"]),
        ends.clone(),
        Arc::new(|log, (t, p, o), n, _| {
            if n == 1 && (*o == 7 || (*p == 1 && *o == 12)) {
                if *o == 7 {
                    log.delete(t, *p as i32, 7);
                } else {
                    log.delete_below(t, 1, 14);
                }
                return true;
            }
            false
        }),
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 40, "every record once at least: {seen:?}");
    assert!(seen.values().all(|n| *n == 1), "nothing replayed: {seen:?}");
    assert_committed_at_ends(&log, &ends);
}

#[test]
fn partitions_moved_to_another_task_or_added_do_not_re_emit_committed_records() {
    let log = MemoryLog::new();
    let mut ends = fill(&log, "t", 3, 300);
    // A new topic sorting first shifts the round robin: every partition of `t` changes
    // task. Added partitions of `t` are picked up too. EARLIEST: a new owner that did
    // not resume from this deployment's commits would read everything again.
    ends.insert(("a".to_string(), 0), 1);
    ends.insert(("t".to_string(), 3), 10);
    ends.insert(("t".to_string(), 4), 10);
    let mut c = config(&["a", "t"]);
    c.first_poll = FirstPollOffsetStrategy::Earliest;
    let (l, e) = (log.clone(), ends.clone());
    let running = std::thread::spawn(move || run(&l, c, e, Arc::new(|_, _, _, _| false)));
    // Once every partition has a commit, move them (the spout ends only after).
    let commits = || -> Vec<i64> {
        (0..3)
            .map(|p| log.committed(GROUP, "t", p).unwrap_or(0))
            .collect()
    };
    let deadline = std::time::Instant::now() + TIMEOUT;
    while commits().contains(&0) {
        assert!(
            std::time::Instant::now() < deadline,
            "no commits: {:?}",
            commits()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let at_move = commits();
    log.create_topic("a", 1);
    log.append("a", 0, "a0");
    log.create_topic("t", 5);
    for i in 0..20 {
        log.append("t", 3 + i % 2, &format!("n{i}"));
    }
    let seen = running.join().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 321, "every record at least once");
    // Only records not committed when their partition moved may come again.
    for ((t, p, o), n) in seen.iter() {
        if *n > 1 {
            assert!(
                t == "t" && *o >= at_move[*p as usize],
                "{t}-{p}@{o} re-emitted {n} times, committed at the move: {at_move:?}"
            );
        }
    }
    assert_committed_at_ends(&log, &ends);
}
