//! The topology definition as written in YAML (Flux's DSL subset), before validation.
//!
//! These types mirror the file: field names follow Flux (`className`, `constructorArgs`,
//! `numTasks`, `streamId`), so a Flux file deserializes into them directly. Nothing here
//! is checked beyond its shape; [`crate::topology::yaml::validate`] turns a [`TopologyDef`] into a
//! [`crate::topology::yaml::ValidTopology`] or a list of located errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A raw configuration map (`config:` at the top level or on a component).
pub type ConfigMap = BTreeMap<String, serde_yaml::Value>;

/// A whole topology file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopologyDef {
    /// Topology name; used by the CLI and in every report.
    #[serde(default)]
    pub name: String,
    /// Topology-wide configuration (Storm key names), merged over the defaults.
    #[serde(default)]
    pub config: ConfigMap,
    /// Spout declarations, in file order.
    #[serde(default)]
    pub spouts: Vec<ComponentDef>,
    /// Bolt declarations, in file order.
    #[serde(default)]
    pub bolts: Vec<ComponentDef>,
    /// Subscriptions: which bolt reads which stream of which component, and how.
    #[serde(default)]
    pub streams: Vec<StreamDef>,
    /// Flux's alternative to `spouts`/`bolts`/`streams`: a topology built by Rust code,
    /// named by its registered builder. Resolved (replaced by what the builder declares)
    /// by [`crate::topology::source::resolve`] before validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_source: Option<TopologySourceDef>,
}

/// `topologySource:` — which registered topology builder makes the topology, and with
/// which arguments (Flux: the class whose `getTopology` method returns it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopologySourceDef {
    /// Registered name of the topology builder (Flux: the Java class name).
    pub class_name: String,
    /// Arguments handed to the builder.
    #[serde(default)]
    pub constructor_args: Vec<serde_yaml::Value>,
    /// Flux's builder method; only `getTopology` (the default) exists here.
    #[serde(default)]
    pub method_name: Option<String>,
}

impl TopologySourceDef {
    /// The only `methodName` a Rust builder has (Flux's default).
    pub const DEFAULT_METHOD: &'static str = "getTopology";
}

/// A spout or bolt declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComponentDef {
    /// Component id, unique across spouts and bolts.
    pub id: String,
    /// Registered name of the component's factory (Flux: the Java class name).
    pub class_name: String,
    /// Number of executors (threads); Flux default 1.
    #[serde(default = "default_parallelism")]
    pub parallelism: u32,
    /// Number of tasks; defaults to `parallelism`.
    #[serde(default)]
    pub num_tasks: Option<u32>,
    /// Arguments handed to the factory.
    #[serde(default)]
    pub constructor_args: Vec<serde_yaml::Value>,
    /// Per-component configuration, merged over the topology config.
    #[serde(default)]
    pub config: ConfigMap,
}

fn default_parallelism() -> u32 {
    1
}

/// One subscription edge `from -> to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StreamDef {
    /// Optional human name (unused by the runtime, as in Flux).
    #[serde(default)]
    pub name: Option<String>,
    /// Source component id.
    pub from: String,
    /// Subscribing bolt id.
    pub to: String,
    /// How tuples of the source stream are spread over the subscriber's tasks.
    pub grouping: GroupingDef,
}

/// Grouping of a subscription, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupingDef {
    /// Grouping type.
    #[serde(rename = "type")]
    pub kind: GroupingKind,
    /// Field names, for `FIELDS` and `PARTIAL_KEY`.
    #[serde(default)]
    pub args: Vec<String>,
    /// Source stream; `default` when absent.
    #[serde(default = "default_stream")]
    pub stream_id: String,
    /// Flux's custom grouping class (refused by validation: no JVM here).
    #[serde(default)]
    pub custom_class: Option<serde_yaml::Value>,
}

fn default_stream() -> String {
    crate::DEFAULT_STREAM.to_string()
}

/// Grouping types (Flux spelling, plus `PARTIAL_KEY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupingKind {
    /// Even random spread (round robin over a per-sender permutation).
    Shuffle,
    /// Shuffle restricted to tasks in the same worker process when there are any.
    LocalOrShuffle,
    /// Equal values of the named fields always go to the same task.
    Fields,
    /// Fields grouping split over two candidate tasks, balanced per sender.
    PartialKey,
    /// Every task gets a copy.
    All,
    /// The lowest task id gets everything.
    Global,
    /// Random task per tuple.
    None,
    /// The emitter picks the task (`emit_direct`).
    Direct,
    /// A user grouping class; not available (no JVM), refused with a clear error.
    Custom,
}

impl GroupingKind {
    /// Every accepted spelling, for error messages.
    pub const ALL_NAMES: &'static [&'static str] = &[
        "SHUFFLE",
        "LOCAL_OR_SHUFFLE",
        "FIELDS",
        "PARTIAL_KEY",
        "ALL",
        "GLOBAL",
        "NONE",
        "DIRECT",
    ];
}
