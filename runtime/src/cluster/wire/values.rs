//! Tuple values on the wire: one tag byte, then a compact body.
//!
//! | tag | value        | body                                   |
//! |-----|--------------|----------------------------------------|
//! | 0   | `Null`       | —                                      |
//! | 1   | `Bool(false)`| —                                      |
//! | 2   | `Bool(true)` | —                                      |
//! | 3   | `Int`        | zigzag LEB128 varint                   |
//! | 4   | `Float`      | 8 bytes, IEEE 754 bits little-endian   |
//! | 5   | `Str`        | varint byte length + UTF-8 bytes       |
//! | 6   | `Bytes`      | varint length + bytes                  |
//! | 7   | `List`       | varint element count + that many values|
//!
//! Lists nest at most [`MAX_DEPTH`] levels, so decoding hostile input cannot exhaust
//! the stack.

use std::sync::Arc;

use compact_str::CompactString;

use super::WireError;
use super::buf::{Cursor, put_str, put_varint, unzigzag, zigzag};
use crate::api::value::Value;

/// Deepest list nesting the protocol carries (a top-level value is depth 0).
pub const MAX_DEPTH: usize = 32;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const STR: u8 = 5;
const BYTES: u8 = 6;
const LIST: u8 = 7;

/// Append `v`.
#[inline]
pub(super) fn put_value(out: &mut Vec<u8>, v: &Value) -> Result<(), WireError> {
    put_nested(out, v, 0)
}

fn put_nested(out: &mut Vec<u8>, v: &Value, depth: usize) -> Result<(), WireError> {
    match v {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Int(i) => {
            out.push(INT);
            put_varint(out, zigzag(*i));
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Str(s) => {
            out.push(STR);
            put_str(out, s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            put_str(out, b);
        }
        Value::List(l) => {
            if depth >= MAX_DEPTH {
                return Err(WireError::TooDeep {
                    max: MAX_DEPTH,
                    offset: out.len(),
                });
            }
            out.push(LIST);
            put_varint(out, l.len() as u64);
            for e in l.iter() {
                put_nested(out, e, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Read one value. A string (the common field) is read inline; everything else goes
/// through [`read_tagged`].
#[inline]
pub(super) fn read_value(c: &mut Cursor<'_>) -> Result<Value, WireError> {
    let offset = c.offset();
    let tag = c.u8("value tag")?;
    if tag == STR {
        return Ok(Value::Str(CompactString::new(c.str("string value")?)));
    }
    read_tagged(c, tag, offset, 0)
}

fn read_nested(c: &mut Cursor<'_>, depth: usize) -> Result<Value, WireError> {
    let offset = c.offset();
    let tag = c.u8("value tag")?;
    read_tagged(c, tag, offset, depth)
}

/// The body of a value whose tag (at `offset`) was just read, `depth` lists deep.
fn read_tagged(
    c: &mut Cursor<'_>,
    tag: u8,
    offset: usize,
    depth: usize,
) -> Result<Value, WireError> {
    Ok(match tag {
        NULL => Value::Null,
        FALSE => Value::Bool(false),
        TRUE => Value::Bool(true),
        INT => Value::Int(unzigzag(c.varint("int value")?)),
        FLOAT => Value::Float(f64::from_bits(c.u64_le("float value")?)),
        STR => Value::Str(CompactString::new(c.str("string value")?)),
        BYTES => {
            let len = c.count("bytes length", 1)?;
            Value::Bytes(Arc::from(c.take(len, "bytes value")?))
        }
        LIST => {
            if depth >= MAX_DEPTH {
                return Err(WireError::TooDeep {
                    max: MAX_DEPTH,
                    offset,
                });
            }
            let n = c.count("list length", 1)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(read_nested(c, depth + 1)?);
            }
            Value::List(items.into())
        }
        tag => {
            return Err(WireError::UnknownTag {
                what: "value",
                tag,
                offset,
            });
        }
    })
}
