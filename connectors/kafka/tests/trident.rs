//! The opaque Trident Kafka spout against the real broker (tansu on loopback), in local
//! Trident topologies that end once every partition's committed batches reach the
//! produced log ends: exact word counts with 20% of batch attempts failed, partitions
//! of a topic created mid-run, and a restart of the same deployment (resume) versus a
//! new one (EARLIEST re-reads).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use squall_kafka::testing::{Broker, Delivered, log_ends, produce, produce_one_per_batch};
use squall_kafka::trident::partition_record;
use squall_kafka::{FirstPollOffsetStrategy, KafkaTridentSpoutConfig, KafkaTridentSpoutOpaque};
use squall_runtime::trident::meta::{MemoryMetaStore, MetaStore};
use squall_runtime::trident::state::dump;
use squall_runtime::trident::{
    Count, StateKind, StateSpec, TridentTopology, drop_memory_store, memory_store,
};
use squall_runtime::{Registry, testing::complete_topology};
use squall_topologies::FailingSplit;

const TIMEOUT: Duration = Duration::from_secs(60);
const PARTITIONS: i32 = 3;

fn sentences(prefix: &str, n: usize) -> Vec<String> {
    const WORDS: [&str; 8] = [
        "kafka", "storm", "trident", "batch", "opaque", "state", "spout", "word",
    ];
    (0..n)
        .map(|i| {
            let mut l: Vec<String> = (0..(2 + i % 4))
                .map(|j| WORDS[(i * 3 + j * 5) % WORDS.len()].to_string())
                .collect();
            l.push(format!("{prefix}{}", i % 7));
            l.join(" ")
        })
        .collect()
}

fn expected(lines: &[String]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for l in lines {
        for w in l.split_whitespace() {
            *m.entry(w.to_string()).or_insert(0) += 1;
        }
    }
    m
}

fn produce_lines(broker: &Broker, topic: &str, lines: &[String]) -> Vec<Delivered> {
    let recs: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, v)| (Some((i % PARTITIONS as usize) as i32), None, v.as_bytes()))
        .collect();
    produce(&broker.bootstrap(), topic, &recs).unwrap()
}

fn add_ends(ends: &mut BTreeMap<(String, i32), i64>, topic: &str, delivered: &[Delivered]) {
    for (p, e) in log_ends(delivered) {
        let end = ends.entry((topic.to_string(), p)).or_insert(0);
        *end = (*end).max(e);
    }
}

fn counts(state: &str) -> BTreeMap<String, i64> {
    let d = dump::read(memory_store(state).as_ref()).unwrap();
    d.entries
        .into_iter()
        .map(|(k, rec)| (dump::display_key(&k), rec.val.as_i64().unwrap()))
        .collect()
}

struct Run<'a> {
    broker: &'a Broker,
    topics: &'a [&'a str],
    strategy: FirstPollOffsetStrategy,
    ends: BTreeMap<(String, i32), i64>,
    store: Arc<dyn MetaStore>,
    state: &'a str,
    fail: f64,
    /// `storm.id` (the deployment) and the commit log file.
    deployment: &'a str,
    commit_log: &'a std::path::Path,
}

/// Run the Kafka → Trident word count until the spout's committed batches reach
/// `ends`; returns how many batch attempts the master saw fail.
fn run(r: Run<'_>) -> u64 {
    let mut config = KafkaTridentSpoutConfig::new(&r.broker.bootstrap(), r.topics);
    config.first_poll = r.strategy;
    config.max_batch_size = 40;
    config.partition_refresh_period = Duration::from_millis(200);
    config.translator = squall_kafka::trident::TridentTranslator::Value;
    let spout = KafkaTridentSpoutOpaque::new(config)
        .unwrap()
        .meta_store(r.store.clone())
        .stop_at(r.ends.clone());
    let (state, fail, log) = (r.state.to_string(), r.fail, r.commit_log.to_path_buf());
    let mut registry = Registry::new();
    registry.topology("T", move |args| {
        let topo = TridentTopology::new().commit_log(&log);
        topo.new_stream("lines", spout.clone())
            .parallelism_hint(2)
            .flat_map(&["value"], FailingSplit::new(fail), &["word"])
            .group_by(&["word"])
            .persistent_aggregate(
                StateSpec::memory(&state, StateKind::Opaque),
                &[],
                Count,
                &["count"],
            );
        topo.build(args.id(), args.config())
    });
    let yaml = format!(
        "name: kt\ntopologySource:\n  className: T\nconfig:\n  storm.id: {}\n  \
         topology.trident.batch.emit.interval.millis: 0\n  topology.max.spout.pending: 3\n",
        r.deployment
    );
    let report = complete_topology(&registry, &yaml, TIMEOUT).unwrap_or_else(|e| {
        let records: Vec<_> = r
            .ends
            .keys()
            .map(|(t, p)| partition_record(&r.store, "lines", t, *p))
            .collect();
        panic!(
            "kafka trident run failed: {e}\nrecords: {records:?}\nends: {:?}",
            r.ends
        )
    });
    report
        .components
        .get("$mastercoord")
        .map_or(0, |c| c.failed)
}

#[test]
fn word_counts_are_exact_with_failed_batches_and_a_topic_added_mid_run() {
    let broker = Broker::start().unwrap();
    broker.create_topic("lines", PARTITIONS).unwrap();
    let first = sentences("a", 600);
    let mut ends = BTreeMap::new();
    add_ends(&mut ends, "lines", &produce_lines(&broker, "lines", &first));
    // The second topic's records: 0..n per partition once it exists.
    let second = sentences("b", 300);
    for p in 0..PARTITIONS {
        let n = second
            .iter()
            .skip(p as usize)
            .step_by(PARTITIONS as usize)
            .count();
        ends.insert(("more".to_string(), p), n as i64);
    }
    let store: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::new());
    let dir = tempfile::tempdir().unwrap();
    drop_memory_store("kt-exact");

    // Once the first topic's batches are under way, create and fill the second one.
    let failed = std::thread::scope(|s| {
        let adder = s.spawn(|| {
            let deadline = Instant::now() + TIMEOUT;
            while partition_record(&store, "lines", "lines", 0)
                .unwrap()
                .is_none()
            {
                assert!(
                    Instant::now() < deadline,
                    "no batch of topic 'lines' recorded"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            broker.create_topic("more", PARTITIONS).unwrap();
            produce_lines(&broker, "more", &second);
        });
        let failed = run(Run {
            broker: &broker,
            topics: &["lines", "more"],
            strategy: FirstPollOffsetStrategy::Earliest,
            ends: ends.clone(),
            store: store.clone(),
            state: "kt-exact",
            fail: 0.2,
            deployment: "kt-1",
            commit_log: &dir.path().join("coordinator"),
        });
        adder.join().unwrap();
        failed
    });
    assert!(failed > 0, "20% of batch attempts failed and were replayed");
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(counts("kt-exact"), expected(&all), "exact counts");
    // Every record range is this deployment's, and batches never read beyond the cap.
    for ((topic, p), end) in &ends {
        let rec = partition_record(&store, "lines", topic, *p)
            .unwrap()
            .unwrap();
        assert_eq!(rec.topology_id, "kt-1");
        assert!(rec.batches.iter().all(|b| b.len() <= 40), "{rec:?}");
        assert_eq!(
            rec.batches.last().unwrap().next(),
            *end,
            "{topic}/{p}: {rec:?}"
        );
    }
}

#[test]
fn a_restart_resumes_from_the_partition_records_and_a_new_deployment_starts_over() {
    let broker = Broker::start().unwrap();
    broker.create_topic("words", PARTITIONS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("coordinator");
    let store: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::new());
    let first = sentences("x", 240);
    let mut ends = BTreeMap::new();
    add_ends(&mut ends, "words", &produce_lines(&broker, "words", &first));
    drop_memory_store("kt-restart");
    let run_as = |deployment: &str, ends: &BTreeMap<(String, i32), i64>, state: &str| {
        run(Run {
            broker: &broker,
            topics: &["words"],
            strategy: FirstPollOffsetStrategy::Earliest,
            ends: ends.clone(),
            store: store.clone(),
            state,
            fail: 0.0,
            deployment,
            commit_log: &log,
        })
    };
    run_as("dep-1", &ends, "kt-restart");
    assert_eq!(counts("kt-restart"), expected(&first));

    // The same deployment again (a worker restart): EARLIEST does not apply, the
    // spout resumes after its recorded ranges and reads only the new records.
    let second = sentences("y", 120);
    add_ends(
        &mut ends,
        "words",
        &produce_lines(&broker, "words", &second),
    );
    run_as("dep-1", &ends, "kt-restart");
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(
        counts("kt-restart"),
        expected(&all),
        "resumed, nothing read twice"
    );

    // A new deployment with EARLIEST reads the topic from its beginning.
    drop_memory_store("kt-new");
    run_as("dep-2", &ends, "kt-new");
    assert_eq!(
        counts("kt-new"),
        expected(&all),
        "a new deployment re-reads all"
    );
    let rec = partition_record(&store, "lines", "words", 0)
        .unwrap()
        .unwrap();
    assert_eq!(rec.topology_id, "dep-2");
}

#[test]
fn latest_skips_what_a_new_deployment_finds_and_reads_what_comes_after() {
    let broker = Broker::start().unwrap();
    broker.create_topic("late", PARTITIONS).unwrap();
    // One record per produce request: tansu's end offset (ListOffsets) is right then.
    let old = sentences("old", 12);
    let recs: Vec<_> = old
        .iter()
        .enumerate()
        .map(|(i, v)| (Some((i % PARTITIONS as usize) as i32), None, v.as_bytes()))
        .collect();
    let mut ends = BTreeMap::new();
    add_ends(
        &mut ends,
        "late",
        &produce_one_per_batch(&broker.bootstrap(), "late", &recs).unwrap(),
    );
    let store: Arc<dyn MetaStore> = Arc::new(MemoryMetaStore::new());
    let dir = tempfile::tempdir().unwrap();
    drop_memory_store("kt-latest");
    let new = sentences("new", 90);
    // Each partition ends 30 records further once the new ones are in.
    let all_ends: BTreeMap<(String, i32), i64> =
        ends.iter().map(|(k, e)| (k.clone(), e + 30)).collect();
    std::thread::scope(|s| {
        // Once every partition's start is pinned at its end, produce the new records.
        s.spawn(|| {
            let deadline = Instant::now() + TIMEOUT;
            while !(0..PARTITIONS).all(|p| {
                partition_record(&store, "lines", "late", p)
                    .unwrap()
                    .is_some()
            }) {
                assert!(
                    Instant::now() < deadline,
                    "LATEST never pinned the partitions"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            produce_lines(&broker, "late", &new);
        });
        run(Run {
            broker: &broker,
            topics: &["late"],
            strategy: FirstPollOffsetStrategy::Latest,
            ends: all_ends.clone(),
            store: store.clone(),
            state: "kt-latest",
            fail: 0.0,
            deployment: "late-1",
            commit_log: &dir.path().join("coordinator"),
        });
    });
    assert_eq!(
        counts("kt-latest"),
        expected(&new),
        "only the records after the start"
    );
    for ((t, p), e) in &all_ends {
        let rec = partition_record(&store, "lines", t, *p).unwrap().unwrap();
        assert_eq!(rec.batches.last().unwrap().next(), *e, "{rec:?}");
    }
}
