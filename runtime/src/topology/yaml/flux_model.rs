//! The Flux keys beyond spouts, bolts and streams: shared `components`, `includes`,
//! `workerHooks`, and the per-component bean keys (`configMethods`, `properties`,
//! `factory`, resource hints), as written.
//!
//! They are kept beside the [`super::TopologyDef`] (in [`FluxDefs`]) rather than in it:
//! [`super::validate`] applies what has a meaning without a JVM (refs to value
//! components, `addComponentConfig`, shell streams) and refuses the rest with a located
//! error, so the [`super::ValidTopology`] a runtime gets never holds them.

use serde::{Deserialize, Serialize};

/// A Flux bean: an entry of `components` or `workerHooks` (Flux's `BeanDef`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BeanDef {
    /// Id that `ref` / `reflist` name.
    pub id: String,
    /// Java class name (Squall maps a few value classes, see [`crate::topology::flux`]).
    pub class_name: String,
    /// Constructor arguments (literals, `{ref: id}`, `{reflist: [ids]}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constructor_args: Vec<serde_yaml::Value>,
    /// Methods called after construction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_methods: Vec<ConfigMethodDef>,
    /// JavaBean properties set after construction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<PropertyDef>,
    /// A static factory method used instead of the constructor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factory: Option<String>,
    /// Arguments of `factory`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub factory_args: Vec<serde_yaml::Value>,
}

/// One `configMethods` entry: a method name and its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigMethodDef {
    /// Method name (e.g. `addComponentConfig`).
    pub name: String,
    /// Arguments (literals, `{ref: id}`, `{reflist: [ids]}`); absent for none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<serde_yaml::Value>,
}

/// One `properties` entry: `{name, value}` or `{name, ref}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyDef {
    /// Property (setter) name.
    pub name: String,
    /// A literal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_yaml::Value>,
    /// Or the id of a component.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// One `includes` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludeDef {
    /// Whether `file` is a classpath resource (looked up under the resources directory)
    /// rather than a file path.
    #[serde(default)]
    pub resource: bool,
    /// The file or resource path.
    pub file: String,
    /// Whether the included definitions replace those of the including file with the
    /// same id (and its name and config keys); otherwise existing ones win.
    #[serde(default, rename = "override")]
    pub override_existing: bool,
}

/// The Flux-only keys of one spout or bolt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VertexExtras {
    /// Methods called after construction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_methods: Vec<ConfigMethodDef>,
    /// JavaBean properties set after construction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<PropertyDef>,
    /// A static factory method used instead of the constructor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factory: Option<String>,
    /// Arguments of `factory`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub factory_args: Vec<serde_yaml::Value>,
    /// Resource-aware scheduling hint (accepted, ignored: Squall schedules evenly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_heap_memory_load: Option<f64>,
    /// Resource-aware scheduling hint (accepted, ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_heap_memory_load: Option<f64>,
    /// Resource-aware scheduling hint (accepted, ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_load: Option<f64>,
}

/// Every Flux-only key of a topology file, beside its [`super::TopologyDef`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FluxDefs {
    /// `components`: named values that constructor and method arguments `ref`.
    pub components: Vec<BeanDef>,
    /// `includes` not processed yet (only [`crate::topology::flux::load_file`] processes them).
    pub includes: Vec<IncludeDef>,
    /// `workerHooks`.
    pub worker_hooks: Vec<BeanDef>,
    /// Flux-only keys of `spouts[i]` (index-aligned with the spouts; may be shorter).
    pub spouts: Vec<VertexExtras>,
    /// Flux-only keys of `bolts[i]` (index-aligned with the bolts; may be shorter).
    pub bolts: Vec<VertexExtras>,
}

impl FluxDefs {
    /// Whether the file used no Flux-only key.
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
            && self.includes.is_empty()
            && self.worker_hooks.is_empty()
            && self.spouts.iter().all(|v| *v == VertexExtras::default())
            && self.bolts.iter().all(|v| *v == VertexExtras::default())
    }
}
