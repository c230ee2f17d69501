//! The logical plan a [`super::TridentTopology`] records: nodes (spouts, operations,
//! repartitions, merges, state operations) with their parents and output fields.

use std::sync::Arc;

use super::nodes::{NodeEnv, NodeExec};
use super::ops::OpError;
use super::spout::BatchSpout;
use super::state_spec::StateSpec;

/// Builds a node's runtime half in each task.
pub(crate) type NodeFactory =
    Arc<dyn Fn(&NodeEnv<'_>) -> Result<Box<dyn NodeExec>, OpError> + Send + Sync>;

/// How a repartition spreads tuples over the next bolt's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioning {
    /// Round robin.
    Shuffle,
    /// Equal values of these fields (indices) go to the same task.
    Fields(Vec<usize>),
    /// Everything to one task.
    Global,
    /// Every task gets every tuple.
    Broadcast,
}

/// What a node does.
pub(crate) enum Op {
    /// A batch source; starts an emitter bolt.
    Spout {
        name: String,
        spout: Arc<dyn BatchSpout>,
    },
    /// A repartition: the tuples move to the next bolt, spread this way.
    Partition(Partitioning),
    /// Several streams read as one.
    Merge,
    /// An operation run in a bolt; `state` is the state it reads or writes, if any.
    Exec {
        make: NodeFactory,
        state: Option<usize>,
        commits: bool,
    },
}

/// One node of the plan.
pub(crate) struct Node {
    pub op: Op,
    pub parents: Vec<usize>,
    /// Output field names (without the batch id).
    pub fields: Vec<String>,
    pub parallelism: Option<u32>,
    /// What the user called it (for errors).
    pub label: String,
}

/// The plan: nodes in creation order (parents before children), declared states and
/// the errors found while building.
#[derive(Default)]
pub(crate) struct Graph {
    pub nodes: Vec<Node>,
    pub states: Vec<StateSpec>,
    pub errors: Vec<String>,
}

impl Graph {
    /// Add a node; returns its index.
    pub fn add(
        &mut self,
        op: Op,
        parents: Vec<usize>,
        fields: Vec<String>,
        label: String,
    ) -> usize {
        self.nodes.push(Node {
            op,
            parents,
            fields,
            parallelism: None,
            label,
        });
        self.nodes.len() - 1
    }

    /// Indices of `names` in node `node`'s fields; records an error naming `what` for
    /// each unknown one.
    pub fn resolve(&mut self, node: usize, names: &[String], what: &str) -> Vec<usize> {
        let fields = &self.nodes[node].fields;
        let mut out = Vec::with_capacity(names.len());
        let mut missing = Vec::new();
        for n in names {
            match fields.iter().position(|f| f == n) {
                Some(i) => out.push(i),
                None => missing.push(n.clone()),
            }
        }
        if !missing.is_empty() {
            let have = fields.clone();
            self.errors.push(format!(
                "{what}: unknown field(s) {missing:?}; the stream has {have:?}"
            ));
        }
        out
    }
}
