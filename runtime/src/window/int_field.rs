//! [`IntField`]: reads an integer field of input tuples by name — a timestamp field
//! (event time) or a message id field (persistent windows) — caching the field's index
//! per input schema.

use crate::api::error::ComponentError;
use crate::api::tuple::{StreamSchema, Tuple};

/// An integer field read by name, its index cached for the last schema seen.
pub(super) struct IntField {
    name: String,
    /// The config key that named the field (for errors).
    key: &'static str,
    /// What the integer is (for errors), e.g. "message id".
    what: &'static str,
    /// (schema address, field index) of the last schema seen.
    cached: Option<(usize, usize)>,
}

impl IntField {
    /// The field `name`, configured by `key`, holding a `what`.
    pub(super) fn new(name: &str, key: &'static str, what: &'static str) -> IntField {
        IntField {
            name: name.to_string(),
            key,
            what,
            cached: None,
        }
    }

    /// The field's value in `input`; an error naming the stream when the field is missing
    /// or not an integer (the caller acks and drops such a tuple).
    #[inline]
    pub(super) fn extract(&mut self, input: &Tuple) -> Result<i64, ComponentError> {
        let schema = input.schema();
        let key = std::ptr::from_ref::<StreamSchema>(schema) as usize;
        let index = match self.cached {
            Some((k, i)) if k == key => i,
            _ => {
                let i = schema.fields.index_of(&self.name).ok_or_else(|| {
                    ComponentError::msg(format!(
                        "a tuple from '{}' stream '{}' has no field '{}' \
                         ({}; its fields are {:?}): acked and dropped",
                        schema.component,
                        schema.stream,
                        self.name,
                        self.key,
                        schema.fields.names()
                    ))
                })?;
                self.cached = Some((key, i));
                i
            }
        };
        let v = input.get(index)?;
        v.as_i64().ok_or_else(|| {
            ComponentError::msg(format!(
                "field '{}' of a tuple from '{}' stream '{}' is a {}, not an integer {}: \
                 acked and dropped",
                self.name,
                schema.component,
                schema.stream,
                v.type_name(),
                self.what
            ))
        })
    }
}
