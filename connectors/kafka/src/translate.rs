//! Records into tuples: storm-kafka-client's `RecordTranslator`, with its default
//! (`topic, partition, offset, key, value` on the default stream).

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

impl DefaultRecordTranslator {
    /// The default fields of `record`.
    pub fn values(&self, record: &Record<'_>) -> Values {
        let mut v = Values::with_capacity(DEFAULT_FIELDS.len());
        v.push(record.topic);
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
