//! Flux-only keys applied to, or refused from, a parsed spec (see [`super::normalize`]).

use std::collections::HashMap;

use serde_yaml::{Mapping, Value};

use super::ParsedSpec;
use super::error::SpecError;
use super::flux_model::{BeanDef, ConfigMethodDef, FluxDefs, VertexExtras};
use super::model::ComponentDef;
use super::source_map::KeyPath;
use super::valid::Catalog;
use super::validate::list;

/// Class names of the shell (multi-lang) components, whose streams `setDefaultStream` /
/// `setNamedStream` declare.
pub const SHELL_CLASSES: &[&str] = &[
    "ShellBolt",
    "ShellSpout",
    "org.apache.storm.flux.wrappers.bolts.FluxShellBolt",
    "org.apache.storm.flux.wrappers.spouts.FluxShellSpout",
    "org.apache.storm.task.ShellBolt",
    "org.apache.storm.spout.ShellSpout",
];

/// The only worker hook accepted: Storm's base class, which does nothing.
pub const BASE_WORKER_HOOK: &str = "org.apache.storm.hooks.BaseWorkerHook";

/// Java classes a `components` entry may construct, with what their arguments are.
pub const VALUE_CLASSES: &[(&str, &str)] = &[
    ("org.apache.storm.tuple.Fields", "one list of field names"),
    ("java.lang.String", "one value"),
    ("java.lang.Integer", "one integer"),
    ("java.lang.Long", "one integer"),
    ("java.lang.Double", "one number"),
    ("java.lang.Float", "one number"),
    ("java.lang.Boolean", "true or false"),
    ("java.util.ArrayList", "nothing, or one list"),
    ("java.util.HashMap", "nothing, or one mapping"),
];

/// The config methods applied, for error messages.
const METHODS: &str = "addComponentConfig(key, value) on any component; setDefaultStream([fields]) \
                       and setNamedStream(name, [fields]) on shell components";

/// What a component id stands for while resolving refs.
#[derive(Clone)]
enum Slot {
    /// Its value.
    Value(Value),
    /// It had an error (already reported): refs to it are not reported again.
    Failed,
}

/// Components by id, in declaration order.
struct Values {
    by_id: HashMap<String, (usize, Slot)>,
    order: Vec<String>,
}

impl Values {
    fn known(&self) -> String {
        if self.order.is_empty() {
            "no components are declared (top-level `components:`)".to_string()
        } else {
            format!("components are: {}", list(&self.order))
        }
    }
}

/// Why an argument list could not be resolved.
enum Unresolved {
    /// Report these.
    Errors(Vec<SpecError>),
    /// A referenced component failed; its own error says why.
    Quiet,
}

/// See [`super::normalize`].
pub(super) fn normalize(parsed: &ParsedSpec, catalog: &dyn Catalog) -> ParsedSpec {
    let mut out = parsed.clone();
    out.flux = FluxDefs::default();
    let flux = &parsed.flux;
    let root = KeyPath::root();
    let mut problems = Vec::new();
    if !flux.includes.is_empty() {
        problems.push(parsed.error_at(
            &root.key("includes"),
            "`includes` are only processed when the topology is loaded from its file \
             (squall validate|local|submit FILE); this topology was given as text",
        ));
    }
    let values = components(parsed, &flux.components, &mut problems);
    if let Some(src) = &mut out.def.topology_source {
        let at = root.key("topologySource").key("constructorArgs");
        match resolve_args(parsed, &src.constructor_args, &at, &values, None) {
            Ok(args) => src.constructor_args = args,
            Err(Unresolved::Errors(e)) => problems.extend(e),
            Err(Unresolved::Quiet) => {}
        }
    }
    for (key, defs, extras) in [
        ("spouts", &mut out.def.spouts, &flux.spouts),
        ("bolts", &mut out.def.bolts, &flux.bolts),
    ] {
        for (i, c) in defs.iter_mut().enumerate() {
            // Extras of an unknown class are left alone: validation reports the class.
            if catalog.kind_of(&c.class_name).is_none() {
                continue;
            }
            let path = root.key(key).index(i);
            let none = VertexExtras::default();
            let x = extras.get(i).unwrap_or(&none);
            let windowed = catalog.is_windowed(&c.class_name);
            vertex(parsed, c, x, &path, &values, windowed, &mut problems);
        }
    }
    for (i, h) in flux.worker_hooks.iter().enumerate() {
        let path = root.key("workerHooks").index(i);
        if h.class_name == BASE_WORKER_HOOK {
            tracing::info!(hook = %h.id, "worker hook {BASE_WORKER_HOOK} does nothing: ignored");
            continue;
        }
        problems.push(parsed.error_at(
            &path.key("className"),
            format!(
                "worker hook class '{}' has no Squall equivalent: worker hooks are Java \
                 classes run inside a JVM worker; the only one accepted is \
                 {BASE_WORKER_HOOK} (it does nothing)",
                h.class_name
            ),
        ));
    }
    out.problems.extend(problems);
    out
}

/// Build the value of every `components` entry.
fn components(parsed: &ParsedSpec, beans: &[BeanDef], problems: &mut Vec<SpecError>) -> Values {
    let mut values = Values {
        by_id: HashMap::new(),
        order: Vec::new(),
    };
    for (i, b) in beans.iter().enumerate() {
        let path = KeyPath::root().key("components").index(i);
        if let Some((first, _)) = values.by_id.get(&b.id) {
            problems.push(parsed.error_at(
                &path.key("id"),
                format!(
                    "duplicate component id '{}' (first declared at components[{first}])",
                    b.id
                ),
            ));
            continue;
        }
        let slot = match bean_value(parsed, b, &path, &values, i) {
            Ok(v) => Slot::Value(v),
            Err(Unresolved::Errors(e)) => {
                problems.extend(e);
                Slot::Failed
            }
            Err(Unresolved::Quiet) => Slot::Failed,
        };
        values.by_id.insert(b.id.clone(), (i, slot));
        values.order.push(b.id.clone());
    }
    values
}

/// The value a `components` entry stands for.
fn bean_value(
    parsed: &ParsedSpec,
    b: &BeanDef,
    path: &KeyPath,
    values: &Values,
    index: usize,
) -> Result<Value, Unresolved> {
    let Some((_, takes)) = VALUE_CLASSES
        .iter()
        .chain(crate::window::flux::VALUE_CLASSES)
        .find(|(c, _)| *c == b.class_name)
    else {
        let classes: Vec<&str> = VALUE_CLASSES
            .iter()
            .chain(crate::window::flux::VALUE_CLASSES)
            .map(|(c, _)| *c)
            .collect();
        return Err(Unresolved::Errors(vec![parsed.error_at(
            &path.key("className"),
            format!(
                "component class '{}' has no Squall equivalent: without a JVM, \
                 `components` can only define values for `ref` arguments, of the classes {}",
                b.class_name,
                list(&classes)
            ),
        )]));
    };
    for (key, set) in [
        ("configMethods", !b.config_methods.is_empty()),
        ("properties", !b.properties.is_empty()),
        ("factory", b.factory.is_some()),
        ("factoryArgs", !b.factory_args.is_empty()),
    ] {
        if set {
            return Err(Unresolved::Errors(vec![parsed.error_at(
                &path.key(key),
                format!(
                    "`{key}` calls Java code, which Squall cannot run; a {} component takes \
                     constructorArgs only ({takes})",
                    b.class_name
                ),
            )]));
        }
    }
    let at = path.key("constructorArgs");
    let args = resolve_args(parsed, &b.constructor_args, &at, values, Some(index))?;
    value_of(&b.class_name, &args).map_err(|why| {
        Unresolved::Errors(vec![
            parsed.error_at(&at, format!("{} takes {takes}: {why}", b.class_name)),
        ])
    })
}

/// The value of a value class from its (resolved) constructor arguments.
fn value_of(class: &str, args: &[Value]) -> Result<Value, String> {
    if let Some(v) = crate::window::flux::value_of(class, args) {
        return v;
    }
    let shown = |v: &Value| {
        serde_yaml::to_string(v)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let one = || match args {
        [v] => Ok(v),
        _ => Err(format!("got {} arguments", args.len())),
    };
    match class {
        "org.apache.storm.tuple.Fields" => {
            let v = one()?;
            let ok = v
                .as_sequence()
                .is_some_and(|s| s.iter().all(|f| f.is_string()));
            if ok {
                Ok(v.clone())
            } else {
                Err(format!(
                    "got {}; write the field names as one list, e.g. [\"word\", \"count\"]",
                    shown(v)
                ))
            }
        }
        "java.lang.String" => match one()? {
            Value::String(s) => Ok(Value::String(s.clone())),
            v @ (Value::Number(_) | Value::Bool(_)) => Ok(Value::String(shown(v))),
            v => Err(format!("got {}", shown(v))),
        },
        "java.lang.Integer" | "java.lang.Long" => match one()? {
            v if v.is_i64() || v.is_u64() => Ok(v.clone()),
            v => Err(format!("got {}", shown(v))),
        },
        "java.lang.Double" | "java.lang.Float" => match one()? {
            v if v.is_number() => Ok(v.clone()),
            v => Err(format!("got {}", shown(v))),
        },
        "java.lang.Boolean" => match one()? {
            v if v.is_bool() => Ok(v.clone()),
            v => Err(format!("got {}", shown(v))),
        },
        "java.util.ArrayList" => match args {
            [] => Ok(Value::Sequence(Vec::new())),
            [v] if v.is_sequence() => Ok(v.clone()),
            _ => Err(format!("got {}", shown(&Value::Sequence(args.to_vec())))),
        },
        "java.util.HashMap" => match args {
            [] => Ok(Value::Mapping(Mapping::new())),
            [v] if v.is_mapping() => Ok(v.clone()),
            _ => Err(format!("got {}", shown(&Value::Sequence(args.to_vec())))),
        },
        _ => Err("not a value class".to_string()),
    }
}

/// `{ref: id}` / `{reflist: [ids]}` when `v` is one.
fn reference(v: &Value) -> Option<(&'static str, &Value)> {
    let m = v.as_mapping()?;
    if m.len() != 1 {
        return None;
    }
    let (k, target) = m.iter().next()?;
    match k.as_str()? {
        "ref" => Some(("ref", target)),
        "reflist" => Some(("reflist", target)),
        _ => None,
    }
}

/// Arguments with every `ref` / `reflist` element replaced by the component's value.
/// `before`: for a component's own arguments, refs must name an earlier component.
fn resolve_args(
    parsed: &ParsedSpec,
    args: &[Value],
    at: &KeyPath,
    values: &Values,
    before: Option<usize>,
) -> Result<Vec<Value>, Unresolved> {
    let mut out = Vec::with_capacity(args.len());
    let mut errors = Vec::new();
    let mut quiet = false;
    for (k, arg) in args.iter().enumerate() {
        let Some((kind, target)) = reference(arg) else {
            out.push(arg.clone());
            continue;
        };
        let ids: Vec<(KeyPath, Option<&str>)> = match (kind, target) {
            ("ref", t) => vec![(at.index(k).key("ref"), t.as_str())],
            (_, Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .map(|(j, t)| (at.index(k).key("reflist").index(j), t.as_str()))
                .collect(),
            _ => vec![(at.index(k).key("reflist"), None)],
        };
        let mut resolved = Vec::new();
        for (path, id) in ids {
            let Some(id) = id else {
                errors.push(parsed.error_at(
                    &path,
                    format!(
                        "`{kind}` must name a component id{}",
                        if kind == "reflist" {
                            " (reflist: a list of ids)"
                        } else {
                            ""
                        }
                    ),
                ));
                continue;
            };
            match values.by_id.get(id) {
                None => errors.push(parsed.error_at(
                    &path,
                    format!(
                        "`{kind}` names '{id}', which is not declared; {}",
                        values.known()
                    ),
                )),
                Some((i, _)) if before.is_some_and(|b| *i >= b) => errors.push(parsed.error_at(
                    &path,
                    format!(
                        "`{kind}` names '{id}', declared at components[{i}]: a component may \
                         only refer to components declared before it"
                    ),
                )),
                Some((_, Slot::Failed)) => quiet = true,
                Some((_, Slot::Value(v))) => resolved.push(v.clone()),
            }
        }
        if kind == "ref" {
            out.extend(resolved);
        } else {
            out.push(Value::Sequence(resolved));
        }
    }
    if !errors.is_empty() {
        return Err(Unresolved::Errors(errors));
    }
    if quiet {
        return Err(Unresolved::Quiet);
    }
    Ok(out)
}

/// Apply (or refuse) the Flux-only keys of a spout or bolt whose class is registered.
fn vertex(
    parsed: &ParsedSpec,
    c: &mut ComponentDef,
    x: &VertexExtras,
    path: &KeyPath,
    values: &Values,
    windowed: bool,
    problems: &mut Vec<SpecError>,
) {
    let at = path.key("constructorArgs");
    match resolve_args(parsed, &c.constructor_args, &at, values, None) {
        Ok(args) => c.constructor_args = args,
        Err(Unresolved::Errors(e)) => problems.extend(e),
        Err(Unresolved::Quiet) => problems.push(parsed.error_at(
            &at,
            format!(
                "'{}' cannot be created: a component it refers to is invalid",
                c.id
            ),
        )),
    }
    if x.on_heap_memory_load.is_some() || x.off_heap_memory_load.is_some() || x.cpu_load.is_some() {
        tracing::debug!(component = %c.id, "resource-aware scheduling hints ignored");
    }
    if !x.properties.is_empty() {
        problems.push(parsed.error_at(
            &path.key("properties"),
            format!(
                "`properties` set fields of a Java object, which Squall cannot do; '{}' is \
                 configured by its constructorArgs and config",
                c.class_name
            ),
        ));
    }
    if x.factory.is_some() || !x.factory_args.is_empty() {
        let key = if x.factory.is_some() {
            "factory"
        } else {
            "factoryArgs"
        };
        problems.push(parsed.error_at(
            &path.key(key),
            format!(
                "`{key}` calls a static Java method, which Squall cannot run; '{}' is created \
                 from its constructorArgs",
                c.class_name
            ),
        ));
    }
    let shell = SHELL_CLASSES.contains(&c.class_name.as_str());
    for (j, m) in x.config_methods.iter().enumerate() {
        let mpath = path.key("configMethods").index(j);
        let args = match resolve_args(parsed, &m.args, &mpath.key("args"), values, None) {
            Ok(a) => a,
            Err(Unresolved::Errors(e)) => {
                problems.extend(e);
                continue;
            }
            Err(Unresolved::Quiet) => continue,
        };
        if windowed
            && let Some(applied) = crate::window::flux::config_method(&m.name, &args, &mut c.config)
        {
            if let Err(why) = applied {
                problems.push(parsed.error_at(&mpath.key("name"), why));
            }
            continue;
        }
        if let Err(why) = config_method(c, m, &args, shell) {
            problems.push(parsed.error_at(&mpath.key("name"), why));
        }
    }
}

/// Apply one config method to `c`.
fn config_method(
    c: &mut ComponentDef,
    m: &ConfigMethodDef,
    args: &[Value],
    shell: bool,
) -> Result<(), String> {
    let strings = |v: &Value| -> Option<Vec<Value>> {
        let s = v.as_sequence()?;
        s.iter().all(Value::is_string).then(|| s.clone())
    };
    match (m.name.as_str(), args) {
        ("addComponentConfig", [Value::String(key), value]) => {
            // The component's own `config:` wins (Flux applies it last).
            c.config.entry(key.clone()).or_insert_with(|| value.clone());
            Ok(())
        }
        ("addComponentConfig", _) => Err(
            "addComponentConfig takes two arguments: a config key (a string) and its value"
                .to_string(),
        ),
        ("setDefaultStream", _) if shell => {
            let fields = match args {
                [v] if strings(v).is_some() => v.clone(),
                _ if args.iter().all(Value::is_string) => Value::Sequence(args.to_vec()),
                _ => {
                    return Err(
                        "setDefaultStream takes the list of output field names, e.g. \
                         [[\"word\"]]"
                            .to_string(),
                    );
                }
            };
            shell_args(c)?;
            c.constructor_args[1] = fields;
            Ok(())
        }
        ("setNamedStream", [Value::String(stream), fields])
            if shell && strings(fields).is_some() =>
        {
            shell_args(c)?;
            if c.constructor_args.len() < 3 {
                c.constructor_args.push(Value::Mapping(Mapping::new()));
            }
            match &mut c.constructor_args[2] {
                Value::Mapping(streams) => {
                    streams.insert(Value::String(stream.clone()), fields.clone());
                    Ok(())
                }
                _ => Err(
                    "setNamedStream: constructorArgs[2] (the extra streams) is not a mapping"
                        .to_string(),
                ),
            }
        }
        ("setNamedStream", _) if shell => Err(
            "setNamedStream takes a stream name and the list of its field names, e.g. \
             [\"lengths\", [\"word\", \"length\"]]"
                .to_string(),
        ),
        (name, _) => Err(format!(
            "config method '{name}' cannot be called on '{}': it is Java code, which Squall \
             cannot run; the config methods Squall applies are {METHODS}; {}",
            c.class_name,
            crate::window::flux::METHODS
        )),
    }
}

/// Make sure a shell component's constructorArgs have the command and a default field
/// list slot.
fn shell_args(c: &mut ComponentDef) -> Result<(), String> {
    if c.constructor_args.is_empty() {
        return Err(
            "a shell component needs its command line in constructorArgs[0] before its \
             streams can be set"
                .to_string(),
        );
    }
    if c.constructor_args.len() < 2 {
        c.constructor_args.push(Value::Sequence(Vec::new()));
    }
    Ok(())
}
