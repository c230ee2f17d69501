//! Semantic checks of a parsed topology (name, components, config) and its resolution
//! into a [`ValidTopology`]. Stream checks live in [`super::validate_streams`].

use std::collections::HashMap;

use super::error::{SpecError, SpecErrors};
use super::model::{ComponentDef, ConfigMap};
use super::source_map::KeyPath;
use super::valid::{Catalog, ComponentKind, StreamDecl, ValidComponent, ValidTopology};
use super::{ParsedSpec, validate_streams};

/// Prefix of ids reserved for the system (Storm's `__acker`, `__system`, `__tick`, ...).
pub(super) const RESERVED_PREFIX: &str = "__";

/// Collects located errors while the checks run.
pub(super) struct Checker<'a> {
    /// The spec under validation.
    pub parsed: &'a ParsedSpec,
    /// Everything found so far.
    pub errors: Vec<SpecError>,
}

impl Checker<'_> {
    /// Record an error about the node at `path`.
    pub fn err(&mut self, path: &KeyPath, message: impl Into<String>) {
        let e = self.parsed.error_at(path, message);
        self.errors.push(e);
    }

    /// `line N` for the node at `path`, for "first declared at ..." style references.
    pub fn line_of(&self, path: &KeyPath) -> String {
        let e = self.parsed.error_at(path, "");
        match (e.location, &e.file) {
            (Some(loc), f) if *f == self.parsed.file => format!("line {}", loc.line),
            (Some(loc), Some(f)) => format!("{}:{}", f.display(), loc.line),
            _ => path.to_string(),
        }
    }

    /// Whether a problem was already recorded at `path` or below it.
    pub fn has_problem_under(&self, path: &KeyPath) -> bool {
        let shown = self.parsed.error_at(path, "");
        self.parsed.problems.iter().any(|p| {
            p.file == shown.file
                && (p.path == shown.path || p.path.starts_with(&format!("{}.", shown.path)))
        })
    }
}

/// What validation learned about one declared component.
pub(super) struct Comp<'a> {
    /// The declaration.
    pub def: &'a ComponentDef,
    /// The section it was declared in (`spouts` or `bolts`).
    pub section: ComponentKind,
    /// Declared output streams; `None` when unknown (bad class or constructor error).
    pub streams: Option<Vec<StreamDecl>>,
    /// Topology config with the component's config merged over it.
    pub config: ConfigMap,
}

/// `a, b, c`, or `(none)` for an empty list.
pub(super) fn list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "(none)".to_string();
    }
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
}

/// See [`super::validate`].
pub(super) fn validate(
    parsed: &ParsedSpec,
    catalog: &dyn Catalog,
) -> Result<ValidTopology, SpecErrors> {
    let mut ck = Checker {
        parsed,
        errors: parsed.problems.clone(),
    };
    let def = &parsed.def;
    let root = KeyPath::root();
    if let Some(src) = &def.topology_source {
        ck.err(
            &root.key("topologySource"),
            format!(
                "`topologySource` ('{}') must be resolved into spouts, bolts and streams \
                 before validation (squall_runtime::topology_source::resolve does it)",
                src.class_name
            ),
        );
    }
    if def.name.trim().is_empty() {
        ck.err(
            &root.key("name"),
            "the topology name is missing or empty; add a top-level `name: <topology name>`",
        );
    }
    // (Unless an include that may have held them could not be merged.)
    if def.spouts.is_empty() && !ck.has_problem_under(&root.key("includes")) {
        ck.err(
            &root.key("spouts"),
            "the topology has no spouts; declare at least one under `spouts:`",
        );
    }
    check_config(&mut ck, &def.config, &root.key("config"));
    let comps = components(&mut ck, catalog);
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, c) in comps.iter().enumerate() {
        ids.entry(c.def.id.as_str()).or_insert(i);
    }
    let subscriptions = validate_streams::check(&mut ck, &comps, &ids);
    if !ck.errors.is_empty() {
        return Err(sorted(ck.errors, &parsed.file));
    }
    let mut components: Vec<ValidComponent> = comps
        .into_iter()
        .map(|c| {
            let num_tasks = c.def.num_tasks.unwrap_or(c.def.parallelism);
            ValidComponent {
                def: c.def.clone(),
                kind: c.section,
                streams: c.streams.unwrap_or_default(),
                num_tasks,
                num_executors: c.def.parallelism.min(num_tasks),
                config: c.config,
            }
        })
        .collect();
    components.sort_by(|a, b| a.def.id.cmp(&b.def.id));
    Ok(ValidTopology {
        name: def.name.clone(),
        config: def.config.clone(),
        components,
        subscriptions,
    })
}

/// Errors of the main file first, then those of included files; each file's in file
/// order (unlocated last); duplicates dropped.
pub(super) fn sorted(mut errors: Vec<SpecError>, main: &Option<std::path::PathBuf>) -> SpecErrors {
    errors.sort_by(|a, b| {
        let key = |e: &SpecError| {
            (
                e.file != *main,
                e.file.clone(),
                e.location.is_none(),
                e.location,
            )
        };
        key(a).cmp(&key(b))
    });
    errors.dedup();
    SpecErrors(errors)
}

/// Run the config checks on one config map, locating each error at `at.<key>`.
fn check_config(ck: &mut Checker<'_>, config: &ConfigMap, at: &KeyPath) {
    for (key, message) in crate::topology::config::check_config(config) {
        ck.err(&at.key(key), message);
    }
}

/// Check every spout and bolt declaration and ask the catalog for its streams.
fn components<'a>(ck: &mut Checker<'a>, catalog: &dyn Catalog) -> Vec<Comp<'a>> {
    let parsed: &'a ParsedSpec = ck.parsed;
    let def = &parsed.def;
    let root = KeyPath::root();
    let mut first: HashMap<&str, KeyPath> = HashMap::new();
    let mut comps = Vec::new();
    let sections = [
        (ComponentKind::Spout, "spouts", &def.spouts),
        (ComponentKind::Bolt, "bolts", &def.bolts),
    ];
    for (section, key, defs) in sections {
        for (i, c) in defs.iter().enumerate() {
            let path = root.key(key).index(i);
            check_id(ck, c, &path, &mut first);
            if c.parallelism == 0 {
                ck.err(
                    &path.key("parallelism"),
                    "parallelism must be at least 1, got 0",
                );
            }
            if c.num_tasks == Some(0) {
                ck.err(
                    &path.key("numTasks"),
                    "numTasks must be at least 1, got 0 (leave it out to run one task per executor)",
                );
            }
            check_config(ck, &c.config, &path.key("config"));
            let config = crate::topology::config::layered([&def.config, &c.config]);
            // A component whose Flux keys were refused is not instantiated: its
            // constructor arguments may still hold what could not be resolved.
            let streams = if ck.has_problem_under(&path) && catalog.kind_of(&c.class_name).is_some()
            {
                None
            } else {
                declare(ck, catalog, c, section, &path, &config)
            };
            comps.push(Comp {
                def: c,
                section,
                streams,
                config,
            });
        }
    }
    comps
}

/// Empty, reserved and duplicate ids.
fn check_id<'a>(
    ck: &mut Checker<'_>,
    c: &'a ComponentDef,
    path: &KeyPath,
    first: &mut HashMap<&'a str, KeyPath>,
) {
    let at = path.key("id");
    if c.id.trim().is_empty() {
        ck.err(&at, "component id must not be empty");
        return;
    }
    if c.id.starts_with(RESERVED_PREFIX) {
        ck.err(
            &at,
            format!(
                "component id '{}' is reserved: ids starting with '__' belong to the system \
                 (acker, metrics, ticks); choose another id",
                c.id
            ),
        );
    }
    match first.get(c.id.as_str()) {
        Some(prev) => {
            let msg = format!(
                "duplicate component id '{}' (first declared at {}, {}); ids must be unique \
                 across spouts and bolts",
                c.id,
                ck.line_of(prev),
                prev
            );
            ck.err(&at, msg);
        }
        None => {
            first.insert(c.id.as_str(), at);
        }
    }
}

/// Resolve the class and instantiate the component to learn its streams.
fn declare(
    ck: &mut Checker<'_>,
    catalog: &dyn Catalog,
    c: &ComponentDef,
    section: ComponentKind,
    path: &KeyPath,
    config: &ConfigMap,
) -> Option<Vec<StreamDecl>> {
    let class_at = path.key("className");
    match catalog.kind_of(&c.class_name) {
        None => {
            let names = catalog.names(section);
            // A Java class name (`org.apache...`): say why it cannot simply be loaded.
            let java = if c.class_name.contains('.') {
                " (a Java class with no Squall equivalent: Squall runs no JVM; use a \
                 registered component or a shell component)"
            } else {
                ""
            };
            let msg = if names.is_empty() {
                format!(
                    "unknown {section} class '{}'{java}; no {section}s are registered",
                    c.class_name
                )
            } else {
                format!(
                    "unknown {section} class '{}'{java}; registered {section}s are: {}",
                    c.class_name,
                    list(&names)
                )
            };
            ck.err(&class_at, msg);
            None
        }
        Some(kind) if kind != section => {
            ck.err(
                &class_at,
                format!(
                    "'{}' is a {kind}, but '{}' is declared under `{section}s`; move it to \
                     `{kind}s` or use a {section} class ({})",
                    c.class_name,
                    c.id,
                    list(&catalog.names(section))
                ),
            );
            None
        }
        Some(_) => match catalog.declare(c, section, config) {
            Ok(streams) => {
                for s in streams.iter().filter(|s| s.id.starts_with(RESERVED_PREFIX)) {
                    ck.err(
                        &class_at,
                        format!(
                            "'{}' declares stream '{}', but stream ids starting with '__' are \
                             reserved for the system",
                            c.class_name, s.id
                        ),
                    );
                }
                Some(streams)
            }
            Err(msg) => {
                ck.err(
                    &path.key("constructorArgs"),
                    format!("cannot create '{}' ({}): {msg}", c.id, c.class_name),
                );
                None
            }
        },
    }
}
