//! TLS and SASL against the real broker: tansu behind a TLS proxy with a throwaway CA. A
//! KafkaSpout reads and a KafkaBolt writes over TLS configured the way a Storm user writes
//! it (Java names); a wrong CA, a SCRAM login (credentials in a private JAAS file) that a
//! broker requiring SASL refuses, and an open secret file fail with clear errors; the
//! password appears in no log line and no error. (tansu 0.6 accepts no SASL login: see
//! `Broker::start_tls`.)
#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use squall_kafka::testing::{Broker, TestCa, log_ends, produce_with};
use squall_kafka::{
    KafkaBolt, KafkaBoltConfig, KafkaSpout, KafkaSpoutConfig, RdConsumer, SpoutConsumer,
};
use squall_runtime::Registry;
use squall_runtime::testing::complete_topology;

/// The SASL password: it must never be logged nor shown.
const PASSWORD: &str = "pw-7f3a9c1e-never-shown";

/// Everything logged in this test binary.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn text(logs: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&logs.lock().unwrap()).to_string()
}

/// Wait (bounded) until the logs have a line with every one of `words`.
fn wait_logged(logs: &Arc<Mutex<Vec<u8>>>, words: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = text(logs);
        if let Some(line) = all.lines().find(|l| words.iter().all(|w| l.contains(w))) {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {words:?} in 10 s; logs:\n{all}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write_file(dir: &Path, name: &str, text: &str, mode: u32) -> String {
    let path = squall_kafka::testing::write_with_mode(dir, name, text, mode).unwrap();
    path.to_str().unwrap().to_string()
}

fn spout_config(yaml: &str) -> KafkaSpoutConfig {
    KafkaSpoutConfig::from_yaml(&serde_yaml::from_str(yaml).unwrap()).unwrap()
}

/// Every value in partition 0 of `topic`, read from the start until `n` arrived.
fn read_values(bootstrap: &str, props: &[(&str, &str)], topic: &str, n: usize) -> Vec<String> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", "reader")
        .set("enable.auto.commit", "false");
    for (k, v) in props {
        c.set(*k, *v);
    }
    let c: BaseConsumer = c.create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(Instant::now() < deadline, "{} of {n} records", got.len());
        if let Some(Ok(m)) = c.poll(Duration::from_millis(50)) {
            got.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string());
        }
    }
    got
}

#[test]
fn spout_and_bolt_work_over_tls_and_bad_trust_or_logins_fail_clearly() {
    let logs = logs();
    let ca = TestCa::new("squall test CA").unwrap();
    let (broker, proxy) = Broker::start_tls(&ca, false).unwrap();
    let bootstrap = proxy.address();
    broker.create_topic("secure", 1).unwrap();
    broker.create_topic("secure-out", 1).unwrap();
    let helper: Vec<(&str, &str)> = broker
        .client_props()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let values: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    let records: Vec<_> = values
        .iter()
        .map(|v| (Some(0), None, v.as_bytes()))
        .collect();
    let delivered = produce_with(&bootstrap, "secure", &records, &helper).unwrap();
    let ends: BTreeMap<(String, i32), i64> = log_ends(&delivered)
        .into_iter()
        .map(|(p, e)| (("secure".to_string(), p), e))
        .collect();

    // As a Storm user writes it: Java names.
    let ca_file = ca.ca_file().display().to_string();
    let spout = spout_config(&format!(
        r#"
bootstrap.servers: "{bootstrap}"
topics: [secure]
group.id: secure
first.poll.offset.strategy: EARLIEST
props:
  security.protocol: SSL
  ssl.truststore.location: {ca_file}
  ssl.truststore.type: PEM
  ssl.endpoint.identification.algorithm: https
  ssl.enabled.protocols: TLSv1.2,TLSv1.3
"#
    ));
    // The bolt: librdkafka's names.
    let mut bolt = KafkaBoltConfig::new(&bootstrap, "secure-out");
    bolt.message_field = "value".into();
    for (k, v) in &helper {
        bolt.props.insert(k.to_string(), v.to_string());
    }

    let mut registry = Registry::new();
    let (s, e) = (spout.clone(), ends.clone());
    registry.spout("Kafka", move |_| {
        Ok(KafkaSpout::new(s.clone()).stop_at(e.clone()))
    });
    registry.bolt("ToKafka", move |_| Ok(KafkaBolt::new(bolt.clone())));
    let report = complete_topology(
        &registry,
        r#"
name: kafka-tls
config:
  topology.acker.executors: 1
  topology.message.timeout.secs: 30
  storm.id: kafka-tls-1-0
spouts: [{id: kafka, className: Kafka}]
bolts: [{id: out, className: ToKafka}]
streams: [{from: kafka, to: out, grouping: {type: SHUFFLE}}]
"#,
        Duration::from_secs(60),
    )
    .unwrap();
    let mut emitted: Vec<String> = report
        .emitted("kafka", "default")
        .iter()
        .map(|v| v[4].as_str().unwrap_or_default().to_string())
        .collect();
    emitted.sort();
    let mut want = values.clone();
    want.sort();
    assert_eq!(emitted, want, "the spout read every record over TLS");
    let mut written = read_values(&bootstrap, &helper, "secure-out", values.len());
    written.sort();
    assert_eq!(written, want, "the bolt wrote every tuple over TLS");
    assert!(proxy.forwarded() > 0);

    // Trusting another CA: refused at the handshake, logged with the broker's address.
    let other = TestCa::new("another CA").unwrap();
    let mut wrong_ca = spout.clone();
    wrong_ca.props.insert(
        "ssl.truststore.location".into(),
        other.ca_file().display().to_string(),
    );
    // SASL over TLS, as a Storm user writes it (the JAAS entry in a private file), to a
    // broker that requires SASL and accepts no login (see `Broker::start_tls`).
    let (sasl_broker, sasl_proxy) = Broker::start_tls(&ca, true).unwrap();
    let sasl_bootstrap = sasl_proxy.address();
    let jaas = write_file(
        ca.dir(),
        "kafka_client_jaas.conf",
        &format!(
            "KafkaClient {{\n  org.apache.kafka.common.security.scram.ScramLoginModule required\n  \
             username=\"squall\"\n  password=\"{PASSWORD}\";\n}};\n"
        ),
        0o600,
    );
    let mut scram = spout.clone();
    scram.bootstrap_servers = sasl_bootstrap.clone();
    scram
        .props
        .insert("security.protocol".into(), "SASL_SSL".into());
    scram
        .props
        .insert("sasl.mechanism".into(), "SCRAM-SHA-256".into());
    scram.props.insert("sasl.jaas.config.file".into(), jaas);
    scram.validate().unwrap();
    let failing = [("wrong-ca", wrong_ca), ("scram", scram)].map(|(group, config)| {
        std::thread::spawn(move || {
            let consumer = RdConsumer::create(&(), &config, group).unwrap();
            let e = consumer.partitions(&config.topics).unwrap_err();
            // Serve the client's error events (they are logged).
            let _ = consumer.poll();
            e.to_string()
        })
    });
    let errors: Vec<String> = failing.map(|t| t.join().unwrap()).into();
    let handshake = wait_logged(&logs, &["certificate verify failed", &bootstrap]);
    assert!(proxy.failed_handshakes() > 0, "{handshake}");
    let login = wait_logged(&logs, &["SASL", &sasl_bootstrap]);
    assert!(
        sasl_proxy.forwarded() > 0,
        "the SASL client got through TLS: {login}"
    );

    // A secret file others may read is refused before connecting, by name.
    let open = write_file(ca.dir(), "open.password", PASSWORD, 0o644);
    let mut leaky = spout.clone();
    leaky.props.insert("sasl.username".into(), "squall".into());
    leaky
        .props
        .insert("sasl.password.file".into(), open.clone());
    let refused = RdConsumer::create(&(), &leaky, "leaky")
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&open) && refused.contains("chmod 600"),
        "{refused}"
    );

    let all = text(&logs);
    for shown in errors.iter().chain([&refused, &handshake, &login, &all]) {
        assert!(!shown.contains(PASSWORD), "the password was shown: {shown}");
    }
    drop((broker, sasl_broker));
}
