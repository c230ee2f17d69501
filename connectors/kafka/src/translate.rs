//! Records into tuples: storm-kafka-client's `RecordTranslator`, with its default
//! (`topic, partition, offset, key, value` on the default stream).

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use squall_runtime::{DEFAULT_STREAM, Value, Values};

use crate::config::Deserializer;

/// One record as the spout received it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key (`None`: a null key).
    pub key: Option<&'a [u8]>,
    /// Value (`None`: a tombstone).
    pub value: Option<&'a [u8]>,
    /// Create or append time, ms since the epoch, when the broker gave one.
    pub timestamp: Option<i64>,
}

/// A record kept past the poll that delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key (`None`: a null key).
    pub key: Option<Vec<u8>>,
    /// Value (`None`: a tombstone).
    pub value: Option<Vec<u8>>,
    /// Create or append time, ms since the epoch, when the broker gave one.
    pub timestamp: Option<i64>,
}

impl OwnedRecord {
    /// A copy of `r`.
    pub fn of(r: &Record<'_>) -> OwnedRecord {
        OwnedRecord {
            topic: r.topic.to_string(),
            partition: r.partition,
            offset: r.offset,
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
            timestamp: r.timestamp,
        }
    }

    /// Borrowed, as translators take it.
    pub fn as_record(&self) -> Record<'_> {
        Record {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            timestamp: self.timestamp,
        }
    }
}

/// Turns records into tuples. `translate` returning `None` means "no tuple": the record
/// counts as processed at once (Storm's default for null tuples).
pub trait RecordTranslator: Send + 'static {
    /// Every stream this translator emits on, with its fields.
    fn streams(&self) -> Vec<(String, Vec<String>)>;

    /// The stream and values of `record`, or `None` for no tuple.
    fn translate(&self, record: &Record<'_>) -> Option<(&str, Values)>;
}

/// The fields of the default translator (and of the dead-letter stream, before
/// `error`).
pub const DEFAULT_FIELDS: [&str; 5] = ["topic", "partition", "offset", "key", "value"];

/// The default translator: `topic, partition, offset, key, value`, key and value
/// decoded by the configured deserializers (a null key or value is `null`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRecordTranslator {
    /// How keys become values.
    pub key: Deserializer,
    /// How values become values.
    pub value: Deserializer,
}

/// A key or value as a tuple value.
pub fn decode(bytes: Option<&[u8]>, how: Deserializer) -> Value {
    match (bytes, how) {
        (None, _) => Value::Null,
        // Valid UTF-8 (the usual case) is checked by the fast validator; only invalid
        // bytes take the slower replacing decoder.
        (Some(b), Deserializer::String) => match std::str::from_utf8(b) {
            Ok(s) => Value::from(s),
            Err(_) => Value::from(String::from_utf8_lossy(b).as_ref()),
        },
        (Some(b), Deserializer::Bytes) => Value::from(b.to_vec()),
    }
}

/// Longer topic names than this are interned by [`topic_value`] (shorter ones are
/// stored inside the value).
const INLINE_TOPIC: usize = 24;

/// Topic names [`topic_value`] interns per process at most (Kafka caps a name at 249
/// bytes); further names are copied into each value.
pub const MAX_INTERNED_TOPICS: usize = 1024;

/// A topic name as a tuple value, without an allocation per record: a name of up to 24
/// bytes is stored inside the value; a longer one is interned (kept for the life of the
/// process, at most [`MAX_INTERNED_TOPICS`] names) so that the value only points to it.
pub fn topic_value(topic: &str) -> Value {
    if topic.len() <= INLINE_TOPIC {
        return Value::from(topic);
    }
    thread_local! {
        static LAST: Cell<Option<&'static str>> = const { Cell::new(None) };
    }
    if let Some(last) = LAST.get().filter(|last| *last == topic) {
        return Value::from_static(last);
    }
    static INTERNED: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut interned = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    let name = match interned.get(topic) {
        Some(name) => *name,
        None if interned.len() < MAX_INTERNED_TOPICS => {
            let name: &'static str = Box::leak(topic.into());
            interned.insert(name);
            name
        }
        None => return Value::from(topic),
    };
    LAST.set(Some(name));
    Value::from_static(name)
}

impl DefaultRecordTranslator {
    /// The default fields of `record`.
    pub fn values(&self, record: &Record<'_>) -> Values {
        let mut v = Values::with_capacity(DEFAULT_FIELDS.len());
        v.push(topic_value(record.topic));
        v.push(record.partition);
        v.push(record.offset);
        v.push(decode(record.key, self.key));
        v.push(decode(record.value, self.value));
        v
    }
}

impl RecordTranslator for DefaultRecordTranslator {
    fn streams(&self) -> Vec<(String, Vec<String>)> {
        vec![(
            DEFAULT_STREAM.to_string(),
            DEFAULT_FIELDS.iter().map(|f| f.to_string()).collect(),
        )]
    }

    fn translate(&self, record: &Record<'_>) -> Option<(&str, Values)> {
        Some((DEFAULT_STREAM, self.values(record)))
    }
}

/// Only the record's value, as field `value` on the default stream (Flux's
/// `OnlyValueRecordTranslator`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ValueRecordTranslator {
    /// How values become values.
    pub value: Deserializer,
}

impl RecordTranslator for ValueRecordTranslator {
    fn streams(&self) -> Vec<(String, Vec<String>)> {
        vec![(DEFAULT_STREAM.to_string(), vec!["value".to_string()])]
    }

    fn translate(&self, record: &Record<'_>) -> Option<(&str, Values)> {
        let mut v = Values::with_capacity(1);
        v.push(decode(record.value, self.value));
        Some((DEFAULT_STREAM, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_topic_names_are_shared_short_ones_inline() {
        let long = "orders.eu-west.v2.payments-confirmed";
        let copy = String::from(long);
        let (a, b) = (topic_value(long), topic_value(copy.as_str()));
        assert_eq!(a, Value::from(long));
        let (Some(a), Some(b)) = (a.as_str(), b.as_str()) else {
            panic!("not strings");
        };
        assert_eq!(a.as_ptr(), b.as_ptr(), "one interned copy");
        assert_eq!(topic_value("short"), Value::from("short"));
        // Another name in between, then the first again: still the same copy.
        let _ = topic_value("another.rather.long.topic.name");
        assert_eq!(
            topic_value(long).as_str().map(str::as_ptr),
            Some(a.as_ptr())
        );
    }
}
