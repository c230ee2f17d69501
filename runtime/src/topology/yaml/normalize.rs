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
use super::value_class::{self, ValueContext, setter};

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
    let values = components(parsed, &flux.components, catalog, &mut problems);
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
fn components(
    parsed: &ParsedSpec,
    beans: &[BeanDef],
    catalog: &dyn Catalog,
    problems: &mut Vec<SpecError>,
) -> Values {
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
        let bean = Bean {
            def: b,
            path: &path,
            index: i,
        };
        let slot = match bean_value(parsed, &bean, &values, catalog) {
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

/// A `components` entry being built.
struct Bean<'a> {
    def: &'a BeanDef,
    path: &'a KeyPath,
    index: usize,
}

/// The value a `components` entry stands for: its [`value_class::ValueClass`] builds it from its
/// `constructorArgs`, then applies its `properties` (as their setters) and
/// `configMethods`, in Flux's order.
fn bean_value(
    parsed: &ParsedSpec,
    bean: &Bean<'_>,
    values: &Values,
    catalog: &dyn Catalog,
) -> Result<Value, Unresolved> {
    let (b, path) = (bean.def, bean.path);
    let class = value_class::builtin(&b.class_name).or_else(|| catalog.value_class(&b.class_name));
    let Some(class) = class else {
        let mut classes: Vec<String> = value_class::builtin_names().map(String::from).collect();
        classes.extend(catalog.value_class_names());
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
    let takes = class.takes();
    for (key, set, java) in [
        ("configMethods", !b.config_methods.is_empty(), false),
        ("properties", !b.properties.is_empty(), false),
        ("factory", b.factory.is_some(), true),
        ("factoryArgs", !b.factory_args.is_empty(), true),
    ] {
        if set && (java || class.methods().is_none()) {
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
    let args = resolve_args(parsed, &b.constructor_args, &at, values, Some(bean.index))?;
    let cx = ValueContext::new(&parsed.def.name);
    let mut value = class.construct(&args, &cx).map_err(|why| {
        Unresolved::Errors(vec![
            parsed.error_at(&at, format!("{} takes {takes}: {why}", b.class_name)),
        ])
    })?;
    // Flux sets the properties, then calls the config methods.
    let mut calls = Vec::new();
    let mut errors = Vec::new();
    for (k, p) in b.properties.iter().enumerate() {
        let ppath = path.key("properties").index(k);
        let arg = match (&p.value, &p.reference) {
            (Some(v), None) => v.clone(),
            (None, Some(id)) => {
                let mut m = Mapping::new();
                m.insert(Value::String("ref".into()), Value::String(id.clone()));
                Value::Mapping(m)
            }
            _ => {
                errors.push(parsed.error_at(
                    &ppath,
                    format!("property '{}' needs one of `value` or `ref`", p.name),
                ));
                continue;
            }
        };
        let what = format!("property '{}' ({})", p.name, setter(&p.name));
        calls.push((setter(&p.name), vec![arg], ppath, what));
    }
    for (j, m) in b.config_methods.iter().enumerate() {
        let mpath = path.key("configMethods").index(j);
        calls.push((
            m.name.clone(),
            m.args.clone(),
            mpath,
            format!("config method '{}'", m.name),
        ));
    }
    let mut quiet = false;
    for (name, args, at, what) in calls {
        let args = match resolve_args(parsed, &args, &at, values, Some(bean.index)) {
            Ok(a) => a,
            Err(Unresolved::Errors(e)) => {
                errors.extend(e);
                continue;
            }
            Err(Unresolved::Quiet) => {
                quiet = true;
                continue;
            }
        };
        let why = match class.call(&mut value, &name, &args) {
            Some(Ok(())) => continue,
            Some(Err(why)) => format!("{}.{name}: {why}", b.class_name),
            None => format!(
                "{what} of class '{}' has no Squall equivalent: it calls Java code, which \
                 Squall cannot run; on this class Squall maps {}",
                b.class_name,
                class.methods().unwrap_or("nothing")
            ),
        };
        errors.push(parsed.error_at(&at.key("name"), why));
    }
    if !errors.is_empty() {
        return Err(Unresolved::Errors(errors));
    }
    if quiet {
        return Err(Unresolved::Quiet);
    }
    Ok(value)
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
