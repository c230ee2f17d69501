//! Encoding frames into a caller's (reused) buffer. Every function appends one whole
//! frame, header included; on error the buffer is left as it was.

use super::buf::{put_str, put_varint};
use super::values::put_value;
use super::{
    HEADER_LEN, Handshake, MAGIC, PROOF_LEN, PROTOCOL_VERSION, SchemaTable, WireError, kind,
};
use crate::api::ids::TaskId;
use crate::api::tuple::{StreamSchema, Tuple};
use crate::engine::acking::{AckMsg, Completion, Outcome};
use crate::engine::transfer::Envelope;

/// Append one frame of `kind` whose payload `body` writes.
#[inline]
fn framed(
    out: &mut Vec<u8>,
    kind: u8,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, kind]);
    let result = body(out).and_then(|()| {
        let len = out.len() - start - HEADER_LEN;
        let len = u32::try_from(len).map_err(|_| WireError::FrameTooLarge {
            len: len as u64,
            max: u32::MAX as usize,
        })?;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Append `env` as one frame. Ticks and stops are local to a worker and are refused
/// with [`WireError::NotSendable`].
pub(crate) fn encode(
    env: &Envelope,
    schemas: &SchemaTable,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    match env {
        Envelope::Batch { task, tuples } => encode_tuples(*task, tuples, schemas, out),
        Envelope::Acks { task, msgs } => encode_acks(*task, msgs, out),
        Envelope::Completions(c) => encode_completions(c, out),
        Envelope::Tick { .. } => Err(WireError::NotSendable { what: "tick" }),
        Envelope::Stop => Err(WireError::NotSendable { what: "stop" }),
        Envelope::Wake => Err(WireError::NotSendable { what: "wake" }),
    }
}

/// Append a tuple-batch frame: `tuples` for task `task` of the receiving worker.
///
/// Errors: a tuple whose stream is not in `schemas` (tick tuples never are), a tuple
/// whose value count differs from its stream's field count, lists nested deeper than
/// [`MAX_DEPTH`](super::MAX_DEPTH), or a frame over 4 GiB.
pub fn encode_tuples(
    task: TaskId,
    tuples: &[Tuple],
    schemas: &SchemaTable,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    framed(out, kind::TUPLES, |out| {
        out.extend_from_slice(&task.0.to_le_bytes());
        put_varint(out, tuples.len() as u64);
        // Consecutive tuples of a batch mostly share a stream: skip the lookup then.
        let mut last: Option<(&'static StreamSchema, u16)> = None;
        for t in tuples {
            let schema = t.schema();
            let index = match last {
                Some((s, i)) if std::ptr::eq(s, schema) => i,
                _ => {
                    let i = schema_index(t, schemas)?;
                    last = Some((schema, i));
                    i
                }
            };
            put_varint(out, u64::from(index));
            put_varint(out, u64::from(t.source_task().0));
            let pairs = t.anchors().pairs();
            put_varint(out, pairs.len() as u64);
            for &(root, edge) in pairs {
                out.extend_from_slice(&root.to_le_bytes());
                out.extend_from_slice(&edge.to_le_bytes());
            }
            let values = t.values();
            if values.len() != schema.fields.len() {
                return Err(WireError::Arity {
                    component: schema.component.clone(),
                    stream: schema.stream.clone(),
                    expected: schema.fields.len(),
                    got: values.len() as u64,
                    offset: out.len(),
                });
            }
            put_varint(out, values.len() as u64);
            for v in values.iter() {
                put_value(out, v)?;
            }
        }
        Ok(())
    })
}

#[cold]
fn schema_index(t: &Tuple, schemas: &SchemaTable) -> Result<u16, WireError> {
    schemas.index_of(t.schema()).ok_or_else(|| {
        if t.is_tick() {
            WireError::NotSendable { what: "tick" }
        } else {
            WireError::SchemaNotInTable {
                component: t.source_component().to_string(),
                stream: t.source_stream().to_string(),
            }
        }
    })
}

/// Append an acker-batch frame: `msgs` for acker task `task`.
pub(crate) fn encode_acks(
    task: TaskId,
    msgs: &[AckMsg],
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    framed(out, kind::ACKS, |out| {
        out.extend_from_slice(&task.0.to_le_bytes());
        put_varint(out, msgs.len() as u64);
        for m in msgs {
            match *m {
                AckMsg::Init {
                    root,
                    xor,
                    spout_task,
                    slot,
                } => {
                    out.push(0);
                    out.extend_from_slice(&root.to_le_bytes());
                    out.extend_from_slice(&xor.to_le_bytes());
                    put_varint(out, u64::from(spout_task.0));
                    put_varint(out, u64::from(slot));
                }
                AckMsg::Ack { root, xor } => {
                    out.push(1);
                    out.extend_from_slice(&root.to_le_bytes());
                    out.extend_from_slice(&xor.to_le_bytes());
                }
                AckMsg::Fail { root } => {
                    out.push(2);
                    out.extend_from_slice(&root.to_le_bytes());
                }
                AckMsg::Reset { root } => {
                    out.push(3);
                    out.extend_from_slice(&root.to_le_bytes());
                }
            }
        }
        Ok(())
    })
}

/// Append a completions frame (acker verdicts; each names its spout task).
pub(crate) fn encode_completions(msgs: &[Completion], out: &mut Vec<u8>) -> Result<(), WireError> {
    framed(out, kind::COMPLETIONS, |out| {
        put_varint(out, msgs.len() as u64);
        for c in msgs {
            put_varint(out, u64::from(c.spout_task.0));
            out.extend_from_slice(&c.root.to_le_bytes());
            put_varint(out, u64::from(c.slot));
            out.push(match c.outcome {
                Outcome::Acked => 0,
                Outcome::Failed => 1,
                Outcome::ResetTimeout => 2,
            });
        }
        Ok(())
    })
}

/// Append a handshake frame (the first frame on every connection).
pub fn encode_handshake(h: &Handshake, out: &mut Vec<u8>) -> Result<(), WireError> {
    framed(out, kind::HANDSHAKE, |out| {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        out.extend_from_slice(&h.schema_digest.to_le_bytes());
        put_str(out, h.topology_id.as_bytes());
        put_str(out, h.worker_id.as_bytes());
        out.extend_from_slice(&h.nonce);
        out.push(u8::from(h.frame_mac));
        Ok(())
    })
}

/// Append a proof frame carrying `proof`.
pub fn encode_proof(proof: &[u8; PROOF_LEN], out: &mut Vec<u8>) -> Result<(), WireError> {
    framed(out, kind::PROOF, |out| {
        out.extend_from_slice(proof);
        Ok(())
    })
}
