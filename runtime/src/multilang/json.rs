//! Tuple values straight from a subprocess's JSON into [`Value`]s (no intermediate
//! `serde_json::Value`; strings up to 24 bytes stay inline). JSON objects become lists of
//! `[key, value]` pairs, as `Value::from(serde_json::Value)` does.

use std::fmt;

use compact_str::CompactString;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::api::tuple::Values;
use crate::api::value::Value;

/// One JSON value as a [`Value`].
pub(crate) struct JsonValue(pub(crate) Value);

/// A JSON array of tuple values.
pub(crate) struct JsonValues(pub(crate) Values);

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(u as f64),
        })
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(CompactString::new(s)))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(CompactString::from(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(JsonValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::List(items.into()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some((k, JsonValue(v))) = map.next_entry::<String, JsonValue>()? {
            pairs.push(Value::List(vec![Value::from(k), v].into()));
        }
        Ok(Value::List(pairs.into()))
    }
}

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(JsonValue)
    }
}

struct ValuesVisitor;

impl<'de> Visitor<'de> for ValuesVisitor {
    type Value = Values;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of tuple values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
        let mut values = Values::with_capacity(seq.size_hint().unwrap_or(2).min(1024));
        while let Some(JsonValue(v)) = seq.next_element()? {
            values.push(v);
        }
        Ok(values)
    }
}

impl<'de> Deserialize<'de> for JsonValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(ValuesVisitor).map(JsonValues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_maps_onto_values_like_the_generic_conversion() {
        let text = r#"["word", 3, -4, 2.5, true, null, [1, "a"], {"k": 1}, 18446744073709551615]"#;
        let JsonValues(v) = serde_json::from_str(text).unwrap();
        let generic: serde_json::Value = serde_json::from_str(text).unwrap();
        let expected: Values = match Value::from(generic) {
            Value::List(l) => l.iter().cloned().collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(v, expected);
    }

    #[test]
    fn a_non_array_tuple_is_refused() {
        let e = serde_json::from_str::<JsonValues>(r#"{"a": 1}"#)
            .err()
            .unwrap();
        assert!(e.to_string().contains("array"), "{e}");
    }
}
