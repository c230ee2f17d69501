//! KafkaBolt against the real broker: acked only after delivery, replayed when the
//! broker is cut off, delivery timeout kept below the message timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use squall_kafka::testing::Broker;
use squall_kafka::{KafkaBolt, KafkaBoltConfig};
use squall_runtime::testing::{FixedSpout, complete_topology};
use squall_runtime::{
    ComponentError, MessageId, OutputDeclarer, Registry, Spout, SpoutCollector, Values, values,
};

/// A FixedSpout that counts its failed messages.
struct Counting {
    inner: FixedSpout,
    fails: Arc<AtomicU64>,
}

impl Spout for Counting {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        self.inner.declare_outputs(out)
    }
    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        self.inner.next_tuple(out)
    }
    fn is_exhausted(&self) -> bool {
        self.inner.is_exhausted()
    }
    fn fail(&mut self, id: MessageId) {
        self.fails.fetch_add(1, Ordering::SeqCst);
        self.inner.fail(id)
    }
}

fn tuples(n: usize) -> Vec<Values> {
    (0..n)
        .map(|i| values![format!("k{i}"), format!("v{i}")])
        .collect()
}

fn run(bootstrap: &str, topic: &str, n: usize, timeout_secs: u64, fails: Arc<AtomicU64>) {
    let mut registry = Registry::new();
    registry.spout("Fixed", move |_| {
        Ok(Counting {
            inner: FixedSpout::new(&["key", "message"], tuples(n)),
            fails: fails.clone(),
        })
    });
    let config = KafkaBoltConfig::new(bootstrap, topic);
    registry.bolt("ToKafka", move |_| Ok(KafkaBolt::new(config.clone())));
    let yaml = format!(
        r#"
name: kafka-bolt
config:
  topology.acker.executors: 1
  topology.message.timeout.secs: {timeout_secs}
spouts: [{{id: src, className: Fixed}}]
bolts: [{{id: out, className: ToKafka, parallelism: 2}}]
streams: [{{from: src, to: out, grouping: {{type: SHUFFLE}}}}]
"#
    );
    complete_topology(&registry, &yaml, Duration::from_secs(90)).unwrap();
}

/// Every (key, value) in `topic`, read from the beginning until `n` arrived.
fn read_all(bootstrap: &str, topic: &str, partitions: i32, n: usize) -> Vec<(String, String)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(Instant::now() < deadline, "{} of {n} records", got.len());
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            let s = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).to_string();
            got.push((s(m.key()), s(m.payload())));
        }
    }
    got
}

#[test]
fn writes_every_tuple_and_acks_it_after_delivery() {
    let broker = Broker::start().unwrap();
    broker.create_topic("out", 3).unwrap();
    run(&broker.bootstrap(), "out", 50, 30, Arc::default());
    let got = read_all(&broker.bootstrap(), "out", 3, 50);
    let want: BTreeSet<(String, String)> = (0..50)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
}

#[test]
fn a_cut_connection_fails_the_tuples_and_they_are_written_after_restore() {
    let (broker, proxy) = Broker::start_with_proxy().unwrap();
    broker.create_topic("cut", 1).unwrap();
    proxy.cut();
    let proxy = Arc::new(proxy);
    let fails = Arc::new(AtomicU64::new(0));
    let (p, f) = (proxy.clone(), fails.clone());
    // Restore the broker once a tuple failed (its delivery timed out while cut).
    let restorer = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while f.load(Ordering::SeqCst) == 0 {
            assert!(
                Instant::now() < deadline,
                "no tuple failed while the broker was cut"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        p.restore();
    });
    run(&proxy.address(), "cut", 10, 3, fails.clone());
    restorer.join().unwrap();
    assert!(fails.load(Ordering::SeqCst) >= 1);
    let got: BTreeSet<String> = read_all(&broker.bootstrap(), "cut", 1, 10)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(got, (0..10).map(|i| format!("v{i}")).collect());
}

#[test]
fn a_delivery_timeout_above_the_message_timeout_is_refused() {
    let mut config = KafkaBoltConfig::new("127.0.0.1:9", "t");
    assert_eq!(
        config
            .delivery_timeout(Some(Duration::from_secs(30)))
            .unwrap(),
        Duration::from_secs(24)
    );
    config
        .props
        .insert("message.timeout.ms".into(), "300000".into());
    let e = config
        .delivery_timeout(Some(Duration::from_secs(30)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("message.timeout.ms") && e.contains("30 s"),
        "{e}"
    );
}
