//! Decoding malformed input: truncations, bad fields, oversized frames and random
//! garbage each give the right [`WireError`], never a panic.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::tests::{every_value, frame_of, multi_tuple, schema, table};
use super::*;
use crate::api::ids::TaskId;
use crate::api::tuple::{Anchors, Tuple, Values};
use crate::api::value::Value;
use crate::engine::acking::AckMsg;
use crate::engine::transfer::Envelope;

/// A frame with a correct header around `payload`.
fn raw(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_le_bytes().to_vec();
    f.push(kind);
    f.extend_from_slice(payload);
    f
}

fn word_batch() -> Vec<u8> {
    let t = table();
    let tuples = (0..3)
        .map(|i| {
            Tuple::with_anchors(
                Values::from(Value::from(format!("word{i}"))),
                schema("split", "default", &["word"]),
                TaskId(i),
                Anchors::One((i.into(), 9)),
            )
        })
        .collect();
    frame_of(
        &Envelope::Batch {
            task: TaskId(3),
            tuples,
        },
        &t,
    )
}

#[test]
fn every_truncation_is_an_error() {
    let t = table();
    let full = word_batch();
    for cut in 0..full.len() {
        let err = decode(&full[..cut], &t).unwrap_err();
        assert!(
            matches!(err, WireError::Truncated { .. }),
            "cut {cut}: {err}"
        );
        if cut >= HEADER_LEN {
            // Same prefix with the header patched to match: the payload itself is short.
            let patched = raw(full[4], &full[HEADER_LEN..cut]);
            let err = decode(&patched, &t).unwrap_err();
            assert!(
                matches!(
                    err,
                    WireError::Truncated { .. } | WireError::CountTooLarge { .. }
                ),
                "cut {cut}: {err}"
            );
        }
    }
}

#[test]
fn malformed_frames_give_the_right_error() {
    let t = table();
    let d = |f: &[u8]| decode(f, &t).unwrap_err();
    assert!(matches!(
        d(&raw(9, &[])),
        WireError::UnknownKind { kind: 9, offset: 4 }
    ));
    // Trailing bytes, inside the payload and after the frame.
    let mut payload = word_batch()[HEADER_LEN..].to_vec();
    payload.push(0);
    let n = payload.len() - 1;
    assert!(
        matches!(d(&raw(2, &payload)), WireError::TrailingBytes { count: 1, offset } if offset == n + HEADER_LEN)
    );
    let mut long = word_batch();
    long.push(0);
    assert!(matches!(
        d(&long),
        WireError::TrailingBytes { count: 1, .. }
    ));
    // dest task, count 1, schema index 3 (spout:default), source 1, no anchors, 1 value.
    let tuple = |tail: &[u8]| raw(2, &[&[0, 0, 0, 0, 1, 3, 1, 0, 1][..], tail].concat());
    assert!(decode(&tuple(&[5, 1, b'x']), &t).is_ok());
    assert!(matches!(
        d(&tuple(&[99])),
        WireError::UnknownTag {
            tag: 99,
            offset: 14,
            ..
        }
    ));
    assert!(matches!(
        d(&tuple(&[5, 2, 0xff, 0xfe])),
        WireError::InvalidUtf8 { offset: 16, .. }
    ));
    assert!(matches!(
        d(&tuple(&[5, 5, b'x'])),
        WireError::CountTooLarge {
            what: "string value",
            ..
        }
    ));
    let nested: Vec<u8> = std::iter::repeat_n([7u8, 1], 40)
        .flatten()
        .chain([0])
        .collect();
    assert!(matches!(d(&tuple(&nested)), WireError::TooDeep { .. }));
    let bad_varint = [
        3u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ];
    assert!(matches!(
        d(&tuple(&bad_varint)),
        WireError::BadVarint { offset: 15, .. }
    ));
    // Unknown schema index, wrong value count.
    let unknown = raw(2, &[0, 0, 0, 0, 1, 0x80, 0x01, 1, 0, 0]);
    assert!(matches!(
        d(&unknown),
        WireError::UnknownSchema {
            index: 128,
            offset: 10,
            ..
        }
    ));
    let arity = raw(2, &[0, 0, 0, 0, 1, 3, 1, 0, 2, 0, 0]);
    assert!(matches!(
        d(&arity),
        WireError::Arity {
            expected: 1,
            got: 2,
            offset: 13,
            ..
        }
    ));
    // Counts the frame cannot hold are refused before allocating.
    let huge = raw(2, &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        d(&huge),
        WireError::CountTooLarge {
            what: "tuple count",
            ..
        }
    ));
    let acks = raw(3, &[0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(
        d(&acks),
        WireError::UnknownTag {
            what: "acker message",
            tag: 8,
            ..
        }
    ));
    let outcome = raw(4, &[1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3]);
    assert!(matches!(
        d(&outcome),
        WireError::UnknownTag {
            what: "outcome",
            tag: 3,
            offset: 16
        }
    ));
    let task = raw(
        3,
        &[
            0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    let mut over = task.clone();
    over.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x10, 0]);
    over[0] += 6;
    assert!(matches!(
        d(&over),
        WireError::OutOfRange {
            what: "spout task",
            ..
        }
    ));
}

/// A reader that hands out at most `chunk` bytes per call.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn frame_reader_yields_whole_frames_and_checks_sizes() {
    let t = table();
    let one = word_batch();
    let mut stream = Vec::new();
    for _ in 0..50 {
        stream.extend_from_slice(&one);
    }
    for chunk in [1, 7, 1 << 20] {
        let mut r = FrameReader::new(
            Trickle {
                data: &stream,
                chunk,
            },
            DEFAULT_MAX_FRAME,
        );
        let mut n = 0;
        while let Some(f) = r.next_frame().unwrap() {
            assert_eq!(f, &one[..]);
            decode(f, &t).unwrap();
            n += 1;
        }
        assert_eq!(n, 50);
        assert_eq!(r.stream_offset(), stream.len() as u64);
    }
    let cut = &stream[..one.len() + 3];
    let mut r = FrameReader::new(cut, DEFAULT_MAX_FRAME);
    assert!(r.next_frame().unwrap().is_some());
    assert!(matches!(
        r.next_frame(),
        Err(WireError::UnexpectedEof {
            buffered: 3,
            needed: HEADER_LEN
        })
    ));
    let big = raw(2, &[0; 101]);
    let mut r = FrameReader::new(&big[..], 100);
    assert!(matches!(
        r.next_frame(),
        Err(WireError::FrameTooLarge { len: 101, max: 100 })
    ));
    let mut r = FrameReader::new(&[0xff, 0xff, 0xff, 0xff, 2][..], DEFAULT_MAX_FRAME);
    assert!(matches!(
        r.next_frame(),
        Err(WireError::FrameTooLarge { .. })
    ));
}

#[test]
fn garbage_never_panics() {
    let t = table();
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let valid = [
        word_batch(),
        frame_of(
            &Envelope::Batch {
                task: TaskId(1),
                tuples: vec![multi_tuple(&every_value()[1..], Anchors::One((1, 2)))],
            },
            &t,
        ),
        frame_of(
            &Envelope::Acks {
                task: TaskId(1),
                msgs: vec![AckMsg::Fail { root: 3 }],
            },
            &t,
        ),
    ];
    for i in 0..6_000 {
        let frame = match i % 3 {
            // Pure noise, sometimes with a plausible header.
            0 => {
                let len = rng.random_range(0..64);
                let payload: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                if rng.random() {
                    raw(rng.random_range(0..6), &payload)
                } else {
                    payload
                }
            }
            // A valid frame with a few bytes flipped.
            _ => {
                let mut f = valid[rng.random_range(0..valid.len())].clone();
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..f.len());
                    f[at] = rng.random();
                }
                f
            }
        };
        let _ = decode(&frame, &t);
        let _ = decode_handshake(&frame);
        if i % 8 == 0 {
            let mut r = FrameReader::new(&frame[..], 1 << 10);
            while let Ok(Some(f)) = r.next_frame() {
                let _ = decode(f, &t);
            }
        }
    }
}

#[test]
fn a_header_announcing_a_large_frame_costs_memory_only_as_its_bytes_arrive() {
    // A peer announces 16 MiB and sends 1 000 bytes, then stops (here: the stream ends).
    let mut stream = (DEFAULT_MAX_FRAME as u32).to_le_bytes().to_vec();
    stream.push(2);
    stream.extend(std::iter::repeat_n(0u8, 1000));
    let mut r = FrameReader::new(&stream[..], DEFAULT_MAX_FRAME);
    assert!(matches!(
        r.next_frame(),
        Err(WireError::UnexpectedEof { .. })
    ));
    assert!(
        r.buffer_capacity() <= 128 * 1024,
        "{} bytes buffered for 1 005 received",
        r.buffer_capacity()
    );
    // A frame that does arrive whole is read whatever its size.
    let big = raw(2, &vec![7u8; 3 << 20]);
    let mut r = FrameReader::new(&big[..], DEFAULT_MAX_FRAME);
    assert_eq!(r.next_frame().unwrap().map(<[u8]>::len), Some(big.len()));
}
