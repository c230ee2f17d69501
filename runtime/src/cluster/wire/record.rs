//! The wire codec's values and integers for records kept outside frames (a persistent
//! window's pages in a state provider): a writer that appends, a reader that checks
//! every bound and names what it was reading.

use super::WireError;
use super::buf::{Cursor, put_varint, unzigzag, zigzag};
use super::values::{put_value, read_value};
use crate::api::value::Value;

/// Append `v` as a varint.
#[inline]
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    put_varint(out, v);
}

/// Append `v` as a zigzag varint.
#[inline]
pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_varint(out, zigzag(v));
}

/// Append one value (refused past the nesting limit).
#[inline]
pub(crate) fn put_record_value(out: &mut Vec<u8>, v: &Value) -> Result<(), WireError> {
    put_value(out, v)
}

/// Reads a record written with the `put_*` functions.
#[derive(Debug)]
pub(crate) struct RecordReader<'a>(Cursor<'a>);

impl<'a> RecordReader<'a> {
    /// A reader of `buf` from its start.
    pub(crate) fn new(buf: &'a [u8]) -> RecordReader<'a> {
        RecordReader(Cursor::new(buf, 0))
    }

    /// A varint.
    #[inline]
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        self.0.varint(what)
    }

    /// A zigzag varint.
    #[inline]
    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, WireError> {
        Ok(unzigzag(self.0.varint(what)?))
    }

    /// An element count that the rest of the record can hold (`min_size` bytes each).
    #[inline]
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        min_size: usize,
    ) -> Result<usize, WireError> {
        self.0.count(what, min_size)
    }

    /// The next `n` bytes.
    #[inline]
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        self.0.take(n, what)
    }

    /// One value.
    #[inline]
    pub(crate) fn value(&mut self) -> Result<Value, WireError> {
        read_value(&mut self.0)
    }

    /// Error unless every byte was read.
    pub(crate) fn finish(&self) -> Result<(), WireError> {
        self.0.finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_truncated_one_is_an_error() {
        let mut out = Vec::new();
        put_u64(&mut out, 300);
        put_i64(&mut out, -5);
        put_record_value(&mut out, &Value::Int(7)).unwrap();
        let mut r = RecordReader::new(&out);
        assert_eq!(r.u64("a").unwrap(), 300);
        assert_eq!(r.i64("b").unwrap(), -5);
        assert_eq!(r.value().unwrap(), Value::Int(7));
        r.finish().unwrap();
        let mut r = RecordReader::new(&out[..3]);
        r.u64("a").unwrap();
        assert!(r.i64("b").is_ok());
        assert!(r.value().is_err());
    }
}
