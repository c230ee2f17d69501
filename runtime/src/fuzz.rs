//! Entry points for the cargo-fuzz targets in the repository's `fuzz/` directory: each
//! feeds arbitrary bytes through a reader exactly as the runtime does with bytes from
//! outside the process. Not a stable API; hidden from the documentation.

use crate::api::tuple::{Fields, StreamSchema};
use crate::cluster::wire::{self, FrameReader, SchemaTable, WireError};

/// What a worker's data port does with the bytes of one connection: frames read with
/// the default maximum frame size, the first decoded as the handshake, every later one
/// as a data frame against a small schema table. Returns how many data frames decoded
/// before the first error or the end of the bytes; never panics (the fuzzer checks).
pub fn wire_stream(bytes: &[u8]) -> Result<usize, WireError> {
    let schemas = fuzz_schemas()?;
    let mut frames = FrameReader::new(bytes, wire::DEFAULT_MAX_FRAME);
    match frames.next_frame()? {
        Some(frame) => {
            wire::decode_handshake(frame)?;
        }
        None => return Ok(0),
    }
    let mut decoded = 0;
    while let Some(frame) = frames.next_frame()? {
        wire::decode(frame, &schemas)?;
        decoded += 1;
    }
    Ok(decoded)
}

/// Data frames alone (no handshake first), decoded like [`wire_stream`]'s later frames:
/// lets the fuzzer reach the tuple, ack and completion decoders without having to find
/// a valid handshake first.
pub fn wire_frames(bytes: &[u8]) -> Result<usize, WireError> {
    let schemas = fuzz_schemas()?;
    let mut frames = FrameReader::new(bytes, wire::DEFAULT_MAX_FRAME);
    let mut decoded = 0;
    while let Some(frame) = frames.next_frame()? {
        wire::decode(frame, &schemas)?;
        decoded += 1;
    }
    Ok(decoded)
}

/// The schema table of the wire targets: a word stream, a counted-word stream and a
/// three-field stream on a named stream.
fn fuzz_schemas() -> Result<SchemaTable, WireError> {
    SchemaTable::from_schemas([
        StreamSchema::intern("words", "default", &Fields::new(["word"])),
        StreamSchema::intern("count", "default", &Fields::new(["word", "count"])),
        StreamSchema::intern("multi", "side", &Fields::new(["a", "b", "c"])),
    ])
}

/// What the multi-lang host does with a subprocess's standard output: `JSON\nend\n`
/// frames, the first parsed as the `{"pid": N}` handshake, every later one as a
/// message (emit, ack, log, ...). Returns how many messages parsed before the end of
/// the bytes, or the error the host would close the subprocess with.
pub fn multilang_stream(bytes: &[u8]) -> Result<usize, String> {
    crate::multilang::read_messages(bytes)
}
