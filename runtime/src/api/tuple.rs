//! Tuples: the values a component emits, the fields that name them, and the stream they
//! travel on.

use std::cell::Cell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::api::error::TupleError;
use crate::api::ids::TaskId;
use crate::api::value::Value;

/// The values of one tuple, in field order. Up to two values are stored inline.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Values(SmallVec<[Value; 2]>);

impl Values {
    /// No values.
    pub fn new() -> Values {
        Values(SmallVec::new())
    }

    /// Room for `n` values without reallocating.
    pub fn with_capacity(n: usize) -> Values {
        Values(SmallVec::with_capacity(n))
    }

    /// Append one value.
    pub fn push(&mut self, v: impl Into<Value>) {
        self.0.push(v.into())
    }

    /// The values as JSON array.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.0.iter().map(Value::to_json).collect())
    }
}

impl Deref for Values {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        &self.0
    }
}

impl DerefMut for Values {
    fn deref_mut(&mut self) -> &mut [Value] {
        &mut self.0
    }
}

impl From<Vec<Value>> for Values {
    fn from(v: Vec<Value>) -> Values {
        Values(SmallVec::from_vec(v))
    }
}

impl<const N: usize> From<[Value; N]> for Values {
    fn from(v: [Value; N]) -> Values {
        Values(v.into_iter().collect())
    }
}

impl From<Value> for Values {
    fn from(v: Value) -> Values {
        let mut s = SmallVec::new();
        s.push(v);
        Values(s)
    }
}

impl FromIterator<Value> for Values {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Values {
        Values(iter.into_iter().collect())
    }
}

impl IntoIterator for Values {
    type Item = Value;
    type IntoIter = smallvec::IntoIter<[Value; 2]>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Build [`Values`] from expressions convertible into [`Value`]:
/// `values!["word", 3]`.
#[macro_export]
macro_rules! values {
    () => { $crate::Values::new() };
    ($($v:expr),+ $(,)?) => {{
        let mut vals = $crate::Values::with_capacity([$(stringify!($v)),+].len());
        $( vals.push($crate::Value::from($v)); )+
        vals
    }};
}

/// Ordered output field names of a stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fields(Vec<String>);

impl Fields {
    /// Fields with these names, in order.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Fields {
        Fields(names.into_iter().map(Into::into).collect())
    }

    /// Position of a field name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|f| f == name)
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, in order.
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// Where a tuple comes from: component, stream and the stream's fields.
///
/// Schemas are interned for the life of the process (one per distinct
/// component/stream/fields triple), so a tuple refers to its schema by a plain
/// `&'static` reference and carries no reference count.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StreamSchema {
    /// Emitting component id.
    pub component: String,
    /// Stream id.
    pub stream: String,
    /// Field names.
    pub fields: Fields,
}

impl StreamSchema {
    /// The interned schema for this triple.
    pub fn intern(component: &str, stream: &str, fields: &Fields) -> &'static StreamSchema {
        static TABLE: OnceLock<Mutex<Vec<&'static StreamSchema>>> = OnceLock::new();
        let table = TABLE.get_or_init(|| Mutex::new(Vec::new()));
        let mut table = table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = table
            .iter()
            .find(|s| s.component == component && s.stream == stream && s.fields == *fields)
        {
            return s;
        }
        let s: &'static StreamSchema = Box::leak(Box::new(StreamSchema {
            component: component.to_string(),
            stream: stream.to_string(),
            fields: fields.clone(),
        }));
        table.push(s);
        s
    }

    /// The schema of tick tuples (`__system` / `__tick`, field `rate_secs`).
    pub fn tick() -> &'static StreamSchema {
        static TICK: OnceLock<&'static StreamSchema> = OnceLock::new();
        TICK.get_or_init(|| {
            StreamSchema::intern(
                crate::SYSTEM_COMPONENT,
                crate::TICK_STREAM,
                &Fields::new(["rate_secs"]),
            )
        })
    }
}

/// The tuple-tree ids a tuple carries for acking: for each spout root it belongs to, the
/// XOR of the edge ids that lead to this tuple. Empty when the tuple is not tracked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Anchors {
    /// Not tracked (unanchored, or acking off).
    #[default]
    None,
    /// One tree: `(root id, edge id)`; the common case.
    One((u64, u64)),
    /// Several trees (multi-anchoring).
    Many(Arc<[(u64, u64)]>),
}

impl Anchors {
    /// Each `(root id, edge id)` pair.
    pub fn pairs(&self) -> &[(u64, u64)] {
        match self {
            Anchors::None => &[],
            Anchors::One(pair) => std::slice::from_ref(pair),
            Anchors::Many(m) => m,
        }
    }

    /// Whether the tuple belongs to no tuple tree.
    pub fn is_empty(&self) -> bool {
        matches!(self, Anchors::None)
    }
}

/// A tuple as a bolt receives it.
#[derive(Debug)]
pub struct Tuple {
    values: Values,
    schema: &'static StreamSchema,
    source_task: TaskId,
    pub(crate) anchors: Anchors,
    /// XOR of the edge ids of the tuples anchored to this one (acking, bolt side).
    pub(crate) ack_val: Cell<u64>,
    /// When its sampled `execute` started (see `engine::metrics::inputs`); 0 = not
    /// sampled. Fits in the struct's padding.
    pub(crate) sampled_at: u32,
}

impl Tuple {
    /// A tuple from `schema`, emitted by `source_task`. Public for tests and for
    /// components that build tuples themselves (e.g. multi-lang hosts).
    pub fn new(values: Values, schema: &'static StreamSchema, source_task: TaskId) -> Tuple {
        Tuple {
            values,
            schema,
            source_task,
            anchors: Anchors::None,
            ack_val: Cell::new(0),
            sampled_at: 0,
        }
    }

    /// A tuple that belongs to the tuple trees `anchors` (as one decoded from the wire
    /// is): for benchmarks and tools that build frames; bolts anchor through their
    /// collector instead.
    pub fn with_anchors(
        values: Values,
        schema: &'static StreamSchema,
        source_task: TaskId,
        anchors: Anchors,
    ) -> Tuple {
        Tuple {
            values,
            schema,
            source_task,
            anchors,
            ack_val: Cell::new(0),
            sampled_at: 0,
        }
    }

    /// The interned schema of the stream this tuple came on.
    pub(crate) fn schema(&self) -> &'static StreamSchema {
        self.schema
    }

    /// A copy of this tuple without its values, good for acking or failing it later
    /// (a stateful bolt defers the acks of its inputs until its state is committed):
    /// same stream, anchors and ack value as now.
    pub(crate) fn ack_handle(&self) -> Tuple {
        Tuple {
            values: Values::new(),
            schema: self.schema,
            source_task: self.source_task,
            anchors: self.anchors.clone(),
            ack_val: Cell::new(self.ack_val.get()),
            sampled_at: self.sampled_at,
        }
    }

    /// A tick tuple (`__system`/`__tick`) carrying the tick frequency.
    pub fn tick(freq_secs: u64) -> Tuple {
        Tuple::new(
            crate::values![freq_secs],
            StreamSchema::tick(),
            TaskId::SYSTEM,
        )
    }

    /// Whether this is a tick tuple.
    pub fn is_tick(&self) -> bool {
        std::ptr::eq(self.schema, StreamSchema::tick())
    }

    /// All values, in field order.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// Take the values out of the tuple.
    pub fn into_values(self) -> Values {
        self.values
    }

    /// The output fields of the stream this tuple came on.
    pub fn fields(&self) -> &'static Fields {
        &self.schema.fields
    }

    /// Id of the component that emitted this tuple.
    pub fn source_component(&self) -> &'static str {
        &self.schema.component
    }

    /// Id of the stream this tuple came on.
    pub fn source_stream(&self) -> &'static str {
        &self.schema.stream
    }

    /// Task that emitted this tuple.
    pub fn source_task(&self) -> TaskId {
        self.source_task
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the tuple has no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value at `index`.
    pub fn get(&self, index: usize) -> Result<&Value, TupleError> {
        self.values
            .get(index)
            .ok_or_else(|| TupleError::NoSuchIndex {
                index,
                len: self.values.len(),
                component: self.schema.component.clone(),
                stream: self.schema.stream.clone(),
            })
    }

    /// The value of the field `name`.
    pub fn get_by_field(&self, name: &str) -> Result<&Value, TupleError> {
        let index = self.field_index(name)?;
        self.get(index)
    }

    /// Position of field `name` in this tuple's stream, or an error listing the fields.
    pub fn field_index(&self, name: &str) -> Result<usize, TupleError> {
        self.schema
            .fields
            .index_of(name)
            .ok_or_else(|| TupleError::NoSuchField {
                field: name.to_string(),
                component: self.schema.component.clone(),
                stream: self.schema.stream.clone(),
                fields: self.schema.fields.to_string(),
            })
    }

    fn wrong_type(&self, index: usize, expected: &'static str, found: &Value) -> TupleError {
        TupleError::WrongType {
            field: self
                .schema
                .fields
                .names()
                .get(index)
                .cloned()
                .unwrap_or_else(|| format!("#{index}")),
            component: self.schema.component.clone(),
            stream: self.schema.stream.clone(),
            expected,
            found: found.type_name(),
        }
    }

    /// The string at `index`, or an error naming the field and the type found.
    pub fn get_str(&self, index: usize) -> Result<&str, TupleError> {
        let v = self.get(index)?;
        v.as_str()
            .ok_or_else(|| self.wrong_type(index, "string", v))
    }

    /// The integer at `index`.
    pub fn get_i64(&self, index: usize) -> Result<i64, TupleError> {
        let v = self.get(index)?;
        v.as_i64().ok_or_else(|| self.wrong_type(index, "int", v))
    }

    /// The number at `index` as a float (integers convert).
    pub fn get_f64(&self, index: usize) -> Result<f64, TupleError> {
        let v = self.get(index)?;
        v.as_f64().ok_or_else(|| self.wrong_type(index, "float", v))
    }

    /// The boolean at `index`.
    pub fn get_bool(&self, index: usize) -> Result<bool, TupleError> {
        let v = self.get(index)?;
        v.as_bool().ok_or_else(|| self.wrong_type(index, "bool", v))
    }

    /// The bytes at `index`.
    pub fn get_bytes(&self, index: usize) -> Result<&[u8], TupleError> {
        let v = self.get(index)?;
        v.as_bytes()
            .ok_or_else(|| self.wrong_type(index, "bytes", v))
    }

    /// The string in field `name`.
    pub fn str_by_field(&self, name: &str) -> Result<&str, TupleError> {
        self.get_str(self.field_index(name)?)
    }

    /// The integer in field `name`.
    pub fn i64_by_field(&self, name: &str) -> Result<i64, TupleError> {
        self.get_i64(self.field_index(name)?)
    }

    /// The number in field `name` as a float.
    pub fn f64_by_field(&self, name: &str) -> Result<f64, TupleError> {
        self.get_f64(self.field_index(name)?)
    }

    /// The boolean in field `name`.
    pub fn bool_by_field(&self, name: &str) -> Result<bool, TupleError> {
        self.get_bool(self.field_index(name)?)
    }

    /// The tuple-tree ids this tuple carries (empty when not tracked).
    pub fn anchors(&self) -> &Anchors {
        &self.anchors
    }
}

impl fmt::Display for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}@{} {}",
            self.schema.component,
            self.schema.stream,
            self.source_task,
            self.values.to_json()
        )
    }
}
