//! What can go wrong encoding or decoding a frame.

use thiserror::Error;

/// A frame could not be encoded or decoded. Decoding errors name the field and the byte
/// offset (from the start of the frame, header included) where the problem is.
#[derive(Debug, Error)]
pub enum WireError {
    /// The frame ends before a field does.
    #[error("truncated frame: {what} at byte {offset} needs {needed} bytes, only {available} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where the field starts.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the frame.
        available: usize,
    },
    /// The header announces a payload longer than the configured maximum frame size.
    #[error("frame payload of {len} bytes exceeds the maximum frame size of {max} bytes")]
    FrameTooLarge {
        /// Announced (or, when encoding, actual) payload length.
        len: u64,
        /// The maximum.
        max: usize,
    },
    /// The frame kind byte is not one this protocol version knows.
    #[error("unknown frame kind {kind:#04x} at byte {offset}")]
    UnknownKind {
        /// The kind byte.
        kind: u8,
        /// Its offset.
        offset: usize,
    },
    /// A valid frame of a kind that is not expected here (e.g. data before the handshake).
    #[error("expected a {expected} frame, got frame kind {found:#04x}")]
    UnexpectedKind {
        /// What was expected.
        expected: &'static str,
        /// The kind byte found.
        found: u8,
    },
    /// A tag byte (value type, acker message type, outcome) is unknown.
    #[error("unknown {what} tag {tag:#04x} at byte {offset}")]
    UnknownTag {
        /// What the tag selects.
        what: &'static str,
        /// The tag byte.
        tag: u8,
        /// Its offset.
        offset: usize,
    },
    /// A varint is longer than 10 bytes or overflows 64 bits.
    #[error("malformed varint ({what}) at byte {offset}")]
    BadVarint {
        /// The field being read.
        what: &'static str,
        /// Where the varint starts.
        offset: usize,
    },
    /// An integer field holds a value its type cannot.
    #[error("{what} {value} at byte {offset} is out of range (max {max})")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// The value read.
        value: u64,
        /// The largest valid value.
        max: u64,
        /// Where the field starts.
        offset: usize,
    },
    /// An element count that the rest of the frame cannot possibly hold.
    #[error("{what} of {count} at byte {offset} cannot fit in the {remaining} bytes left")]
    CountTooLarge {
        /// The count field.
        what: &'static str,
        /// The count read.
        count: u64,
        /// Bytes left after the count.
        remaining: usize,
        /// Where the count starts.
        offset: usize,
    },
    /// A string is not valid UTF-8.
    #[error("invalid UTF-8 in {what} at byte {offset}")]
    InvalidUtf8 {
        /// The field.
        what: &'static str,
        /// Where the string's bytes start.
        offset: usize,
    },
    /// A tuple names a schema index the table does not have.
    #[error("unknown schema index {index} at byte {offset} (the table has {len} schemas)")]
    UnknownSchema {
        /// The index read.
        index: u64,
        /// Number of schemas in the table.
        len: usize,
        /// Where the index starts.
        offset: usize,
    },
    /// A tuple's value count differs from its stream's field count.
    #[error(
        "tuple of {component}:{stream} at byte {offset} has {got} values; \
         the stream declares {expected} fields"
    )]
    Arity {
        /// Emitting component.
        component: String,
        /// Stream.
        stream: String,
        /// Declared field count.
        expected: usize,
        /// Value count read.
        got: u64,
        /// Where the value count starts.
        offset: usize,
    },
    /// Bytes left over after the frame's content.
    #[error("{count} trailing bytes after the frame's content at byte {offset}")]
    TrailingBytes {
        /// How many.
        count: usize,
        /// Where they start.
        offset: usize,
    },
    /// Lists nested deeper than the protocol allows.
    #[error("values nested deeper than {max} levels at byte {offset}")]
    TooDeep {
        /// The limit.
        max: usize,
        /// Where the too-deep value starts (the output position when encoding).
        offset: usize,
    },
    /// The handshake does not start with the protocol's magic bytes.
    #[error("bad handshake magic {found:02x?}: not a Squall worker")]
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// The peer speaks another protocol version.
    #[error("peer speaks wire protocol version {theirs}; this worker speaks {ours}")]
    Version {
        /// The peer's version.
        theirs: u16,
        /// Ours.
        ours: u16,
    },
    /// Encoding a tuple whose stream is not in the schema table.
    #[error(
        "stream {component}:{stream} is not in the schema table (not declared by the topology)"
    )]
    SchemaNotInTable {
        /// Emitting component.
        component: String,
        /// Stream.
        stream: String,
    },
    /// Encoding an envelope that only has a meaning inside one worker.
    #[error("{what} envelopes never cross workers")]
    NotSendable {
        /// Which envelope.
        what: &'static str,
    },
    /// More distinct streams than the 16-bit schema index can name.
    #[error("the topology declares {count} streams; the wire format allows at most 65536")]
    TooManySchemas {
        /// Number of streams.
        count: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("connection closed in the middle of a frame ({buffered} of {needed} bytes received)")]
    UnexpectedEof {
        /// Bytes of the frame received.
        buffered: usize,
        /// Bytes the frame needs.
        needed: usize,
    },
    /// Reading from the underlying stream failed.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
}
