//! Flux's windowing: the `BaseWindowedBolt$Count` / `$Duration` components (values for
//! `ref` arguments) and the `configMethods` of `BaseWindowedBolt` (`withWindow`,
//! `withTumblingWindow`, `withTimestampField`, `withLag`, `withWatermarkInterval`,
//! `withLateTupleStream`, and `BaseStatefulWindowedBolt`'s `withPersistence`,
//! `withMaxEventsInMemory`, `withMessageIdField`), applied as the component-config keys they stand for. Called
//! by the Flux normalisation (`topology::yaml::normalize`) for windowed bolt classes.
//!
//! A method's keys replace the same keys set before (by the component's `config:` or
//! an earlier method), as the later call wins on a Java bolt.

use serde_yaml::{Mapping, Value};

use crate::topology::config::{
    MAX_WINDOW_COUNT, MAX_WINDOW_MILLIS, MIN_WINDOW_EVENTS_IN_MEMORY,
    TOPOLOGY_BOLTS_LATE_TUPLE_STREAM, TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME,
    TOPOLOGY_BOLTS_SLIDING_INTERVAL_COUNT, TOPOLOGY_BOLTS_SLIDING_INTERVAL_DURATION_MS,
    TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_FIELD_NAME, TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_MAX_LAG_MS,
    TOPOLOGY_BOLTS_WATERMARK_EVENT_INTERVAL_MS, TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT,
    TOPOLOGY_BOLTS_WINDOW_LENGTH_DURATION_MS, TOPOLOGY_BOLTS_WINDOW_MAX_EVENTS_IN_MEMORY,
    TOPOLOGY_BOLTS_WINDOW_PERSISTENT,
};
use crate::topology::yaml::ConfigMap;

/// Storm's count class (`new Count(n)`).
pub const COUNT_CLASS: &str = "org.apache.storm.topology.base.BaseWindowedBolt$Count";
/// Storm's duration class (`new Duration(value, TimeUnit)`).
pub const DURATION_CLASS: &str = "org.apache.storm.topology.base.BaseWindowedBolt$Duration";

/// The value classes this module builds, with what their constructor takes.
pub const VALUE_CLASSES: &[(&str, &str)] = &[
    (COUNT_CLASS, "one integer >= 1 (a number of tuples)"),
    (
        DURATION_CLASS,
        "an integer and a java.util.concurrent.TimeUnit name, e.g. [10, SECONDS]",
    ),
];

/// The config methods of windowed bolts, for error messages.
pub const METHODS: &str = "withWindow(length[, slide]), withTumblingWindow(length), \
                           withTimestampField(name), withLag(duration), \
                           withWatermarkInterval(duration), withLateTupleStream(stream), \
                           withPersistence(), withMaxEventsInMemory(n), \
                           withMessageIdField(name) on windowed bolts";

const COUNT_TAG: &str = "BaseWindowedBolt$Count";
const MILLIS_TAG: &str = "BaseWindowedBolt$Duration.ms";

fn tagged(tag: &str, n: u64) -> Value {
    let mut m = Mapping::new();
    m.insert(Value::String(tag.into()), Value::Number(n.into()));
    Value::Mapping(m)
}

fn shown(v: &Value) -> String {
    let s = serde_yaml::to_string(v).unwrap_or_default();
    s.trim().chars().take(60).collect()
}

/// The value of a `$Count` / `$Duration` component from its constructor arguments
/// (`None`: not one of these classes).
pub fn value_of(class: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let result = match class {
        COUNT_CLASS => match args {
            [v] => match v.as_u64() {
                Some(n) if (1..=MAX_WINDOW_COUNT).contains(&n) => Ok(tagged(COUNT_TAG, n)),
                _ => Err(format!("got {}", shown(v))),
            },
            _ => Err(format!("got {} arguments", args.len())),
        },
        DURATION_CLASS => match args {
            [v, unit] => {
                let millis = unit.as_str().and_then(unit_millis);
                match (v.as_u64(), millis) {
                    (Some(n), Some((num, den))) => {
                        let ms = u128::from(n) * u128::from(num) / u128::from(den);
                        match u64::try_from(ms) {
                            Ok(ms) if ms <= MAX_WINDOW_MILLIS => Ok(tagged(MILLIS_TAG, ms)),
                            _ => Err(format!(
                                "{n} {} is too long (at most {MAX_WINDOW_MILLIS} ms)",
                                shown(unit)
                            )),
                        }
                    }
                    (None, _) => Err(format!(
                        "the value must be an integer >= 0, got {}",
                        shown(v)
                    )),
                    (_, None) => Err(format!(
                        "the unit must be a TimeUnit name (NANOSECONDS, MICROSECONDS, \
                         MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS), got {}",
                        shown(unit)
                    )),
                }
            }
            _ => Err(format!("got {} arguments", args.len())),
        },
        _ => return None,
    };
    Some(result)
}

/// Milliseconds per unit, as a fraction (Java's `TimeUnit.toMillis` truncates).
fn unit_millis(unit: &str) -> Option<(u64, u64)> {
    Some(match unit {
        "NANOSECONDS" => (1, 1_000_000),
        "MICROSECONDS" => (1, 1_000),
        "MILLISECONDS" => (1, 1),
        "SECONDS" => (1_000, 1),
        "MINUTES" => (60_000, 1),
        "HOURS" => (3_600_000, 1),
        "DAYS" => (86_400_000, 1),
        _ => return None,
    })
}

/// A `$Count` or `$Duration` value.
#[derive(Debug, Clone, Copy)]
enum Span {
    Count(u64),
    Millis(u64),
}

fn span_of(v: &Value) -> Option<Span> {
    let m = v.as_mapping()?;
    if m.len() != 1 {
        return None;
    }
    let (k, n) = m.iter().next()?;
    match (k.as_str()?, n.as_u64()?) {
        (COUNT_TAG, n) => Some(Span::Count(n)),
        (MILLIS_TAG, n) => Some(Span::Millis(n)),
        _ => None,
    }
}

fn duration_of(v: &Value) -> Option<u64> {
    match span_of(v)? {
        Span::Millis(ms) => Some(ms),
        Span::Count(_) => None,
    }
}

fn set_span(config: &mut ConfigMap, span: Span, count_key: &str, millis_key: &str) {
    let (set, clear, n) = match span {
        Span::Count(n) => (count_key, millis_key, n),
        Span::Millis(ms) => (millis_key, count_key, ms),
    };
    config.remove(clear);
    config.insert(set.to_string(), Value::Number(n.into()));
}

fn set_window(config: &mut ConfigMap, length: Span, slide: Span) {
    set_span(
        config,
        length,
        TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT,
        TOPOLOGY_BOLTS_WINDOW_LENGTH_DURATION_MS,
    );
    set_span(
        config,
        slide,
        TOPOLOGY_BOLTS_SLIDING_INTERVAL_COUNT,
        TOPOLOGY_BOLTS_SLIDING_INTERVAL_DURATION_MS,
    );
}

const SPAN_ARG: &str = "a {ref: <id>} to a component of class \
                        org.apache.storm.topology.base.BaseWindowedBolt$Count or $Duration";
const DURATION_ARG: &str = "a {ref: <id>} to a component of class \
                            org.apache.storm.topology.base.BaseWindowedBolt$Duration";

/// Apply windowed-bolt config method `name` (its refs resolved) to a component's
/// config. `None`: not a windowed-bolt method.
pub fn config_method(
    name: &str,
    args: &[Value],
    config: &mut ConfigMap,
) -> Option<Result<(), String>> {
    let spans: Option<Vec<Span>> = args.iter().map(span_of).collect();
    let result = match name {
        "withWindow" => match spans.as_deref() {
            Some([length]) => {
                set_window(config, *length, Span::Count(1));
                Ok(())
            }
            Some([length, slide]) => {
                set_window(config, *length, *slide);
                Ok(())
            }
            _ => Err(format!(
                "withWindow takes the window length and optionally the sliding interval, each {SPAN_ARG}"
            )),
        },
        "withTumblingWindow" => match spans.as_deref() {
            Some([length]) => {
                set_window(config, *length, *length);
                Ok(())
            }
            _ => Err(format!(
                "withTumblingWindow takes the window length, {SPAN_ARG}"
            )),
        },
        "withPersistence" => match args {
            [] => {
                config.insert(
                    TOPOLOGY_BOLTS_WINDOW_PERSISTENT.to_string(),
                    Value::Bool(true),
                );
                Ok(())
            }
            _ => Err("withPersistence takes no argument".to_string()),
        },
        "withMaxEventsInMemory" => match args {
            [v] if v.as_u64().is_some_and(|n| n >= MIN_WINDOW_EVENTS_IN_MEMORY) => {
                config.insert(
                    TOPOLOGY_BOLTS_WINDOW_MAX_EVENTS_IN_MEMORY.to_string(),
                    v.clone(),
                );
                Ok(())
            }
            _ => Err(format!(
                "withMaxEventsInMemory takes one integer >= {MIN_WINDOW_EVENTS_IN_MEMORY} (events)"
            )),
        },
        "withTimestampField" | "withLateTupleStream" | "withMessageIdField" => match args {
            [Value::String(s)] if !s.is_empty() => {
                let key = match name {
                    "withTimestampField" => TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_FIELD_NAME,
                    "withMessageIdField" => TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME,
                    _ => TOPOLOGY_BOLTS_LATE_TUPLE_STREAM,
                };
                config.insert(key.to_string(), Value::String(s.clone()));
                Ok(())
            }
            _ => Err(format!("{name} takes one non-empty string")),
        },
        "withLag" | "withWatermarkInterval" => match args {
            [v] if duration_of(v).is_some() => {
                let key = if name == "withLag" {
                    TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_MAX_LAG_MS
                } else {
                    TOPOLOGY_BOLTS_WATERMARK_EVENT_INTERVAL_MS
                };
                let ms = duration_of(v).unwrap_or(0);
                if name == "withWatermarkInterval" && ms == 0 {
                    Err("withWatermarkInterval takes a duration of at least 1 ms".to_string())
                } else {
                    config.insert(key.to_string(), Value::Number(ms.into()));
                    Ok(())
                }
            }
            _ => Err(format!("{name} takes one duration, {DURATION_ARG}")),
        },
        _ => return None,
    };
    Some(result)
}

/// Mark the windowed bolts of `spec` whose Flux `configMethods` call `withPersistence`
/// as persistent in their config now: the checkpoint wiring, which runs before the
/// methods are applied, must see them.
pub fn mark_persistent(spec: &mut crate::topology::yaml::ParsedSpec, registry: &crate::Registry) {
    for (i, extras) in spec.flux.bolts.iter().enumerate() {
        let persistent = extras
            .config_methods
            .iter()
            .any(|m| m.name == "withPersistence" && m.args.is_empty());
        if let Some(b) = spec.def.bolts.get_mut(i)
            && persistent
            && registry.is_windowed(&b.class_name)
        {
            b.config.insert(
                TOPOLOGY_BOLTS_WINDOW_PERSISTENT.to_string(),
                Value::Bool(true),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn count(n: u64) -> Value {
        value_of(COUNT_CLASS, &[n.into()]).unwrap().unwrap()
    }

    fn duration(n: u64, unit: &str) -> Value {
        value_of(DURATION_CLASS, &[n.into(), unit.into()])
            .unwrap()
            .unwrap()
    }

    #[test]
    fn storm_values_and_methods_set_the_keys() {
        let mut c = ConfigMap::new();
        config_method("withWindow", &[count(5), count(3)], &mut c)
            .unwrap()
            .unwrap();
        assert_eq!(
            c.get(TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT),
            Some(&Value::from(5))
        );
        assert_eq!(
            c.get(TOPOLOGY_BOLTS_SLIDING_INTERVAL_COUNT),
            Some(&Value::from(3))
        );
        config_method("withTumblingWindow", &[duration(2, "SECONDS")], &mut c)
            .unwrap()
            .unwrap();
        assert_eq!(c.get(TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT), None);
        assert_eq!(
            c.get(TOPOLOGY_BOLTS_SLIDING_INTERVAL_DURATION_MS),
            Some(&Value::from(2000))
        );
        config_method("withLag", &[duration(1500, "MICROSECONDS")], &mut c)
            .unwrap()
            .unwrap();
        assert_eq!(
            c.get(TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_MAX_LAG_MS),
            Some(&Value::from(1))
        );
        config_method("withTimestampField", &["ts".into()], &mut c)
            .unwrap()
            .unwrap();
        assert!(config_method("prepare", &[], &mut c).is_none());
        config_method("withPersistence", &[], &mut c)
            .unwrap()
            .unwrap();
        config_method("withMaxEventsInMemory", &[5000.into()], &mut c)
            .unwrap()
            .unwrap();
        config_method("withMessageIdField", &["id".into()], &mut c)
            .unwrap()
            .unwrap();
        assert_eq!(
            c.get(TOPOLOGY_BOLTS_WINDOW_PERSISTENT),
            Some(&Value::Bool(true))
        );
        assert_eq!(
            c.get(TOPOLOGY_BOLTS_WINDOW_MAX_EVENTS_IN_MEMORY),
            Some(&Value::from(5000))
        );
        assert_eq!(
            c.get(TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME),
            Some(&Value::from("id"))
        );
        let e = config_method("withMaxEventsInMemory", &[3.into()], &mut c)
            .unwrap()
            .unwrap_err();
        assert!(e.contains("integer >= 64"), "{e}");
        assert!(
            config_method("withPersistence", &[1.into()], &mut c)
                .unwrap()
                .is_err()
        );
        let e = config_method("withWindow", &[5.into()], &mut c)
            .unwrap()
            .unwrap_err();
        assert!(e.contains("BaseWindowedBolt$Count or $Duration"), "{e}");
        let e = config_method("withLag", &[count(5)], &mut c)
            .unwrap()
            .unwrap_err();
        assert!(e.contains("withLag takes one duration"), "{e}");
        let e = value_of(DURATION_CLASS, &[5.into(), "FORTNIGHTS".into()])
            .unwrap()
            .unwrap_err();
        assert!(e.contains("TimeUnit name"), "{e}");
        assert!(value_of(COUNT_CLASS, &[0.into()]).unwrap().is_err());
        assert!(
            value_of(DURATION_CLASS, &[30.into(), "DAYS".into()])
                .unwrap()
                .is_err()
        );
    }
}
