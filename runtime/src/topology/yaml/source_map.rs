//! Where each node of a topology file is: key path -> 1-based line/column.
//!
//! Built from `saphyr-parser`'s spanned events, independently of the serde model, so that
//! semantic errors found after deserialization can still point at the offending node.
//! Paths are lists of [`Segment`]s rather than dotted strings because config keys contain
//! dots (`config` / `topology.workers` is two segments, not three).

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, Span};

use super::error::Location;

/// One step of a [`KeyPath`]: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A mapping key (any scalar key, as written; may contain dots).
    Key(String),
    /// A 0-based sequence index.
    Index(usize),
}

/// A path from the document root to a node, e.g. `streams[2].grouping.args[1]`.
///
/// Displayed with `.` between keys and `[i]` for indices; the display of a key that
/// contains dots is ambiguous, the segments are not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The document root (empty path).
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by a mapping key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segs = self.0.clone();
        segs.push(Segment::Key(key.into()));
        Self(segs)
    }

    /// This path extended by a sequence index.
    pub fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Segment::Index(index));
        Self(segs)
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// The parent path (`None` for the root).
    pub fn parent(&self) -> Option<KeyPath> {
        let (_, rest) = self.0.split_last()?;
        Some(Self(rest.to_vec()))
    }

    /// Whether this is the root path.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The segments after `prefix`, when this path starts with it (`Some(&[])` when
    /// equal).
    pub fn strip_prefix(&self, prefix: &KeyPath) -> Option<&[Segment]> {
        self.0.strip_prefix(prefix.0.as_slice())
    }

    /// Whether this path starts with `prefix` (or equals it).
    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// What kind of YAML node sits at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A scalar (string, number, bool, null).
    Scalar,
    /// A mapping.
    Mapping,
    /// A sequence.
    Sequence,
    /// An alias (`*name`); nodes below it are not indexed.
    Alias,
}

/// Position of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSpan {
    /// Where the node's key starts (`None` for the root and sequence items).
    pub key: Option<Location>,
    /// Where the node itself starts.
    pub value: Location,
    /// The node's kind.
    pub kind: NodeKind,
}

impl NodeSpan {
    /// The position an error about this node should point at: the value of a scalar,
    /// the key of a collection (its value usually starts on the next line).
    pub fn preferred(&self) -> Location {
        match (self.kind, self.key) {
            (NodeKind::Mapping | NodeKind::Sequence, Some(key)) => key,
            _ => self.value,
        }
    }
}

/// Index of node positions of the first document of a YAML text.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    nodes: HashMap<KeyPath, NodeSpan>,
}

/// Parse state of an open collection.
enum Frame {
    Map {
        path: Option<KeyPath>,
        key: KeyState,
    },
    Seq {
        path: Option<KeyPath>,
        next: usize,
    },
}

/// Where a mapping is between its keys and values.
enum KeyState {
    /// The next node is a key.
    Expect,
    /// The next node is the value of this scalar key.
    Have(String, Location),
    /// The next node is the value of a non-scalar key (not indexed).
    Complex,
}

fn location(span: &Span) -> Location {
    Location {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

impl SourceMap {
    /// Index `text`. Lenient: a YAML syntax error stops indexing and keeps what was found
    /// so far (syntax errors are reported by the deserializer, with their own location).
    pub fn build(text: &str) -> SourceMap {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut root_done = false;
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let kind = match event {
                Event::Scalar(value, ..) => {
                    if map.key_event(&mut stack, Some(&value), &span) {
                        continue;
                    }
                    NodeKind::Scalar
                }
                Event::Alias(_) => NodeKind::Alias,
                Event::MappingStart(..) => NodeKind::Mapping,
                Event::SequenceStart(..) => NodeKind::Sequence,
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    continue;
                }
                Event::DocumentEnd if root_done => break,
                _ => continue,
            };
            if kind != NodeKind::Scalar && map.key_event(&mut stack, None, &span) {
                // A collection or alias used as a key: index nothing below it.
                match kind {
                    NodeKind::Mapping => stack.push(Frame::Map {
                        path: None,
                        key: KeyState::Expect,
                    }),
                    NodeKind::Sequence => stack.push(Frame::Seq {
                        path: None,
                        next: 0,
                    }),
                    _ => {}
                }
                continue;
            }
            let (path, key) = match stack.last_mut() {
                None if root_done => (None, None),
                None => {
                    root_done = true;
                    (Some(KeyPath::root()), None)
                }
                Some(Frame::Seq { path, next }) => {
                    let child = path.as_ref().map(|p| p.index(*next));
                    *next += 1;
                    (child, None)
                }
                Some(Frame::Map { path, key }) => match std::mem::replace(key, KeyState::Expect) {
                    KeyState::Have(k, loc) => (path.as_ref().map(|p| p.key(k)), Some(loc)),
                    _ => (None, None),
                },
            };
            if let Some(p) = &path {
                let value = location(&span);
                map.nodes.insert(p.clone(), NodeSpan { key, value, kind });
            }
            match kind {
                NodeKind::Mapping => stack.push(Frame::Map {
                    path,
                    key: KeyState::Expect,
                }),
                NodeKind::Sequence => stack.push(Frame::Seq { path, next: 0 }),
                _ => {}
            }
        }
        map
    }

    /// If the innermost open collection is a mapping waiting for a key, consume this node
    /// as that key (`scalar` is its text, `None` for a non-scalar key) and return true.
    fn key_event(&self, stack: &mut [Frame], scalar: Option<&str>, span: &Span) -> bool {
        let Some(Frame::Map { key, .. }) = stack.last_mut() else {
            return false;
        };
        if !matches!(key, KeyState::Expect) {
            return false;
        }
        *key = match scalar {
            Some(s) => KeyState::Have(s.to_string(), location(span)),
            None => KeyState::Complex,
        };
        true
    }

    /// The node at exactly this path.
    pub fn get(&self, path: &KeyPath) -> Option<&NodeSpan> {
        self.nodes.get(path)
    }

    /// Where an error about `path` should point: the node's preferred position, or that of
    /// its nearest indexed ancestor when the node itself is absent (e.g. a defaulted key).
    pub fn locate(&self, path: &KeyPath) -> Option<Location> {
        let mut cur = Some(path.clone());
        while let Some(p) = cur {
            if let Some(node) = self.nodes.get(&p) {
                return Some(node.preferred());
            }
            cur = p.parent();
        }
        None
    }

    /// Kind of the root node (`None` for an empty document).
    pub fn root_kind(&self) -> Option<NodeKind> {
        self.nodes.get(&KeyPath::root()).map(|n| n.kind)
    }

    /// Number of indexed nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing was indexed (empty document).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn loc(line: usize, column: usize) -> Option<Location> {
        Some(Location { line, column })
    }

    const TEXT: &str = "\
name: demo
config:
  topology.workers: 2
spouts:
  - id: s
    className: S
streams:
  - from: s
    grouping: {type: FIELDS, args: [a, \"b\"]}
  - from: s
    grouping:
      type: SHUFFLE
";

    #[test]
    fn paths_to_positions() {
        let m = SourceMap::build(TEXT);
        let root = KeyPath::root();
        assert_eq!(m.root_kind(), Some(NodeKind::Mapping));
        assert_eq!(m.locate(&root.key("name")), loc(1, 7));
        let workers = root.key("config").key("topology.workers");
        assert_eq!(m.locate(&workers), loc(3, 21));
        assert_eq!(m.get(&workers).unwrap().key, loc(3, 3));
        assert_eq!(workers.to_string(), "config.topology.workers");
        assert_eq!(m.locate(&root.key("spouts").index(0)), loc(5, 5));
        assert_eq!(
            m.locate(&root.key("spouts").index(0).key("className")),
            loc(6, 16)
        );
        let args = root.key("streams").index(0).key("grouping").key("args");
        assert_eq!(m.locate(&args.index(1)), loc(9, 40));
        assert_eq!(args.index(1).to_string(), "streams[0].grouping.args[1]");
        // a block mapping value points at its key
        let g = root.key("streams").index(1).key("grouping");
        assert_eq!(m.locate(&g), loc(11, 5));
        assert_eq!(m.locate(&g.key("type")), loc(12, 13));
    }

    #[test]
    fn missing_path_falls_back_to_ancestor() {
        let m = SourceMap::build(TEXT);
        let p = KeyPath::root().key("spouts").index(0).key("parallelism");
        assert_eq!(m.locate(&p), loc(5, 5));
        assert_eq!(m.locate(&KeyPath::root().key("nope").index(3)), loc(1, 1));
    }

    #[test]
    fn empty_and_scalar_documents() {
        assert_eq!(SourceMap::build("").root_kind(), None);
        assert_eq!(SourceMap::build("# only a comment\n").root_kind(), None);
        assert_eq!(
            SourceMap::build("- a\n").root_kind(),
            Some(NodeKind::Sequence)
        );
        assert_eq!(
            SourceMap::build("hello\n").root_kind(),
            Some(NodeKind::Scalar)
        );
    }

    #[test]
    fn complex_keys_and_aliases_do_not_confuse_paths() {
        let m = SourceMap::build("? [a, b]\n: {x: 1}\nbase: &b {y: 2}\nother: *b\nlast: 3\n");
        assert_eq!(m.locate(&KeyPath::root().key("last")), loc(5, 7));
        assert_eq!(
            m.get(&KeyPath::root().key("other")).unwrap().kind,
            NodeKind::Alias
        );
        assert_eq!(m.locate(&KeyPath::root().key("other").key("y")), loc(4, 8));
    }

    #[test]
    fn syntax_error_keeps_prefix() {
        let m = SourceMap::build("name: a\nspouts: [\n");
        assert_eq!(m.locate(&KeyPath::root().key("name")), loc(1, 7));
    }
}
