//! A topology that passed validation: every reference resolved, every grouping field
//! turned into an index, components in a deterministic order.

use super::model::{ComponentDef, ConfigMap};
use super::value_class::ValueClass;

/// Whether a component is a spout or a bolt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    /// A source of tuples.
    Spout,
    /// A processor of tuples.
    Bolt,
}

impl std::fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ComponentKind::Spout => "spout",
            ComponentKind::Bolt => "bolt",
        })
    }
}

/// An output stream a component declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDecl {
    /// Stream id (`default` for the default stream).
    pub id: String,
    /// Output field names, in tuple order.
    pub fields: Vec<String>,
    /// Whether the stream is direct (only `emit_direct` may write to it).
    pub direct: bool,
}

/// A component after validation.
#[derive(Debug, Clone)]
pub struct ValidComponent {
    /// The declaration as written.
    pub def: ComponentDef,
    /// Spout or bolt, from the registry.
    pub kind: ComponentKind,
    /// Declared output streams, as the component itself reported them.
    pub streams: Vec<StreamDecl>,
    /// Number of tasks (instances); `numTasks`, or `parallelism` when absent.
    pub num_tasks: u32,
    /// Number of executors (threads): `parallelism`, capped at `num_tasks` as Storm does.
    pub num_executors: u32,
    /// Topology config with this component's `config` merged over it.
    pub config: ConfigMap,
}

/// How one subscription spreads tuples, with grouping fields resolved to indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// Round robin over a per-sender random permutation of the target tasks.
    Shuffle,
    /// Shuffle over the sender's own worker's tasks when it has any.
    LocalOrShuffle,
    /// Hash of the values at these indices picks the task.
    Fields(Vec<usize>),
    /// Two hash-chosen candidates; the sender picks the one it sent fewer tuples to.
    PartialKey(Vec<usize>),
    /// Every task.
    All,
    /// The lowest task id.
    Global,
    /// A random task per tuple.
    None,
    /// Chosen by the emitter with `emit_direct`.
    Direct,
}

/// A resolved subscription: `to` reads stream `stream` of `from`.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Source component id.
    pub from: String,
    /// Source stream id.
    pub stream: String,
    /// Subscribing bolt id.
    pub to: String,
    /// Grouping with resolved field indices.
    pub grouping: Grouping,
}

/// A validated topology, ready to be run or scheduled.
#[derive(Debug, Clone)]
pub struct ValidTopology {
    /// Topology name.
    pub name: String,
    /// Topology-wide config as written (defaults are applied by [`crate::topology::config`]).
    pub config: ConfigMap,
    /// Components sorted by id (Storm's task numbering order).
    pub components: Vec<ValidComponent>,
    /// All subscriptions, in file order.
    pub subscriptions: Vec<Subscription>,
}

impl ValidTopology {
    /// The component with this id.
    pub fn component(&self, id: &str) -> Option<&ValidComponent> {
        self.components.iter().find(|c| c.def.id == id)
    }

    /// Set `key` to `value` in the topology config and in every component's: always
    /// with `replace` (a value the runtime decides, such as a directory of this host),
    /// otherwise only where it is unset.
    pub fn set_config_everywhere(&mut self, key: &str, value: serde_yaml::Value, replace: bool) {
        let maps = std::iter::once(&mut self.config)
            .chain(self.components.iter_mut().map(|c| &mut c.config));
        for map in maps {
            if replace {
                map.insert(key.to_string(), value.clone());
            } else {
                map.entry(key.to_string()).or_insert_with(|| value.clone());
            }
        }
    }
}

/// What validation needs from the component registry.
pub trait Catalog {
    /// Whether `class_name` is a registered spout or bolt (`None`: unknown).
    fn kind_of(&self, class_name: &str) -> Option<ComponentKind>;
    /// Whether `class_name` is a windowed bolt (its Flux `configMethods` include
    /// `withWindow` and the other `BaseWindowedBolt` methods).
    fn is_windowed(&self, _class_name: &str) -> bool {
        false
    }
    /// Registered names of this kind, sorted, for "unknown className" errors.
    fn names(&self, kind: ComponentKind) -> Vec<String>;
    /// The value class registered as `class_name` for Flux `components` (beside the
    /// built-in ones, see [`super::value_class`]); `None`: none.
    fn value_class(&self, _class_name: &str) -> Option<&dyn ValueClass> {
        None
    }
    /// Names of the value classes [`Catalog::value_class`] knows, sorted, for errors.
    fn value_class_names(&self) -> Vec<String> {
        Vec::new()
    }
    /// Instantiate the component (without opening it) and return its declared streams.
    /// `config` is the merged topology + component config. The error text says what is
    /// wrong with the constructor arguments or config.
    fn declare(
        &self,
        def: &ComponentDef,
        kind: ComponentKind,
        config: &ConfigMap,
    ) -> Result<Vec<StreamDecl>, String>;
}
