//! Flux `components` that Squall builds without a JVM: *value classes*.
//!
//! A Flux file declares `components` (Java beans) that spouts, bolts and other
//! components receive through `ref` arguments. Squall cannot run Java, so a component is
//! accepted only when its class is a [`ValueClass`]: something that turns the bean's
//! `constructorArgs`, then its `properties` and `configMethods` (in Flux's order), into
//! a YAML value that takes the place of each `ref` to it.
//!
//! The built-in value classes are Java's value types and Storm's `Fields`
//! ([`BUILTIN`]) and windowing's `BaseWindowedBolt$Count` / `$Duration`
//! ([`crate::window::flux`]). A topology binary (or a connector crate) adds its own with
//! [`crate::Registry::value_class`]; e.g. `squall-kafka` maps storm-kafka-client's
//! `KafkaSpoutConfig$Builder` onto the map its `KafkaSpout` reads.
//!
//! A `properties` entry `{name: foo, value|ref: …}` is applied as Flux applies it: as
//! the setter `setFoo` called with that one argument.
//!
//! ```
//! use serde_yaml::Value;
//! use squall_runtime::flux::{ValueClass, ValueContext};
//!
//! /// `com.example.Greeting(name)`, with `setPunctuation(p)`.
//! struct Greeting;
//!
//! impl ValueClass for Greeting {
//!     fn takes(&self) -> &str {
//!         "one string (a name)"
//!     }
//!     fn construct(&self, args: &[Value], _cx: &ValueContext<'_>) -> Result<Value, String> {
//!         match args {
//!             [Value::String(name)] => Ok(Value::String(format!("hello {name}"))),
//!             _ => Err(format!("got {} arguments", args.len())),
//!         }
//!     }
//!     fn methods(&self) -> Option<&str> {
//!         Some("setPunctuation(string)")
//!     }
//!     fn call(&self, value: &mut Value, name: &str, args: &[Value]) -> Option<Result<(), String>> {
//!         match (name, args, value) {
//!             ("setPunctuation", [Value::String(p)], Value::String(s)) => {
//!                 s.push_str(p);
//!                 Some(Ok(()))
//!             }
//!             ("setPunctuation", _, _) => Some(Err("setPunctuation takes one string".into())),
//!             _ => None,
//!         }
//!     }
//! }
//!
//! let mut registry = squall_runtime::Registry::new();
//! registry
//!     .value_class("com.example.Greeting", Greeting)
//!     .spout("Greeter", |_| Ok(squall_runtime::testing::FixedSpout::new(&["w"], vec![])));
//! let yaml = r#"
//! name: greetings
//! components:
//!   - id: greeting
//!     className: com.example.Greeting
//!     constructorArgs: [world]
//!     properties:
//!       - name: punctuation
//!         value: "!"
//! spouts:
//!   - id: greeter
//!     className: Greeter
//!     constructorArgs: [{ref: greeting}]
//! "#;
//! let topology = squall_runtime::testing::validate_yaml(&registry, yaml).unwrap();
//! let args = &topology.component("greeter").unwrap().def.constructor_args;
//! assert_eq!(args[0], "hello world!");
//! ```

use std::sync::LazyLock;

use serde_yaml::{Mapping, Value};

/// What a [`ValueClass`] may know about the topology it builds a value for.
#[derive(Debug, Clone, Copy)]
pub struct ValueContext<'a> {
    topology_name: &'a str,
}

impl<'a> ValueContext<'a> {
    /// A context for topology `topology_name`.
    pub fn new(topology_name: &'a str) -> Self {
        ValueContext { topology_name }
    }

    /// The topology's `name` (may be empty when a `topologySource` names it).
    pub fn topology_name(&self) -> &str {
        self.topology_name
    }
}

/// A Java class whose Flux `components` entries Squall turns into a value (see the
/// [module docs](self)).
///
/// Errors are plain sentences: the caller names the class and locates them at the YAML
/// line of the argument, property or method.
pub trait ValueClass: Send + Sync {
    /// What its constructor takes, for errors (e.g. `one list of field names`).
    fn takes(&self) -> &str;

    /// The value of a component of this class, from its `constructorArgs` (every `ref`
    /// already replaced by its value).
    fn construct(&self, args: &[Value], cx: &ValueContext<'_>) -> Result<Value, String>;

    /// The config methods it maps (Flux `configMethods`, and `properties` as their
    /// setters), in words, for errors. `None` (the default): the class takes
    /// `constructorArgs` only, and `properties` / `configMethods` on it are refused as a
    /// whole.
    fn methods(&self) -> Option<&str> {
        None
    }

    /// Apply config method `name` (its `ref` arguments resolved) to a value this class
    /// built. `None`: the class does not map that method (reported with [`Self::methods`]).
    fn call(&self, _value: &mut Value, _name: &str, _args: &[Value]) -> Option<Result<(), String>> {
        None
    }
}

/// Java's value classes and Storm's `Fields`, with what their constructor takes.
pub const BUILTIN: &[(&str, &str)] = &[
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

/// A value class every catalog has: [`BUILTIN`] and windowing's
/// ([`crate::window::flux::VALUE_CLASSES`]).
struct Builtin {
    class: &'static str,
    takes: &'static str,
}

impl ValueClass for Builtin {
    fn takes(&self) -> &str {
        self.takes
    }

    fn construct(&self, args: &[Value], _cx: &ValueContext<'_>) -> Result<Value, String> {
        crate::window::flux::value_of(self.class, args)
            .unwrap_or_else(|| java_value(self.class, args))
    }
}

/// Every built-in value class: `(class name, what its constructor takes)`.
fn builtins() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    BUILTIN.iter().chain(crate::window::flux::VALUE_CLASSES)
}

static BUILTINS: LazyLock<Vec<Builtin>> = LazyLock::new(|| {
    builtins()
        .map(|(class, takes)| Builtin { class, takes })
        .collect()
});

/// The built-in value class named `class`.
pub(crate) fn builtin(class: &str) -> Option<&'static dyn ValueClass> {
    BUILTINS
        .iter()
        .find(|b| b.class == class)
        .map(|b| b as &dyn ValueClass)
}

/// The names of the built-in value classes.
pub(crate) fn builtin_names() -> impl Iterator<Item = &'static str> {
    builtins().map(|(c, _)| *c)
}

/// A value, shown briefly in an error.
fn shown(v: &Value) -> String {
    serde_yaml::to_string(v)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The value of a [`BUILTIN`] class from its constructor arguments.
fn java_value(class: &str, args: &[Value]) -> Result<Value, String> {
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

/// The setter Flux calls for property `name`: `set` + the name capitalised.
pub fn setter(property: &str) -> String {
    let mut chars = property.chars();
    match chars.next() {
        Some(first) => format!("set{}{}", first.to_uppercase(), chars.as_str()),
        None => "set".to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn builtins_build_values_and_setters_are_flux_names() {
        let cx = ValueContext::new("t");
        let fields = builtin("org.apache.storm.tuple.Fields").unwrap();
        let v = fields
            .construct(&[serde_yaml::from_str("[a, b]").unwrap()], &cx)
            .unwrap();
        assert_eq!(v, serde_yaml::from_str::<Value>("[a, b]").unwrap());
        assert!(fields.construct(&["a".into()], &cx).is_err());
        assert!(fields.methods().is_none());
        let count = builtin(crate::window::flux::COUNT_CLASS).unwrap();
        assert!(count.construct(&[3.into()], &cx).is_ok());
        assert!(builtin("java.lang.Thread").is_none());
        assert!(builtin_names().any(|c| c == crate::window::flux::DURATION_CLASS));
        assert_eq!(
            setter("firstPollOffsetStrategy"),
            "setFirstPollOffsetStrategy"
        );
    }
}
