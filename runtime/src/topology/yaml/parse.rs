//! Text -> [`ParsedSpec`]: shape checks, serde errors made readable, Flux-only keys split
//! off the [`TopologyDef`] into [`FluxDefs`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::ParsedSpec;
use super::error::{Location, SpecError, SpecErrors};
use super::flux_model::{
    BeanDef, ConfigMethodDef, FluxDefs, IncludeDef, PropertyDef, VertexExtras,
};
use super::limits::{LimitError, Limits};
use super::model::{
    ComponentDef, ConfigMap, GroupingKind, StreamDef, TopologyDef, TopologySourceDef,
};
use super::source_map::{KeyPath, SourceMap};

/// `topologySource` keys of Flux this subset refuses, with what they are.
const UNSUPPORTED_SOURCE: &[(&str, &str)] = &[
    ("properties", "bean properties"),
    ("configMethods", "config methods"),
    ("factory", "factory methods"),
    ("factoryArgs", "factory arguments"),
];

const TOP_KEYS: &str =
    "name, config, components, includes, spouts, bolts, streams, workerHooks, topologySource";
const SOURCE_KEYS: &str = "className, constructorArgs, methodName";

/// A whole file as written: the [`TopologyDef`] keys and the Flux-only ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawTopology {
    #[serde(default)]
    name: String,
    #[serde(default, skip_serializing_if = "ConfigMap::is_empty")]
    config: ConfigMap,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    components: Vec<BeanDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    includes: Vec<IncludeDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    spouts: Vec<RawComponent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    bolts: Vec<RawComponent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    streams: Vec<StreamDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    worker_hooks: Vec<BeanDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topology_source: Option<TopologySourceDef>,
}

/// A spout or bolt as written: [`ComponentDef`] plus [`VertexExtras`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawComponent {
    id: String,
    class_name: String,
    #[serde(default = "default_parallelism")]
    parallelism: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    num_tasks: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    constructor_args: Vec<Value>,
    #[serde(default, skip_serializing_if = "ConfigMap::is_empty")]
    config: ConfigMap,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    config_methods: Vec<ConfigMethodDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    properties: Vec<PropertyDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    factory: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    factory_args: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on_heap_memory_load: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    off_heap_memory_load: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cpu_load: Option<f64>,
}

fn default_parallelism() -> u32 {
    1
}

impl RawComponent {
    fn split(self) -> (ComponentDef, VertexExtras) {
        let def = ComponentDef {
            id: self.id,
            class_name: self.class_name,
            parallelism: self.parallelism,
            num_tasks: self.num_tasks,
            constructor_args: self.constructor_args,
            config: self.config,
        };
        let extras = VertexExtras {
            config_methods: self.config_methods,
            properties: self.properties,
            factory: self.factory,
            factory_args: self.factory_args,
            on_heap_memory_load: self.on_heap_memory_load,
            off_heap_memory_load: self.off_heap_memory_load,
            cpu_load: self.cpu_load,
        };
        (def, extras)
    }

    fn join(def: &ComponentDef, extras: Option<&VertexExtras>) -> RawComponent {
        let x = extras.cloned().unwrap_or_default();
        RawComponent {
            id: def.id.clone(),
            class_name: def.class_name.clone(),
            parallelism: def.parallelism,
            num_tasks: def.num_tasks,
            constructor_args: def.constructor_args.clone(),
            config: def.config.clone(),
            config_methods: x.config_methods,
            properties: x.properties,
            factory: x.factory,
            factory_args: x.factory_args,
            on_heap_memory_load: x.on_heap_memory_load,
            off_heap_memory_load: x.off_heap_memory_load,
            cpu_load: x.cpu_load,
        }
    }
}

impl RawTopology {
    /// The model and the Flux-only keys.
    pub(super) fn split(self) -> (TopologyDef, FluxDefs) {
        let (spouts, spout_extras): (Vec<_>, Vec<_>) =
            self.spouts.into_iter().map(RawComponent::split).unzip();
        let (bolts, bolt_extras): (Vec<_>, Vec<_>) =
            self.bolts.into_iter().map(RawComponent::split).unzip();
        let def = TopologyDef {
            name: self.name,
            config: self.config,
            spouts,
            bolts,
            streams: self.streams,
            topology_source: self.topology_source,
        };
        let flux = FluxDefs {
            components: self.components,
            includes: self.includes,
            worker_hooks: self.worker_hooks,
            spouts: spout_extras,
            bolts: bolt_extras,
        };
        (def, flux)
    }

    /// The file again, from the model and the Flux-only keys.
    pub(super) fn join(def: &TopologyDef, flux: &FluxDefs) -> RawTopology {
        RawTopology {
            name: def.name.clone(),
            config: def.config.clone(),
            components: flux.components.clone(),
            includes: flux.includes.clone(),
            spouts: def
                .spouts
                .iter()
                .enumerate()
                .map(|(i, c)| RawComponent::join(c, flux.spouts.get(i)))
                .collect(),
            bolts: def
                .bolts
                .iter()
                .enumerate()
                .map(|(i, c)| RawComponent::join(c, flux.bolts.get(i)))
                .collect(),
            streams: def.streams.clone(),
            worker_hooks: flux.worker_hooks.clone(),
            topology_source: def.topology_source.clone(),
        }
    }
}

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
///
/// The text is scanned within [`Limits::TOPOLOGY`] first, on the parser's event stream:
/// nothing is deserialized (no document is built) before every cap has passed. A syntax
/// error found by the scan is reported by the deserializer, as before, but from the text
/// up to the end of its line only: what the deserializer reads is always what the scan
/// has bounded.
pub(super) fn parse(text: &str, file: Option<PathBuf>) -> Result<ParsedSpec, SpecErrors> {
    let one = |e: SpecError| SpecErrors(vec![e]);
    let scan = SourceMap::scan(text, &Limits::TOPOLOGY).map_err(|e| one(limit_error(e, &file)))?;
    if let Some(second) = scan.second_document {
        return Err(one(SpecError {
            file: file.clone(),
            location: Some(second),
            path: String::new(),
            message: MORE_THAN_ONE_DOCUMENT.to_string(),
        }));
    }
    if let Some(syntax) = &scan.syntax_error {
        let checked = text.get(..syntax.line_end).unwrap_or(text);
        let e = match serde_yaml::from_str::<Value>(checked) {
            Err(e) => from_serde(&e, &file),
            // The two parsers disagree: the scan's own error stands.
            Ok(_) => SpecError {
                file: file.clone(),
                location: Some(syntax.location),
                path: String::new(),
                message: syntax.message.clone(),
            },
        };
        return Err(one(e));
    }
    let source = scan.map;
    let value: Value = serde_yaml::from_str(text).map_err(|e| one(from_serde(&e, &file)))?;
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
    let raw: RawTopology =
        serde_yaml::from_str(text).map_err(|e| SpecErrors(vec![from_serde(&e, &file)]))?;
    let (def, flux) = raw.split();
    Ok(ParsedSpec {
        def,
        source,
        file,
        flux,
        origins: Vec::new(),
        problems: Vec::new(),
    })
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

/// Flux keys of `topologySource` that are valid Flux but not supported here, each
/// located at its key.
fn unsupported_keys(
    top: &serde_yaml::Mapping,
    file: &Option<PathBuf>,
    source: &SourceMap,
) -> Vec<SpecError> {
    let mut errors = Vec::new();
    let at = KeyPath::root().key("topologySource");
    if let Some(Value::Mapping(m)) = top.get("topologySource") {
        for (key, what) in UNSUPPORTED_SOURCE {
            if m.contains_key(*key) {
                let path = at.key(*key);
                let mut e = located(
                    file,
                    source,
                    &path,
                    format!(
                        "`{key}` ({what}) is not supported on a topologySource: a Rust topology \
                         builder takes constructorArgs only; supported keys here are: \
                         {SOURCE_KEYS}"
                    ),
                );
                if let Some(k) = source.get(&path).and_then(|n| n.key) {
                    e.location = Some(k);
                }
                errors.push(e);
            }
        }
    }
    errors
}

const MORE_THAN_ONE_DOCUMENT: &str =
    "the file holds more than one YAML document (`---`); a topology file must hold exactly one";

/// A text refused by a cap, as a [`SpecError`].
fn limit_error(e: LimitError, file: &Option<PathBuf>) -> SpecError {
    SpecError {
        file: file.clone(),
        location: Some(e.location),
        path: e.path,
        message: format!("refused: {}", e.message),
    }
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
        return MORE_THAN_ONE_DOCUMENT.to_string();
    }
    message
        .replace("expected u32", "expected a non-negative integer")
        .replace(
            "expected struct ComponentDef",
            "expected a component mapping",
        )
        .replace(
            "expected struct RawComponent",
            "expected a component mapping",
        )
        .replace("expected struct RawTopology", "expected a topology mapping")
        .replace(
            "expected struct BeanDef",
            "expected a component mapping (id, className, constructorArgs)",
        )
        .replace(
            "expected struct ConfigMethodDef",
            "expected a config method mapping (name, args)",
        )
        .replace(
            "expected struct PropertyDef",
            "expected a property mapping (name, value or ref)",
        )
        .replace(
            "expected struct IncludeDef",
            "expected an include mapping (resource, file, override)",
        )
        .replace("expected struct StreamDef", "expected a stream mapping")
        .replace("expected struct GroupingDef", "expected a grouping mapping")
        .replace("expected struct TopologyDef", "expected a topology mapping")
        .replace(
            "expected struct TopologySourceDef",
            "expected a topologySource mapping (className, constructorArgs)",
        )
}
