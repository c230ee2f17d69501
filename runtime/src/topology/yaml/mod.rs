//! Topology specs: loading Flux-style YAML files and validating them.
//!
//! [`parse_str`] / [`load_file`] turn text into a [`ParsedSpec`] (the serde model plus a
//! [`SourceMap`] of node positions); [`validate`] checks it against a component
//! [`Catalog`] and returns a [`ValidTopology`], or every problem found, each located at
//! file, line, column and key path.

pub mod error;
pub mod flux_model;
pub mod limits;
pub mod model;
mod normalize;
mod parse;
pub mod source_map;
pub mod valid;
mod validate;
mod validate_streams;
pub mod value_class;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use error::{Location, SpecError, SpecErrors};
pub use flux_model::{BeanDef, ConfigMethodDef, FluxDefs, IncludeDef, PropertyDef, VertexExtras};
pub use limits::{Cap, LimitError, Limits};
pub use model::{
    ComponentDef, ConfigMap, GroupingDef, GroupingKind, StreamDef, TopologyDef, TopologySourceDef,
};
pub use source_map::{KeyPath, NodeKind, NodeSpan, Scan, Segment, SourceMap, SyntaxError};
pub use valid::{
    Catalog, ComponentKind, Grouping, StreamDecl, Subscription, ValidComponent, ValidTopology,
};
pub use value_class::{ValueClass, ValueContext};

/// A topology file that deserialized into the model, with the positions of its nodes.
#[derive(Debug, Clone)]
pub struct ParsedSpec {
    /// The typed definition.
    pub def: TopologyDef,
    /// Node positions, for locating semantic errors.
    pub source: SourceMap,
    /// The file it came from, when it came from one.
    pub file: Option<PathBuf>,
    /// The Flux-only keys (components, includes, worker hooks, bean keys), applied or
    /// refused by [`validate`].
    pub flux: FluxDefs,
    /// Parts of `def` that came from other files (Flux `includes`), for locating errors
    /// about them in the file they were written in.
    pub origins: Vec<Origin>,
    /// Problems already found while loading (e.g. unresolved `${...}` substitutions);
    /// [`validate`] reports them with its own.
    pub problems: Vec<SpecError>,
}

/// Where a subtree of a merged spec was written: `at` in the merged spec is `path` in
/// `file`.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The subtree in the merged spec, e.g. `bolts[3]` or `config.topology.workers`.
    pub at: KeyPath,
    /// The file it was written in.
    pub file: Option<PathBuf>,
    /// That file's node positions.
    pub source: std::sync::Arc<SourceMap>,
    /// The subtree's path in that file, e.g. `bolts[0]`.
    pub path: KeyPath,
}

impl ParsedSpec {
    /// A located error about the node at `path` (or its nearest existing ancestor); a
    /// node that came from an included file is located in that file.
    pub fn error_at(&self, path: &KeyPath, message: impl Into<String>) -> SpecError {
        for o in self.origins.iter().rev() {
            if let Some(rest) = path.strip_prefix(&o.at) {
                let mut inner = o.path.clone();
                for seg in rest {
                    inner = match seg {
                        Segment::Key(k) => inner.key(k.clone()),
                        Segment::Index(i) => inner.index(*i),
                    };
                }
                return SpecError {
                    file: o.file.clone(),
                    location: o.source.locate(&inner),
                    path: inner.to_string(),
                    message: message.into(),
                };
            }
        }
        SpecError {
            file: self.file.clone(),
            location: self.source.locate(path),
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// The file again as YAML: the model and the Flux-only keys (includes already merged
    /// stay merged). What `squall submit` sends for a file with `includes`.
    pub fn to_yaml(&self) -> Result<String, String> {
        let raw = parse::RawTopology::join(&self.def, &self.flux);
        serde_yaml::to_string(&raw).map_err(|e| format!("encoding the topology: {e}"))
    }
}

/// Parse a topology from YAML text. `file` is only used in error reports.
///
/// Errors: YAML syntax, an empty or non-mapping document, keys of the Flux DSL that are not
/// supported yet, and anything the model's deserializer rejects (unknown keys, wrong types,
/// unknown grouping types), each with its location.
pub fn parse_str(text: &str, file: Option<&Path>) -> Result<ParsedSpec, SpecErrors> {
    parse::parse(text, file.map(Path::to_path_buf))
}

/// Read and parse a topology file; an I/O error becomes a [`SpecError`] naming the file.
pub fn load_file(path: &Path) -> Result<ParsedSpec, SpecErrors> {
    match limits::read_capped(path, limits::MAX_TOPOLOGY_BYTES) {
        Ok(text) => parse_str(&text, Some(path)),
        Err(e) => Err(SpecErrors(vec![SpecError {
            file: Some(path.to_path_buf()),
            location: None,
            path: String::new(),
            message: format!("cannot read topology file: {e}"),
        }])),
    }
}

/// Check a parsed topology against the component catalog and resolve it.
///
/// The Flux-only keys are applied first (see [`normalize`]); every problem found, the
/// spec's own [`ParsedSpec::problems`] included, is reported at once (the error list is
/// never empty).
pub fn validate(parsed: &ParsedSpec, catalog: &dyn Catalog) -> Result<ValidTopology, SpecErrors> {
    let normalized = normalize(parsed, catalog);
    validate::validate(&normalized, catalog)
}

/// Apply the Flux-only keys that have a meaning without a JVM and refuse the rest.
///
/// - `ref` / `reflist` arguments (of spouts, bolts, `topologySource`, config methods and
///   other components) become the value of the named component; `components` may only
///   define values (`org.apache.storm.tuple.Fields`, `java.lang.String`, numbers, ...,
///   and the catalog's [`ValueClass`]es, whose `properties` and `configMethods` they
///   map themselves; see [`value_class`]).
/// - `configMethods`: `addComponentConfig(key, value)` sets a component config key (the
///   component's own `config` wins); on shell components `setDefaultStream([fields])`
///   and `setNamedStream(name, [fields])` declare their streams.
/// - `workerHooks`: only Storm's no-op `org.apache.storm.hooks.BaseWorkerHook`.
/// - `onHeapMemoryLoad`, `offHeapMemoryLoad`, `cpuLoad`: accepted, ignored.
/// - Anything else (`properties`, `factory`, other config methods and component
///   classes) is refused with a located error in [`ParsedSpec::problems`]; extras of a
///   spout or bolt whose class is unknown are left alone (validation reports the class).
///
/// The result has empty [`ParsedSpec::flux`]; normalizing it again changes nothing.
pub fn normalize(parsed: &ParsedSpec, catalog: &dyn Catalog) -> ParsedSpec {
    normalize::normalize(parsed, catalog)
}
