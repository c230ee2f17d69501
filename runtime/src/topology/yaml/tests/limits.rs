//! Caps on topology text (YAML bombs): each refused in bounded time with a located error
//! naming the cap, before any document is built.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::topology::yaml::limits::{
    MAX_TOPOLOGY_BYTES, MAX_TOPOLOGY_DEPTH, MAX_TOPOLOGY_KEY_BYTES, MAX_TOPOLOGY_NODE_CHARS,
    MAX_TOPOLOGY_NODES,
};

/// The single error of parsing `text` as `t.yaml`, which must come within 5 s.
fn refused(text: &str) -> SpecError {
    let start = Instant::now();
    let result = parse_str(text, Some(Path::new("t.yaml")));
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "refusing took {took:?} for {} bytes",
        text.len()
    );
    let Err(SpecErrors(errors)) = result else {
        panic!("the text ({} bytes) must be refused", text.len());
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

fn assert_at(e: &SpecError, line: usize, column: usize, path: &str, text: &str) {
    assert_eq!(e.file.as_deref(), Some(Path::new("t.yaml")), "{e}");
    assert_eq!(e.location, Some(Location { line, column }), "{e}");
    assert_eq!(e.path, path, "{e}");
    assert!(e.message.contains(text), "expected {text:?} in: {e}");
    assert!(e.message.starts_with("refused: "), "{e}");
}

/// A flow list of `n` one-letter items.
fn flow_list(n: usize) -> String {
    let mut s = String::with_capacity(3 * n + 2);
    s.push('[');
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('a');
    }
    s.push(']');
    s
}

#[test]
fn text_longer_than_the_cap_is_refused_where_it_passes_it() {
    let line = format!("# {}\n", "x".repeat(1021));
    let text = format!("name: x\n{}", line.repeat(MAX_TOPOLOGY_BYTES / 1024 + 1));
    let e = refused(&text);
    // Byte 4 MiB is 4096 lines of 1024 bytes after the 8-byte first line.
    assert_at(
        &e,
        4097,
        1017,
        "",
        &format!("at most {MAX_TOPOLOGY_BYTES} bytes"),
    );
}

#[test]
fn more_nodes_than_the_cap_is_refused_at_the_node_that_passes_it() {
    let text = format!("name: x\nspouts: {}\n", flow_list(MAX_TOPOLOGY_NODES + 10));
    let e = refused(&text);
    // Five nodes before the items (mapping, name, x, spouts, the list); item k is node
    // 6 + k, at column 10 + 3k.
    let k = MAX_TOPOLOGY_NODES + 1 - 6;
    assert_at(&e, 2, 10 + 3 * k, "spouts", "more than 100000 nodes");
}

#[test]
fn a_million_item_block_list_is_refused() {
    let text = format!("name: x\nspouts:\n{}", "- a\n".repeat(1_000_000));
    let e = refused(&text);
    assert_at(
        &e,
        2 + MAX_TOPOLOGY_NODES - 4,
        3,
        "spouts",
        "more than 100000 nodes",
    );
}

#[test]
fn alias_bomb_is_refused_at_the_alias_that_passes_the_cap() {
    // "Billion laughs": each line repeats the previous one ten times.
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = format!("*a{}", i - 1);
        let items = [p.as_str(); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    let e = refused(&text);
    assert_eq!(e.location.map(|l| l.line), Some(5), "{e}");
    assert!(
        e.message
            .contains("an alias counts as every node it repeats"),
        "{e}"
    );
    assert_eq!(e.path, "a4", "{e}");
}

#[test]
fn aliases_within_the_caps_still_work() {
    let text = "name: x\nconfig: &c {topology.workers: 2}\nspouts:\n  - id: s\n    className: WordSpout\n    config: *c\n";
    let parsed = parse_str(text, None).unwrap();
    assert_eq!(parsed.def.spouts[0].config.len(), 1);
}

#[test]
fn serde_yaml_alone_stops_only_the_largest_alias_bombs() {
    // serde_yaml refuses to expand aliases into more than 100 times the document's own
    // events ("repetition limit exceeded")...
    let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = format!("*a{}", i - 1);
        laughs.push_str(&format!("a{i}: &a{i} [{}]\n", [p.as_str(); 10].join(", ")));
    }
    let e = serde_yaml::from_str::<serde_yaml::Value>(&laughs).unwrap_err();
    assert!(e.to_string().contains("repetition limit exceeded"), "{e}");
    // ...but 100 times a 10 000 item list (1M values, ~230 MB, from 20 kB of text)
    // is within that limit: the scan refuses it before serde_yaml sees it.
    let bomb = format!(
        "a: &a {}\nb: [{}]\n",
        flow_list(10_000),
        vec!["*a"; 99].join(", ")
    );
    let e = refused(&bomb);
    // Line 1 holds 10 003 nodes, `b` and its list 2 more; each alias adds 10 001: the
    // ninth passes 100 000.
    assert_at(&e, 2, 5 + 4 * 8, "b", "more than 100000 nodes");
}

#[test]
fn recursive_alias_is_refused() {
    let e = refused("name: x\nconfig: &c\n  a: [*c]\n");
    assert_at(&e, 3, 7, "config.a", "alias inside the node it refers to");
}

#[test]
fn deep_nesting_is_refused_at_the_first_level_past_the_cap() {
    let block: String = (0..200)
        .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
        .collect();
    let e = refused(&block);
    // `k0` is in the top-level mapping (level 1); the mapping under `k62` is level 64.
    let path: Vec<String> = (0..MAX_TOPOLOGY_DEPTH).map(|i| format!("k{i}")).collect();
    assert_at(
        &e,
        MAX_TOPOLOGY_DEPTH + 1,
        2 * MAX_TOPOLOGY_DEPTH + 1,
        &path[..MAX_TOPOLOGY_DEPTH - 1].join("."),
        "nested more than 64 levels deep",
    );
    let sequences: String = (0..200).map(|i| format!("{}-\n", "  ".repeat(i))).collect();
    let e = refused(&sequences);
    assert_eq!(
        e.location,
        Some(Location {
            line: 65,
            column: 129
        }),
        "{e}"
    );
    assert!(e.message.contains("nested more than 64 levels"), "{e}");
}

#[test]
fn deep_flow_nesting_is_refused_quickly() {
    // The parser buffers nested flow collections and refuses past 255 levels, before the
    // depth cap sees them: a located syntax error, quickly (the deserializer reads only
    // the 1 KiB after it; it is slow on long lines of nested brackets).
    let depth = 100_000;
    let text = format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    let start = Instant::now();
    let e = parse_str(&text, Some(Path::new("t.yaml")))
        .map(|_| ())
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].location.map(|l| l.line), Some(1), "{e}");
    assert!(e.0[0].message.contains("recursion limit exceeded"), "{e}");
}

#[test]
fn long_keys_are_refused_at_the_key() {
    // (An implicit key `k: v` longer than 1024 characters is a YAML syntax error.)
    let key = "k".repeat(MAX_TOPOLOGY_KEY_BYTES + 1);
    let e = refused(&format!("name: x\nconfig:\n  ? {key}\n  : 1\n"));
    assert_at(
        &e,
        3,
        5,
        "config",
        "a mapping key of 1025 bytes; keys are at most 1024 bytes",
    );
    // A key at the cap is fine.
    let key = "k".repeat(MAX_TOPOLOGY_KEY_BYTES);
    parse_str(&format!("name: x\nconfig:\n  {key}: 1\n"), None).unwrap();
}

#[test]
fn complex_keys_are_refused_at_the_key() {
    for (text, line, column) in [
        ("name: x\n? [a, b]\n: 1\n", 2, 3),
        ("name: x\nconfig:\n  {a: b}: 1\n", 3, 3),
        ("name: x\nbase: &b c\nconfig:\n  *b : 1\n", 4, 3),
    ] {
        let e = refused(text);
        assert_eq!(e.location, Some(Location { line, column }), "{text}: {e}");
        assert!(
            e.message.contains("a mapping key must be a plain string"),
            "{e}"
        );
    }
}

#[test]
fn the_reported_bomb_is_refused_at_its_key() {
    // The submission that took nimbus to 14 GB: an explicit key of 1 MiB over a list of
    // 1.3M items (3.6 MiB).
    let text = format!(
        "? {}\n: {}\n",
        "k".repeat(1 << 20),
        flow_list(1_300_000).replace(", ", ",")
    );
    assert!(
        text.len() > 3 << 20 && text.len() < MAX_TOPOLOGY_BYTES,
        "{}",
        text.len()
    );
    let e = refused(&text);
    assert_at(
        &e,
        1,
        3,
        "",
        &format!("longer than {MAX_TOPOLOGY_NODE_CHARS} characters"),
    );
}

#[test]
fn long_flow_collections_the_parser_would_buffer_are_refused() {
    // saphyr-parser reads a flow collection that may still be a key whole before it
    // emits anything (~350 bytes per item): these are refused at the collection.
    let list = flow_list(MAX_TOPOLOGY_NODE_CHARS / 3 + 1000);
    for (text, line, column, path) in [
        (format!("name: x\n? k\n: {list}\n"), 3, 3, ""),
        (format!("name: x\nspouts:\n  - {list}\n"), 3, 5, "spouts"),
        (
            format!("name: x\nconfig:\n  k: [{list}]\n"),
            3,
            7,
            "config.k",
        ),
    ] {
        let e = refused(&text);
        assert_at(&e, line, column, path, "longer than 65536 characters");
    }
    // A long scalar too.
    let e = refused(&format!(
        "name: {}\n",
        "n".repeat(MAX_TOPOLOGY_NODE_CHARS + 100)
    ));
    assert_at(&e, 1, 7, "", "longer than 65536 characters");
    // A shorter list is fine.
    let ok = format!("name: x\nconfig:\n  k: {}\n", flow_list(1000));
    parse_str(&ok, None).unwrap();
}

#[test]
fn a_second_document_is_refused_where_it_starts() {
    let e = refused(&format!(
        "name: a\n---\nname: b\nspouts: {}\n",
        flow_list(200_000)
    ));
    assert_eq!(e.location, Some(Location { line: 2, column: 1 }), "{e}");
    assert!(e.message.contains("more than one YAML document"), "{e}");
}
