//! Topology specs: loading Flux-style YAML files and validating them.
//!
//! [`parse_str`] / [`load_file`] turn text into a [`ParsedSpec`] (the serde model plus a
//! [`SourceMap`] of node positions); [`validate`] checks it against a component
//! [`Catalog`] and returns a [`ValidTopology`], or every problem found, each located at
//! file, line, column and key path.

pub mod error;
pub mod model;
mod parse;
pub mod source_map;
pub mod valid;
mod validate;
mod validate_streams;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use error::{Location, SpecError, SpecErrors};
pub use model::{
    ComponentDef, ConfigMap, GroupingDef, GroupingKind, StreamDef, TopologyDef, TopologySourceDef,
};
pub use source_map::{KeyPath, NodeKind, NodeSpan, Segment, SourceMap};
pub use valid::{
    Catalog, ComponentKind, Grouping, StreamDecl, Subscription, ValidComponent, ValidTopology,
};

/// A topology file that deserialized into the model, with the positions of its nodes.
#[derive(Debug, Clone)]
pub struct ParsedSpec {
    /// The typed definition.
    pub def: TopologyDef,
    /// Node positions, for locating semantic errors.
    pub source: SourceMap,
    /// The file it came from, when it came from one.
    pub file: Option<PathBuf>,
}

impl ParsedSpec {
    /// A located error about the node at `path` (or its nearest existing ancestor).
    pub fn error_at(&self, path: &KeyPath, message: impl Into<String>) -> SpecError {
        SpecError {
            file: self.file.clone(),
            location: self.source.locate(path),
            path: path.to_string(),
            message: message.into(),
        }
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
    match std::fs::read_to_string(path) {
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
/// Every problem found is reported at once (the error list is never empty).
pub fn validate(parsed: &ParsedSpec, catalog: &dyn Catalog) -> Result<ValidTopology, SpecErrors> {
    validate::validate(parsed, catalog)
}
