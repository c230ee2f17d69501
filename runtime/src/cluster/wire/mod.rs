//! The binary codec for everything an executor queue carries between workers.
//!
//! # Frames
//!
//! Every message is one frame:
//!
//! ```text
//! u32 LE payload length | u8 kind | payload
//! ```
//!
//! The length counts the payload only (not the 5-byte header). A reader refuses a
//! payload longer than its maximum frame size ([`DEFAULT_MAX_FRAME`], 16 MiB).
//! "varint" is unsigned LEB128; integers in values are zigzag varints.
//!
//! | kind | frame        | payload |
//! |------|--------------|---------|
//! | 1    | handshake    | magic `SQWL`, u16 LE protocol version, u64 LE schema digest, topology id (varint len + UTF-8), sender worker id (same), 32-byte nonce, u8 flags (bit 0: frames carry MACs) |
//! | 2    | tuple batch  | u32 LE destination task, varint count, per tuple: varint schema index, varint source task, varint anchor count + that many (u64 LE root, u64 LE edge), varint value count + values |
//! | 3    | acker batch  | u32 LE acker task, varint count, per message: u8 tag (0 init, 1 ack, 2 fail, 3 reset), u64 LE root, then init: u64 LE xor, varint spout task, varint slot; ack: u64 LE xor |
//! | 4    | completions  | varint count, per verdict: varint spout task, u64 LE root, varint slot, u8 outcome (0 acked, 1 failed, 2 reset timeout) |
//! | 5    | proof        | 32 bytes: the sender's handshake proof (see `cluster::auth::handshake`) |
//!
//! After the handshake, data frames (kinds 2 to 4) are sealed with a MAC (see
//! `cluster::auth::frame_mac`): their length field counts the 16-byte tag that follows
//! the payload.
//!
//! Values are a tag byte and a body (see the table in `values.rs`): null, false, true,
//! int, float, string, bytes and nested lists (at most [`MAX_DEPTH`] deep).
//!
//! A tuple names its stream by its index in the [`SchemaTable`] both workers build from
//! the same topology (the handshake compares the table digests), and decoded tuples
//! carry the interned [`StreamSchema`](crate::api::tuple::StreamSchema), so receiving
//! executors treat them exactly like local ones. Anchors are normalized on decode: no
//! pairs is `Anchors::None`, one is `Anchors::One`. The acking value of a tuple (local
//! bolt-side state) is not sent; ticks and stops never cross workers.
//!
//! Decoding validates everything and never panics: unknown kinds and tags, truncated
//! payloads, oversized frames, invalid UTF-8, unknown schema indices, value counts that
//! differ from the stream's field count, malformed varints, counts the remaining bytes
//! cannot hold and trailing bytes are each a [`WireError`] naming the field and its
//! byte offset in the frame.

mod buf;
mod decode;
mod encode;
mod error;
mod reader;
pub(crate) mod record;
mod schemas;
mod values;

#[cfg(test)]
mod malformed;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub(crate) use decode::decode;
pub use decode::{decode_handshake, decode_proof, decode_tuples};
pub(crate) use encode::{encode, encode_acks, encode_completions};
pub use encode::{encode_handshake, encode_proof, encode_tuples};
pub use error::WireError;
pub use reader::FrameReader;
pub use schemas::SchemaTable;
pub use values::MAX_DEPTH;

/// The wire protocol version this build speaks; peers must speak the same (3: frames
/// sealed with AES-256-GCM instead of a keyed-BLAKE3 MAC).
pub const PROTOCOL_VERSION: u16 = 3;

/// The first bytes of every handshake payload.
pub const MAGIC: [u8; 4] = *b"SQWL";

/// Default maximum payload length of one frame: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// Length of the frame header: u32 payload length + u8 kind.
pub const HEADER_LEN: usize = 5;

/// Frame kind bytes.
pub(crate) mod kind {
    /// Handshake.
    pub(crate) const HANDSHAKE: u8 = 1;
    /// Tuple batch.
    pub(crate) const TUPLES: u8 = 2;
    /// Acker batch.
    pub(crate) const ACKS: u8 = 3;
    /// Completions.
    pub(crate) const COMPLETIONS: u8 = 4;
    /// Handshake proof.
    pub(crate) const PROOF: u8 = 5;

    /// Whether `k` is a kind this version knows.
    pub(crate) fn is_known(k: u8) -> bool {
        (HANDSHAKE..=PROOF).contains(&k)
    }
}

/// The first frame each side of a connection sends: who it is and which topology (and
/// stream table) it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// Id of the topology the sender runs.
    pub topology_id: String,
    /// Id of the sending worker, for logs.
    pub worker_id: String,
    /// The sender's [`SchemaTable::digest`].
    pub schema_digest: u64,
    /// The sender's fresh nonce for this connection.
    pub nonce: [u8; NONCE_LEN],
    /// Whether the sender seals data frames with a MAC (off only in a benchmark).
    pub frame_mac: bool,
}

/// Length of a handshake nonce.
pub const NONCE_LEN: usize = 32;

/// Length of a handshake proof.
pub const PROOF_LEN: usize = 32;
