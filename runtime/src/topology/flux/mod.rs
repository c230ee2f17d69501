//! Storm Flux compatibility: loading a Flux topology file as Storm's Flux does, with what
//! makes sense without a JVM.
//!
//! [`load_file`] reads a topology file, substitutes `${key}` from a `--filter`
//! properties file and `${ENV-NAME}` from the environment (on the raw text, before
//! parsing, as Flux does; see [`substitute`]), parses it and merges its `includes`
//! ([`includes`]). Refs to `components`, `configMethods`, `workerHooks` and the other
//! Flux keys are applied or refused by [`crate::topology::yaml::validate`] (see
//! [`crate::topology::yaml::normalize`]); Storm's well-known classes are registered under their
//! Java names by the binary (`squall-topologies`; see [`STORM_CLASSES`]). Java classes
//! of `components` become values through [`ValueClass`]es (built-in ones, and those a
//! binary registers with [`crate::Registry::value_class`]).
//!
//! ```no_run
//! use std::path::Path;
//! use squall_runtime::{Registry, flux, topology_source};
//! let registry = Registry::new();
//! let opts = flux::LoadOptions { filter: Some("dev.properties".into()), resources: None };
//! let loaded = flux::load_file(Path::new("topology.yaml"), &opts)?;
//! let (topology, registry) = topology_source::validate(&loaded.parsed, &registry)?;
//! # Ok::<(), squall_runtime::spec::SpecErrors>(())
//! ```

pub mod includes;
pub mod properties;
pub mod substitute;

use std::path::{Path, PathBuf};

pub use crate::topology::yaml::value_class::{ValueClass, ValueContext, setter};
use crate::topology::yaml::{self, ParsedSpec, SpecError, SpecErrors};
pub use properties::{Properties, PropertiesError};

/// Storm class names the `squall` binary maps onto its built-in components, with what
/// they map to (for documentation and `squall components`).
pub const STORM_CLASSES: &[(&str, &str)] = &[
    (
        "org.apache.storm.testing.TestWordSpout",
        "WordSpout: random words from Storm's set, field `word`",
    ),
    (
        "org.apache.storm.testing.TestWordCounter",
        "TestWordCounter: counts field 0, emits `word`, `count`",
    ),
    (
        "org.apache.storm.flux.wrappers.bolts.LogInfoBolt",
        "LogInfoBolt: logs every tuple at info level, emits nothing",
    ),
    (
        "org.apache.storm.flux.wrappers.bolts.FluxShellBolt",
        "ShellBolt: a multi-lang subprocess",
    ),
    (
        "org.apache.storm.flux.wrappers.spouts.FluxShellSpout",
        "ShellSpout: a multi-lang subprocess",
    ),
    (
        "org.apache.storm.flux.examples.TestWindowBolt",
        "TestWindowBolt: a windowed bolt emitting the window's tuple count, field `count`",
    ),
    (
        "org.apache.storm.flux.examples.TestPrintBolt",
        "TestPrintBolt: prints every tuple (to standard error, with the logs), emits nothing",
    ),
    (
        "org.apache.storm.starter.bolt.SlidingWindowSumBolt",
        "SlidingWindowSumBolt: a windowed bolt emitting the sum of a numeric field, `sum`",
    ),
    ("org.apache.storm.task.ShellBolt", "ShellBolt"),
    ("org.apache.storm.spout.ShellSpout", "ShellSpout"),
];

/// How to load a topology file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// A Java `.properties` file whose keys `${key}` substitutes (`--filter FILE`).
    pub filter: Option<PathBuf>,
    /// The resources directory (`--resources DIR`): where `resource: true` includes are
    /// looked up. Default: the topology file's directory.
    pub resources: Option<PathBuf>,
}

/// A loaded topology file.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The spec, includes merged; substitution problems are in its `problems`.
    pub parsed: ParsedSpec,
    /// The main file's text after substitution.
    pub text: String,
    /// Whether any file was included.
    pub included: bool,
}

impl Loaded {
    /// The topology as self-contained YAML, for a process that has neither the
    /// properties file nor the included files (nimbus, workers): the substituted text,
    /// or, when files were included, the merged definition.
    pub fn wire_yaml(&self) -> Result<String, String> {
        if self.included {
            self.parsed.to_yaml()
        } else {
            Ok(self.text.clone())
        }
    }
}

fn file_error(file: &Path, message: String) -> SpecErrors {
    SpecErrors(vec![SpecError {
        file: Some(file.to_path_buf()),
        location: None,
        path: String::new(),
        message,
    }])
}

/// Read, substitute, parse and merge the includes of the topology file `path`.
///
/// Errors: the file or the properties file cannot be read, or the YAML does not parse;
/// the substitutions that could not be made and the includes that could not be merged
/// are in the result's [`ParsedSpec::problems`] (reported by validation with the rest).
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<Loaded, SpecErrors> {
    let properties = match &opts.filter {
        Some(f) => Some(Properties::load(f).map_err(|e| file_error(f, e.to_string()))?),
        None => None,
    };
    let text = yaml::limits::read_capped(path, yaml::limits::MAX_TOPOLOGY_BYTES)
        .map_err(|e| file_error(path, format!("cannot read topology file: {e}")))?;
    let env = |name: &str| std::env::var(name).ok();
    let sources = substitute::Sources {
        properties: properties.as_ref(),
        env: &env,
    };
    let (text, problems) = substitute::substitute(&text, Some(path), &sources);
    let mut parsed = match yaml::parse_str(&text, Some(path)) {
        Ok(p) => p,
        Err(SpecErrors(errors)) => {
            let mut all = problems;
            all.extend(errors);
            return Err(SpecErrors(all));
        }
    };
    parsed.problems.extend(problems);
    let included = !parsed.flux.includes.is_empty();
    if included {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        includes::process(&mut parsed, dir, opts, &sources);
    }
    Ok(Loaded {
        parsed,
        text,
        included,
    })
}

#[cfg(test)]
mod tests;
