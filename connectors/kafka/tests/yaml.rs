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

/// Storm's Flux shape: a `KafkaSpoutConfig$Builder` component, a `KafkaSpoutConfig`
/// built from it, and `KafkaSpout(ref spoutConfig)`; `methods` are extra
/// `configMethods` of the builder (YAML, indented for the list).
fn flux(methods: &str) -> String {
    format!(
        r#"name: flux-kafka
components:
  - id: translator
    className: org.apache.storm.flux.examples.OnlyValueRecordTranslator
  - id: initial
    className: org.apache.storm.kafka.spout.KafkaSpoutRetryExponentialBackoff$TimeInterval
    constructorArgs: [500, MICROSECONDS]
  - id: period
    className: org.apache.storm.kafka.spout.KafkaSpoutRetryExponentialBackoff$TimeInterval
    constructorArgs: [2, SECONDS]
  - id: retry
    className: org.apache.storm.kafka.spout.KafkaSpoutRetryExponentialBackoff
    constructorArgs: [{{ref: initial}}, {{ref: period}}, 2147483647, {{ref: period}}]
  - id: builder
    className: org.apache.storm.kafka.spout.KafkaSpoutConfig$Builder
    constructorArgs: ["127.0.0.1:9", [a, b]]
    properties:
      - name: firstPollOffsetStrategy
        value: EARLIEST
      - name: recordTranslator
        ref: translator
    configMethods:
      - name: setProp
        args:
          - {{key.deserializer: org.apache.kafka.common.serialization.StringDeserializer,
             fetch.wait.max.ms: 50}}
{methods}
  - id: spoutConfig
    className: org.apache.storm.kafka.spout.KafkaSpoutConfig
    constructorArgs: [{{ref: builder}}]
spouts:
  - id: kafka
    className: org.apache.storm.kafka.spout.KafkaSpout
    constructorArgs: [{{ref: spoutConfig}}]
"#
    )
}

#[test]
fn storms_builder_shape_becomes_the_spouts_map() {
    let methods = "      - name: setProp\n        args: [group.id, wc]\n      \
                   - name: setProcessingGuarantee\n        args: [AT_LEAST_ONCE]\n      \
                   - name: setOffsetCommitPeriodMs\n        args: [1000]\n      \
                   - name: setMaxUncommittedOffsets\n        args: [50]\n      \
                   - name: setPartitionRefreshPeriodMs\n        args: [500]\n      \
                   - name: setRetry\n        args: [{ref: retry}]";
    let topo = validate_yaml(&registry(), &flux(methods)).unwrap_or_else(|e| panic!("{e}"));
    let c = topo.component("kafka").unwrap();
    let expected: serde_yaml::Value = serde_yaml::from_str(
        "{bootstrap.servers: '127.0.0.1:9', topics: [a, b], first.poll.offset.strategy: EARLIEST, \
         record.translator: VALUE, props: {key.deserializer: \
         org.apache.kafka.common.serialization.StringDeserializer, fetch.wait.max.ms: 50}, \
         group.id: wc, processing.guarantee: AT_LEAST_ONCE, offset.commit.period.ms: 1000, \
         max.uncommitted.offsets: 50, partition.refresh.period.ms: 500, \
         retry.initial.delay.ms: 0, retry.delay.period.ms: 2000, retry.max.retries: -1, \
         retry.max.delay.ms: 2000}",
    )
    .unwrap();
    assert_eq!(c.def.constructor_args, vec![expected]);
    let default = c.streams.iter().find(|s| s.id == "default").unwrap();
    assert_eq!(default.fields, vec!["value".to_string()]);
    // Without a group id: the topology's name.
    let topo = validate_yaml(&registry(), &flux("")).unwrap_or_else(|e| panic!("{e}"));
    let map = &topo.component("kafka").unwrap().def.constructor_args[0];
    assert_eq!(map["group.id"].as_str(), Some("flux-kafka"));
}

#[test]
fn builder_errors_name_the_method_the_class_and_the_line() {
    let cases = [
        // An unmapped setter: named with its class, at its line.
        (
            "      - name: setEmitNullTuples\n        args: [true]",
            27,
            "config method 'setEmitNullTuples' of class \
             'org.apache.storm.kafka.spout.KafkaSpoutConfig$Builder' has no Squall equivalent",
        ),
        (
            "      - name: setFirstPollOffsetStrategy\n        args: [OLDEST]",
            27,
            "KafkaSpoutConfig$Builder.setFirstPollOffsetStrategy: setFirstPollOffsetStrategy \
             takes one of EARLIEST",
        ),
        (
            "      - name: setProp\n        args: [enable.auto.commit, true]",
            27,
            "enable.auto.commit is not supported",
        ),
        (
            "      - name: setMaxUncommittedOffsets\n        args: [0]",
            31,
            "'max.uncommitted.offsets' must be at least 1",
        ),
    ];
    for (methods, line, words) in cases {
        let e = validate_yaml(&registry(), &flux(methods))
            .unwrap_err()
            .to_string();
        let first = e.lines().next().unwrap();
        assert!(
            first.starts_with(&format!("<topology>:{line}:")) && first.contains(words),
            "{words}:\n{e}"
        );
    }
    // An unmapped property: named with its setter.
    let yaml = flux("").replace("name: firstPollOffsetStrategy", "name: pollTimeoutMs");
    let e = validate_yaml(&registry(), &yaml).unwrap_err().to_string();
    assert!(
        e.contains("property 'pollTimeoutMs' (setPollTimeoutMs) of class"),
        "{e}"
    );
}
