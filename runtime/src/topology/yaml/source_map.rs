//! Where each node of a topology file is: key path -> 1-based line/column.
//!
//! Built from `saphyr-parser`'s spanned events, independently of the serde model, so that
//! semantic errors found after deserialization can still point at the offending node.
//! Paths are lists of [`Segment`]s rather than dotted strings because config keys contain
//! dots (`config` / `topology.workers` is two segments, not three).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use saphyr_parser::{BufferedInput, Event, Parser, Span};

use super::error::Location;
use super::limits::{self, Cap, LimitError, Limits};

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
///
/// Nodes are stored once each, linked to their parent (a path is never copied per node),
/// so the index takes memory in proportion to the text.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    /// Every indexed node; ids are indices.
    nodes: Vec<Entry>,
    /// (parent id, segment) -> child id.
    children: HashMap<(u32, Segment), u32>,
    /// The root node's id (`None` for an empty document).
    root: Option<u32>,
}

/// One indexed node.
#[derive(Debug, Clone)]
struct Entry {
    /// Its parent and the step from it (`None` for the root).
    parent: Option<(u32, Segment)>,
    span: NodeSpan,
}

/// What [`SourceMap::scan`] found: the index, and where the parser stopped early.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// The node positions (of the part before a syntax error, if any).
    pub map: SourceMap,
    /// The first YAML syntax error, if any.
    pub syntax_error: Option<SyntaxError>,
    /// Where a second document starts, if the text holds more than one.
    pub second_document: Option<Location>,
}

/// A YAML syntax error as the event parser reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where.
    pub location: Location,
    /// Byte offset of the end of the line it is on (newline included), or of the 1 KiB
    /// after it when that comes first: the text before it is all the scan vouches for.
    pub line_end: usize,
    /// What is wrong.
    pub message: String,
}

/// Parse state of an open collection.
struct Frame {
    /// The collection's node id, when it is indexed.
    node: Option<u32>,
    /// Node count when it started (for the size of an anchored collection).
    start: usize,
    /// Its anchor id (0: none).
    anchor: usize,
    state: FrameState,
}

enum FrameState {
    Map(KeyState),
    Seq(usize),
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

/// How many characters the parser has read and how many it may read: the parser's input
/// stops (as if the text ended) past the budget, and the scan reports it.
#[derive(Debug, Default)]
struct Budget {
    read: Cell<usize>,
    stop_at: Cell<usize>,
    tripped: Cell<bool>,
}

/// The text's characters, counted against a [`Budget`].
struct Counted<'a> {
    chars: std::str::Chars<'a>,
    budget: Rc<Budget>,
}

impl Iterator for Counted<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let read = self.budget.read.get();
        if read >= self.budget.stop_at.get() {
            self.budget.tripped.set(true);
            return None;
        }
        let c = self.chars.next()?;
        self.budget.read.set(read + 1);
        Some(c)
    }
}

/// The state of one [`SourceMap::scan`].
struct Scanner<'t> {
    text: &'t str,
    limits: Limits,
    map: SourceMap,
    stack: Vec<Frame>,
    /// Nodes seen so far, aliases expanded.
    count: usize,
    /// Anchor id -> nodes of the anchored node (once it is complete).
    anchors: HashMap<usize, usize>,
}

impl SourceMap {
    /// Index `text`. Lenient: a YAML syntax error stops indexing and keeps what was found
    /// so far (syntax errors are reported by the deserializer, with their own location).
    pub fn build(text: &str) -> SourceMap {
        match SourceMap::scan(text, &Limits::NONE) {
            Ok(scan) => scan.map,
            // Unreachable without limits; an empty index only loses locations.
            Err(_) => SourceMap::default(),
        }
    }

    /// Index the first document of `text` within `limits`, in one pass over the
    /// parser's events (no document is built): the first cap passed is an error naming
    /// it, its location and the key path there. A syntax error stops the scan and is
    /// returned in [`Scan::syntax_error`] with what was indexed before it.
    pub fn scan(text: &str, limits: &Limits) -> Result<Scan, LimitError> {
        if text.len() > limits.max_bytes {
            return Err(LimitError {
                cap: Cap::Bytes,
                location: limits::location_of(text, limits.max_bytes),
                path: String::new(),
                message: format!(
                    "the text is {} bytes long; at most {} bytes are accepted",
                    text.len(),
                    limits.max_bytes
                ),
            });
        }
        let budget = Rc::new(Budget::default());
        budget.stop_at.set(limits.max_node_chars);
        let input = BufferedInput::new(Counted {
            chars: text.chars(),
            budget: budget.clone(),
        });
        let mut scanner = Scanner {
            text,
            limits: *limits,
            map: SourceMap::default(),
            stack: Vec::new(),
            count: 0,
            anchors: HashMap::new(),
        };
        let mut out = Scan::default();
        let mut root_done = false;
        // Where the last event ended (character index): a budget overrun is about the
        // node after it.
        let mut last_end = 0usize;
        for item in Parser::new(input) {
            if budget.tripped.get() {
                return Err(scanner.too_long(last_end));
            }
            let (event, span) = match item {
                Ok(ev) => ev,
                Err(e) => {
                    let at = limits::byte_offset(text, e.marker().index());
                    // The rest of the line, at most 1 KiB of it (the deserializer is
                    // slow on long lines of deeply nested flow collections).
                    let mut line_end = text[at..]
                        .find('\n')
                        .map_or(text.len(), |i| at + i + 1)
                        .min(at.saturating_add(1024));
                    while !text.is_char_boundary(line_end) {
                        line_end -= 1;
                    }
                    out.syntax_error = Some(SyntaxError {
                        location: Location {
                            line: e.marker().line(),
                            column: e.marker().col() + 1,
                        },
                        line_end,
                        message: e.info().to_string(),
                    });
                    break;
                }
            };
            last_end = span.end.index();
            budget
                .stop_at
                .set(budget.read.get().saturating_add(limits.max_node_chars));
            match event {
                Event::DocumentStart(_) if root_done => {
                    out.second_document = Some(location(&span));
                    break;
                }
                Event::DocumentEnd if root_done => {
                    // A second document may still follow: keep reading until it starts.
                }
                _ => {}
            }
            scanner.event(event, &span, &mut root_done)?;
        }
        if budget.tripped.get() {
            return Err(scanner.too_long(last_end));
        }
        out.map = scanner.map;
        Ok(out)
    }

    /// Index a new node under `parent` (replacing one at the same place: the later of
    /// two equal keys wins, as in the deserializer).
    fn insert(&mut self, parent: Option<(u32, Segment)>, span: NodeSpan) -> Option<u32> {
        let existing = match &parent {
            None => self.root,
            Some(key) => self.children.get(key).copied(),
        };
        if let Some(id) = existing {
            if let Some(e) = self.nodes.get_mut(id as usize) {
                e.span = span;
            }
            return Some(id);
        }
        let id = u32::try_from(self.nodes.len()).ok()?;
        match &parent {
            None => self.root = Some(id),
            Some(key) => {
                self.children.insert(key.clone(), id);
            }
        }
        self.nodes.push(Entry { parent, span });
        Some(id)
    }

    /// The id of the node at `path`, or of its nearest indexed ancestor (`exact` tells
    /// which).
    fn find(&self, path: &KeyPath) -> Option<(u32, bool)> {
        let mut cur = self.root?;
        for seg in path.segments() {
            match self.children.get(&(cur, seg.clone())) {
                Some(&child) => cur = child,
                None => return Some((cur, false)),
            }
        }
        Some((cur, true))
    }

    /// The path of node `id`.
    fn path_of(&self, id: u32) -> KeyPath {
        let mut segs = Vec::new();
        let mut cur = self.nodes.get(id as usize);
        while let Some(Entry {
            parent: Some((parent, seg)),
            ..
        }) = cur
        {
            segs.push(seg.clone());
            cur = self.nodes.get(*parent as usize);
        }
        segs.reverse();
        KeyPath(segs)
    }

    /// The node at exactly this path.
    pub fn get(&self, path: &KeyPath) -> Option<&NodeSpan> {
        match self.find(path)? {
            (id, true) => self.nodes.get(id as usize).map(|e| &e.span),
            _ => None,
        }
    }

    /// Where an error about `path` should point: the node's preferred position, or that of
    /// its nearest indexed ancestor when the node itself is absent (e.g. a defaulted key).
    pub fn locate(&self, path: &KeyPath) -> Option<Location> {
        let (id, _) = self.find(path)?;
        self.nodes.get(id as usize).map(|e| e.span.preferred())
    }

    /// Kind of the root node (`None` for an empty document).
    pub fn root_kind(&self) -> Option<NodeKind> {
        let id = self.root?;
        self.nodes.get(id as usize).map(|e| e.span.kind)
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

impl Scanner<'_> {
    /// Handle one event; true when it needs nothing more (ends, document markers, keys).
    fn event(
        &mut self,
        event: Event<'_>,
        span: &Span,
        root_done: &mut bool,
    ) -> Result<bool, LimitError> {
        let (kind, anchor) = match event {
            Event::Scalar(value, _, anchor, _) => {
                self.count_nodes(1, span)?;
                if anchor != 0 {
                    self.anchors.insert(anchor, 1);
                }
                if self.key_event(Some(&value), span)? {
                    return Ok(true);
                }
                (NodeKind::Scalar, anchor)
            }
            Event::Alias(id) => {
                let size = self.alias_size(id, span)?;
                self.count_nodes(size, span)?;
                (NodeKind::Alias, 0)
            }
            Event::MappingStart(anchor, _) => (NodeKind::Mapping, anchor),
            Event::SequenceStart(anchor, _) => (NodeKind::Sequence, anchor),
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(frame) = self.stack.pop()
                    && frame.anchor != 0
                {
                    self.anchors.insert(frame.anchor, self.count - frame.start);
                }
                return Ok(true);
            }
            _ => return Ok(true),
        };
        let start = self.count;
        if matches!(kind, NodeKind::Mapping | NodeKind::Sequence) {
            self.count_nodes(1, span)?;
            if self.stack.len() >= self.limits.max_depth {
                return Err(self.error(
                    Cap::Depth,
                    location(span),
                    format!(
                        "the YAML is nested more than {} levels deep",
                        self.limits.max_depth
                    ),
                ));
            }
        }
        if kind != NodeKind::Scalar && self.key_event(None, span)? {
            // A collection or alias used as a key: index nothing below it.
            self.open(kind, None, start, anchor);
            return Ok(true);
        }
        let (parent, key) = match self.stack.last_mut() {
            None if *root_done => (None, None),
            None => {
                *root_done = true;
                (Some(None), None)
            }
            Some(Frame {
                node,
                state: FrameState::Seq(next),
                ..
            }) => {
                let child = node.map(|p| Some((p, Segment::Index(*next))));
                *next += 1;
                (child, None)
            }
            Some(Frame {
                node,
                state: FrameState::Map(key),
                ..
            }) => match std::mem::replace(key, KeyState::Expect) {
                KeyState::Have(k, loc) => (node.map(|p| Some((p, Segment::Key(k)))), Some(loc)),
                _ => (None, None),
            },
        };
        let id = match parent {
            Some(parent) => {
                let value = location(span);
                self.map.insert(parent, NodeSpan { key, value, kind })
            }
            None => None,
        };
        self.open(kind, id, start, anchor);
        Ok(false)
    }

    /// Push a frame for a collection that just started.
    fn open(&mut self, kind: NodeKind, node: Option<u32>, start: usize, anchor: usize) {
        let state = match kind {
            NodeKind::Mapping => FrameState::Map(KeyState::Expect),
            NodeKind::Sequence => FrameState::Seq(0),
            _ => return,
        };
        self.stack.push(Frame {
            node,
            start,
            anchor,
            state,
        });
    }

    /// If the innermost open collection is a mapping waiting for a key, consume this node
    /// as that key (`scalar` is its text, `None` for a non-scalar key) and return true.
    fn key_event(&mut self, scalar: Option<&str>, span: &Span) -> Result<bool, LimitError> {
        let Some(Frame {
            state: FrameState::Map(key),
            ..
        }) = self.stack.last()
        else {
            return Ok(false);
        };
        if !matches!(key, KeyState::Expect) {
            return Ok(false);
        }
        let at = location(span);
        let next = match scalar {
            Some(s) if s.len() > self.limits.max_key_bytes => {
                return Err(self.error(
                    Cap::KeyBytes,
                    at,
                    format!(
                        "a mapping key of {} bytes; keys are at most {} bytes",
                        s.len(),
                        self.limits.max_key_bytes
                    ),
                ));
            }
            Some(s) => KeyState::Have(s.to_string(), at),
            None if self.limits.scalar_keys_only => {
                return Err(self.error(
                    Cap::ComplexKey,
                    at,
                    "a mapping key must be a plain string, not a sequence, mapping or \
                     alias (`? ` complex keys are not accepted in a topology file)"
                        .to_string(),
                ));
            }
            None => KeyState::Complex,
        };
        if let Some(Frame {
            state: FrameState::Map(key),
            ..
        }) = self.stack.last_mut()
        {
            *key = next;
        }
        Ok(true)
    }

    /// Nodes an alias repeats: its anchored node's size (refused inside that node).
    fn alias_size(&self, id: usize, span: &Span) -> Result<usize, LimitError> {
        if let Some(&size) = self.anchors.get(&id) {
            return Ok(size);
        }
        if self.stack.iter().any(|f| f.anchor == id) {
            return Err(self.error(
                Cap::RecursiveAlias,
                location(span),
                "an alias inside the node it refers to (a recursive structure)".to_string(),
            ));
        }
        Ok(1)
    }

    /// Count `n` more nodes; past the cap, an error at `span`.
    fn count_nodes(&mut self, n: usize, span: &Span) -> Result<(), LimitError> {
        self.count = self.count.saturating_add(n);
        if self.count > self.limits.max_nodes {
            return Err(self.error(
                Cap::Nodes,
                location(span),
                format!(
                    "the YAML has more than {} nodes (an alias counts as every node it \
                     repeats)",
                    self.limits.max_nodes
                ),
            ));
        }
        Ok(())
    }

    /// The node after character `last_end` did not complete within the budget.
    fn too_long(&self, last_end: usize) -> LimitError {
        let from = limits::byte_offset(self.text, last_end);
        let at = limits::location_of(self.text, limits::node_start(self.text, from));
        self.error(
            Cap::NodeChars,
            at,
            format!(
                "a YAML node longer than {} characters starts here (a scalar, or a flow \
                 collection `[...]` / `{{...}}`, this long is not accepted; write long \
                 lists one item per line)",
                self.limits.max_node_chars
            ),
        )
    }

    /// A [`LimitError`] at `location`, with the path of the innermost indexed node.
    fn error(&self, cap: Cap, location: Location, message: String) -> LimitError {
        let path = self
            .stack
            .iter()
            .rev()
            .find_map(|f| f.node)
            .map(|id| self.map.path_of(id).to_string())
            .unwrap_or_default();
        LimitError {
            cap,
            location,
            path,
            message,
        }
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
