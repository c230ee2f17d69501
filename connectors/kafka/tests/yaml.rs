//! The spout declared in YAML: its config errors name the key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use squall_runtime::Registry;
use squall_runtime::testing::validate_yaml;

fn registry() -> Registry {
    let mut r = Registry::new();
    squall_kafka::register(&mut r);
    r
}

fn yaml(spout_args: &str) -> String {
    format!(
        r#"
name: k
spouts:
  - id: kafka
    className: org.apache.storm.kafka.spout.KafkaSpout
    constructorArgs:
      - {spout_args}
"#
    )
}

#[test]
fn a_valid_declaration_validates_with_the_dead_letter_stream() {
    let topo = validate_yaml(
        &registry(),
        &yaml("{bootstrap.servers: '127.0.0.1:9', topics: [t], group.id: g, first.poll.offset.strategy: EARLIEST}"),
    )
    .unwrap();
    let c = topo.component("kafka").unwrap();
    let streams: Vec<&str> = c.streams.iter().map(|s| s.id.as_str()).collect();
    assert!(
        streams.contains(&"default") && streams.contains(&"dead_letter"),
        "{streams:?}"
    );
}

#[test]
fn bad_keys_are_refused_by_name() {
    for (args, key) in [
        (
            "{bootstrap.servers: 'h:1', topics: [t], group.id: g, offset.commit.ms: 5}",
            "offset.commit.ms",
        ),
        ("{bootstrap.servers: 'h:1', topics: [t]}", "group.id"),
        (
            "{bootstrap.servers: 'h:1', topics: [t], group.id: g, max.uncommitted.offsets: 0}",
            "max.uncommitted.offsets",
        ),
    ] {
        let e = validate_yaml(&registry(), &yaml(args))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
}

#[test]
fn the_value_translator_declares_only_value() {
    let topo = validate_yaml(
        &registry(),
        &yaml("{bootstrap.servers: 'h:1', topics: [t], group.id: g, record.translator: org.apache.storm.flux.examples.OnlyValueRecordTranslator}"),
    )
    .unwrap();
    let c = topo.component("kafka").unwrap();
    let default = c.streams.iter().find(|s| s.id == "default").unwrap();
    assert_eq!(default.fields, vec!["value".to_string()]);
    let e = validate_yaml(
        &registry(),
        &yaml("{bootstrap.servers: 'h:1', topics: [t], group.id: g, record.translator: KEY}"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("record.translator"), "{e}");
}
