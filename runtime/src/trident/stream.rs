//! The Trident stream API: a [`TridentTopology`] records streams of batches and the
//! operations on them; [`TridentTopology::build`] compiles them into an ordinary
//! spout/bolt topology.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use super::graph::{Graph, NodeFactory, Op, Partitioning};
use super::nodes::{
    AggregateNode, CombinerFinal, CombinerPartial, Each, FilterNode, PartitionPersist,
    PerBatchGroups, PersistCombine, PersistReduce, Project, Query,
};
use super::ops::{
    Aggregator, CombinerAggregator, Filter, Function, OpError, QueryFunction, ReducerAggregator,
    StateUpdater, TridentCollector, TridentTuple,
};
use super::spout::BatchSpout;
use super::state_spec::StateSpec;
use crate::Values;

fn names(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

/// A Trident topology under construction. Streams and states made from it share it;
/// [`build`](TridentTopology::build) turns it into spouts and bolts.
#[derive(Clone, Default)]
pub struct TridentTopology {
    pub(crate) g: Rc<RefCell<Graph>>,
    pub(crate) commit_log: Option<PathBuf>,
}

impl std::fmt::Debug for TridentTopology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TridentTopology")
            .field("nodes", &self.g.borrow().nodes.len())
            .finish()
    }
}

impl TridentTopology {
    /// An empty topology.
    pub fn new() -> TridentTopology {
        TridentTopology::default()
    }

    /// Record committed txids in this file, so a restarted coordinator resumes after
    /// the last committed batch (needed for exactly-once across restarts; a local run
    /// without it starts from txid 1). Required in local mode when the topology has a
    /// durable ([`StateSpec::redb`]) state: without it the run is refused at start. On
    /// a cluster the record is kept at nimbus and this file is not used.
    pub fn commit_log(mut self, path: impl AsRef<Path>) -> TridentTopology {
        self.commit_log = Some(path.as_ref().to_path_buf());
        self
    }

    /// A stream of the batches of `spout`; `name` becomes the spout bolt's id.
    pub fn new_stream(&self, name: &str, spout: impl BatchSpout) -> Stream {
        let fields = spout.fields();
        let node = self.g.borrow_mut().add(
            Op::Spout {
                name: name.to_string(),
                spout: Arc::new(spout),
            },
            vec![],
            fields,
            format!("stream '{name}'"),
        );
        Stream {
            g: self.g.clone(),
            node,
        }
    }

    /// One stream of the tuples of all `streams` (with the first one's field names;
    /// all must have as many fields).
    pub fn merge(&self, streams: &[&Stream]) -> Stream {
        let mut g = self.g.borrow_mut();
        let parents: Vec<usize> = streams.iter().map(|s| s.node).collect();
        let fields = parents
            .first()
            .map(|&p| g.nodes[p].fields.clone())
            .unwrap_or_default();
        if parents.is_empty() {
            g.errors.push("merge: no streams given".to_string());
        }
        for &p in &parents {
            if g.nodes[p].fields.len() != fields.len() {
                let msg = format!(
                    "merge: {} has fields {:?}, the first stream has {:?}",
                    g.nodes[p].label, g.nodes[p].fields, fields
                );
                g.errors.push(msg);
            }
        }
        let node = g.add(Op::Merge, parents, fields, "merge".to_string());
        Stream {
            g: self.g.clone(),
            node,
        }
    }
}

/// A stream of batches: the tuples of one node of the plan.
#[derive(Clone)]
pub struct Stream {
    g: Rc<RefCell<Graph>>,
    node: usize,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("node", &self.node).finish()
    }
}

/// A state a stream updates; [`Stream::state_query`] reads it.
#[derive(Debug, Clone)]
pub struct TridentState {
    state: usize,
    key_len: usize,
}

/// A stream grouped by key fields: aggregations run per key.
#[derive(Debug, Clone)]
pub struct GroupedStream {
    stream: Stream,
    keys: Vec<String>,
}

impl Stream {
    fn then(&self, op: Op, fields: Vec<String>, label: String) -> Stream {
        let node = self.g.borrow_mut().add(op, vec![self.node], fields, label);
        Stream {
            g: self.g.clone(),
            node,
        }
    }

    fn fields(&self) -> Vec<String> {
        self.g.borrow().nodes[self.node].fields.clone()
    }

    fn resolve(&self, fields: &[String], what: &str) -> Vec<usize> {
        self.g.borrow_mut().resolve(self.node, fields, what)
    }

    fn exec(&self, make: NodeFactory, fields: Vec<String>, label: String) -> Stream {
        self.then(
            Op::Exec {
                make,
                state: None,
                commits: false,
            },
            fields,
            label,
        )
    }

    /// Name the last operation (used in error messages).
    pub fn named(self, label: &str) -> Stream {
        self.g.borrow_mut().nodes[self.node].label = label.to_string();
        self
    }

    /// Run the bolt holding this operation with `n` tasks.
    pub fn parallelism_hint(self, n: u32) -> Stream {
        self.g.borrow_mut().nodes[self.node].parallelism = Some(n.max(1));
        self
    }

    /// Run `f` on the `input` fields of each tuple; every tuple it emits (of the
    /// fields `output`) is appended to the input tuple.
    pub fn each<F: Function + Clone + Sync>(
        &self,
        input: &[&str],
        f: F,
        output: &[&str],
    ) -> Stream {
        self.function(input, f, output, false, "each")
    }

    /// Replace each tuple by the tuples `f` emits (fields `output`).
    pub fn flat_map<F: Function + Clone + Sync>(
        &self,
        input: &[&str],
        f: F,
        output: &[&str],
    ) -> Stream {
        self.function(input, f, output, true, "flat_map")
    }

    /// Replace each tuple by `f`'s result (fields `output`).
    pub fn map<F>(&self, input: &[&str], f: F, output: &[&str]) -> Stream
    where
        F: Fn(&TridentTuple<'_>) -> Result<Values, OpError> + Clone + Send + Sync + 'static,
    {
        let one = move |t: &TridentTuple<'_>, out: &mut TridentCollector<'_>| {
            out.emit(f(t)?);
            Ok(())
        };
        self.function(input, one, output, true, "map")
    }

    fn function<F: Function + Clone + Sync>(
        &self,
        input: &[&str],
        f: F,
        output: &[&str],
        replace: bool,
        what: &str,
    ) -> Stream {
        let input = names(input);
        let proj = self.resolve(&input, what);
        let mut fields = if replace { Vec::new() } else { self.fields() };
        fields.extend(names(output));
        let make: NodeFactory = Arc::new(move |env| {
            let mut f = f.clone();
            f.prepare(&env.ctx);
            Ok(Box::new(Each {
                proj: proj.clone(),
                names: input.clone(),
                f: Box::new(f),
                replace,
                buf: Vec::new(),
                joined: Values::new(),
            }))
        });
        self.exec(make, fields, what.to_string())
    }

    /// Keep the tuples for which `f` (reading the `input` fields) says true.
    pub fn filter<F: Filter + Clone + Sync>(&self, input: &[&str], f: F) -> Stream {
        let input = names(input);
        let proj = self.resolve(&input, "filter");
        let make: NodeFactory = Arc::new(move |_| {
            Ok(Box::new(FilterNode {
                proj: proj.clone(),
                names: input.clone(),
                f: Box::new(f.clone()),
            }))
        });
        self.exec(make, self.fields(), "filter".to_string())
    }

    /// Keep only these fields.
    pub fn project(&self, fields: &[&str]) -> Stream {
        let fields = names(fields);
        let idx = self.resolve(&fields, "project");
        let make: NodeFactory = Arc::new(move |_| Ok(Box::new(Project { idx: idx.clone() })));
        self.exec(make, fields, "project".to_string())
    }

    fn partition(&self, p: Partitioning, label: &str) -> Stream {
        self.then(Op::Partition(p), self.fields(), label.to_string())
    }

    /// Spread the tuples evenly over the next bolt's tasks.
    pub fn shuffle(&self) -> Stream {
        self.partition(Partitioning::Shuffle, "shuffle")
    }

    /// Send equal values of `fields` to the same task of the next bolt.
    pub fn partition_by(&self, fields: &[&str]) -> Stream {
        let idx = self.resolve(&names(fields), "partition_by");
        self.partition(Partitioning::Fields(idx), "partition_by")
    }

    /// Send every tuple to one task.
    pub fn global(&self) -> Stream {
        self.partition(Partitioning::Global, "global")
    }

    /// Send every tuple to every task of the next bolt.
    pub fn broadcast(&self) -> Stream {
        self.partition(Partitioning::Broadcast, "broadcast")
    }

    /// Group by `fields` for a per-key aggregation.
    pub fn group_by(&self, fields: &[&str]) -> GroupedStream {
        let keys = names(fields);
        self.resolve(&keys, "group_by");
        GroupedStream {
            stream: self.clone(),
            keys,
        }
    }

    fn partial(
        &self,
        keys: &[String],
        input: &[&str],
        comb: Arc<dyn CombinerAggregator>,
        what: &str,
    ) -> Stream {
        let key = self.resolve(keys, what);
        let input = names(input);
        let proj = self.resolve(&input, what);
        let mut fields = keys.to_vec();
        fields.push("$partial".to_string());
        let make: NodeFactory = Arc::new(move |_| {
            Ok(Box::new(CombinerPartial {
                key: key.clone(),
                proj: proj.clone(),
                names: input.clone(),
                comb: comb.clone(),
                acc: PerBatchGroups::new(),
            }))
        });
        self.exec(make, fields, format!("{what} (partial)"))
    }

    /// Aggregate each batch into one tuple (fields `output`) with a combiner: partial
    /// results per task, combined on one task.
    pub fn aggregate<C: CombinerAggregator>(
        &self,
        input: &[&str],
        comb: C,
        output: &[&str],
    ) -> Stream {
        let comb: Arc<dyn CombinerAggregator> = Arc::new(comb);
        let moved = self
            .partial(&[], input, comb.clone(), "aggregate")
            .partition(Partitioning::Global, "aggregate");
        let make: NodeFactory = Arc::new(move |_| {
            Ok(Box::new(CombinerFinal {
                key_len: 0,
                comb: comb.clone(),
                acc: PerBatchGroups::new(),
            }))
        });
        moved.exec(make, names(output), "aggregate".to_string())
    }

    /// Aggregate each batch with a general aggregator on one task (fields `output`).
    pub fn aggregate_with<A: Aggregator + Clone + Sync>(
        &self,
        input: &[&str],
        agg: A,
        output: &[&str],
    ) -> Stream {
        self.global()
            .aggregator(&[], input, agg, output, "aggregate")
    }

    /// Aggregate each task's part of each batch (no repartition).
    pub fn partition_aggregate<A: Aggregator + Clone + Sync>(
        &self,
        input: &[&str],
        agg: A,
        output: &[&str],
    ) -> Stream {
        self.aggregator(&[], input, agg, output, "partition_aggregate")
    }

    fn aggregator<A: Aggregator + Clone + Sync>(
        &self,
        keys: &[String],
        input: &[&str],
        agg: A,
        output: &[&str],
        what: &str,
    ) -> Stream {
        let key = self.resolve(keys, what);
        let input = names(input);
        let proj = self.resolve(&input, what);
        let mut fields = keys.to_vec();
        fields.extend(names(output));
        let make: NodeFactory = Arc::new(move |_| {
            Ok(Box::new(AggregateNode {
                key: key.clone(),
                proj: proj.clone(),
                names: input.clone(),
                agg: agg.clone(),
                acc: Vec::new(),
                buf: Vec::new(),
            }))
        });
        self.exec(make, fields, what.to_string())
    }

    fn add_state(&self, spec: StateSpec) -> usize {
        let mut g = self.g.borrow_mut();
        g.states.push(spec);
        g.states.len() - 1
    }

    fn persist(&self, state: usize, make: NodeFactory, fields: Vec<String>, what: &str) -> Stream {
        self.then(
            Op::Exec {
                make,
                state: Some(state),
                commits: true,
            },
            fields,
            what.to_string(),
        )
    }

    /// Aggregate every batch into one stored value (key `[]`) with a combiner.
    pub fn persistent_aggregate<C: CombinerAggregator>(
        &self,
        spec: StateSpec,
        input: &[&str],
        comb: C,
        output: &[&str],
    ) -> TridentState {
        persistent_combine(self, &[], spec, input, Arc::new(comb), output)
    }

    /// Hand each task's part of each batch to `updater`, whose writes are committed
    /// into the state under its txid rule.
    pub fn partition_persist<U: StateUpdater + Clone + Sync>(
        &self,
        spec: StateSpec,
        input: &[&str],
        updater: U,
    ) -> TridentState {
        let state = self.add_state(spec);
        let input = names(input);
        let proj = self.resolve(&input, "partition_persist");
        let fields = input.clone();
        let make: NodeFactory = Arc::new(move |env| {
            Ok(Box::new(PartitionPersist::new(
                env.state(state)?,
                proj.clone(),
                input.clone(),
                Box::new(updater.clone()),
            )))
        });
        self.persist(state, make, fields, "partition_persist");
        TridentState { state, key_len: 0 }
    }

    /// Look the `input` fields up as a key of `state`; `f` turns each tuple and the
    /// stored value into output tuples (fields `output`) appended to the input.
    pub fn state_query<Q: QueryFunction + Clone + Sync>(
        &self,
        state: &TridentState,
        input: &[&str],
        f: Q,
        output: &[&str],
    ) -> Stream {
        let input = names(input);
        if state.key_len != 0 && input.len() != state.key_len {
            let msg = format!(
                "state_query: {} key field(s) given, the state's keys have {}",
                input.len(),
                state.key_len
            );
            self.g.borrow_mut().errors.push(msg);
        }
        let key = self.resolve(&input, "state_query");
        let mut fields = self.fields();
        fields.extend(names(output));
        let id = state.state;
        let make: NodeFactory = Arc::new(move |env| {
            Ok(Box::new(Query {
                state: env.state(id)?,
                key: key.clone(),
                names: input.clone(),
                f: Box::new(f.clone()),
                buf: Vec::new(),
            }))
        });
        self.then(
            Op::Exec {
                make,
                state: Some(id),
                commits: false,
            },
            fields,
            "state_query".to_string(),
        )
    }
}

fn persistent_combine(
    stream: &Stream,
    keys: &[String],
    spec: StateSpec,
    input: &[&str],
    comb: Arc<dyn CombinerAggregator>,
    output: &[&str],
) -> TridentState {
    let state = stream.add_state(spec);
    let key_len = keys.len();
    let partials = stream.partial(keys, input, comb.clone(), "persistent_aggregate");
    let moved = if keys.is_empty() {
        partials.partition(Partitioning::Global, "persistent_aggregate")
    } else {
        partials.partition(
            Partitioning::Fields((0..key_len).collect()),
            "persistent_aggregate",
        )
    };
    let mut fields = keys.to_vec();
    fields.extend(names(output));
    let make: NodeFactory = Arc::new(move |env| {
        Ok(Box::new(PersistCombine::new(
            env.state(state)?,
            key_len,
            comb.clone(),
        )))
    });
    moved.persist(state, make, fields, "persistent_aggregate");
    TridentState {
        state,
        key_len: key_len.max(1),
    }
}

impl GroupedStream {
    /// The grouped stream as a plain stream, partitioned by the keys.
    pub fn to_stream(&self) -> Stream {
        let idx = self.stream.resolve(&self.keys, "group_by");
        self.stream.partition(Partitioning::Fields(idx), "group_by")
    }

    /// Per key, combine each batch's tuples into one value: emits `[keys..., output]`.
    /// Partial results are combined before the repartition.
    pub fn aggregate<C: CombinerAggregator>(
        &self,
        input: &[&str],
        comb: C,
        output: &[&str],
    ) -> Stream {
        let comb: Arc<dyn CombinerAggregator> = Arc::new(comb);
        let k = self.keys.len();
        let moved = self
            .stream
            .partial(&self.keys, input, comb.clone(), "aggregate")
            .partition(Partitioning::Fields((0..k).collect()), "aggregate");
        let mut fields = self.keys.clone();
        fields.extend(names(output));
        let make: NodeFactory = Arc::new(move |_| {
            Ok(Box::new(CombinerFinal {
                key_len: k,
                comb: comb.clone(),
                acc: PerBatchGroups::new(),
            }))
        });
        moved.exec(make, fields, "aggregate".to_string())
    }

    /// Per key, run a general aggregator over each batch: emits `[keys..., output...]`.
    pub fn aggregate_with<A: Aggregator + Clone + Sync>(
        &self,
        input: &[&str],
        agg: A,
        output: &[&str],
    ) -> Stream {
        self.to_stream()
            .aggregator(&self.keys, input, agg, output, "aggregate")
    }

    /// Per key, fold each batch into the stored value with a combiner (pre-aggregated
    /// before the repartition).
    pub fn persistent_aggregate<C: CombinerAggregator>(
        &self,
        spec: StateSpec,
        input: &[&str],
        comb: C,
        output: &[&str],
    ) -> TridentState {
        persistent_combine(
            &self.stream,
            &self.keys,
            spec,
            input,
            Arc::new(comb),
            output,
        )
    }

    /// Per key, fold each batch's tuples into the stored value with a reducer.
    pub fn persistent_reduce<R: ReducerAggregator>(
        &self,
        spec: StateSpec,
        input: &[&str],
        reducer: R,
        output: &[&str],
    ) -> TridentState {
        let moved = self.to_stream();
        let state = moved.add_state(spec);
        let key = moved.resolve(&self.keys, "persistent_aggregate");
        let input = names(input);
        let proj = moved.resolve(&input, "persistent_aggregate");
        let reducer: Arc<dyn ReducerAggregator> = Arc::new(reducer);
        let mut fields = self.keys.clone();
        fields.extend(names(output));
        let make: NodeFactory = Arc::new(move |env| {
            Ok(Box::new(PersistReduce::new(
                env.state(state)?,
                key.clone(),
                proj.clone(),
                input.clone(),
                reducer.clone(),
            )))
        });
        moved.persist(state, make, fields, "persistent_aggregate");
        TridentState {
            state,
            key_len: self.keys.len(),
        }
    }

    /// Look each tuple's keys up in `state` (tuples repartitioned by the keys).
    pub fn state_query<Q: QueryFunction + Clone + Sync>(
        &self,
        state: &TridentState,
        f: Q,
        output: &[&str],
    ) -> Stream {
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        self.to_stream().state_query(state, &keys, f, output)
    }
}
