//! What `squall validate` checks, as one function: a topology against a binary's
//! [`Registry`] — the `topologySource` resolved ([`source::resolve`]), every
//! declaration validated ([`yaml::validate`]) and the Flux refs and config
//! methods applied ([`yaml::normalize`]), giving the resolved declaration nimbus plans
//! from ([`Checked::resolved_yaml`]).
//!
//! The CLI's `validate` (run by nimbus on the submitted artifact) and the in-process
//! validator of a `LocalCluster` both call [`check`], so they accept and refuse the same
//! topologies.
//!
//! ```
//! use squall_runtime::Registry;
//! use squall_runtime::topology::check;
//!
//! let yaml = "name: empty\nspouts: []\nbolts: []\nstreams: []\n";
//! // No spouts: refused, with the reason.
//! let errors = check::check_str(yaml, &Registry::new()).unwrap_err();
//! assert!(!errors.0.is_empty());
//! ```

use crate::api::registry::Registry;
use crate::topology::source;
use crate::topology::yaml::{self, ParsedSpec, SpecErrors, ValidTopology};

/// A topology that passed [`check`].
#[derive(Debug, Clone)]
pub struct Checked {
    /// The validated topology.
    pub topology: ValidTopology,
    /// The resolved declaration: a `topologySource` expanded into the builder's
    /// spouts, bolts and streams, Flux refs and config methods applied.
    pub resolved: ParsedSpec,
}

impl Checked {
    /// The resolved declaration as YAML (what `validate --write-resolved` writes and
    /// nimbus plans a `topologySource` topology from).
    pub fn resolved_yaml(&self) -> Result<String, String> {
        source::resolved_yaml(&self.resolved.def)
    }
}

/// Check a loaded topology against `registry`; every error at once, each located.
pub fn check(parsed: &ParsedSpec, registry: &Registry) -> Result<Checked, SpecErrors> {
    let (resolved, effective) = source::resolve(parsed, registry)?;
    let topology = source::validate_resolved(parsed, &resolved, &effective)?;
    // What nimbus plans from: Flux refs and config methods applied.
    let resolved = yaml::normalize(&resolved, &effective);
    Ok(Checked { topology, resolved })
}

/// [`check`] of YAML text as submitted to nimbus (parsed as a worker parses it: no
/// file, so no includes or `${...}` substitution — the client did those).
pub fn check_str(yaml: &str, registry: &Registry) -> Result<Checked, SpecErrors> {
    check(&yaml::parse_str(yaml, None)?, registry)
}
