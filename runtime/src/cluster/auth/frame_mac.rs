//! The MAC on every data frame after the handshake.
//!
//! A sealed frame is the plain frame with a [`TAG_LEN`]-byte tag appended and its
//! length field grown by [`TAG_LEN`]:
//!
//! ```text
//! u32 LE (payload length + 16) | u8 kind | payload | tag
//! tag = first 16 bytes of keyed BLAKE3(session key, u64 LE sequence number | header | payload)
//! ```
//!
//! The sequence number is not sent: each side counts the frames of its direction from
//! 0, so a replayed, reordered, dropped or injected frame fails the check, and so does
//! every flipped bit. The receiver checks the tag before decoding anything; a bad tag
//! ends the connection. Each direction of each connection has its own key (see
//! [`session_keys`](super::handshake::session_keys)).
//!
//! Keyed BLAKE3 (a PRF, so a sound MAC for any number of frames; AVX2 on x86-64) was
//! chosen over HMAC-SHA256 (SHA-NI), AES-GMAC and Poly1305 on measurements of word-count
//! batches (`benches/data_link.rs`): as fast on small frames and up to 2.5 times faster
//! on the large ones (1000-tuple batches and more) that carry the bytes.

use subtle::ConstantTimeEq;

use super::handshake::KEY_LEN;
use crate::cluster::wire::HEADER_LEN;

/// Length of a frame's tag, in bytes.
pub const TAG_LEN: usize = 16;

/// Environment variable that turns per-frame MACs off, for measuring their cost in a
/// benchmark only (`1`): the handshake still runs and both sides must agree (the setting
/// is part of what the proofs cover). Never set it on a real cluster.
pub const BENCH_NO_FRAME_MAC_ENV: &str = "SQUALL_BENCH_INSECURE_NO_FRAME_MAC";

/// Whether this process runs with frame MACs (the default; see [`BENCH_NO_FRAME_MAC_ENV`]).
pub fn frame_mac_enabled() -> bool {
    std::env::var_os(BENCH_NO_FRAME_MAC_ENV).is_none_or(|v| v != "1")
}

/// A frame failed its check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameMacError {
    /// Shorter than a header and a tag.
    #[error("frame of {len} bytes is too short to carry a MAC")]
    TooShort {
        /// The frame's length.
        len: usize,
    },
    /// The tag does not match: the frame was forged, altered, replayed or reordered.
    #[error("bad MAC on frame {seq} of the connection (forged, altered, replayed or reordered)")]
    BadTag {
        /// The frame's sequence number.
        seq: u64,
    },
}

/// One direction of one connection: the keyed MAC and the next sequence number.
#[derive(Clone)]
pub struct FrameMac {
    key: [u8; KEY_LEN],
    seq: u64,
}

impl std::fmt::Debug for FrameMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameMac")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl FrameMac {
    /// The MAC of a direction whose session key is `key`, from sequence number 0.
    pub fn new(key: &[u8; KEY_LEN]) -> FrameMac {
        FrameMac { key: *key, seq: 0 }
    }

    fn tag(&self, covered: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = blake3::Hasher::new_keyed(&self.key);
        mac.update(&self.seq.to_le_bytes());
        mac.update(covered);
        let mut tag = [0u8; TAG_LEN];
        mac.finalize_xof().fill(&mut tag);
        tag
    }

    /// Seal the plain frames `buf[start..]` (whole frames, as the wire encoder appends
    /// them): grow each length field and append each tag, numbering the frames in order.
    pub fn seal_from(&mut self, buf: &mut Vec<u8>, start: usize) {
        let first_len = frame_len(&buf[start..]);
        if first_len == Some(buf.len() - start) {
            // The usual case: one frame, sealed in place.
            self.seal_one(buf, start);
            return;
        }
        let plain = buf.split_off(start);
        let mut at = 0;
        while let Some(len) = frame_len(&plain[at..]) {
            let frame_start = buf.len();
            buf.extend_from_slice(&plain[at..at + len]);
            self.seal_one(buf, frame_start);
            at += len;
        }
    }

    /// Seal the one plain frame `buf[start..]`.
    fn seal_one(&mut self, buf: &mut Vec<u8>, start: usize) {
        let mut len = [0u8; 4];
        len.copy_from_slice(&buf[start..start + 4]);
        let sealed = u32::from_le_bytes(len).saturating_add(TAG_LEN as u32);
        buf[start..start + 4].copy_from_slice(&sealed.to_le_bytes());
        let tag = self.tag(&buf[start..]);
        buf.extend_from_slice(&tag);
        self.seq += 1;
    }

    /// Check the sealed frame `frame` (header included) and turn it back into the plain
    /// frame in place; returns the plain frame's length (`frame[..len]`). Nothing of the
    /// frame should be looked at when this fails.
    pub fn open(&mut self, frame: &mut [u8]) -> Result<usize, FrameMacError> {
        let len = frame.len();
        if len < HEADER_LEN + TAG_LEN {
            return Err(FrameMacError::TooShort { len });
        }
        let (covered, theirs) = frame.split_at(len - TAG_LEN);
        let ours = self.tag(covered);
        if !bool::from(ours.ct_eq(theirs)) {
            return Err(FrameMacError::BadTag { seq: self.seq });
        }
        self.seq += 1;
        let plain_payload = (len - HEADER_LEN - TAG_LEN) as u32;
        frame[..4].copy_from_slice(&plain_payload.to_le_bytes());
        Ok(len - TAG_LEN)
    }
}

/// The length (header included) of the frame at the start of `buf`, if a whole one is
/// there.
fn frame_len(buf: &[u8]) -> Option<usize> {
    let header: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    let len = HEADER_LEN + u32::from_le_bytes(header) as usize;
    (buf.len() >= len).then_some(len)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn plain(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = (payload.len() as u32).to_le_bytes().to_vec();
        f.push(kind);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn sealed_frames_open_in_order_and_nothing_else_does() {
        let key = [3u8; 32];
        let (mut tx, mut rx) = (FrameMac::new(&key), FrameMac::new(&key));
        let mut buf = b"xx".to_vec();
        let a = plain(2, b"first");
        let b = plain(3, b"second one");
        buf.extend_from_slice(&a);
        tx.seal_from(&mut buf, 2);
        let start_b = buf.len();
        // Two frames at once (a split batch).
        buf.extend_from_slice(&b);
        buf.extend_from_slice(&a);
        tx.seal_from(&mut buf, start_b);
        let sealed_a = buf[2..start_b].to_vec();
        assert_eq!(sealed_a.len(), a.len() + TAG_LEN);

        // Replay of frame 0 as frame 1: refused.
        let mut replay = sealed_a.clone();
        assert_eq!(rx.clone().open(&mut sealed_a.clone()), Ok(a.len()));
        let mut rx2 = rx.clone();
        rx2.open(&mut sealed_a.clone()).unwrap();
        assert_eq!(rx2.open(&mut replay), Err(FrameMacError::BadTag { seq: 1 }));

        // In order: all open, and give back the plain frames.
        let mut at = 2;
        for expected in [&a, &b, &a] {
            let len = frame_len(&buf[at..]).unwrap();
            let mut f = buf[at..at + len].to_vec();
            let n = rx.open(&mut f).unwrap();
            assert_eq!(&f[..n], &expected[..]);
            at += len;
        }

        // Any flipped bit: refused.
        for i in 0..sealed_a.len() {
            let mut f = sealed_a.clone();
            f[i] ^= 0x10;
            let mut fresh = FrameMac::new(&key);
            assert!(fresh.open(&mut f).is_err(), "bit flip at {i} accepted");
        }
        // Another key: refused.
        let mut f = sealed_a.clone();
        assert!(FrameMac::new(&[4u8; 32]).open(&mut f).is_err());
        assert_eq!(
            FrameMac::new(&key).open(&mut [0u8; 8]),
            Err(FrameMacError::TooShort { len: 8 })
        );
    }
}
