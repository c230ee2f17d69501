//! The component registry: spouts and bolts created by registered name (YAML's
//! `className`) from their `constructorArgs` and config, and topology builders
//! (Flux's `topologySource`) that declare a whole topology in Rust code.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::api::component::{Basic, BasicBolt, Bolt, Spout};
use crate::api::declare::OutputDeclarer;
use crate::api::error::FactoryError;
use crate::state::bolt::{Stateful, StatefulBolt};
use crate::state::checkpoint::spout::TxStoreOpener;
use crate::topology::config::Config;
use crate::topology::yaml::{
    Catalog, ComponentDef, ComponentKind, ConfigMap, StreamDecl, TopologyDef, ValueClass,
};
use crate::window::{Windowed, WindowedBolt};

/// What a factory receives: the component id, its `constructorArgs` and its merged config.
///
/// A topology builder ([`Registry::topology`]) receives the topology name from the YAML
/// as `id`, `topologySource.constructorArgs` as the arguments, and the YAML's top-level
/// `config` merged over the defaults.
#[derive(Debug, Clone, Copy)]
pub struct ComponentArgs<'a> {
    id: &'a str,
    args: &'a [serde_yaml::Value],
    config: &'a Config,
}

impl<'a> ComponentArgs<'a> {
    /// Arguments for component `id`.
    pub fn new(id: &'a str, args: &'a [serde_yaml::Value], config: &'a Config) -> Self {
        ComponentArgs { id, args, config }
    }

    /// The component id being created.
    pub fn id(&self) -> &str {
        self.id
    }

    /// All constructor arguments.
    pub fn args(&self) -> &[serde_yaml::Value] {
        self.args
    }

    /// The merged configuration of the component.
    pub fn config(&self) -> &Config {
        self.config
    }

    /// Number of constructor arguments.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether there are no constructor arguments.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    fn missing(&self, index: usize, what: &str) -> FactoryError {
        FactoryError(format!(
            "constructorArgs[{index}] ({what}) is missing: {} argument(s) given",
            self.args.len()
        ))
    }

    fn wrong(&self, index: usize, what: &str, v: &serde_yaml::Value) -> FactoryError {
        let shown = serde_yaml::to_string(v).unwrap_or_default();
        FactoryError(format!(
            "constructorArgs[{index}] must be {what}, got {}",
            shown.trim()
        ))
    }

    /// Argument `index` as a string (required).
    pub fn str(&self, index: usize, what: &str) -> Result<&'a str, FactoryError> {
        let v = self
            .args
            .get(index)
            .ok_or_else(|| self.missing(index, what))?;
        v.as_str().ok_or_else(|| self.wrong(index, what, v))
    }

    /// Argument `index` as a non-negative integer (required).
    pub fn u64(&self, index: usize, what: &str) -> Result<u64, FactoryError> {
        let v = self
            .args
            .get(index)
            .ok_or_else(|| self.missing(index, what))?;
        v.as_u64().ok_or_else(|| self.wrong(index, what, v))
    }

    /// Argument `index` as a number (required).
    pub fn f64(&self, index: usize, what: &str) -> Result<f64, FactoryError> {
        let v = self
            .args
            .get(index)
            .ok_or_else(|| self.missing(index, what))?;
        v.as_f64().ok_or_else(|| self.wrong(index, what, v))
    }

    /// Argument `index` as a non-negative integer, or `default` when absent.
    pub fn u64_or(&self, index: usize, what: &str, default: u64) -> Result<u64, FactoryError> {
        if index >= self.args.len() {
            return Ok(default);
        }
        self.u64(index, what)
    }

    /// Argument `index` as a number, or `default` when absent.
    pub fn f64_or(&self, index: usize, what: &str, default: f64) -> Result<f64, FactoryError> {
        if index >= self.args.len() {
            return Ok(default);
        }
        self.f64(index, what)
    }
}

/// Creates a spout from its arguments.
pub type SpoutFactory =
    Arc<dyn Fn(&ComponentArgs<'_>) -> Result<Box<dyn Spout>, FactoryError> + Send + Sync>;
/// Creates a bolt from its arguments.
pub type BoltFactory =
    Arc<dyn Fn(&ComponentArgs<'_>) -> Result<Box<dyn Bolt>, FactoryError> + Send + Sync>;

/// A topology built by Rust code: its components (spouts, bolts, streams, config; `name`
/// may be empty) and the factories of the classNames it uses.
///
/// Returned by a topology builder registered with [`Registry::topology`] and referenced
/// from YAML as `topologySource: {className: <builder>, constructorArgs: [...]}`.
#[derive(Debug, Clone, Default)]
pub struct BuiltTopology {
    /// The declaration: spouts, bolts, streams and config (`topologySource` unset). The
    /// YAML's `name` (when not empty) replaces `name`, and its `config` is merged over
    /// `config`.
    pub def: TopologyDef,
    /// Factories of the classNames `def` uses that the binary's registry may lack; added
    /// to it (winning on a name clash) for this topology.
    pub components: Registry,
}

/// Builds a topology from its arguments (see [`BuiltTopology`]).
pub type TopologyFactory =
    Arc<dyn Fn(&ComponentArgs<'_>) -> Result<BuiltTopology, FactoryError> + Send + Sync>;

/// Named component factories and topology builders. A topology binary fills one and hands
/// it to [`crate::cli::run`].
#[derive(Clone, Default)]
pub struct Registry {
    spouts: BTreeMap<String, SpoutFactory>,
    bolts: BTreeMap<String, BoltFactory>,
    topologies: BTreeMap<String, TopologyFactory>,
    /// Flux `components` classes turned into values (see [`Registry::value_class`]).
    value_classes: BTreeMap<String, Arc<dyn ValueClass>>,
    /// Names of the bolts registered with [`Registry::stateful_bolt`].
    stateful: BTreeSet<String>,
    /// Names of the bolts registered with [`Registry::windowed_bolt`].
    windowed: BTreeSet<String>,
    /// Where checkpoint spouts keep their state (`None`: in memory).
    checkpoint_store: Option<TxStoreOpener>,
    /// The checkpoint wiring (forwarders, checkpoint spout class) was added.
    pub(crate) checkpoint_wired: bool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("spouts", &self.spouts.keys().collect::<Vec<_>>())
            .field("bolts", &self.bolts.keys().collect::<Vec<_>>())
            .field("topologies", &self.topologies.keys().collect::<Vec<_>>())
            .field(
                "value_classes",
                &self.value_classes.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Register a spout factory under `name`.
    pub fn spout<S, F>(&mut self, name: &str, factory: F) -> &mut Self
    where
        S: Spout,
        F: Fn(&ComponentArgs<'_>) -> Result<S, FactoryError> + Send + Sync + 'static,
    {
        self.spouts.insert(
            name.to_string(),
            Arc::new(move |a| Ok(Box::new(factory(a)?) as Box<dyn Spout>)),
        );
        self
    }

    /// Register a bolt factory under `name`.
    pub fn bolt<B, F>(&mut self, name: &str, factory: F) -> &mut Self
    where
        B: Bolt,
        F: Fn(&ComponentArgs<'_>) -> Result<B, FactoryError> + Send + Sync + 'static,
    {
        self.stateful.remove(name);
        self.windowed.remove(name);
        self.bolts.insert(
            name.to_string(),
            Arc::new(move |a| Ok(Box::new(factory(a)?) as Box<dyn Bolt>)),
        );
        self
    }

    /// Register a [`StatefulBolt`] factory under `name`: the bolt runs inside the
    /// stateful executor ([`Stateful`]), and a topology using it needs acking (see
    /// [`crate::state::bolt`]).
    pub fn stateful_bolt<B, F>(&mut self, name: &str, factory: F) -> &mut Self
    where
        B: StatefulBolt,
        F: Fn(&ComponentArgs<'_>) -> Result<B, FactoryError> + Send + Sync + 'static,
    {
        self.bolt(name, move |a| Ok(Stateful::new(factory(a)?)));
        self.stateful.insert(name.to_string());
        self
    }

    /// Register a [`WindowedBolt`] factory under `name`: the bolt runs inside the window
    /// executor ([`Windowed`]), its window given by the component's config keys
    /// (`topology.bolts.window.*`, see [`crate::window::WindowConfig`]) or, in Flux files,
    /// by `configMethods` such as `withWindow`. A window that is not valid, or does not
    /// fit the topology's message timeout or spout pending limit, is refused when the
    /// topology is validated, naming the keys.
    pub fn windowed_bolt<B, F>(&mut self, name: &str, factory: F) -> &mut Self
    where
        B: WindowedBolt,
        F: Fn(&ComponentArgs<'_>) -> Result<B, FactoryError> + Send + Sync + 'static,
    {
        self.bolt(name, move |a| {
            Windowed::from_config(factory(a)?, a.config()).map_err(|e| FactoryError(e.to_string()))
        });
        self.windowed.insert(name.to_string());
        self
    }

    /// Register a Flux value class under a Java class name: `components` entries of that
    /// class become the value it builds from their `constructorArgs`, `properties` and
    /// `configMethods`, and a `ref` to one is replaced by that value (see
    /// [`crate::flux::ValueClass`]). A built-in value class of the same name
    /// (`java.lang.*`, `org.apache.storm.tuple.Fields`, windowing's) wins.
    pub fn value_class(&mut self, class_name: &str, class: impl ValueClass + 'static) -> &mut Self {
        self.value_classes
            .insert(class_name.to_string(), Arc::new(class));
        self
    }

    /// Keep `name` marked windowed after it was wrapped (the checkpoint wiring).
    pub(crate) fn mark_windowed(&mut self, name: &str) {
        self.windowed.insert(name.to_string());
    }

    /// Whether `class_name` was registered with [`Registry::windowed_bolt`].
    pub fn is_windowed(&self, class_name: &str) -> bool {
        self.windowed.contains(class_name)
    }

    /// Keep the checkpoint spout's state through `opener` (by default in memory, like
    /// Storm's default in-memory provider: a restarted topology starts at txid -1).
    pub fn set_checkpoint_store(&mut self, opener: TxStoreOpener) -> &mut Self {
        self.checkpoint_store = Some(opener);
        self
    }

    /// The opener set with [`Registry::set_checkpoint_store`].
    pub fn checkpoint_store(&self) -> Option<TxStoreOpener> {
        self.checkpoint_store.clone()
    }

    /// Whether a spout is registered as `name`.
    pub fn has_spout(&self, name: &str) -> bool {
        self.spouts.contains_key(name)
    }

    /// Whether `class_name` was registered with [`Registry::stateful_bolt`].
    pub fn is_stateful(&self, class_name: &str) -> bool {
        self.stateful.contains(class_name)
    }

    /// Register a [`BasicBolt`] factory under `name`.
    pub fn basic_bolt<B, F>(&mut self, name: &str, factory: F) -> &mut Self
    where
        B: BasicBolt,
        F: Fn(&ComponentArgs<'_>) -> Result<B, FactoryError> + Send + Sync + 'static,
    {
        self.bolt(name, move |a| Ok(Basic(factory(a)?)))
    }

    /// Register a topology builder under `name`: YAML's `topologySource.className`.
    ///
    /// The builder gets the topology name from the YAML as [`ComponentArgs::id`], the
    /// `topologySource.constructorArgs` and the YAML's `config` merged over the defaults;
    /// an `Err` is reported by validation at `topologySource.constructorArgs`. It must be
    /// deterministic: nimbus plans from the declaration built at submission, and every
    /// worker builds the topology again from the same YAML.
    ///
    /// ```
    /// use squall_runtime::registry::BuiltTopology;
    /// use squall_runtime::spec::{ComponentDef, TopologyDef};
    /// use squall_runtime::{Registry, testing::FixedSpout, values};
    ///
    /// let mut registry = Registry::new();
    /// registry.topology("OneSpout", |args| {
    ///     let n = args.u64_or(0, "number of words", 2)?;
    ///     let mut components = Registry::new();
    ///     components.spout("Words", move |_| {
    ///         Ok(FixedSpout::new(&["word"], (0..n).map(|i| values![i as i64]).collect()))
    ///     });
    ///     let spout = ComponentDef {
    ///         id: "words".into(),
    ///         class_name: "Words".into(),
    ///         parallelism: 1,
    ///         num_tasks: None,
    ///         constructor_args: vec![],
    ///         config: Default::default(),
    ///     };
    ///     let def = TopologyDef { spouts: vec![spout], ..Default::default() };
    ///     Ok(BuiltTopology { def, components })
    /// });
    /// assert_eq!(registry.topology_names(), ["OneSpout"]);
    /// ```
    pub fn topology<F>(&mut self, name: &str, factory: F) -> &mut Self
    where
        F: Fn(&ComponentArgs<'_>) -> Result<BuiltTopology, FactoryError> + Send + Sync + 'static,
    {
        self.topologies.insert(name.to_string(), Arc::new(factory));
        self
    }

    /// Add every factory and builder of `other` (other wins on a name clash).
    pub fn extend(&mut self, other: &Registry) {
        self.spouts
            .extend(other.spouts.iter().map(|(k, f)| (k.clone(), f.clone())));
        self.bolts
            .extend(other.bolts.iter().map(|(k, f)| (k.clone(), f.clone())));
        self.topologies
            .extend(other.topologies.iter().map(|(k, f)| (k.clone(), f.clone())));
        self.value_classes.extend(
            other
                .value_classes
                .iter()
                .map(|(k, c)| (k.clone(), c.clone())),
        );
        for name in other.bolts.keys() {
            if other.stateful.contains(name) {
                self.stateful.insert(name.clone());
            } else {
                self.stateful.remove(name);
            }
            if other.windowed.contains(name) {
                self.windowed.insert(name.clone());
            } else {
                self.windowed.remove(name);
            }
        }
    }

    /// Register another name for an already registered component or topology builder
    /// (e.g. a Storm class name). Does nothing if `existing` is unknown.
    pub fn alias(&mut self, alias: &str, existing: &str) -> &mut Self {
        if let Some(f) = self.spouts.get(existing).cloned() {
            self.spouts.insert(alias.to_string(), f);
        } else if let Some(f) = self.bolts.get(existing).cloned() {
            self.bolts.insert(alias.to_string(), f);
            if self.stateful.contains(existing) {
                self.stateful.insert(alias.to_string());
            }
            if self.windowed.contains(existing) {
                self.windowed.insert(alias.to_string());
            }
        } else if let Some(f) = self.topologies.get(existing).cloned() {
            self.topologies.insert(alias.to_string(), f);
        }
        self
    }

    /// Registered topology builder names, sorted.
    pub fn topology_names(&self) -> Vec<String> {
        self.topologies.keys().cloned().collect()
    }

    /// Whether a topology builder is registered as `name`.
    pub fn has_topology(&self, name: &str) -> bool {
        self.topologies.contains_key(name)
    }

    /// Build a topology with the builder registered as `name`.
    pub fn create_topology(
        &self,
        name: &str,
        args: &ComponentArgs<'_>,
    ) -> Result<BuiltTopology, FactoryError> {
        let f = self
            .topologies
            .get(name)
            .ok_or_else(|| FactoryError(format!("no topology builder registered as '{name}'")))?;
        f(args)
    }

    /// Create a spout.
    pub fn create_spout(
        &self,
        name: &str,
        args: &ComponentArgs<'_>,
    ) -> Result<Box<dyn Spout>, FactoryError> {
        let f = self
            .spouts
            .get(name)
            .ok_or_else(|| FactoryError(format!("no spout registered as '{name}'")))?;
        f(args)
    }

    /// Create a bolt.
    pub fn create_bolt(
        &self,
        name: &str,
        args: &ComponentArgs<'_>,
    ) -> Result<Box<dyn Bolt>, FactoryError> {
        let f = self
            .bolts
            .get(name)
            .ok_or_else(|| FactoryError(format!("no bolt registered as '{name}'")))?;
        f(args)
    }
}

impl Catalog for Registry {
    fn kind_of(&self, class_name: &str) -> Option<ComponentKind> {
        if self.spouts.contains_key(class_name) {
            Some(ComponentKind::Spout)
        } else if self.bolts.contains_key(class_name) {
            Some(ComponentKind::Bolt)
        } else {
            None
        }
    }

    fn is_windowed(&self, class_name: &str) -> bool {
        Registry::is_windowed(self, class_name)
    }

    fn names(&self, kind: ComponentKind) -> Vec<String> {
        match kind {
            ComponentKind::Spout => self.spouts.keys().cloned().collect(),
            ComponentKind::Bolt => self.bolts.keys().cloned().collect(),
        }
    }

    fn value_class(&self, class_name: &str) -> Option<&dyn ValueClass> {
        self.value_classes.get(class_name).map(|c| c.as_ref())
    }

    fn value_class_names(&self) -> Vec<String> {
        self.value_classes.keys().cloned().collect()
    }

    fn declare(
        &self,
        def: &ComponentDef,
        kind: ComponentKind,
        config: &ConfigMap,
    ) -> Result<Vec<StreamDecl>, String> {
        let config = Config::merged([config]);
        let args = ComponentArgs::new(&def.id, &def.constructor_args, &config);
        let mut out = OutputDeclarer::new();
        match kind {
            ComponentKind::Spout => self
                .create_spout(&def.class_name, &args)
                .map_err(|e| e.0)?
                .declare_outputs(&mut out),
            ComponentKind::Bolt => self
                .create_bolt(&def.class_name, &args)
                .map_err(|e| e.0)?
                .declare_outputs(&mut out),
        }
        Ok(out.into_streams())
    }
}
