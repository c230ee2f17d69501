//! Flux's `topologySource`: a topology built by Rust code, referenced from YAML by the
//! name of its registered builder ([`Registry::topology`]).
//!
//! ```yaml
//! name: trident-wordcount
//! topologySource:
//!   className: TridentWordCount          # a registered topology builder
//!   constructorArgs: [in.txt, 0.1]       # handed to the builder
//!   # methodName: getTopology            # optional; the only one there is
//! config:
//!   topology.workers: 2                  # merged over the builder's config
//! ```
//!
//! [`resolve`] turns such a spec into an ordinary one (the builder's spouts, bolts and
//! streams, the YAML's name and config) plus the registry to run it with (the binary's,
//! extended with the builder's own component factories). Every place that loads a
//! topology — `validate`, `local`, `submit`, workers, the test API — goes through
//! [`validate`] here, so a built topology runs exactly like a declared one.

use crate::api::registry::{ComponentArgs, Registry};
use crate::topology::config::Config;
use crate::topology::yaml::{self, KeyPath, ParsedSpec, SpecError, SpecErrors, TopologySourceDef};
use crate::topology::yaml::{TopologyDef, ValidTopology};

/// The sections a `topologySource` file must not have.
const DSL_SECTIONS: [&str; 3] = ["spouts", "bolts", "streams"];

/// The effective spec and registry of `parsed`.
///
/// Without `topologySource`, `parsed` unchanged and a clone of `base` (cheap: a map of
/// `Arc`s). With it: the builder registered under `topologySource.className` is called
/// with the YAML's name, `constructorArgs` and config (merged over the defaults); the
/// result is the built spouts, bolts and streams under the YAML's `name` (the builder's
/// when the YAML has none) with the YAML's `config` merged over the builder's, and `base`
/// extended with the builder's component factories.
///
/// Errors, each located in the file: an unknown builder (listing the registered ones),
/// a `methodName` other than `getTopology`, `spouts`/`bolts`/`streams` next to
/// `topologySource`, and the builder's own error (at `topologySource.constructorArgs`).
/// Problems in the built topology itself are left to [`yaml::validate`]; they are
/// located at the YAML's nearest node (the document root for generated components).
pub fn resolve(parsed: &ParsedSpec, base: &Registry) -> Result<(ParsedSpec, Registry), SpecErrors> {
    let (mut resolved, mut registry) = resolve_source(parsed, base)?;
    // Persistent windows set by Flux's withPersistence() checkpoint too.
    crate::window::flux::mark_persistent(&mut resolved, &registry);
    // Stateful bolts: the checkpoint spout, streams and forwarders (nothing otherwise).
    crate::state::checkpoint::wiring::wire(&mut resolved.def, &mut registry);
    Ok((resolved, registry))
}

/// [`resolve`] before the checkpoint wiring.
fn resolve_source(
    parsed: &ParsedSpec,
    base: &Registry,
) -> Result<(ParsedSpec, Registry), SpecErrors> {
    if parsed.def.topology_source.is_none() {
        return Ok((parsed.clone(), base.clone()));
    }
    // Flux keys first: `ref` arguments of the builder resolved, the rest checked.
    let normalized = yaml::normalize(parsed, base);
    let parsed = &normalized;
    let Some(src) = &parsed.def.topology_source else {
        return Ok((parsed.clone(), base.clone()));
    };
    let at = KeyPath::root().key("topologySource");
    let mut errors = parsed.problems.clone();
    let both: Vec<&str> = DSL_SECTIONS
        .into_iter()
        .filter(|s| declared(parsed, s))
        .collect();
    if !both.is_empty() {
        let found = both
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(parsed.error_at(
            &at,
            format!(
                "a topology file declares either `topologySource` or `spouts`/`bolts`/`streams`, \
                 not both (found {found}); remove one of them"
            ),
        ));
    }
    if let Some(method) = &src.method_name
        && method != TopologySourceDef::DEFAULT_METHOD
    {
        errors.push(parsed.error_at(
            &at.key("methodName"),
            format!(
                "methodName '{method}' is not supported: a Rust topology builder has one \
                 method, '{}' (leave `methodName` out)",
                TopologySourceDef::DEFAULT_METHOD
            ),
        ));
    }
    if !base.has_topology(&src.class_name) {
        let names = base.topology_names();
        let message = if names.is_empty() {
            format!(
                "unknown topology builder '{}'; no topology builders are registered in this \
                 binary (register one with Registry::topology)",
                src.class_name
            )
        } else {
            format!(
                "unknown topology builder '{}'; registered topology builders are: {}",
                src.class_name,
                names.join(", ")
            )
        };
        errors.push(parsed.error_at(&at.key("className"), message));
    }
    if !errors.is_empty() {
        return Err(sorted(errors));
    }
    let yaml = &parsed.def;
    let config = Config::merged([&yaml.config]);
    let args = ComponentArgs::new(&yaml.name, &src.constructor_args, &config);
    let built = base.create_topology(&src.class_name, &args).map_err(|e| {
        SpecErrors(vec![parsed.error_at(
            &at.key("constructorArgs"),
            format!("cannot build topology '{}': {e}", src.class_name),
        )])
    })?;
    if built.def.topology_source.is_some() {
        return Err(SpecErrors(vec![parsed.error_at(
            &at.key("className"),
            format!(
                "the topology built by '{}' has a topologySource of its own; a builder must \
                 declare spouts, bolts and streams",
                src.class_name
            ),
        )]));
    }
    let mut def = built.def;
    if !yaml.name.trim().is_empty() {
        def.name = yaml.name.clone();
    }
    crate::topology::config::overlay(&mut def.config, &yaml.config);
    let mut registry = base.clone();
    registry.extend(&built.components);
    let resolved = ParsedSpec {
        def,
        source: parsed.source.clone(),
        file: parsed.file.clone(),
        flux: Default::default(),
        origins: parsed.origins.clone(),
        problems: Vec::new(),
    };
    Ok((resolved, registry))
}

/// [`resolve`], then [`yaml::validate`] against the effective registry: the topology and
/// the registry to run it with.
///
/// Errors about the built components (`spouts[..]`, `bolts[..]`, `streams[..]`, which
/// the file does not hold) say which builder made them.
pub fn validate(
    parsed: &ParsedSpec,
    base: &Registry,
) -> Result<(ValidTopology, Registry), SpecErrors> {
    let (resolved, registry) = resolve(parsed, base)?;
    let topo = validate_resolved(parsed, &resolved, &registry)?;
    Ok((topo, registry))
}

/// [`yaml::validate`] of `resolved` (what [`resolve`] made of `original`) against the
/// effective `registry`, naming the builder in errors about the components it built.
pub(crate) fn validate_resolved(
    original: &ParsedSpec,
    resolved: &ParsedSpec,
    registry: &Registry,
) -> Result<ValidTopology, SpecErrors> {
    // A stateful bolt needs acking: reported with the other errors, all at once.
    let stateful = crate::state::bolt::check_acking(resolved, registry);
    let checked = match yaml::validate(resolved, registry) {
        Ok(_) if !stateful.is_empty() => Err(SpecErrors(stateful)),
        Ok(topo) => Ok(topo),
        Err(SpecErrors(mut errors)) => {
            errors.extend(stateful);
            Err(SpecErrors(errors))
        }
    };
    checked.map_err(|SpecErrors(mut errors)| {
        if let Some(src) = &original.def.topology_source {
            for e in &mut errors {
                if DSL_SECTIONS.iter().any(|s| e.path.starts_with(s)) {
                    e.message = format!(
                        "in the topology built by '{}': {}",
                        src.class_name, e.message
                    );
                }
            }
        }
        SpecErrors(errors)
    })
}

/// The resolved declaration of `parsed` as YAML: `name`, `config`, `spouts`, `bolts`,
/// `streams`, with `topologySource` expanded. It is what nimbus plans a topology's
/// tasks from; its classNames may only exist in the builder's registry.
pub fn resolved_yaml(def: &TopologyDef) -> Result<String, String> {
    serde_yaml::to_string(def).map_err(|e| format!("encoding the resolved topology: {e}"))
}

/// Whether section `key` is in the file (even empty) or, for a spec built in code, not
/// empty.
fn declared(parsed: &ParsedSpec, key: &str) -> bool {
    let def = &parsed.def;
    let non_empty = match key {
        "spouts" => !def.spouts.is_empty(),
        "bolts" => !def.bolts.is_empty(),
        _ => !def.streams.is_empty(),
    };
    non_empty || parsed.source.get(&KeyPath::root().key(key)).is_some()
}

/// Errors in file order (unlocated last).
fn sorted(mut errors: Vec<SpecError>) -> SpecErrors {
    errors.sort_by_key(|e| (e.location.is_none(), e.location));
    SpecErrors(errors)
}

#[cfg(test)]
mod tests;
