//! Tests of the spec loader and validator, with a fake catalog.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod components;
mod limits;
mod parse;
mod streams;
mod topology;

use super::*;

/// A small registry: spouts `WordSpout`, `MultiSpout`, `ReservedSpout`; bolts `SplitBolt`,
/// `CountBolt`, `SinkBolt`.
pub(super) struct FakeCatalog;

fn decl(id: &str, fields: &[&str], direct: bool) -> StreamDecl {
    StreamDecl {
        id: id.to_string(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        direct,
    }
}

impl Catalog for FakeCatalog {
    fn kind_of(&self, class_name: &str) -> Option<ComponentKind> {
        match class_name {
            "WordSpout" | "MultiSpout" | "ReservedSpout" => Some(ComponentKind::Spout),
            "SplitBolt" | "CountBolt" | "SinkBolt" => Some(ComponentKind::Bolt),
            _ => None,
        }
    }

    fn names(&self, kind: ComponentKind) -> Vec<String> {
        let names: &[&str] = match kind {
            ComponentKind::Spout => &["MultiSpout", "ReservedSpout", "WordSpout"],
            ComponentKind::Bolt => &["CountBolt", "SinkBolt", "SplitBolt"],
        };
        names.iter().map(|s| s.to_string()).collect()
    }

    fn declare(
        &self,
        def: &ComponentDef,
        _kind: ComponentKind,
        config: &ConfigMap,
    ) -> Result<Vec<StreamDecl>, String> {
        if config.get("fake.fail").and_then(|v| v.as_bool()) == Some(true) {
            return Err("fake.fail is set".to_string());
        }
        Ok(match def.class_name.as_str() {
            "WordSpout" => vec![decl("default", &["word"], false)],
            "MultiSpout" => vec![
                decl("default", &["id", "sentence"], false),
                decl("errors", &["msg"], false),
                decl("ctrl", &["cmd"], true),
            ],
            "ReservedSpout" => vec![decl("__tick", &["t"], false)],
            "SplitBolt" => {
                if def.constructor_args.len() > 1 {
                    return Err(format!(
                        "expects at most 1 argument (the separator), got {}",
                        def.constructor_args.len()
                    ));
                }
                vec![decl("default", &["word"], false)]
            }
            "CountBolt" => vec![decl("default", &["word", "count"], false)],
            _ => vec![],
        })
    }
}

/// Parse and validate; the errors of whichever step failed.
pub(super) fn errors(yaml: &str) -> Vec<SpecError> {
    match parse_str(yaml, Some(Path::new("topo.yaml"))) {
        Err(e) => e.0,
        Ok(parsed) => match validate(&parsed, &FakeCatalog) {
            Ok(_) => panic!("expected errors, topology is valid"),
            Err(e) => e.0,
        },
    }
}

/// The single error of `yaml` (fails if there are more or none).
pub(super) fn one_error(yaml: &str) -> SpecError {
    let mut errs = errors(yaml);
    assert_eq!(errs.len(), 1, "expected exactly one error, got: {errs:#?}");
    errs.remove(0)
}

/// Assert path, line, column (0: don't check) and a message substring.
#[track_caller]
pub(super) fn assert_err(e: &SpecError, path: &str, line: usize, column: usize, text: &str) {
    assert_eq!(e.path, path, "path of {e}");
    let loc = e.location.unwrap_or_else(|| panic!("no location: {e}"));
    assert_eq!(loc.line, line, "line of {e}");
    if column != 0 {
        assert_eq!(loc.column, column, "column of {e}");
    }
    assert!(e.message.contains(text), "{e}\n  does not contain: {text}");
    assert_eq!(e.file.as_deref(), Some(Path::new("topo.yaml")));
}

/// A valid prefix: name, one spout `words` (WordSpout), one bolt `split` (SplitBolt).
/// Lines: 1 name, 2 spouts, 3 `- id: words`, 4 className, 5 bolts, 6 `- id: split`,
/// 7 className; tests append from line 8 on.
pub(super) const BASE: &str = "\
name: test
spouts:
  - id: words
    className: WordSpout
bolts:
  - id: split
    className: SplitBolt
";
