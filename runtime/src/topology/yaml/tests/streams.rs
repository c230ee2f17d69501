//! Checks of the `streams:` section.

use super::*;

/// Components for stream tests; stream entries start at line 17.
const TOPO: &str = "\
name: test
spouts:
  - id: multi
    className: MultiSpout
  - id: words
    className: WordSpout
bolts:
  - id: split
    className: SplitBolt
  - id: count
    className: CountBolt
  - id: sink
    className: SinkBolt
  - id: split2
    className: SplitBolt
streams:
";

/// One stream entry (3 lines: from, to, grouping) in flow style.
fn entry(from: &str, to: &str, grouping: &str) -> String {
    format!("  - from: {from}\n    to: {to}\n    grouping: {{{grouping}}}\n")
}

fn with(entries: &[String]) -> String {
    format!("{TOPO}{}", entries.concat())
}

#[test]
fn unknown_from_lists_known_ids() {
    let e = one_error(&with(&[entry("wordz", "split", "type: SHUFFLE")]));
    assert_err(
        &e,
        "streams[0].from",
        17,
        11,
        "unknown component 'wordz' in `from`; known ids are: multi, words, split, count, sink, split2",
    );
}

#[test]
fn unknown_to_lists_bolts() {
    let e = one_error(&with(&[entry("words", "splt", "type: SHUFFLE")]));
    assert_err(
        &e,
        "streams[0].to",
        18,
        9,
        "unknown component 'splt' in `to`; known bolt ids are: split, count, sink, split2",
    );
}

#[test]
fn to_a_spout() {
    let e = one_error(&with(&[entry("words", "multi", "type: SHUFFLE")]));
    assert_err(
        &e,
        "streams[0].to",
        18,
        9,
        "'multi' is a spout; spouts take no input",
    );
}

#[test]
fn unknown_stream_id_lists_declared_streams() {
    let e = one_error(&with(&[entry(
        "multi",
        "sink",
        "type: SHUFFLE, streamId: nope",
    )]));
    assert_err(
        &e,
        "streams[0].grouping.streamId",
        19,
        41,
        "'multi' does not declare stream 'nope'; its streams are: default, errors, ctrl",
    );
}

#[test]
fn reserved_stream_id() {
    let e = one_error(&with(&[entry(
        "multi",
        "sink",
        "type: SHUFFLE, streamId: __system",
    )]));
    assert_err(
        &e,
        "streams[0].grouping.streamId",
        19,
        41,
        "stream id '__system' is reserved",
    );
}

#[test]
fn fields_grouping_without_args() {
    let e = one_error(&with(&[entry("words", "count", "type: FIELDS")]));
    assert_err(
        &e,
        "streams[0].grouping.args",
        19,
        5,
        "FIELDS grouping needs at least one field name in `args`; stream 'default' of 'words' has fields: word",
    );
}

#[test]
fn partial_key_grouping_with_empty_args() {
    let e = one_error(&with(&[entry(
        "multi",
        "count",
        "type: PARTIAL_KEY, args: []",
    )]));
    assert_err(
        &e,
        "streams[0].grouping.args",
        19,
        35,
        "PARTIAL_KEY grouping needs at least one field",
    );
    assert!(e.message.ends_with("has fields: id, sentence"), "{e}");
}

#[test]
fn undeclared_grouping_field() {
    let e = one_error(&with(&[
        entry("words", "split", "type: SHUFFLE"),
        entry("split", "count", "type: FIELDS, args: [wrd]"),
    ]));
    assert_err(&e, "streams[1].grouping.args[0]", 22, 37, "");
    assert_eq!(
        e.to_string(),
        "topo.yaml:22:37: streams[1].grouping.args[0]: field 'wrd' is not declared by 'split' \
         on stream 'default'; its fields are: word"
    );
}

#[test]
fn custom_grouping_is_refused() {
    let e = one_error(&with(&[entry(
        "words",
        "split",
        "type: CUSTOM, customClass: {name: x.Y}",
    )]));
    let all = GroupingKind::ALL_NAMES.join(", ");
    assert_err(
        &e,
        "streams[0].grouping.type",
        19,
        22,
        &format!("custom groupings need a JVM class; use one of: {all}"),
    );
}

#[test]
fn direct_grouping_on_a_plain_stream() {
    let e = one_error(&with(&[entry("words", "split", "type: DIRECT")]));
    assert_err(
        &e,
        "streams[0].grouping.type",
        19,
        22,
        "DIRECT grouping needs a direct stream, but stream 'default' of 'words' is not direct",
    );
}

#[test]
fn plain_grouping_on_a_direct_stream() {
    let e = one_error(&with(&[entry(
        "multi",
        "sink",
        "type: ALL, streamId: ctrl",
    )]));
    assert_err(
        &e,
        "streams[0].grouping.type",
        19,
        22,
        "stream 'ctrl' of 'multi' is direct: subscribe to it with type DIRECT, not ALL",
    );
}

#[test]
fn duplicate_subscription() {
    let e = one_error(&with(&[
        entry("words", "split", "type: SHUFFLE"),
        entry("multi", "split", "type: SHUFFLE"),
        entry("words", "split", "type: GLOBAL, streamId: default"),
    ]));
    assert_err(
        &e,
        "streams[2]",
        23,
        5,
        "duplicate subscription: 'split' already subscribes to stream 'default' of 'words' (streams[0], line 17)",
    );
}

#[test]
fn cycle_is_reported_once_with_its_path() {
    let e = one_error(&with(&[
        entry("words", "split", "type: SHUFFLE"),
        entry("split", "count", "type: SHUFFLE"),
        entry("count", "split2", "type: SHUFFLE"),
        entry("split2", "split", "type: SHUFFLE"),
    ]));
    assert_err(
        &e,
        "streams[1]",
        20,
        5,
        "cycle in the component graph: count -> split2 -> split -> count",
    );
}

#[test]
fn self_loop_and_separate_cycles() {
    let errs = errors(&with(&[
        entry("words", "split", "type: SHUFFLE"),
        entry("count", "count", "type: SHUFFLE"),
        entry("split", "split2", "type: SHUFFLE"),
        entry("split2", "split", "type: SHUFFLE"),
    ]));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_err(
        &errs[0],
        "streams[1]",
        20,
        5,
        "cycle in the component graph: count -> count;",
    );
    assert_err(
        &errs[1],
        "streams[3]",
        26,
        5,
        "cycle in the component graph: split -> split2 -> split;",
    );
}
