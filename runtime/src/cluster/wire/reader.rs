//! Cutting a byte stream into whole frames.

use std::io::{ErrorKind, Read};

use super::{HEADER_LEN, WireError};

/// Smallest read buffer; frames are read in chunks at least this big.
const MIN_BUF: usize = 64 * 1024;

/// Reads whole frames from a byte stream, with one buffer reused for every frame.
///
/// Reads in large chunks (several small frames per `read` call) and checks each
/// header's length against the maximum frame size before buffering the payload, so a
/// corrupt or hostile length never makes it allocate more than `max_frame` bytes; the
/// buffer grows only as the payload's bytes arrive.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    pos: usize,
    /// End of the bytes read into `buf`.
    filled: usize,
    max_frame: usize,
    /// Bytes of the stream before `buf[pos]`.
    consumed: u64,
}

impl<R: Read> FrameReader<R> {
    /// A reader of frames whose payload is at most `max_frame` bytes.
    pub fn new(inner: R, max_frame: usize) -> FrameReader<R> {
        FrameReader {
            inner,
            buf: Vec::new(),
            pos: 0,
            filled: 0,
            max_frame,
            consumed: 0,
        }
    }

    /// The next whole frame (header included), `None` at end of stream on a frame
    /// boundary. The slice is valid until the next call.
    ///
    /// Errors: [`WireError::FrameTooLarge`] for a header announcing more than the
    /// maximum, [`WireError::UnexpectedEof`] when the stream ends inside a frame, and
    /// [`WireError::Io`] for read errors (including read timeouts).
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, WireError> {
        Ok(self.next_frame_mut()?.map(|f| &*f))
    }

    /// [`FrameReader::next_frame`], mutable: for checking and stripping a frame's MAC in
    /// place before decoding it.
    pub fn next_frame_mut(&mut self) -> Result<Option<&mut [u8]>, WireError> {
        let need = loop {
            let buffered = self.filled - self.pos;
            if buffered >= HEADER_LEN {
                let mut len = [0u8; 4];
                len.copy_from_slice(&self.buf[self.pos..self.pos + 4]);
                let len = u32::from_le_bytes(len) as usize;
                if len > self.max_frame {
                    return Err(WireError::FrameTooLarge {
                        len: len as u64,
                        max: self.max_frame,
                    });
                }
                let need = HEADER_LEN + len;
                if buffered >= need {
                    break need;
                }
                if !self.fill(need)? {
                    return Err(WireError::UnexpectedEof {
                        buffered,
                        needed: need,
                    });
                }
            } else if !self.fill(HEADER_LEN)? {
                if buffered == 0 {
                    return Ok(None);
                }
                return Err(WireError::UnexpectedEof {
                    buffered,
                    needed: HEADER_LEN,
                });
            }
        };
        let start = self.pos;
        self.pos += need;
        self.consumed += need as u64;
        Ok(Some(&mut self.buf[start..start + need]))
    }

    /// Read more bytes so that at least `need` bytes from `pos` fit in the buffer;
    /// `false` at end of stream.
    fn fill(&mut self, need: usize) -> Result<bool, WireError> {
        if self.pos == self.filled {
            self.pos = 0;
            self.filled = 0;
        } else if self.pos + need > self.buf.len() {
            // Move the partial frame to the front.
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        // Grow towards `need` no faster than bytes arrive (at most doubling what is
        // buffered): a header announcing a large frame costs memory only once its
        // bytes come, so idle or lying peers hold little each.
        let want = need.max(MIN_BUF).min(self.filled.max(MIN_BUF) * 2);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.filled..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.filled += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(WireError::Io(e)),
            }
        }
    }

    /// Bytes of the stream consumed by the frames returned so far (the stream offset of
    /// the next frame), for error reports.
    pub fn stream_offset(&self) -> u64 {
        self.consumed
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The underlying stream, mutably (reading from it directly loses frame sync).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Change the largest payload accepted from the next frame on (e.g. a small one for
    /// a handshake, then the full size).
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }

    /// Bytes the reader's buffer holds room for (memory it keeps for this stream).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.len()
    }

    /// Give back the underlying stream; buffered bytes of a partial frame are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }
}
