//! What the compiler hands each Trident bolt: its nodes in order, where their output
//! goes, which inputs feed which node, and who it exchanges batch counts with.

use std::sync::Arc;

use super::graph::{NodeFactory, Partitioning};
use super::spout::BatchSpout;
use super::state_spec::StateSpec;

/// Output of a node to another bolt.
#[derive(Debug, Clone)]
pub(crate) struct PlanExit {
    /// Stream id the tuples go out on.
    pub stream: String,
    /// Receiving bolt.
    pub component: String,
    /// How they are spread over its tasks.
    pub partition: Partitioning,
}

/// One node inside a bolt.
#[derive(Clone)]
pub(crate) struct PlanNode {
    pub make: NodeFactory,
    /// Local indices of the nodes fed by this one (always later ones).
    pub children: Vec<usize>,
    /// Outputs to other bolts.
    pub exits: Vec<PlanExit>,
    pub label: String,
}

/// The spout a bolt emits for (spout bolts only).
#[derive(Clone)]
pub(crate) struct PlanSpout {
    /// Position of this spout's metadata in the master's `$batch` tuple.
    pub index: usize,
    /// The spout's stream name (keys its metadata).
    pub name: String,
    pub spout: Arc<dyn BatchSpout>,
}

/// A whole Trident bolt.
#[derive(Clone)]
pub(crate) struct GroupPlan {
    pub id: String,
    pub nodes: Vec<PlanNode>,
    pub spout: Option<PlanSpout>,
    /// `(component, stream, node)`: tuples of that stream enter at that node.
    pub entries: Vec<(String, String, usize)>,
    /// Bolts that send this one data and batch counts.
    pub upstream: Vec<String>,
    /// Bolts this one sends data and batch counts to.
    pub downstream: Vec<String>,
    /// States opened by this bolt, by id.
    pub states: Vec<(usize, StateSpec)>,
    /// Declared data streams: id and fields (after the batch id).
    pub outputs: Vec<(String, Vec<String>)>,
    pub parallelism: u32,
}
