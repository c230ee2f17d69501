//! The component registry: spouts and bolts created by registered name (YAML's
//! `className`) from their `constructorArgs` and config.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::component::{Basic, BasicBolt, Bolt, Spout};
use crate::config::Config;
use crate::declare::OutputDeclarer;
use crate::error::FactoryError;
use crate::spec::{Catalog, ComponentDef, ComponentKind, ConfigMap, StreamDecl};

/// What a factory receives: the component id, its `constructorArgs` and its merged config.
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

/// Named component factories. A topology binary fills one and hands it to
/// [`crate::cli::run`].
#[derive(Clone, Default)]
pub struct Registry {
    spouts: BTreeMap<String, SpoutFactory>,
    bolts: BTreeMap<String, BoltFactory>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("spouts", &self.spouts.keys().collect::<Vec<_>>())
            .field("bolts", &self.bolts.keys().collect::<Vec<_>>())
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
        self.bolts.insert(
            name.to_string(),
            Arc::new(move |a| Ok(Box::new(factory(a)?) as Box<dyn Bolt>)),
        );
        self
    }

    /// Register a [`BasicBolt`] factory under `name`.
    pub fn basic_bolt<B, F>(&mut self, name: &str, factory: F) -> &mut Self
    where
        B: BasicBolt,
        F: Fn(&ComponentArgs<'_>) -> Result<B, FactoryError> + Send + Sync + 'static,
    {
        self.bolt(name, move |a| Ok(Basic(factory(a)?)))
    }

    /// Register another name for an already registered component (e.g. a Storm class
    /// name). Does nothing if `existing` is unknown.
    pub fn alias(&mut self, alias: &str, existing: &str) -> &mut Self {
        if let Some(f) = self.spouts.get(existing).cloned() {
            self.spouts.insert(alias.to_string(), f);
        } else if let Some(f) = self.bolts.get(existing).cloned() {
            self.bolts.insert(alias.to_string(), f);
        }
        self
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

    fn names(&self, kind: ComponentKind) -> Vec<String> {
        match kind {
            ComponentKind::Spout => self.spouts.keys().cloned().collect(),
            ComponentKind::Bolt => self.bolts.keys().cloned().collect(),
        }
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
