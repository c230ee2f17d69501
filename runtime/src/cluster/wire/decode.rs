//! Decoding whole frames. Every length and count is checked against the bytes actually
//! present before anything is allocated for it; every failure is a [`WireError`].

use std::sync::Arc;

use super::buf::Cursor;
use super::values::read_value;
use super::{
    HEADER_LEN, Handshake, MAGIC, NONCE_LEN, PROOF_LEN, PROTOCOL_VERSION, SchemaTable, WireError,
    kind,
};
use crate::api::ids::TaskId;
use crate::api::tuple::{Anchors, Tuple, Values};
use crate::engine::acking::{AckMsg, Completion, Outcome};
use crate::engine::transfer::Envelope;

/// Smallest encoded tuple: schema index, source task, anchor count, value count.
const MIN_TUPLE: usize = 4;
/// Smallest encoded acker message: tag + root.
const MIN_ACK: usize = 9;
/// Smallest encoded completion: task, root, slot, outcome.
const MIN_COMPLETION: usize = 11;

/// Check the header of `frame` (which must be exactly one frame) and return its kind
/// and a cursor at the start of the payload.
fn header(frame: &[u8]) -> Result<(u8, Cursor<'_>), WireError> {
    let mut c = Cursor::new(frame, 0);
    let len = c.u32_le("frame length")? as usize;
    let kind = c.u8("frame kind")?;
    let available = frame.len() - HEADER_LEN;
    if len > available {
        return Err(WireError::Truncated {
            what: "frame payload",
            offset: HEADER_LEN,
            needed: len,
            available,
        });
    }
    if len < available {
        return Err(WireError::TrailingBytes {
            count: available - len,
            offset: HEADER_LEN + len,
        });
    }
    Ok((kind, c))
}

fn unexpected(kind: u8, expected: &'static str) -> WireError {
    if kind::is_known(kind) {
        WireError::UnexpectedKind {
            expected,
            found: kind,
        }
    } else {
        WireError::UnknownKind { kind, offset: 4 }
    }
}

/// Decode one whole frame (header included, nothing after it) into an envelope whose
/// tuples carry the interned schemas of `schemas`. The maximum frame size is the
/// [`FrameReader`](super::FrameReader)'s business.
pub(crate) fn decode(frame: &[u8], schemas: &SchemaTable) -> Result<Envelope, WireError> {
    let (kind, mut c) = header(frame)?;
    let env = match kind {
        kind::TUPLES => {
            let (task, tuples) = read_tuples(&mut c, schemas)?;
            Envelope::Batch { task, tuples }
        }
        kind::ACKS => {
            let (task, msgs) = read_acks(&mut c)?;
            Envelope::Acks { task, msgs }
        }
        kind::COMPLETIONS => Envelope::Completions(read_completions(&mut c)?),
        k => return Err(unexpected(k, "data")),
    };
    c.finish()?;
    Ok(env)
}

/// Decode one whole tuple-batch frame: the destination task and the tuples.
pub fn decode_tuples(
    frame: &[u8],
    schemas: &SchemaTable,
) -> Result<(TaskId, Vec<Tuple>), WireError> {
    let (kind, mut c) = header(frame)?;
    if kind != kind::TUPLES {
        return Err(unexpected(kind, "tuple batch"));
    }
    let r = read_tuples(&mut c, schemas)?;
    c.finish()?;
    Ok(r)
}

/// Decode one whole handshake frame, checking magic bytes and protocol version.
pub fn decode_handshake(frame: &[u8]) -> Result<Handshake, WireError> {
    let (kind, mut c) = header(frame)?;
    if kind != kind::HANDSHAKE {
        return Err(unexpected(kind, "handshake"));
    }
    let magic = c.take(4, "handshake magic")?;
    if magic != MAGIC {
        let mut found = [0u8; 4];
        found.copy_from_slice(magic);
        return Err(WireError::BadMagic { found });
    }
    let theirs = c.u16_le("protocol version")?;
    if theirs != PROTOCOL_VERSION {
        return Err(WireError::Version {
            theirs,
            ours: PROTOCOL_VERSION,
        });
    }
    let schema_digest = c.u64_le("schema digest")?;
    let topology_id = c.str("topology id")?.to_string();
    let worker_id = c.str("worker id")?.to_string();
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(c.take(NONCE_LEN, "handshake nonce")?);
    let flags = c.u8("handshake flags")?;
    c.finish()?;
    Ok(Handshake {
        topology_id,
        worker_id,
        schema_digest,
        nonce,
        frame_mac: flags & 1 == 1,
    })
}

/// Decode one whole proof frame: the sender's handshake proof.
pub fn decode_proof(frame: &[u8]) -> Result<[u8; PROOF_LEN], WireError> {
    let (kind, mut c) = header(frame)?;
    if kind != kind::PROOF {
        return Err(unexpected(kind, "handshake proof"));
    }
    let mut proof = [0u8; PROOF_LEN];
    proof.copy_from_slice(c.take(PROOF_LEN, "handshake proof")?);
    c.finish()?;
    Ok(proof)
}

fn read_tuples(
    c: &mut Cursor<'_>,
    schemas: &SchemaTable,
) -> Result<(TaskId, Vec<Tuple>), WireError> {
    let task = TaskId(c.u32_le("destination task")?);
    let n = c.count("tuple count", MIN_TUPLE)?;
    let mut tuples = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = c.offset();
        let index = c.varint("schema index")?;
        let schema = u16::try_from(index)
            .ok()
            .and_then(|i| schemas.get(i))
            .ok_or_else(|| WireError::UnknownSchema {
                index,
                len: schemas.len(),
                offset,
            })?;
        let source = TaskId(c.varint_u32("source task")?);
        let anchors = match c.count("anchor count", 16)? {
            0 => Anchors::None,
            1 => Anchors::One((c.u64_le("anchor root")?, c.u64_le("anchor edge")?)),
            k => {
                let mut pairs = Vec::with_capacity(k);
                for _ in 0..k {
                    pairs.push((c.u64_le("anchor root")?, c.u64_le("anchor edge")?));
                }
                Anchors::Many(Arc::from(pairs))
            }
        };
        let offset = c.offset();
        let got = c.varint("value count")?;
        let expected = schema.fields.len();
        if got != expected as u64 {
            return Err(WireError::Arity {
                component: schema.component.clone(),
                stream: schema.stream.clone(),
                expected,
                got,
                offset,
            });
        }
        let values = if expected == 1 {
            Values::from(read_value(c)?)
        } else {
            let mut values = Values::with_capacity(expected);
            for _ in 0..expected {
                values.push(read_value(c)?);
            }
            values
        };
        tuples.push(Tuple::with_anchors(values, schema, source, anchors));
    }
    Ok((task, tuples))
}

fn read_acks(c: &mut Cursor<'_>) -> Result<(TaskId, Vec<AckMsg>), WireError> {
    let task = TaskId(c.u32_le("acker task")?);
    let n = c.count("acker message count", MIN_ACK)?;
    let mut msgs = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = c.offset();
        let tag = c.u8("acker message tag")?;
        let root = c.u64_le("root id")?;
        msgs.push(match tag {
            0 => AckMsg::Init {
                root,
                xor: c.u64_le("xor")?,
                spout_task: TaskId(c.varint_u32("spout task")?),
                slot: c.varint_u32("pending slot")?,
            },
            1 => AckMsg::Ack {
                root,
                xor: c.u64_le("xor")?,
            },
            2 => AckMsg::Fail { root },
            3 => AckMsg::Reset { root },
            tag => {
                return Err(WireError::UnknownTag {
                    what: "acker message",
                    tag,
                    offset,
                });
            }
        });
    }
    Ok((task, msgs))
}

fn read_completions(c: &mut Cursor<'_>) -> Result<Vec<Completion>, WireError> {
    let n = c.count("completion count", MIN_COMPLETION)?;
    let mut msgs = Vec::with_capacity(n);
    for _ in 0..n {
        let spout_task = TaskId(c.varint_u32("spout task")?);
        let root = c.u64_le("root id")?;
        let slot = c.varint_u32("pending slot")?;
        let offset = c.offset();
        let outcome = match c.u8("outcome")? {
            0 => Outcome::Acked,
            1 => Outcome::Failed,
            2 => Outcome::ResetTimeout,
            tag => {
                return Err(WireError::UnknownTag {
                    what: "outcome",
                    tag,
                    offset,
                });
            }
        };
        msgs.push(Completion {
            spout_task,
            root,
            slot,
            outcome,
        });
    }
    Ok(msgs)
}
