//! Byte-level helpers: LEB128 varints, zigzag integers and a bounds-checked cursor that
//! reports every failure with the field name and its byte offset.

use super::WireError;

/// Append `v` as an unsigned LEB128 varint (1 to 10 bytes).
#[inline]
pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Map a signed integer to an unsigned one so small magnitudes encode short.
#[inline]
pub(super) fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub(super) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// A read position in one frame. Offsets in errors are from the start of the frame.
#[derive(Debug)]
pub(super) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over `buf` (a whole frame) starting at `pos`.
    pub(super) fn new(buf: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor { buf, pos }
    }

    /// Current offset.
    #[inline]
    pub(super) fn offset(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    #[inline]
    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    #[inline]
    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if n > self.remaining() {
            return Err(WireError::Truncated {
                what,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next `N` bytes as an array.
    #[inline]
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    /// One byte.
    #[inline]
    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(WireError::Truncated {
                what,
                offset: self.pos,
                needed: 1,
                available: 0,
            }),
        }
    }

    /// A little-endian `u16`.
    pub(super) fn u16_le(&mut self, what: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u32`.
    #[inline]
    pub(super) fn u32_le(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u64`.
    #[inline]
    pub(super) fn u64_le(&mut self, what: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// An unsigned LEB128 varint of at most 10 bytes that fits 64 bits.
    #[inline(always)]
    pub(super) fn varint(&mut self, what: &'static str) -> Result<u64, WireError> {
        // Fast path, inlined: one byte (every count, index and short length).
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.varint_long(what)
    }

    /// The rest of [`Cursor::varint`]: two bytes or more, or an error.
    #[inline(never)]
    fn varint_long(&mut self, what: &'static str) -> Result<u64, WireError> {
        let start = self.pos;
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8(what).map_err(|_| WireError::Truncated {
                what,
                offset: start,
                needed: i + 1,
                available: i,
            })?;
            if i == 9 && b > 1 {
                return Err(WireError::BadVarint {
                    what,
                    offset: start,
                });
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::BadVarint {
            what,
            offset: start,
        })
    }

    /// A varint that must fit in a `u32`.
    #[inline]
    pub(super) fn varint_u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let offset = self.pos;
        let v = self.varint(what)?;
        u32::try_from(v).map_err(|_| WireError::OutOfRange {
            what,
            value: v,
            max: u64::from(u32::MAX),
            offset,
        })
    }

    /// An element count, checked against the bytes left: each element takes at least
    /// `min_size` bytes, so a count the rest of the frame cannot hold is an error before
    /// anything is allocated for it.
    #[inline]
    pub(super) fn count(
        &mut self,
        what: &'static str,
        min_size: usize,
    ) -> Result<usize, WireError> {
        let offset = self.pos;
        let count = self.varint(what)?;
        let remaining = self.remaining();
        let fits = (remaining / min_size.max(1)) as u64;
        if count > fits {
            return Err(WireError::CountTooLarge {
                what,
                count,
                remaining,
                offset,
            });
        }
        Ok(count as usize)
    }

    /// A length-prefixed UTF-8 string.
    #[inline]
    pub(super) fn str(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        let len = self.count(what, 1)?;
        let offset = self.pos;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map_err(|_| WireError::InvalidUtf8 { what, offset })
    }

    /// Error unless every byte was read.
    pub(super) fn finish(&self) -> Result<(), WireError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes {
                count: self.remaining(),
                offset: self.pos,
            })
        }
    }
}

/// Append a length-prefixed string.
#[inline]
pub(super) fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s);
}
