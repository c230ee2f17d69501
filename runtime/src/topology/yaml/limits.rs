//! Caps on a topology file, checked on the parser's event stream before any YAML
//! document is built ([`super::SourceMap::scan`]), so a hostile file is refused in
//! bounded time and memory with an error saying which cap and where.
//!
//! Why each cap: `serde_yaml` builds the whole document (about 230 bytes per node, and an
//! alias is expanded once per use), and `saphyr-parser` buffers every token of a flow
//! collection (`[...]`, `{...}`) that could still turn out to be a mapping key (about
//! 350 bytes per item) before it emits anything. A 3.6 MiB file of one explicit `? ` key
//! over a 1.3 million item list took nimbus to 14 GB.

use std::fmt;

use super::error::Location;

/// The caps of one scan (see [`Limits::TOPOLOGY`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest text, in bytes.
    pub max_bytes: usize,
    /// Most nodes (scalars, mappings, sequences), an alias counting as every node of what
    /// it repeats.
    pub max_nodes: usize,
    /// Deepest nesting of mappings and sequences (the top-level mapping is depth 1).
    pub max_depth: usize,
    /// Longest mapping key, in bytes.
    pub max_key_bytes: usize,
    /// Most characters the parser may read without completing a node: bounds a single
    /// scalar and the flow collections the parser must buffer whole.
    pub max_node_chars: usize,
    /// Whether every mapping key must be a scalar (a sequence, mapping or alias used as
    /// a key is refused).
    pub scalar_keys_only: bool,
}

/// Longest topology file: 4 MiB (nimbus's default request limit).
pub const MAX_TOPOLOGY_BYTES: usize = 4 << 20;
/// Most nodes of a topology file (aliases expanded).
pub const MAX_TOPOLOGY_NODES: usize = 100_000;
/// Deepest nesting in a topology file.
pub const MAX_TOPOLOGY_DEPTH: usize = 64;
/// Longest mapping key in a topology file (config keys, component fields).
pub const MAX_TOPOLOGY_KEY_BYTES: usize = 1024;
/// Longest single node (a scalar, or a flow collection the parser buffers) of a
/// topology file, in characters.
pub const MAX_TOPOLOGY_NODE_CHARS: usize = 64 * 1024;

impl Limits {
    /// The caps every topology text is parsed with (nimbus, workers and the CLI).
    pub const TOPOLOGY: Limits = Limits {
        max_bytes: MAX_TOPOLOGY_BYTES,
        max_nodes: MAX_TOPOLOGY_NODES,
        max_depth: MAX_TOPOLOGY_DEPTH,
        max_key_bytes: MAX_TOPOLOGY_KEY_BYTES,
        max_node_chars: MAX_TOPOLOGY_NODE_CHARS,
        scalar_keys_only: true,
    };

    /// No caps (local files that are not topologies, e.g. daemon config files).
    pub const NONE: Limits = Limits {
        max_bytes: usize::MAX,
        max_nodes: usize::MAX,
        max_depth: usize::MAX,
        max_key_bytes: usize::MAX,
        max_node_chars: usize::MAX,
        scalar_keys_only: false,
    };
}

/// Which cap a text passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// [`Limits::max_bytes`].
    Bytes,
    /// [`Limits::max_nodes`].
    Nodes,
    /// [`Limits::max_depth`].
    Depth,
    /// [`Limits::max_key_bytes`].
    KeyBytes,
    /// [`Limits::max_node_chars`].
    NodeChars,
    /// [`Limits::scalar_keys_only`].
    ComplexKey,
    /// An alias used inside the node it refers to.
    RecursiveAlias,
}

/// A text refused by a cap: which, where, and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    /// The cap.
    pub cap: Cap,
    /// Where the text passed it.
    pub location: Location,
    /// Key path of the innermost node known there (may be empty).
    pub path: String,
    /// What was found, in words, with the limit.
    pub message: String,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.location.line, self.location.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for LimitError {}

/// The line and column of byte `offset` of `text` (clamped to its length; columns count
/// characters).
pub fn location_of(text: &str, offset: usize) -> Location {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Location {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

/// Byte offset of character `index` of `text` (its length past the end).
pub(crate) fn byte_offset(text: &str, index: usize) -> usize {
    text.char_indices()
        .nth(index)
        .map_or(text.len(), |(b, _)| b)
}

/// Where the node that follows byte `from` starts: whitespace, comments and the
/// indicators `-`, `?`, `:` (before a space) and `,` skipped.
pub(crate) fn node_start(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = from.min(bytes.len());
    while i < bytes.len() {
        let next_is_space = bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace());
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' | b',' => i += 1,
            b'-' | b'?' | b':' if next_is_space => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    i
}

/// Read the text file at `path`, refusing (`InvalidData`) one longer than `max` bytes or
/// not UTF-8: at most `max + 1` bytes are ever read, so `/dev/zero` or a huge file cost
/// nothing.
pub fn read_capped(path: &std::path::Path, max: usize) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() > max {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("the file is longer than the limit of {max} bytes"),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidData,
            format!("the file is not UTF-8 text ({e})"),
        )
    })
}
