//! Storm's Flux shape for the Kafka spout: storm-kafka-client's
//! `KafkaSpoutConfig$Builder` (and the classes it takes) as Flux
//! [`ValueClass`]es that build the map [`crate::KafkaSpout`] reads
//! (`constructorArgs[0]`, see [`crate::config`]).
//!
//! ```yaml
//! components:
//!   - id: spoutConfigBuilder
//!     className: org.apache.storm.kafka.spout.KafkaSpoutConfig$Builder
//!     constructorArgs: ["localhost:9092", ["myKafkaTopic"]]
//!     properties:
//!       - name: firstPollOffsetStrategy
//!         value: EARLIEST
//!     configMethods:
//!       - name: setProp
//!         args: [{group.id: wordcount}]
//!   - id: spoutConfig
//!     className: org.apache.storm.kafka.spout.KafkaSpoutConfig
//!     constructorArgs: [{ref: spoutConfigBuilder}]
//! spouts:
//!   - id: kafka-spout
//!     className: org.apache.storm.kafka.spout.KafkaSpout
//!     constructorArgs: [{ref: spoutConfig}]
//! ```
//!
//! What differs from Storm: `group.id` defaults to the topology's name (Storm's builder
//! has no default, and a Kafka consumer without one cannot commit); only the setters of
//! [`BUILDER_METHODS`] are mapped; record translators are the built-in ones (Storm's
//! `DefaultRecordTranslator`, Flux's `OnlyValueRecordTranslator`); retry intervals are
//! whole milliseconds (rounded down).

use serde_yaml::{Mapping, Value};
use squall_runtime::Registry;
use squall_runtime::flux::{ValueClass, ValueContext};

use crate::KafkaSpoutConfig;

/// Storm's builder class.
pub const BUILDER_CLASS: &str = "org.apache.storm.kafka.spout.KafkaSpoutConfig$Builder";
/// Storm's config class, built from a builder (`new KafkaSpoutConfig(builder)`).
pub const CONFIG_CLASS: &str = "org.apache.storm.kafka.spout.KafkaSpoutConfig";
/// Storm's exponential backoff retry service.
pub const RETRY_CLASS: &str = "org.apache.storm.kafka.spout.KafkaSpoutRetryExponentialBackoff";
/// Its time intervals (`new TimeInterval(length, TimeUnit)`).
pub const TIME_INTERVAL_CLASS: &str =
    "org.apache.storm.kafka.spout.KafkaSpoutRetryExponentialBackoff$TimeInterval";
/// Record translator classes and the `record.translator` they stand for.
pub const TRANSLATOR_CLASSES: &[(&str, &str)] = &[
    (
        "org.apache.storm.kafka.spout.DefaultRecordTranslator",
        "DEFAULT",
    ),
    (
        "org.apache.storm.flux.examples.OnlyValueRecordTranslator",
        "VALUE",
    ),
    (
        "org.apache.storm.flux.test.OnlyValueRecordTranslator",
        "VALUE",
    ),
];

/// The builder's setters that are mapped (Flux `properties` name them without `set`).
pub const BUILDER_METHODS: &str = "setProp(key, value), setProp({key: value, ...}), \
    setGroupId(id), setFirstPollOffsetStrategy(EARLIEST|LATEST|UNCOMMITTED_EARLIEST|\
    UNCOMMITTED_LATEST), setProcessingGuarantee(AT_LEAST_ONCE|AT_MOST_ONCE|NO_GUARANTEE), \
    setOffsetCommitPeriodMs(ms), setMaxUncommittedOffsets(n), setPartitionRefreshPeriodMs(ms), \
    setRecordTranslator({ref: translator}), setRetry({ref: KafkaSpoutRetryExponentialBackoff})";

/// Tags of the intermediate values (a `ref` to a builder, translator, retry service or
/// interval carries one, so each setter can tell what it was given).
const BUILDER_TAG: &str = "KafkaSpoutConfig$Builder";
const TRANSLATOR_TAG: &str = "RecordTranslator";
const RETRY_TAG: &str = "KafkaSpoutRetryExponentialBackoff";
const INTERVAL_TAG: &str = "TimeInterval.ms";

/// Java's `Integer.MAX_VALUE`: Storm's "retry for ever".
const JAVA_INT_MAX: u64 = 2_147_483_647;

/// Register the value classes of this module in `registry`.
pub fn register(registry: &mut Registry) {
    registry
        .value_class(BUILDER_CLASS, Builder)
        .value_class(CONFIG_CLASS, SpoutConfig)
        .value_class(RETRY_CLASS, Retry)
        .value_class(TIME_INTERVAL_CLASS, Interval);
    for (class, kind) in TRANSLATOR_CLASSES {
        registry.value_class(class, Translator(kind));
    }
}

fn tagged(tag: &str, v: Value) -> Value {
    let mut m = Mapping::new();
    m.insert(Value::String(tag.to_string()), v);
    Value::Mapping(m)
}

fn untag<'v>(tag: &str, v: &'v Value) -> Option<&'v Value> {
    let m = v.as_mapping()?;
    if m.len() != 1 {
        return None;
    }
    m.get(tag)
}

fn shown(v: &Value) -> String {
    let s = serde_yaml::to_string(v).unwrap_or_default();
    s.trim().chars().take(80).collect()
}

fn key(k: &str) -> Value {
    Value::String(k.to_string())
}

/// `KafkaSpoutConfig$Builder(bootstrapServers, topics...)`: the spout's map.
struct Builder;

impl Builder {
    fn map(value: &mut Value) -> Result<&mut Mapping, String> {
        value
            .as_mapping_mut()
            .and_then(|m| m.get_mut(BUILDER_TAG))
            .and_then(Value::as_mapping_mut)
            .ok_or_else(|| "not a builder value".to_string())
    }

    /// `setProp(key, value)`: the spout's own keys lifted out of the client properties.
    fn set_prop(map: &mut Mapping, k: &str, v: &Value) -> Result<(), String> {
        if !(v.is_string() || v.is_number() || v.is_bool()) {
            // A secret's value is never shown, not even a malformed one.
            let got = if crate::props::is_secret(k) {
                "a value that is not shown (a secret)".to_string()
            } else {
                shown(v)
            };
            return Err(format!(
                "the value of '{k}' must be a string, number or boolean, got {got}"
            ));
        }
        match k {
            "group.id" | "bootstrap.servers" => {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => shown(other),
                };
                map.insert(key(k), Value::String(s));
            }
            "enable.auto.commit" => {
                return Err(
                    "enable.auto.commit is not supported (as in Storm): the spout \
                            commits itself; choose setProcessingGuarantee instead"
                        .to_string(),
                );
            }
            _ => {
                let props = map
                    .entry(key("props"))
                    .or_insert_with(|| Value::Mapping(Mapping::new()));
                if let Value::Mapping(p) = props {
                    p.insert(key(k), v.clone());
                }
            }
        }
        Ok(())
    }
}

/// One of `names`, or an error listing them.
fn one_of(method: &str, args: &[Value], names: &[&str]) -> Result<Value, String> {
    match args {
        [Value::String(s)] if names.contains(&s.as_str()) => Ok(Value::String(s.clone())),
        _ => Err(format!(
            "{method} takes one of {}, got {}",
            names.join(", "),
            shown(&Value::Sequence(args.to_vec()))
        )),
    }
}

/// One non-negative integer.
fn integer(method: &str, args: &[Value]) -> Result<Value, String> {
    match args {
        [v] if v.as_u64().is_some() => Ok(v.clone()),
        _ => Err(format!(
            "{method} takes one integer >= 0, got {}",
            shown(&Value::Sequence(args.to_vec()))
        )),
    }
}

impl ValueClass for Builder {
    fn takes(&self) -> &str {
        "the bootstrap servers and the topics (a list, or one string per topic)"
    }

    fn construct(&self, args: &[Value], _cx: &ValueContext<'_>) -> Result<Value, String> {
        let (bootstrap, topics) = match args {
            [Value::String(b), Value::Sequence(t)] => (b, t.clone()),
            [Value::String(b), rest @ ..] if !rest.is_empty() => (b, rest.to_vec()),
            _ => return Err(format!("got {}", shown(&Value::Sequence(args.to_vec())))),
        };
        if !topics.iter().all(Value::is_string) {
            return Err(format!(
                "topics must be strings, got {}",
                shown(&Value::Sequence(topics))
            ));
        }
        let mut map = Mapping::new();
        map.insert(key("bootstrap.servers"), Value::String(bootstrap.clone()));
        map.insert(key("topics"), Value::Sequence(topics));
        Ok(tagged(BUILDER_TAG, Value::Mapping(map)))
    }

    fn methods(&self) -> Option<&str> {
        Some(BUILDER_METHODS)
    }

    fn call(&self, value: &mut Value, name: &str, args: &[Value]) -> Option<Result<(), String>> {
        let map = match Builder::map(value) {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        };
        fn set(map: &mut Mapping, k: &str, v: Result<Value, String>) -> Result<(), String> {
            map.insert(key(k), v?);
            Ok(())
        }
        let result = match name {
            "setProp" => match args {
                [Value::String(k), v] => Builder::set_prop(map, k, v),
                [Value::Mapping(m)] => m.iter().try_for_each(|(k, v)| match k.as_str() {
                    Some(k) => Builder::set_prop(map, k, v),
                    None => Err(format!("property names must be strings, got {}", shown(k))),
                }),
                _ => Err("setProp takes a key and a value, or one map of them".to_string()),
            },
            "setGroupId" => match args {
                [Value::String(g)] => set(map, "group.id", Ok(Value::String(g.clone()))),
                _ => Err("setGroupId takes one string".to_string()),
            },
            "setFirstPollOffsetStrategy" => set(
                map,
                "first.poll.offset.strategy",
                one_of(
                    name,
                    args,
                    &[
                        "EARLIEST",
                        "LATEST",
                        "UNCOMMITTED_EARLIEST",
                        "UNCOMMITTED_LATEST",
                    ],
                ),
            ),
            "setProcessingGuarantee" => set(
                map,
                "processing.guarantee",
                one_of(
                    name,
                    args,
                    &["AT_LEAST_ONCE", "AT_MOST_ONCE", "NO_GUARANTEE"],
                ),
            ),
            "setOffsetCommitPeriodMs" => set(map, "offset.commit.period.ms", integer(name, args)),
            "setMaxUncommittedOffsets" => set(map, "max.uncommitted.offsets", integer(name, args)),
            "setPartitionRefreshPeriodMs" => {
                set(map, "partition.refresh.period.ms", integer(name, args))
            }
            "setRecordTranslator" => match args {
                [v] if untag(TRANSLATOR_TAG, v).is_some() => set(
                    map,
                    "record.translator",
                    Ok(untag(TRANSLATOR_TAG, v).cloned().unwrap_or_default()),
                ),
                _ => Err(format!(
                    "setRecordTranslator takes one {{ref: <id>}} to a component of class {}",
                    TRANSLATOR_CLASSES
                        .iter()
                        .map(|(c, _)| *c)
                        .collect::<Vec<_>>()
                        .join(" or ")
                )),
            },
            "setRetry" => match args {
                [v] => match untag(RETRY_TAG, v).and_then(Value::as_mapping) {
                    Some(retry) => {
                        for (k, v) in retry {
                            map.insert(k.clone(), v.clone());
                        }
                        Ok(())
                    }
                    None => Err(format!(
                        "setRetry takes one {{ref: <id>}} to a component of class {RETRY_CLASS}"
                    )),
                },
                _ => Err(format!(
                    "setRetry takes one {{ref: <id>}} to a component of class {RETRY_CLASS}"
                )),
            },
            _ => return None,
        };
        Some(result)
    }
}

/// `new KafkaSpoutConfig(builder)`: the builder's map, checked as the spout will read
/// it, `group.id` defaulting to the topology's name.
struct SpoutConfig;

impl ValueClass for SpoutConfig {
    fn takes(&self) -> &str {
        "one {ref: <id>} to a component of class org.apache.storm.kafka.spout.KafkaSpoutConfig$Builder"
    }

    fn construct(&self, args: &[Value], cx: &ValueContext<'_>) -> Result<Value, String> {
        let mut map = match args {
            [v] => match untag(BUILDER_TAG, v).and_then(Value::as_mapping) {
                Some(m) => m.clone(),
                // A map may hold client properties (secrets): not shown.
                None if v.is_mapping() => return Err("got a map, not a builder".to_string()),
                None => return Err(format!("got {}", shown(v))),
            },
            _ => return Err(format!("got {} arguments", args.len())),
        };
        if !map.contains_key("group.id") {
            if cx.topology_name().is_empty() {
                return Err("no group.id: set one with setProp(\"group.id\", <id>) or \
                            setGroupId (it defaults to the topology's name, which is empty)"
                    .to_string());
            }
            map.insert(key("group.id"), key(cx.topology_name()));
        }
        let map = Value::Mapping(map);
        KafkaSpoutConfig::from_yaml(&map).map_err(|e| e.to_string())?;
        Ok(map)
    }
}

/// `OnlyValueRecordTranslator`, `DefaultRecordTranslator`: a built-in translator.
struct Translator(&'static str);

impl ValueClass for Translator {
    fn takes(&self) -> &str {
        "nothing"
    }

    fn construct(&self, args: &[Value], _cx: &ValueContext<'_>) -> Result<Value, String> {
        if !args.is_empty() {
            return Err(format!("got {} arguments", args.len()));
        }
        Ok(tagged(TRANSLATOR_TAG, key(self.0)))
    }
}

/// `new TimeInterval(length, TimeUnit)`, in whole milliseconds.
struct Interval;

impl ValueClass for Interval {
    fn takes(&self) -> &str {
        "an integer and a java.util.concurrent.TimeUnit name, e.g. [500, MILLISECONDS]"
    }

    fn construct(&self, args: &[Value], _cx: &ValueContext<'_>) -> Result<Value, String> {
        let [n, unit] = args else {
            return Err(format!("got {} arguments", args.len()));
        };
        let n = n
            .as_u64()
            .ok_or_else(|| format!("the length must be an integer >= 0, got {}", shown(n)))?;
        let (num, den): (u64, u64) = match unit.as_str() {
            Some("NANOSECONDS") => (1, 1_000_000),
            Some("MICROSECONDS") => (1, 1_000),
            Some("MILLISECONDS") => (1, 1),
            Some("SECONDS") => (1_000, 1),
            Some("MINUTES") => (60_000, 1),
            Some("HOURS") => (3_600_000, 1),
            Some("DAYS") => (86_400_000, 1),
            _ => {
                return Err(format!(
                    "the unit must be a TimeUnit name (NANOSECONDS … DAYS), got {}",
                    shown(unit)
                ));
            }
        };
        let ms = n
            .checked_mul(num)
            .map(|v| v / den)
            .ok_or_else(|| format!("{n} {} is too long", shown(unit)))?;
        Ok(tagged(INTERVAL_TAG, Value::Number(ms.into())))
    }
}

/// `new KafkaSpoutRetryExponentialBackoff(initialDelay, delayPeriod, maxRetries,
/// maxDelay)`: the spout's `retry.*` keys.
struct Retry;

impl ValueClass for Retry {
    fn takes(&self) -> &str {
        "initialDelay, delayPeriod (each a {ref: <id>} to a TimeInterval), maxRetries \
         (an integer; 2147483647 = for ever) and maxDelay (a TimeInterval)"
    }

    fn construct(&self, args: &[Value], _cx: &ValueContext<'_>) -> Result<Value, String> {
        let [initial, period, retries, max] = args else {
            return Err(format!("got {} arguments", args.len()));
        };
        let ms = |what: &str, v: &Value| {
            untag(INTERVAL_TAG, v).cloned().ok_or_else(|| {
                format!(
                    "{what} must be a {{ref: <id>}} to a {TIME_INTERVAL_CLASS}, got {}",
                    shown(v)
                )
            })
        };
        let retries = match retries.as_u64() {
            Some(JAVA_INT_MAX) => Value::from(-1),
            Some(n) if n < JAVA_INT_MAX => Value::from(n),
            _ => {
                return Err(format!(
                    "maxRetries must be an integer from 0 to 2147483647, got {}",
                    shown(retries)
                ));
            }
        };
        let mut map = Mapping::new();
        map.insert(key("retry.initial.delay.ms"), ms("initialDelay", initial)?);
        map.insert(key("retry.delay.period.ms"), ms("delayPeriod", period)?);
        map.insert(key("retry.max.retries"), retries);
        map.insert(key("retry.max.delay.ms"), ms("maxDelay", max)?);
        Ok(tagged(RETRY_TAG, Value::Mapping(map)))
    }
}
