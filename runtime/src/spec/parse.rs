//! Text -> [`ParsedSpec`]: shape checks, unsupported Flux keys, serde errors made readable.

use std::path::PathBuf;

use serde_yaml::Value;

use super::ParsedSpec;
use super::error::{Location, SpecError, SpecErrors};
use super::model::{GroupingKind, TopologyDef};
use super::source_map::{KeyPath, SourceMap};

/// Top-level Flux keys this DSL subset refuses, with what they are.
const UNSUPPORTED_TOP: &[(&str, &str)] = &[
    ("components", "shared component definitions"),
    ("includes", "file includes"),
    ("workerHooks", "worker hooks"),
];

/// Component-level (and `topologySource`-level) Flux keys this DSL subset refuses, with
/// what they are.
const UNSUPPORTED_COMPONENT: &[(&str, &str)] = &[
    ("properties", "bean properties"),
    ("configMethods", "config methods"),
    ("factory", "factory methods"),
    ("factoryArgs", "factory arguments"),
];

const TOP_KEYS: &str = "name, config, spouts, bolts, streams, topologySource";
const COMPONENT_KEYS: &str = "id, className, parallelism, numTasks, constructorArgs, config";
const SOURCE_KEYS: &str = "className, constructorArgs, methodName";

/// An error about `path`, located with `source` (nearest existing ancestor).
pub(super) fn located(
    file: &Option<PathBuf>,
    source: &SourceMap,
    path: &KeyPath,
    message: impl Into<String>,
) -> SpecError {
    SpecError {
        file: file.clone(),
        location: source.locate(path),
        path: path.to_string(),
        message: message.into(),
    }
}

/// See [`super::parse_str`].
pub(super) fn parse(text: &str, file: Option<PathBuf>) -> Result<ParsedSpec, SpecErrors> {
    let value: Value =
        serde_yaml::from_str(text).map_err(|e| SpecErrors(vec![from_serde(&e, &file)]))?;
    let source = SourceMap::build(text);
    let root = KeyPath::root();
    let top = match &value {
        Value::Mapping(m) => m,
        Value::Null => {
            let msg = format!(
                "the topology file is empty; expected a mapping with the keys {TOP_KEYS} \
                 (at least `name` and `spouts`)"
            );
            let mut e = located(&file, &source, &root, msg);
            e.location = e.location.or(Some(Location { line: 1, column: 1 }));
            return Err(SpecErrors(vec![e]));
        }
        other => {
            let msg = format!(
                "the top level must be a mapping with the keys {TOP_KEYS}, found {}",
                kind_name(other)
            );
            return Err(SpecErrors(vec![located(&file, &source, &root, msg)]));
        }
    };
    let errors = unsupported_keys(top, &file, &source);
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    let def: TopologyDef =
        serde_yaml::from_str(text).map_err(|e| SpecErrors(vec![from_serde(&e, &file)]))?;
    Ok(ParsedSpec { def, source, file })
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a sequence",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Flux keys that are valid Flux but not supported here, each located at its key.
fn unsupported_keys(
    top: &serde_yaml::Mapping,
    file: &Option<PathBuf>,
    source: &SourceMap,
) -> Vec<SpecError> {
    let mut errors = Vec::new();
    let mut refuse = |path: KeyPath, name: &str, what: &str, valid: &str| {
        let mut e = located(
            file,
            source,
            &path,
            format!("`{name}` ({what}) is not supported yet; supported keys here are: {valid}"),
        );
        if let Some(k) = source.get(&path).and_then(|n| n.key) {
            e.location = Some(k);
        }
        errors.push(e);
    };
    let root = KeyPath::root();
    for (key, what) in UNSUPPORTED_TOP {
        if top.contains_key(*key) {
            refuse(root.key(*key), key, what, TOP_KEYS);
        }
    }
    for section in ["spouts", "bolts"] {
        let Some(Value::Sequence(items)) = top.get(section) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let Value::Mapping(m) = item else { continue };
            for (key, what) in UNSUPPORTED_COMPONENT {
                if m.contains_key(*key) {
                    refuse(
                        root.key(section).index(i).key(*key),
                        key,
                        what,
                        COMPONENT_KEYS,
                    );
                }
            }
        }
    }
    if let Some(Value::Mapping(m)) = top.get("topologySource") {
        for (key, what) in UNSUPPORTED_COMPONENT {
            if m.contains_key(*key) {
                refuse(root.key("topologySource").key(*key), key, what, SOURCE_KEYS);
            }
        }
    }
    errors
}

/// A serde_yaml error as a [`SpecError`]: location kept, path split off, wording improved.
pub(super) fn from_serde(err: &serde_yaml::Error, file: &Option<PathBuf>) -> SpecError {
    let location = err.location().map(|l| Location {
        line: l.line(),
        column: l.column(),
    });
    let mut text = err.to_string();
    if let Some(loc) = location {
        let suffix = format!(" at line {} column {}", loc.line, loc.column);
        if let Some(pos) = text.find(&suffix) {
            text.replace_range(pos..pos + suffix.len(), "");
        }
    }
    let (path, message) = split_path(&text);
    SpecError {
        file: file.clone(),
        location,
        path: path.to_string(),
        message: reword(path, message),
    }
}

/// `spouts[0].id: message` -> (`spouts[0].id`, `message`); no path -> (``, text).
fn split_path(text: &str) -> (&str, &str) {
    match text.split_once(": ") {
        Some((path, rest)) if !path.is_empty() && !path.contains([' ', '`', ',']) => (path, rest),
        _ => ("", text),
    }
}

/// Clearer wording for the common serde messages.
fn reword(path: &str, message: &str) -> String {
    let valid = GroupingKind::ALL_NAMES.join(", ");
    if path == "grouping.type" || path.ends_with(".grouping.type") {
        if let Some(rest) = message.strip_prefix("unknown variant `") {
            let name = rest.split('`').next().unwrap_or_default();
            let upper = name.to_ascii_uppercase();
            let hint = if upper != name && GroupingKind::ALL_NAMES.contains(&upper.as_str()) {
                format!(" (grouping types are upper case: '{upper}')")
            } else {
                String::new()
            };
            return format!("unknown grouping type '{name}'{hint}; valid types are: {valid}");
        }
        return format!("invalid grouping type ({message}); valid types are: {valid}");
    }
    if message.contains("more than one document") {
        return "the file holds more than one YAML document (`---`); a topology file must \
                hold exactly one"
            .to_string();
    }
    message
        .replace("expected u32", "expected a non-negative integer")
        .replace(
            "expected struct ComponentDef",
            "expected a component mapping",
        )
        .replace("expected struct StreamDef", "expected a stream mapping")
        .replace("expected struct GroupingDef", "expected a grouping mapping")
        .replace("expected struct TopologyDef", "expected a topology mapping")
        .replace(
            "expected struct TopologySourceDef",
            "expected a topologySource mapping (className, constructorArgs)",
        )
}
