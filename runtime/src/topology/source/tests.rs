//! Resolving `topologySource`: parsing, builder lookup, merging, located errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use super::*;
use crate::api::error::FactoryError;
use crate::api::registry::BuiltTopology;
use crate::engine::testing::FixedSpout;
use crate::topology::yaml::{
    Catalog, ComponentDef, GroupingDef, GroupingKind, Location, StreamDef, parse_str,
};
use crate::{BasicBolt, BasicCollector, ComponentError, OutputDeclarer, Tuple, values};

/// Passes its input on.
struct Pass;

impl BasicBolt for Pass {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        out.emit(input.values().clone())?;
        Ok(())
    }
}

fn component(id: &str, class_name: &str, parallelism: u32) -> ComponentDef {
    ComponentDef {
        id: id.into(),
        class_name: class_name.into(),
        parallelism,
        num_tasks: None,
        constructor_args: vec![],
        config: Default::default(),
    }
}

fn stream(from: &str, to: &str, field: &str) -> StreamDef {
    StreamDef {
        name: None,
        from: from.into(),
        to: to.into(),
        grouping: GroupingDef {
            kind: GroupingKind::Fields,
            args: vec![field.into()],
            stream_id: crate::DEFAULT_STREAM.into(),
            custom_class: None,
        },
    }
}

/// `Numbers`: constructorArgs `[count, parallelism?]`; numbers -> pass (FIELDS on
/// `field`, from config key `test.field`, default `n`); config `topology.workers: 3`,
/// `test.from.builder: true`; records what it was called with in the built name.
/// `Broken`: always fails. `Nested`: returns a def with a topologySource.
fn registry() -> Registry {
    let mut r = Registry::new();
    r.topology("Numbers", |a| {
        let count = a.u64(0, "how many numbers")?;
        let parallelism = a.u64_or(1, "parallelism of pass", 1)? as u32;
        let field = a.config().get_str("test.field").unwrap_or("n").to_string();
        let mut components = Registry::new();
        components
            .spout("GenNumbers", move |_| {
                Ok(FixedSpout::new(
                    &["n"],
                    (0..count).map(|i| values![i as i64]).collect(),
                ))
            })
            .basic_bolt("Pass", |_| Ok(Pass));
        let mut def = TopologyDef {
            name: format!("built-for-{}", a.id()),
            spouts: vec![component("numbers", "GenNumbers", 1)],
            bolts: vec![component("pass", "Pass", parallelism)],
            streams: vec![stream("numbers", "pass", &field)],
            ..Default::default()
        };
        def.config.insert("topology.workers".into(), 3.into());
        def.config.insert("test.from.builder".into(), true.into());
        Ok(BuiltTopology { def, components })
    });
    r.topology("Broken", |_| {
        Err(FactoryError("the input file is missing".into()))
    });
    r.topology("Nested", |_| {
        let def = TopologyDef {
            topology_source: Some(TopologySourceDef {
                class_name: "Numbers".into(),
                constructor_args: vec![],
                method_name: None,
            }),
            ..Default::default()
        };
        Ok(BuiltTopology {
            def,
            components: Registry::new(),
        })
    });
    r
}

fn parse(yaml: &str) -> ParsedSpec {
    parse_str(yaml, Some(Path::new("src.yaml"))).unwrap()
}

fn resolve_errors(yaml: &str) -> Vec<SpecError> {
    match resolve(&parse(yaml), &registry()) {
        Ok(_) => panic!("expected errors, resolved fine"),
        Err(e) => e.0,
    }
}

fn validate_errors(yaml: &str) -> Vec<SpecError> {
    match validate(&parse(yaml), &registry()) {
        Ok(_) => panic!("expected errors, valid"),
        Err(e) => e.0,
    }
}

fn at(e: &SpecError, path: &str, line: usize, column: usize) {
    assert_eq!(e.path, path, "{e}");
    assert_eq!(e.location, Some(Location { line, column }), "{e}");
    assert_eq!(e.file.as_deref(), Some(Path::new("src.yaml")), "{e}");
}

#[test]
fn parses_the_flux_shape() {
    let p = parse(
        "name: x\ntopologySource:\n  className: Numbers\n  methodName: getTopology\n  \
         constructorArgs: [\"in.txt\", 0.1, 3]\n",
    );
    let src = p.def.topology_source.unwrap();
    assert_eq!(src.class_name, "Numbers");
    assert_eq!(src.method_name.as_deref(), Some("getTopology"));
    assert_eq!(src.constructor_args.len(), 3);
    assert_eq!(src.constructor_args[0].as_str(), Some("in.txt"));
}

#[test]
fn unknown_keys_under_topology_source_are_located() {
    let e = parse_str(
        "name: x\ntopologySource:\n  className: Numbers\n  properties: []\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].path, "topologySource.properties");
    assert!(
        e.0[0].message.contains("not supported on a topologySource"),
        "{e}"
    );
    assert!(
        e.0[0]
            .message
            .contains("className, constructorArgs, methodName"),
        "{e}"
    );
    let e = parse_str("name: x\ntopologySource:\n  clasName: Numbers\n", None).unwrap_err();
    assert!(e.0[0].message.contains("unknown field `clasName`"), "{e}");
}

#[test]
fn without_topology_source_nothing_changes() {
    let yaml = "name: t\nspouts: [{id: s, className: S}]\n";
    let p = parse(yaml);
    let (resolved, registry) = resolve(&p, &registry()).unwrap();
    assert_eq!(resolved.def, p.def);
    assert_eq!(registry.topology_names(), ["Broken", "Nested", "Numbers"]);
}

#[test]
fn builds_with_the_yaml_name_args_and_config_merged_over_the_builders() {
    let yaml = "name: mine\ntopologySource:\n  className: Numbers\n  constructorArgs: [4, 2]\n\
                config:\n  topology.workers: 2\n  test.field: n\n";
    let (resolved, reg) = resolve(&parse(yaml), &registry()).unwrap();
    let def = &resolved.def;
    assert_eq!(def.name, "mine");
    assert!(def.topology_source.is_none());
    assert_eq!(def.spouts.len(), 1);
    assert_eq!(def.bolts[0].parallelism, 2);
    assert_eq!(
        def.config["topology.workers"].as_u64(),
        Some(2),
        "YAML wins"
    );
    assert_eq!(def.config["test.from.builder"].as_bool(), Some(true));
    assert_eq!(def.config["test.field"].as_str(), Some("n"));
    // The builder's components are added; the base registry is untouched.
    assert_eq!(
        reg.names(crate::topology::yaml::ComponentKind::Spout),
        ["GenNumbers"]
    );
    assert!(
        registry()
            .names(crate::topology::yaml::ComponentKind::Spout)
            .is_empty()
    );
    let (topo, _) = validate(&parse(yaml), &registry()).unwrap();
    assert_eq!(topo.name, "mine");
    assert_eq!(topo.component("pass").unwrap().num_executors, 2);
}

#[test]
fn an_empty_yaml_name_keeps_the_builders_and_the_builder_sees_it() {
    let yaml = "topologySource: {className: Numbers, constructorArgs: [1]}\n";
    let (resolved, _) = resolve(&parse(yaml), &registry()).unwrap();
    assert_eq!(resolved.def.name, "built-for-");
    let yaml = "name: t\ntopologySource: {className: Numbers, constructorArgs: [1]}\n";
    let (resolved, _) = resolve(&parse(yaml), &registry()).unwrap();
    assert_eq!(resolved.def.name, "t");
}

#[test]
fn unknown_builder_lists_the_registered_ones() {
    let errs = resolve_errors("name: x\ntopologySource:\n  className: Numbrs\n");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    at(&errs[0], "topologySource.className", 3, 14);
    assert!(
        errs[0]
            .message
            .contains("unknown topology builder 'Numbrs'; registered topology builders are: Broken, Nested, Numbers"),
        "{}",
        errs[0]
    );
    let e = resolve(
        &parse("name: x\ntopologySource: {className: A}\n"),
        &Registry::new(),
    )
    .unwrap_err();
    assert!(
        e.0[0]
            .message
            .contains("no topology builders are registered"),
        "{e}"
    );
}

#[test]
fn topology_source_with_spouts_bolts_or_streams_is_refused() {
    let errs = resolve_errors(
        "name: x\ntopologySource:\n  className: Numbers\n  constructorArgs: [1]\n\
         spouts:\n  - id: s\n    className: S\nstreams: []\n",
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    at(&errs[0], "topologySource", 2, 1);
    assert!(
        errs[0].message.contains("either `topologySource` or"),
        "{}",
        errs[0]
    );
    assert!(
        errs[0].message.contains("found `spouts`, `streams`"),
        "{}",
        errs[0]
    );
}

#[test]
fn a_method_other_than_get_topology_is_refused() {
    let errs = resolve_errors(
        "name: x\ntopologySource:\n  className: Numbers\n  methodName: getTopologyWithDifferentMethodName\n",
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
    at(&errs[0], "topologySource.methodName", 4, 15);
    assert!(
        errs[0]
            .message
            .contains("methodName 'getTopologyWithDifferentMethodName' is not supported"),
        "{}",
        errs[0]
    );
    // getTopology is Flux's default: accepted.
    let yaml = "name: x\ntopologySource:\n  className: Numbers\n  methodName: getTopology\n  \
                constructorArgs: [1]\n";
    assert!(resolve(&parse(yaml), &registry()).is_ok());
}

#[test]
fn a_builder_error_is_located_at_its_constructor_args() {
    let errs =
        resolve_errors("name: x\ntopologySource:\n  className: Broken\n  constructorArgs: [a]\n");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    at(&errs[0], "topologySource.constructorArgs", 4, 3);
    assert_eq!(
        errs[0].message,
        "cannot build topology 'Broken': the input file is missing"
    );
    // Missing args: at the nearest node, topologySource itself.
    let errs = resolve_errors("name: x\ntopologySource:\n  className: Numbers\n");
    at(&errs[0], "topologySource.constructorArgs", 2, 1);
    assert!(
        errs[0].message.contains(
            "cannot build topology 'Numbers': constructorArgs[0] (how many numbers) is missing"
        ),
        "{}",
        errs[0]
    );
    let errs = resolve_errors("name: x\ntopologySource: {className: Nested}\n");
    assert!(
        errs[0].message.contains("has a topologySource of its own"),
        "{}",
        errs[0]
    );
}

#[test]
fn errors_in_the_built_topology_are_reported_at_the_root_naming_the_builder() {
    // The builder groups on a field `pass`'s input does not have.
    let yaml = "# generated\nname: x\ntopologySource:\n  className: Numbers\n  \
                constructorArgs: [1]\nconfig:\n  test.field: nope\n";
    let errs = validate_errors(yaml);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    at(&errs[0], "streams[0].grouping.args[0]", 2, 1);
    assert!(
        errs[0]
            .message
            .starts_with("in the topology built by 'Numbers': field 'nope' is not declared"),
        "{}",
        errs[0]
    );
    // A bad config value from the YAML is still located at its node.
    let errs = validate_errors(
        "name: x\ntopologySource: {className: Numbers, constructorArgs: [1]}\n\
         config:\n  topology.workers: many\n",
    );
    at(&errs[0], "config.topology.workers", 4, 21);
}

#[test]
fn an_unresolved_topology_source_is_refused_by_plain_validation() {
    let p = parse("name: x\ntopologySource: {className: Numbers}\n");
    let e = yaml::validate(&p, &registry()).unwrap_err();
    assert!(
        e.0.iter()
            .any(|e| e.path == "topologySource" && e.message.contains("resolved")),
        "{e}"
    );
}

#[test]
fn the_resolved_declaration_round_trips_through_yaml() {
    let yaml = "name: mine\ntopologySource: {className: Numbers, constructorArgs: [4, 2]}\n";
    let (resolved, _) = resolve(&parse(yaml), &registry()).unwrap();
    let text = resolved_yaml(&resolved.def).unwrap();
    assert!(!text.contains("topologySource"), "{text}");
    let again = parse_str(&text, None).unwrap();
    assert_eq!(again.def, resolved.def);
}
