//! Parse-stage errors: YAML syntax, document shape, unsupported Flux keys, serde errors.

use super::*;

#[test]
fn empty_document() {
    for text in ["", "# nothing here\n", "~\n"] {
        let e = one_error(text);
        assert_err(&e, "", 1, 1, "the topology file is empty");
        assert!(
            e.message
                .contains("name, config, components, includes, spouts, bolts, streams")
        );
    }
}

#[test]
fn non_mapping_top_level() {
    let e = one_error("# a list\n- name: x\n");
    assert_err(&e, "", 2, 1, "top level must be a mapping");
    assert!(e.message.contains("found a sequence"), "{e}");
    let e = one_error("just a string\n");
    assert_err(&e, "", 1, 1, "found a string");
}

#[test]
fn yaml_syntax_error_is_located() {
    let e = one_error("name: x\nspouts: [\n");
    assert_err(&e, "", 3, 1, "did not find expected node content");
    assert!(
        !e.message.contains("at line 3"),
        "location must not be repeated: {e}"
    );
}

#[test]
fn more_than_one_document() {
    let e = one_error("name: a\n---\nname: b\n");
    assert!(e.message.contains("more than one YAML document"), "{e}");
}

#[test]
fn unknown_grouping_type_lists_valid_names() {
    let e = one_error(&format!(
        "{BASE}streams:\n  - from: words\n    to: split\n    grouping:\n      type: SHUFLE\n"
    ));
    assert_err(
        &e,
        "streams[0].grouping.type",
        12,
        13,
        "unknown grouping type 'SHUFLE'",
    );
    let all = GroupingKind::ALL_NAMES.join(", ");
    assert!(
        e.message.ends_with(&format!("valid types are: {all}")),
        "{e}"
    );
    assert!(!e.message.contains("CUSTOM"), "{e}");
}

#[test]
fn lower_case_grouping_type_gets_a_hint() {
    let e = one_error(&format!(
        "{BASE}streams:\n  - from: words\n    to: split\n    grouping: {{type: fields}}\n"
    ));
    assert_err(
        &e,
        "streams[0].grouping.type",
        11,
        22,
        "upper case: 'FIELDS'",
    );
}

#[test]
fn flux_keys_are_parsed_beside_the_model() {
    let text = format!(
        "{BASE}    configMethods:\n      - name: withX\n        args: [1]\n    cpuLoad: 10\n\
         components:\n  - id: f\n    className: org.apache.storm.tuple.Fields\n    \
         constructorArgs: [[a]]\nincludes:\n  - resource: true\n    file: x.yaml\n    \
         override: true\nworkerHooks:\n  - id: h\n    className: H\n"
    );
    let p = parse_str(&text, None).unwrap();
    assert_eq!(p.def.bolts.len(), 1);
    assert_eq!(p.flux.bolts[0].config_methods[0].name, "withX");
    assert_eq!(p.flux.bolts[0].cpu_load, Some(10.0));
    assert_eq!(p.flux.components[0].id, "f");
    assert_eq!(
        p.flux.includes,
        vec![IncludeDef {
            resource: true,
            file: "x.yaml".into(),
            override_existing: true
        }]
    );
    assert_eq!(p.flux.worker_hooks[0].class_name, "H");
    // And back: the Flux keys survive a round trip through to_yaml.
    let again = parse_str(&p.to_yaml().unwrap(), None).unwrap();
    assert_eq!(again.def, p.def);
    assert_eq!(again.flux, p.flux);
}

#[test]
fn malformed_flux_keys_are_located() {
    let e = one_error(&format!("{BASE}    properties:\n      - nam: x\n"));
    assert_err(&e, "bolts[0].properties[0]", 9, 9, "unknown field `nam`");
    let e = one_error("name: a\nincludes:\n  - resource: true\n");
    assert_err(&e, "includes[0]", 3, 5, "missing field `file`");
    let e = one_error("name: a\ncomponents:\n  - id: x\n");
    assert_err(&e, "components[0]", 3, 5, "missing field `className`");
}

#[test]
fn unknown_field_keeps_serde_location() {
    let e = one_error(&format!("{BASE}    paralellism: 2\n"));
    assert_err(
        &e,
        "bolts[0]",
        8,
        5,
        "unknown field `paralellism`, expected one of",
    );
}

#[test]
fn wrong_types_are_reworded() {
    let e = one_error(&format!("{BASE}    parallelism: -2\n"));
    assert_err(
        &e,
        "bolts[0].parallelism",
        8,
        18,
        "expected a non-negative integer",
    );
    let e = one_error("name: a\nspouts:\n  - just-a-string\n");
    assert_err(&e, "spouts[0]", 3, 5, "expected a component mapping");
    let e = one_error("name: a\nspouts:\n  - id: s\n");
    assert_err(&e, "spouts[0]", 3, 5, "missing field `className`");
}

#[test]
fn load_file_io_error_names_the_file() {
    let path = Path::new("/nonexistent/dir/topo.yaml");
    let errs = load_file(path).unwrap_err();
    assert_eq!(errs.0.len(), 1);
    assert_eq!(errs.0[0].file.as_deref(), Some(path));
    assert!(errs.0[0].message.contains("cannot read topology file"));
    assert!(
        errs.to_string()
            .starts_with("/nonexistent/dir/topo.yaml: cannot read")
    );
}

#[test]
fn load_file_reads_and_locates() {
    let dir = std::env::temp_dir().join(format!("squall-spec-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    std::fs::write(&path, "name: x\nspouts:\n  - id: s\n    className: Nope\n").unwrap();
    let parsed = load_file(&path).unwrap();
    assert_eq!(parsed.file.as_deref(), Some(path.as_path()));
    let errs = validate(&parsed, &FakeCatalog).unwrap_err();
    let shown = errs.to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        shown.starts_with(&format!(
            "{}:4:16: spouts[0].className: unknown spout class 'Nope'",
            path.display()
        )),
        "{shown}"
    );
}
