//! Framing of Storm's JSON multi-lang protocol, both directions: a message is its JSON
//! text, a newline, then a line holding exactly `end`. The reader joins the lines before
//! `end` (JSON does not care about the newlines between them).

use std::io::{self, BufRead, Read, Write};

/// Largest message accepted from a subprocess; a longer one is an error, not an
/// unbounded allocation.
pub(crate) const MAX_MESSAGE: usize = 64 << 20;

/// Why a frame could not be read.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// Reading the pipe failed.
    Io(io::Error),
    /// The stream ended in the middle of a message (the partial text).
    Truncated(Vec<u8>),
    /// A message longer than [`MAX_MESSAGE`] (its start).
    TooLong(Vec<u8>),
}

/// Reads `JSON\nend\n` frames.
#[derive(Debug)]
pub(crate) struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: BufRead> FrameReader<R> {
    /// A reader over `inner`.
    pub(crate) fn new(inner: R) -> Self {
        FrameReader {
            inner,
            buf: Vec::with_capacity(4096),
        }
    }

    /// The next message's text, without its `end` line; `None` at a clean end of the
    /// stream (between messages).
    pub(crate) fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        self.buf.clear();
        loop {
            let start = self.buf.len();
            let room = (MAX_MESSAGE + 5).saturating_sub(start) as u64;
            let n = (&mut self.inner)
                .take(room)
                .read_until(b'\n', &mut self.buf)
                .map_err(FrameError::Io)?;
            if n == 0 {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                return Err(FrameError::Truncated(std::mem::take(&mut self.buf)));
            }
            let mut line = &self.buf[start..];
            if let Some(l) = line.strip_suffix(b"\n") {
                line = l;
            } else if self.buf.len() > MAX_MESSAGE {
                self.buf.truncate(1024);
                return Err(FrameError::TooLong(std::mem::take(&mut self.buf)));
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line == b"end" {
                self.buf.truncate(start);
                while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                    self.buf.pop();
                }
                return Ok(Some(&self.buf));
            }
            if self.buf.len() > MAX_MESSAGE {
                self.buf.truncate(1024);
                return Err(FrameError::TooLong(std::mem::take(&mut self.buf)));
            }
        }
    }
}

/// Write the end of a frame after its JSON text.
#[inline]
pub(crate) fn end_frame(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"\nend\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<Result<Option<String>, String>> {
        let mut r = FrameReader::new(input);
        let mut out = Vec::new();
        loop {
            match r.next_frame() {
                Ok(Some(f)) => out.push(Ok(Some(String::from_utf8_lossy(f).into_owned()))),
                Ok(None) => {
                    out.push(Ok(None));
                    return out;
                }
                Err(e) => {
                    out.push(Err(format!("{e:?}")));
                    return out;
                }
            }
        }
    }

    #[test]
    fn reads_single_and_multi_line_messages() {
        let got = frames(b"{\"a\":1}\nend\n{\n\"b\":\n2}\nend\r\n[1,2]\nend\n");
        assert_eq!(
            got,
            vec![
                Ok(Some("{\"a\":1}".into())),
                Ok(Some("{\n\"b\":\n2}".into())),
                Ok(Some("[1,2]".into())),
                Ok(None)
            ]
        );
    }

    #[test]
    fn eof_inside_a_message_is_an_error() {
        let got = frames(b"{\"a\":1}\nend\n{\"command\":\"emi");
        assert_eq!(got[0], Ok(Some("{\"a\":1}".into())));
        assert!(got[1].as_ref().is_err_and(|e| e.contains("Truncated")));
    }

    #[test]
    fn a_line_that_only_contains_end_is_not_a_terminator() {
        let got = frames(b"{\"msg\":\"the end\"}\nend\n");
        assert_eq!(got[0], Ok(Some("{\"msg\":\"the end\"}".into())));
    }
}
