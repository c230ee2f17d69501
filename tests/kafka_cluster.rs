//! KafkaSpout on a real cluster (nimbus + two supervisors, tansu on loopback): a kill -9
//! of the worker resumes from the topology's commits, not from `EARLIEST`; nimbus serves
//! the spout's lag at `/api/v1/topology/{id}/lag` in Storm's shape and in `/metrics`.
#![cfg(feature = "kafka")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::collections::BTreeMap;

use cluster_common::*;
use squall_kafka::testing::{
    Broker, committed_offsets, log_ends, produce, produce_one_per_batch, round_robin, word_lines,
};

const WORDS: [&str; 5] = ["storm", "kafka", "squall", "spout", "bolt"];
const TOPIC: &str = "lines";
const GROUP: &str = "wc-cluster";

/// Produce `n` lines (each partition's last record alone in its batch, so the broker's
/// ListOffsets answers the true log end); adds their words to `expected`.
fn produce_lines(
    broker: &Broker,
    from: usize,
    n: usize,
    expected: &mut BTreeMap<String, u64>,
) -> BTreeMap<i32, i64> {
    let lines = word_lines(from..from + n, &WORDS, 3, 2, expected);
    let recs = round_robin(&lines, 3);
    let (bulk, last) = recs.split_at(recs.len() - 3);
    let mut delivered = produce(&broker.bootstrap(), TOPIC, bulk).unwrap();
    delivered.extend(produce_one_per_batch(&broker.bootstrap(), TOPIC, last).unwrap());
    log_ends(&delivered)
}

fn wait_committed(broker: &Broker, ends: &BTreeMap<i32, i64>, what: &str) {
    wait_for(LONG, what, || {
        let c = committed_offsets(&broker.bootstrap(), GROUP, TOPIC, 3).ok()?;
        ends.iter()
            .all(|(p, e)| c.get(p).map(|x| x.0) == Some(*e))
            .then_some(())
    });
}

#[test]
fn a_killed_worker_resumes_from_the_commits_and_nimbus_serves_the_lag() {
    let broker = Broker::start().unwrap();
    broker.create_topic(TOPIC, 3).unwrap();
    let mut expected = BTreeMap::new();
    let ends = produce_lines(&broker, 0, 60, &mut expected);

    let c = cluster("");
    let sink = c.root.join("words.jsonl");
    let yaml = format!(
        r#"name: kafka-restart
config:
  topology.workers: 1
  topology.message.timeout.secs: 10
  topology.max.spout.pending: 200
spouts:
  - id: lines
    className: KafkaSpout
    constructorArgs:
      - bootstrap.servers: "{bootstrap}"
        topics: ["{TOPIC}"]
        group.id: "{GROUP}"
        first.poll.offset.strategy: EARLIEST
        record.translator: VALUE
        offset.commit.period.ms: 200
        partition.refresh.period.ms: 200
bolts:
  - id: split
    className: SplitSentenceBolt
    parallelism: 2
  - id: sink
    className: FileSinkBolt
    constructorArgs: ["{sink}"]
streams:
  - from: lines
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: sink
    grouping: {{type: SHUFFLE}}
"#,
        bootstrap = broker.bootstrap(),
        sink = sink.display()
    );
    submit(&c, &yaml);
    let st = wait_running(&c, "kafka-restart", 1);
    let id = st["id"].as_str().unwrap_or("kafka-restart").to_string();
    wait_for(LONG, "the first records counted", || {
        (sink_word_totals(&sink) == expected).then_some(())
    });
    wait_committed(&broker, &ends, "commits at the log ends before the kill");

    // Lag: committed = log end = head, lag 0, for each partition (Storm's shape).
    wait_for(LONG, "lag 0 at the log ends", || {
        let body = http_get(&c.url, &format!("/api/v1/topology/{id}/lag"));
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let spout = &v["lines"];
        (spout["spoutId"] == "lines" && spout["spoutType"] == "KAFKA").then_some(())?;
        ends.iter()
            .all(|(p, e)| {
                let l = &spout["spoutLagResult"][TOPIC][p.to_string()];
                l["consumerCommittedOffset"] == *e && l["logHeadOffset"] == *e && l["lag"] == 0
            })
            .then_some(())
    });
    let prom = http_get(&c.url, "/metrics");
    assert!(
        prom.contains("squall_kafka_spout_lag{"),
        "no lag in /metrics:\n{prom}"
    );

    // kill -9 the worker; more records arrive while it is down.
    let old = worker_pids(&st);
    kill_worker(old[0]);
    let ends = produce_lines(&broker, 60, 30, &mut expected);
    wait_for(LONG, "a new worker", || {
        let st = status(&c.url, "kafka-restart")?;
        let pids = worker_pids(&st);
        (pids.len() == 1 && pids[0] != old[0]).then_some(())
    });
    // Everything counted, nothing committed before the kill counted twice (EARLIEST
    // would re-read the first 60 lines).
    wait_for(LONG, "all records counted once", || {
        let got = sink_word_totals(&sink);
        assert!(
            got.iter().all(|(w, n)| *n <= expected[w]),
            "re-emitted after the restart: {got:?}, expected {expected:?}"
        );
        (got == expected).then_some(())
    });
    wait_committed(&broker, &ends, "commits at the new log ends");
}
