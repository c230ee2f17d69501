//! Test helpers for users' topologies, like Storm's `completeTopology`: run a topology
//! in-process until every spout is exhausted and every tuple processed, and get back
//! everything each component emitted.
//!
//! ```
//! use squall_runtime::{Registry, testing::{FixedSpout, complete_topology}, values};
//! use std::time::Duration;
//!
//! let mut registry = Registry::new();
//! registry.spout("Words", |_| Ok(FixedSpout::new(&["word"], vec![values!["a"], values!["b"]])));
//! let yaml = r#"
//! name: t
//! spouts: [{id: words, className: Words}]
//! "#;
//! let report = complete_topology(&registry, yaml, Duration::from_secs(10)).unwrap();
//! assert_eq!(report.emitted("words", "default").len(), 2);
//! ```

use std::time::Duration;

use thiserror::Error;

use crate::api::collector::SpoutCollector;
use crate::api::component::Spout;
use crate::api::declare::OutputDeclarer;
use crate::api::error::{ComponentError, RunError};
use crate::api::ids::MessageId;
use crate::api::registry::Registry;
use crate::api::tuple::Values;
use crate::engine::local::{LocalOptions, RunReport, run_local};
use crate::topology::yaml::{self, SpecErrors, ValidTopology};

/// Why a test run did not complete.
#[derive(Debug, Error)]
pub enum TestRunError {
    /// The YAML is invalid.
    #[error("invalid topology:\n{0}")]
    Spec(#[from] SpecErrors),
    /// The run failed to start.
    #[error(transparent)]
    Run(#[from] RunError),
    /// Spouts were still emitting, or tuples in flight, when the timeout hit.
    #[error("topology did not complete within {timeout:?}; totals so far: {report}")]
    Timeout {
        /// The timeout.
        timeout: Duration,
        /// The totals at the timeout, as JSON.
        report: String,
    },
}

/// Parse and validate a YAML topology against `registry` (building its
/// `topologySource`, if it has one, with the builder registered in `registry`).
///
/// To run a `topologySource` topology from the result, use the registry
/// [`load_yaml`] returns: it holds the builder's components too.
pub fn validate_yaml(registry: &Registry, yaml: &str) -> Result<ValidTopology, SpecErrors> {
    load_yaml(registry, yaml).map(|(topo, _)| topo)
}

/// Parse and validate a YAML topology against `registry`: the topology and the registry
/// to run it with (`registry` extended with the components of its `topologySource`
/// builder, if it has one; see [`crate::topology::source`]).
pub fn load_yaml(registry: &Registry, yaml: &str) -> Result<(ValidTopology, Registry), SpecErrors> {
    let parsed = yaml::parse_str(yaml, None)?;
    crate::topology::source::validate(&parsed, registry)
}

/// Run a YAML topology until it completes (all spouts exhausted, every tuple
/// processed), capturing every emitted tuple. Fails if that takes longer than `timeout`.
///
/// The YAML may declare its spouts, bolts and streams or name a topology builder of
/// `registry` with `topologySource` ([`Registry::topology`]).
pub fn complete_topology(
    registry: &Registry,
    yaml: &str,
    timeout: Duration,
) -> Result<RunReport, TestRunError> {
    let (topo, registry) = load_yaml(registry, yaml)?;
    complete_valid_topology(&registry, &topo, timeout)
}

/// [`complete_topology`] for an already validated topology.
pub fn complete_valid_topology(
    registry: &Registry,
    topo: &ValidTopology,
    timeout: Duration,
) -> Result<RunReport, TestRunError> {
    let report = run_local(
        registry,
        topo,
        LocalOptions {
            duration: Some(timeout),
            capture: true,
            progress: None,
            stop_on_interrupt: false,
        },
    )?;
    if !report.completed {
        return Err(TestRunError::Timeout {
            timeout,
            report: serde_json::to_string(&report.components).unwrap_or_default(),
        });
    }
    Ok(report)
}

/// A spout that emits a fixed list of tuples on the default stream, each with its index
/// as message id, then is exhausted. Failed messages are emitted again.
#[derive(Debug, Clone)]
pub struct FixedSpout {
    fields: Vec<String>,
    tuples: Vec<Values>,
    next: usize,
    replay: Vec<MessageId>,
}

impl FixedSpout {
    /// Emit `tuples` (each with `fields.len()` values) once each.
    pub fn new(fields: &[&str], tuples: Vec<Values>) -> FixedSpout {
        FixedSpout {
            fields: fields.iter().map(|f| f.to_string()).collect(),
            tuples,
            next: 0,
            replay: Vec::new(),
        }
    }
}

impl Spout for FixedSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        let fields: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        out.declare(&fields);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        let id = match self.replay.pop() {
            Some(id) => id,
            None if self.next < self.tuples.len() => {
                self.next += 1;
                (self.next - 1) as MessageId
            }
            None => return Ok(()),
        };
        let values = self.tuples[id as usize].clone();
        out.emit_id(values, id)?;
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.tuples.len() && self.replay.is_empty()
    }

    fn fail(&mut self, id: MessageId) {
        self.replay.push(id);
    }
}
