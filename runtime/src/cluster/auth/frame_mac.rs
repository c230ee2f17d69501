//! The sealing of every data frame after the handshake: AES-256-GCM, which encrypts the
//! payload and authenticates the whole frame.
//!
//! A sealed frame is the plain frame with its payload encrypted, a [`TAG_LEN`]-byte tag
//! appended and its length field grown by [`TAG_LEN`]:
//!
//! ```text
//! u32 LE (payload length + 16) | u8 kind | encrypted payload | tag
//! nonce = u64 LE sequence number | 4 zero bytes;  additional data = the 5-byte header
//! ```
//!
//! The sequence number is not sent: each side counts the frames of its direction from
//! 0, so a replayed, reordered, dropped or injected frame fails the check, and so does
//! every flipped bit. The receiver checks the tag before decoding anything; a bad tag
//! ends the connection. Each direction of each connection has its own session key (see
//! [`session_keys`](super::handshake::session_keys)), from which the AES key is derived
//! (HMAC-SHA256 over a label and a key epoch); both sides move to the next epoch's key
//! after [`REKEY_AFTER_BYTES`] of payload, well inside AES-GCM's usage limits.
//!
//! AES-256-GCM through `ring` (VAES and VPCLMULQDQ on AVX2 where the CPU has them, else
//! AES-NI and PCLMULQDQ) was chosen over a keyed-BLAKE3 MAC on measurements of real frame
//! sizes (`cargo bench --bench data_link`): 2 to 5 times faster on word-count batches and
//! 100-byte-payload batches, and it keeps tuples private on the wire as well.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::handshake::KEY_LEN;
use super::topology_secret::hmac_sha256;
use crate::cluster::wire::HEADER_LEN;

/// Length of a frame's tag, in bytes.
pub const TAG_LEN: usize = 16;

/// Payload bytes sealed under one key before both sides of a direction derive the next:
/// 16 GiB, a quarter of what TLS 1.3 allows one AES-GCM key (2^24.5 records of 16 KiB).
pub const REKEY_AFTER_BYTES: u64 = 1 << 34;

/// Environment variable that turns per-frame sealing off, for measuring its cost in a
/// benchmark only (`1`): the handshake still runs and both sides must agree (the setting
/// is part of what the proofs cover). Never set it on a real cluster.
pub const BENCH_NO_FRAME_MAC_ENV: &str = "SQUALL_BENCH_INSECURE_NO_FRAME_MAC";

/// Whether this process seals its frames (the default; see [`BENCH_NO_FRAME_MAC_ENV`]).
pub fn frame_mac_enabled() -> bool {
    std::env::var_os(BENCH_NO_FRAME_MAC_ENV).is_none_or(|v| v != "1")
}

/// A frame failed its check, or could not be sealed.
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
    /// A frame too long for one AES-GCM message (never the case under the frame limit).
    #[error("frame of {len} bytes is too long to seal")]
    TooLong {
        /// The frame's length.
        len: usize,
    },
}

/// One direction of one connection: its key and the next sequence number.
#[derive(Clone)]
pub struct FrameMac {
    session: [u8; KEY_LEN],
    key: LessSafeKey,
    /// The key's epoch (how many times both sides moved to a new key).
    epoch: u64,
    /// Payload bytes sealed or opened under the current key.
    used: u64,
    rekey_after: u64,
    seq: u64,
}

impl std::fmt::Debug for FrameMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameMac")
            .field("seq", &self.seq)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// The AES key of `epoch` for the direction whose session key is `session`.
fn epoch_key(session: &[u8; KEY_LEN], epoch: u64) -> LessSafeKey {
    let bytes = hmac_sha256(
        session,
        &[b"squall data frame key v1", &epoch.to_le_bytes()],
    );
    match UnboundKey::new(&AES_256_GCM, &bytes) {
        Ok(k) => LessSafeKey::new(k),
        Err(_) => unreachable!("an HMAC-SHA256 output is an AES-256 key"),
    }
}

impl FrameMac {
    /// The sealing of a direction whose session key is `key`, from sequence number 0.
    pub fn new(key: &[u8; KEY_LEN]) -> FrameMac {
        FrameMac::with_rekey_after(key, REKEY_AFTER_BYTES)
    }

    /// [`FrameMac::new`] moving to a new key after `rekey_after` payload bytes (tests).
    fn with_rekey_after(key: &[u8; KEY_LEN], rekey_after: u64) -> FrameMac {
        FrameMac {
            session: *key,
            key: epoch_key(key, 0),
            epoch: 0,
            used: 0,
            rekey_after,
            seq: 0,
        }
    }

    /// The nonce of the next frame, after moving to the next key if this one is used up
    /// (both sides count the same payload bytes, so they move together).
    fn next_nonce(&mut self, payload: usize) -> Nonce {
        if self.used >= self.rekey_after {
            self.epoch += 1;
            self.key = epoch_key(&self.session, self.epoch);
            self.used = 0;
        }
        self.used = self.used.saturating_add(payload as u64);
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&self.seq.to_le_bytes());
        Nonce::assume_unique_for_key(n)
    }

    /// Seal the plain frames `buf[start..]` (whole frames, as the wire encoder appends
    /// them): grow each length field, encrypt each payload and append each tag, numbering
    /// the frames in order. On an error `buf` holds only the frames sealed before it.
    pub fn seal_from(&mut self, buf: &mut Vec<u8>, start: usize) -> Result<(), FrameMacError> {
        let first_len = frame_len(&buf[start..]);
        if first_len == Some(buf.len() - start) {
            // The usual case: one frame, sealed in place.
            return self.seal_one(buf, start);
        }
        let plain = buf.split_off(start);
        let mut at = 0;
        while let Some(len) = frame_len(&plain[at..]) {
            let frame_start = buf.len();
            buf.extend_from_slice(&plain[at..at + len]);
            self.seal_one(buf, frame_start)?;
            at += len;
        }
        Ok(())
    }

    /// Seal the one plain frame `buf[start..]`.
    fn seal_one(&mut self, buf: &mut Vec<u8>, start: usize) -> Result<(), FrameMacError> {
        let len = buf.len() - start;
        let sealed = u32::try_from(len - HEADER_LEN + TAG_LEN)
            .map_err(|_| FrameMacError::TooLong { len })?;
        buf[start..start + 4].copy_from_slice(&sealed.to_le_bytes());
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&buf[start..start + HEADER_LEN]);
        let nonce = self.next_nonce(len - HEADER_LEN);
        let payload = &mut buf[start + HEADER_LEN..];
        match self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(header), payload)
        {
            Ok(tag) => buf.extend_from_slice(tag.as_ref()),
            Err(_) => {
                buf.truncate(start);
                return Err(FrameMacError::TooLong { len });
            }
        }
        self.seq += 1;
        Ok(())
    }

    /// Check the sealed frame `frame` (header included) and turn it back into the plain
    /// frame in place; returns the plain frame's length (`frame[..len]`). Nothing of the
    /// frame should be looked at when this fails.
    pub fn open(&mut self, frame: &mut [u8]) -> Result<usize, FrameMacError> {
        let len = frame.len();
        if len < HEADER_LEN + TAG_LEN {
            return Err(FrameMacError::TooShort { len });
        }
        let plain_payload = len - HEADER_LEN - TAG_LEN;
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&frame[..HEADER_LEN]);
        let nonce = self.next_nonce(plain_payload);
        let sealed = &mut frame[HEADER_LEN..];
        if self
            .key
            .open_in_place(nonce, Aad::from(header), sealed)
            .is_err()
        {
            return Err(FrameMacError::BadTag { seq: self.seq });
        }
        self.seq += 1;
        let plain_len = u32::try_from(plain_payload).map_err(|_| FrameMacError::TooLong { len })?;
        frame[..4].copy_from_slice(&plain_len.to_le_bytes());
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
        tx.seal_from(&mut buf, 2).unwrap();
        let start_b = buf.len();
        // Two frames at once (a split batch).
        buf.extend_from_slice(&b);
        buf.extend_from_slice(&a);
        tx.seal_from(&mut buf, start_b).unwrap();
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

    #[test]
    fn payloads_are_not_in_the_clear() {
        let key = [5u8; 32];
        let secret = b"a tuple nobody on the path should read";
        let mut buf = plain(2, secret);
        FrameMac::new(&key).seal_from(&mut buf, 0).unwrap();
        assert!(!buf.windows(8).any(|w| secret.windows(8).any(|s| s == w)));
        // The same plain frame sealed twice (two sequence numbers) differs.
        let mut tx = FrameMac::new(&key);
        let (mut one, mut two) = (plain(2, secret), plain(2, secret));
        tx.seal_from(&mut one, 0).unwrap();
        tx.seal_from(&mut two, 0).unwrap();
        assert_ne!(one, two);
    }

    #[test]
    fn both_sides_move_to_new_keys_together() {
        let key = [6u8; 32];
        let (mut tx, mut rx) = (
            FrameMac::with_rekey_after(&key, 64),
            FrameMac::with_rekey_after(&key, 64),
        );
        let mut lagging = FrameMac::with_rekey_after(&key, 1 << 20);
        let mut lagging_failed_at = None;
        for i in 0..40u8 {
            let payload = vec![i; 10 + usize::from(i)];
            let mut f = plain(i, &payload);
            tx.seal_from(&mut f, 0).unwrap();
            if lagging_failed_at.is_none() && lagging.open(&mut f.clone()).is_err() {
                lagging_failed_at = Some(i);
            }
            let n = rx.open(&mut f).unwrap();
            assert_eq!(&f[..n], &plain(i, &payload)[..], "frame {i}");
        }
        assert!(tx.epoch >= 10, "keys moved {} times", tx.epoch);
        assert_eq!(tx.epoch, rx.epoch);
        // A side that keeps the first key fails at the first frame under the second.
        assert!(
            matches!(lagging_failed_at, Some(i) if i > 0),
            "{lagging_failed_at:?}"
        );
    }
}
