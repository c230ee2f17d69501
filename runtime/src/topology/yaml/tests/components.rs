//! Topology- and component-level checks: name, spouts, ids, counts, classes, config.

use super::*;

#[test]
fn missing_or_empty_name() {
    let e = one_error("spouts:\n  - id: s\n    className: WordSpout\n");
    assert_err(&e, "name", 1, 1, "the topology name is missing or empty");
    let e = one_error("spouts:\n  - id: s\n    className: WordSpout\nname: \"  \"\n");
    assert_err(&e, "name", 4, 7, "the topology name is missing or empty");
}

#[test]
fn no_spouts() {
    let e = one_error("name: a\nspouts: []\n");
    assert_err(&e, "spouts", 2, 1, "the topology has no spouts");
    let e = one_error("name: a\n");
    assert_err(&e, "spouts", 1, 1, "declare at least one under `spouts:`");
}

#[test]
fn duplicate_component_id_points_at_the_second() {
    let e = one_error(&format!("{BASE}  - id: words\n    className: CountBolt\n"));
    assert_err(
        &e,
        "bolts[1].id",
        8,
        9,
        "duplicate component id 'words' (first declared at line 3",
    );
    assert!(e.message.contains("spouts[0].id"), "{e}");
}

#[test]
fn reserved_component_id() {
    let e = one_error(&format!(
        "{BASE}  - id: __acker\n    className: CountBolt\n"
    ));
    assert_err(
        &e,
        "bolts[1].id",
        8,
        9,
        "component id '__acker' is reserved",
    );
}

#[test]
fn empty_component_id() {
    let e = one_error(&format!("{BASE}  - id: ''\n    className: CountBolt\n"));
    assert_err(&e, "bolts[1].id", 8, 9, "component id must not be empty");
}

#[test]
fn reserved_declared_stream() {
    let e = one_error("name: a\nspouts:\n  - id: s\n    className: ReservedSpout\n");
    assert_err(&e, "spouts[0].className", 4, 16, "declares stream '__tick'");
}

#[test]
fn zero_parallelism() {
    let e = one_error(&format!("{BASE}    parallelism: 0\n"));
    assert_err(
        &e,
        "bolts[0].parallelism",
        8,
        18,
        "parallelism must be at least 1, got 0",
    );
}

#[test]
fn zero_num_tasks() {
    let e = one_error(&format!("{BASE}    numTasks: 0\n"));
    assert_err(
        &e,
        "bolts[0].numTasks",
        8,
        15,
        "numTasks must be at least 1, got 0",
    );
}

#[test]
fn fewer_tasks_than_executors_is_allowed() {
    let text = format!("{BASE}    parallelism: 4\n    numTasks: 2\n");
    let topo = validate(&parse_str(&text, None).unwrap(), &FakeCatalog).unwrap();
    let split = topo.component("split").unwrap();
    assert_eq!((split.num_tasks, split.num_executors), (2, 2));
}

#[test]
fn unknown_spout_class_lists_registered_spouts() {
    let e = one_error("name: a\nspouts:\n  - id: s\n    className: WrdSpout\n");
    assert_err(
        &e,
        "spouts[0].className",
        4,
        16,
        "unknown spout class 'WrdSpout'; registered spouts are: MultiSpout, ReservedSpout, WordSpout",
    );
}

#[test]
fn unknown_bolt_class_lists_registered_bolts() {
    let e = one_error(&format!("{BASE}  - id: c\n    className: Counter\n"));
    assert_err(
        &e,
        "bolts[1].className",
        9,
        16,
        "unknown bolt class 'Counter'; registered bolts are: CountBolt, SinkBolt, SplitBolt",
    );
}

#[test]
fn spout_class_under_bolts() {
    let e = one_error(&format!("{BASE}  - id: c\n    className: WordSpout\n"));
    assert_err(
        &e,
        "bolts[1].className",
        9,
        16,
        "'WordSpout' is a spout, but 'c' is declared under `bolts`; move it to `spouts`",
    );
}

#[test]
fn bolt_class_under_spouts() {
    let e = one_error("name: a\nspouts:\n  - id: s\n    className: CountBolt\n");
    assert_err(
        &e,
        "spouts[0].className",
        4,
        16,
        "'CountBolt' is a bolt, but 's' is declared under `spouts`",
    );
    assert!(
        e.message.contains("MultiSpout, ReservedSpout, WordSpout"),
        "{e}"
    );
}

#[test]
fn constructor_args_error() {
    let e = one_error(&format!("{BASE}    constructorArgs: [' ', x]\n"));
    assert_err(
        &e,
        "bolts[0].constructorArgs",
        8,
        5,
        "cannot create 'split' (SplitBolt): expects at most 1 argument (the separator), got 2",
    );
}

#[test]
fn catalog_error_without_constructor_args_falls_back_to_component() {
    let e = one_error(&format!("{BASE}    config: {{fake.fail: true}}\n"));
    assert_err(&e, "bolts[0].constructorArgs", 6, 5, "fake.fail is set");
}

#[test]
fn top_level_config_error_is_located() {
    let e = one_error(&format!(
        "{BASE}config:\n  topology.debug: true\n  topology.workers: 0\n"
    ));
    assert_err(
        &e,
        "config.topology.workers",
        10,
        21,
        "expected an integer >= 1, got 0",
    );
}

#[test]
fn component_config_error_is_located() {
    let text = "name: a\nspouts:\n  - id: s\n    className: WordSpout\n    config:\n      topology.workers: many\n";
    let e = one_error(text);
    assert_err(
        &e,
        "spouts[0].config.topology.workers",
        6,
        25,
        "expected an integer >= 1, got many",
    );
}
