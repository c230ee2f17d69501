//! # squall-runtime
//!
//! Everything a Squall topology binary links: the spout/bolt API ([`Spout`], [`Bolt`],
//! [`BasicBolt`], collectors, [`Tuple`]), the component [`Registry`], topology specs in
//! YAML with validation ([`spec`]), groupings, executors, local mode ([`local`]), a test
//! API ([`testing`]) and the command line ([`cli`]).
//!
//! A topology binary registers its components and hands control to [`cli::run`]:
//!
//! ```no_run
//! use squall_runtime::{Registry, cli};
//! let mut registry = Registry::new();
//! // registry.spout("MySpout", |args| Ok(MySpout::new(args.str(0, "path")?)));
//! std::process::exit(cli::run(registry));
//! ```

pub mod api;
pub mod cli;
pub mod cluster;
pub mod engine;
#[doc(hidden)]
pub mod fuzz;
pub mod multilang;
pub mod state;
pub mod topology;
pub mod trident;
pub mod window;

// The paths users wrote before the regrouping stay valid.
pub use api::{collector, component, context, declare, error, ids, registry, retry, tuple, value};
pub use cluster::{client, daemon, resources, wire, worker};
pub use engine::{grouping, local, metrics, stats, testing};
pub use topology::{config, flux, plan, source as topology_source, yaml as spec};

pub use collector::{BasicCollector, BoltCollector, SpoutCollector};
pub use component::{Basic, BasicBolt, Bolt, Spout};
pub use config::Config;
pub use context::{TopologyContext, Waker};
pub use declare::OutputDeclarer;
pub use error::{ComponentError, EmitError, FactoryError, RunError, TupleError};
pub use ids::{MessageId, TaskId};
pub use metrics::{Counter, Gauge, MetricHistogram};
pub use registry::{BuiltTopology, ComponentArgs, Registry};
pub use tuple::{Fields, Tuple, Values};
pub use value::Value;

/// Re-exported so components can implement the async lifecycle methods.
pub use async_trait::async_trait;

/// The stream a component emits on unless it names another.
pub const DEFAULT_STREAM: &str = "default";
/// Component id of the system pseudo component that emits ticks.
pub const SYSTEM_COMPONENT: &str = "__system";
/// Component id of the system acker (Storm's `__acker`).
pub const ACKER_COMPONENT: &str = "__acker";
/// Stream id of tick tuples.
pub const TICK_STREAM: &str = "__tick";

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
