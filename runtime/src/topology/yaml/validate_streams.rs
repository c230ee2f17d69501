//! Checks of the `streams:` section (references, stream ids, groupings, duplicates,
//! cycles) and resolution of each entry into a [`Subscription`].

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::model::{GroupingKind, StreamDef};
use super::source_map::KeyPath;
use super::valid::{ComponentKind, Grouping, StreamDecl, Subscription};
use super::validate::{Checker, Comp, RESERVED_PREFIX, list};

/// Flux spelling of a grouping type.
fn kind_name(kind: GroupingKind) -> &'static str {
    match kind {
        GroupingKind::Shuffle => "SHUFFLE",
        GroupingKind::LocalOrShuffle => "LOCAL_OR_SHUFFLE",
        GroupingKind::Fields => "FIELDS",
        GroupingKind::PartialKey => "PARTIAL_KEY",
        GroupingKind::All => "ALL",
        GroupingKind::Global => "GLOBAL",
        GroupingKind::None => "NONE",
        GroupingKind::Direct => "DIRECT",
        GroupingKind::Custom => "CUSTOM",
    }
}

/// Check every stream entry; returns the resolved subscriptions (complete only when no
/// error was recorded). Also reports cycles of the component graph.
pub(super) fn check(
    ck: &mut Checker<'_>,
    comps: &[Comp<'_>],
    ids: &HashMap<&str, usize>,
) -> Vec<Subscription> {
    let parsed = ck.parsed;
    let streams = &parsed.def.streams;
    let mut subs = Vec::new();
    let mut edges = Vec::new();
    let mut seen: HashMap<(&str, &str, &str), usize> = HashMap::new();
    for (i, s) in streams.iter().enumerate() {
        let path = KeyPath::root().key("streams").index(i);
        let from = endpoint(ck, comps, ids, &path, s, true);
        let to = endpoint(ck, comps, ids, &path, s, false);
        let grouping = grouping(ck, comps, from, &path, s);
        let key = (
            s.from.as_str(),
            s.grouping.stream_id.as_str(),
            s.to.as_str(),
        );
        if let Some(&j) = seen.get(&key) {
            let prev = KeyPath::root().key("streams").index(j);
            let msg = format!(
                "duplicate subscription: '{}' already subscribes to stream '{}' of '{}' \
                 ({prev}, {}); remove one of them",
                s.to,
                s.grouping.stream_id,
                s.from,
                ck.line_of(&prev)
            );
            ck.err(&path, msg);
        } else {
            seen.insert(key, i);
        }
        if let (Some(f), Some(t)) = (from, to) {
            edges.push((f, t, i));
            if let Some(grouping) = grouping {
                subs.push(Subscription {
                    from: s.from.clone(),
                    stream: s.grouping.stream_id.clone(),
                    to: s.to.clone(),
                    grouping,
                });
            }
        }
    }
    cycles(ck, comps, &edges);
    subs
}

/// Resolve `from` (any component) or `to` (a bolt) to a component index.
fn endpoint(
    ck: &mut Checker<'_>,
    comps: &[Comp<'_>],
    ids: &HashMap<&str, usize>,
    path: &KeyPath,
    s: &StreamDef,
    is_from: bool,
) -> Option<usize> {
    let (field, id) = if is_from {
        ("from", &s.from)
    } else {
        ("to", &s.to)
    };
    let bolts: Vec<&str> = comps
        .iter()
        .filter(|c| c.section == ComponentKind::Bolt)
        .map(|c| c.def.id.as_str())
        .collect();
    match ids.get(id.as_str()) {
        None => {
            let known: Vec<&str> = if is_from {
                comps.iter().map(|c| c.def.id.as_str()).collect()
            } else {
                bolts
            };
            let what = if is_from { "ids" } else { "bolt ids" };
            ck.err(
                &path.key(field),
                format!(
                    "unknown component '{id}' in `{field}`; known {what} are: {}",
                    list(&known)
                ),
            );
            None
        }
        Some(&t) if !is_from && comps[t].section == ComponentKind::Spout => {
            ck.err(
                &path.key(field),
                format!(
                    "'{id}' is a spout; spouts take no input, `to` must name a bolt ({})",
                    list(&bolts)
                ),
            );
            None
        }
        Some(&c) => Some(c),
    }
}

/// Check the grouping against the source's declared stream and resolve its fields.
fn grouping(
    ck: &mut Checker<'_>,
    comps: &[Comp<'_>],
    from: Option<usize>,
    path: &KeyPath,
    s: &StreamDef,
) -> Option<Grouping> {
    let g = path.key("grouping");
    let kind = s.grouping.kind;
    let name = kind_name(kind);
    let sid = &s.grouping.stream_id;
    let by_fields = matches!(kind, GroupingKind::Fields | GroupingKind::PartialKey);
    let mut ok = true;
    if kind == GroupingKind::Custom {
        ck.err(
            &g.key("type"),
            format!(
                "custom groupings need a JVM class; use one of: {}",
                GroupingKind::ALL_NAMES.join(", ")
            ),
        );
        ok = false;
    }
    if sid.starts_with(RESERVED_PREFIX) {
        ck.err(
            &g.key("streamId"),
            format!(
                "stream id '{sid}' is reserved: stream ids starting with '__' belong to the system"
            ),
        );
        return None;
    }
    let from_id = from.map(|f| comps[f].def.id.as_str()).unwrap_or_default();
    let decls = from.and_then(|f| comps[f].streams.as_ref());
    let decl = match decls {
        None => None,
        Some(decls) => match decls.iter().find(|d| &d.id == sid) {
            Some(d) => Some(d),
            None if decls.is_empty() => {
                let class = from.map(|f| comps[f].def.class_name.as_str());
                ck.err(
                    &g.key("streamId"),
                    format!(
                        "'{from_id}' ({}) declares no output streams: it emits nothing, so \
                         '{}' cannot subscribe to it",
                        class.unwrap_or_default(),
                        s.to
                    ),
                );
                return None;
            }
            None => {
                let names: Vec<&str> = decls.iter().map(|d| d.id.as_str()).collect();
                ck.err(
                    &g.key("streamId"),
                    format!(
                        "'{from_id}' does not declare stream '{sid}'; its streams are: {}",
                        list(&names)
                    ),
                );
                return None;
            }
        },
    };
    if by_fields && s.grouping.args.is_empty() {
        let fields = decl.map(|d| {
            format!(
                "; stream '{sid}' of '{from_id}' has fields: {}",
                list(&d.fields)
            )
        });
        ck.err(
            &g.key("args"),
            format!(
                "{name} grouping needs at least one field name in `args`{}",
                fields.unwrap_or_default()
            ),
        );
        ok = false;
    }
    let decl: &StreamDecl = decl?;
    let mut indices = Vec::new();
    if by_fields {
        for (j, field) in s.grouping.args.iter().enumerate() {
            match decl.fields.iter().position(|f| f == field) {
                Some(ix) => indices.push(ix),
                None => {
                    ck.err(
                        &g.key("args").index(j),
                        format!(
                            "field '{field}' is not declared by '{from_id}' on stream '{sid}'; \
                             its fields are: {}",
                            list(&decl.fields)
                        ),
                    );
                    ok = false;
                }
            }
        }
    }
    if kind == GroupingKind::Direct && !decl.direct {
        ck.err(
            &g.key("type"),
            format!(
                "DIRECT grouping needs a direct stream, but stream '{sid}' of '{from_id}' is not \
                 direct; use another grouping type"
            ),
        );
        ok = false;
    } else if kind != GroupingKind::Direct && kind != GroupingKind::Custom && decl.direct {
        ck.err(
            &g.key("type"),
            format!(
                "stream '{sid}' of '{from_id}' is direct: subscribe to it with type DIRECT, \
                 not {name}"
            ),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    Some(match kind {
        GroupingKind::Shuffle => Grouping::Shuffle,
        GroupingKind::LocalOrShuffle => Grouping::LocalOrShuffle,
        GroupingKind::Fields => Grouping::Fields(indices),
        GroupingKind::PartialKey => Grouping::PartialKey(indices),
        GroupingKind::All => Grouping::All,
        GroupingKind::Global => Grouping::Global,
        GroupingKind::None => Grouping::None,
        GroupingKind::Direct | GroupingKind::Custom => Grouping::Direct,
    })
}

/// Report one cycle per strongly connected component of the component graph, located
/// at the stream entry that closes it. `edges` are `(from, to, stream index)`.
fn cycles(ck: &mut Checker<'_>, comps: &[Comp<'_>], edges: &[(usize, usize, usize)]) {
    let mut graph: DiGraph<usize, usize> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..comps.len()).map(|i| graph.add_node(i)).collect();
    for &(f, t, i) in edges {
        graph.add_edge(nodes[f], nodes[t], i);
    }
    let id = |n: NodeIndex| comps[graph[n]].def.id.as_str();
    let mut found = Vec::new();
    for scc in tarjan_scc(&graph) {
        let Some(&start) = scc.iter().min_by_key(|&&n| id(n)) else {
            continue;
        };
        if scc.len() < 2 && !graph.contains_edge(start, start) {
            continue;
        }
        let members: HashSet<NodeIndex> = scc.iter().copied().collect();
        // Breadth-first search for the shortest way back to `start` inside the SCC.
        let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut closing = None;
        'search: while let Some(u) = queue.pop_front() {
            let mut out: Vec<_> = graph.edges(u).map(|e| (*e.weight(), e.target())).collect();
            out.sort_unstable();
            for (stream, v) in out {
                if v == start {
                    closing = Some((u, stream));
                    break 'search;
                }
                if members.contains(&v) && v != start && !prev.contains_key(&v) {
                    prev.insert(v, u);
                    queue.push_back(v);
                }
            }
        }
        let Some((last, stream)) = closing else {
            continue;
        };
        let mut chain = vec![last];
        while let Some(&p) = chain.last().and_then(|n| prev.get(n)) {
            chain.push(p);
        }
        if chain.last() != Some(&start) {
            chain.push(start);
        }
        chain.reverse();
        let mut names: Vec<&str> = chain.iter().map(|&n| id(n)).collect();
        names.push(id(start));
        found.push((id(start).to_string(), stream, names.join(" -> ")));
    }
    found.sort();
    for (_, stream, cycle) in found {
        ck.err(
            &KeyPath::root().key("streams").index(stream),
            format!(
                "cycle in the component graph: {cycle}; topologies must be acyclic, remove \
                 or redirect one of these streams"
            ),
        );
    }
}
