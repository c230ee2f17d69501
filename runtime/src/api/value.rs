//! One field of a tuple: a small dynamically typed value.
//!
//! `Value` is 24 bytes. Strings up to 24 bytes live inline (no heap allocation), and
//! strings made from `&'static str` are never copied, so the common stream payloads
//! (words, short keys, constant benchmark payloads) move between threads without touching
//! the allocator.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// A tuple field value.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// No value (JSON `null`).
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A UTF-8 string (inline up to 24 bytes).
    Str(CompactString),
    /// Raw bytes, shared by reference count.
    Bytes(Arc<[u8]>),
    /// A list of values, shared by reference count.
    List(Arc<[Value]>),
}

impl Value {
    /// A string value that borrows a static string: cloning it copies a pointer.
    pub const fn from_static(s: &'static str) -> Value {
        Value::Str(CompactString::const_new(s))
    }

    /// The name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The integer, if this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float, if this is a float or an integer.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The bytes, if this is a byte array.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Feed a deterministic hash of this value into `h`: the same value hashes the same in
    /// every process, which fields grouping needs across workers. Integers and floats
    /// holding the same whole number hash alike, as they compare equal.
    pub fn stable_hash<H: Hasher>(&self, h: &mut H) {
        match self {
            Value::Null => h.write_u8(0),
            Value::Bool(b) => h.write_u8(1 + u8::from(*b)),
            Value::Int(i) => h.write_i64(*i),
            Value::Float(f) => {
                if f.fract() == 0.0 && *f >= i64::MIN as f64 && *f <= i64::MAX as f64 {
                    h.write_i64(*f as i64)
                } else {
                    h.write_u64(f.to_bits())
                }
            }
            Value::Str(s) => h.write(s.as_bytes()),
            Value::Bytes(b) => h.write(b),
            Value::List(l) => {
                h.write_usize(l.len());
                for v in l.iter() {
                    v.stable_hash(h);
                }
            }
        }
    }

    /// This value as JSON (bytes become an array of numbers).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Bytes(b) => b.iter().map(|x| serde_json::Value::from(*x)).collect(),
            Value::List(l) => l.iter().map(Value::to_json).collect(),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => *a as f64 == *b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.stable_hash(state)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(CompactString::new(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(CompactString::from(s))
    }
}

impl From<CompactString> for Value {
    fn from(s: CompactString) -> Value {
        Value::Str(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::Str(CompactString::new(s))
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i64::from(i))
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Value {
        Value::Int(i64::from(i))
    }
}

impl From<u64> for Value {
    /// Values above `i64::MAX` saturate.
    fn from(i: u64) -> Value {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

impl From<usize> for Value {
    /// Values above `i64::MAX` saturate.
    fn from(i: usize) -> Value {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Value {
        Value::Bytes(b.into())
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Value {
        Value::List(l.into())
    }
}

impl From<serde_json::Value> for Value {
    /// JSON objects become lists of `[key, value]` pairs; everything else maps directly.
    fn from(j: serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::from(s),
            serde_json::Value::Array(a) => Value::List(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => Value::List(
                o.into_iter()
                    .map(|(k, v)| Value::List(vec![Value::from(k), Value::from(v)].into()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    #[test]
    fn static_strings_stay_borrowed_and_equal() {
        let v = Value::from_static("the cow jumped over the moon, a long sentence indeed");
        let w = v.clone();
        assert_eq!(v, w);
        assert_eq!(
            w.as_str(),
            Some("the cow jumped over the moon, a long sentence indeed")
        );
    }

    #[test]
    fn stable_hash_is_deterministic_and_numeric_kinds_agree() {
        let h = |v: &Value| {
            let mut s = rustc_hash::FxHasher::default();
            v.stable_hash(&mut s);
            s.finish()
        };
        assert_eq!(
            h(&Value::from("word")),
            h(&Value::from(String::from("word")))
        );
        assert_eq!(h(&Value::Int(3)), h(&Value::Float(3.0)));
        assert_ne!(h(&Value::from("a")), h(&Value::from("b")));
    }

    #[test]
    fn json_round_trip() {
        let v = Value::from(vec![Value::from("a"), Value::Int(1), Value::Null]);
        assert_eq!(v.to_json(), serde_json::json!(["a", 1, null]));
        assert_eq!(Value::from(serde_json::json!(["a", 1, null])), v);
    }
}
