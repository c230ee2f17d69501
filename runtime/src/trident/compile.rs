//! Trident plan -> spout/bolt topology. Operations are grouped into bolts: a new bolt
//! starts at each spout, repartition and merge; an operation on a state joins the bolt
//! that holds the state. Every bolt-to-bolt edge becomes a direct data stream plus the
//! `$coord` stream that carries batch counts; spout bolts read the master's `$batch`
//! stream and bolts holding states read its `$commit` stream.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::bolt::TridentBolt;
use super::graph::{Graph, Op, Partitioning};
use super::master::{MasterSettings, MasterSpout};
use super::plan::{GroupPlan, PlanExit, PlanNode, PlanSpout};
use super::stream::TridentTopology;
use super::tx::{BATCH_STREAM, COMMIT_STREAM, COORD_STREAM, MASTER_ID};
use crate::api::error::FactoryError;
use crate::api::registry::{BuiltTopology, Registry};
use crate::topology::config::Config;
use crate::topology::yaml::{
    ComponentDef, ConfigMap, GroupingDef, GroupingKind, StreamDef, TopologyDef,
};

/// Config key: the least time between two new batches, in milliseconds.
pub const BATCH_EMIT_INTERVAL_MILLIS: &str =
    crate::topology::config::TOPOLOGY_TRIDENT_BATCH_EMIT_INTERVAL_MILLIS;

struct Group {
    id: String,
    nodes: Vec<usize>,
    parallelism: Option<u32>,
    spout: Option<usize>,
    committer: bool,
    states: Vec<usize>,
}

fn stream_def(from: &str, to: &str, kind: GroupingKind, stream: &str) -> StreamDef {
    StreamDef {
        name: None,
        from: from.to_string(),
        to: to.to_string(),
        grouping: GroupingDef {
            kind,
            args: vec![],
            stream_id: stream.to_string(),
            custom_class: None,
        },
    }
}

fn assign_groups(g: &Graph) -> Result<(Vec<Group>, Vec<usize>), FactoryError> {
    let n = g.nodes.len();
    let mut children = vec![Vec::new(); n];
    for (i, node) in g.nodes.iter().enumerate() {
        for &p in &node.parents {
            children[p].push(i);
        }
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of = vec![usize::MAX; n];
    let mut state_group: BTreeMap<usize, usize> = BTreeMap::new();
    let mut bolt_no = 0;
    let mut new_group = |groups: &mut Vec<Group>, id: Option<String>| {
        let id = id.unwrap_or_else(|| {
            bolt_no += 1;
            format!("b-{}", bolt_no - 1)
        });
        groups.push(Group {
            id,
            nodes: Vec::new(),
            parallelism: None,
            spout: None,
            committer: false,
            states: Vec::new(),
        });
        groups.len() - 1
    };
    for (i, node) in g.nodes.iter().enumerate() {
        let gi = match &node.op {
            Op::Spout { name, .. } => {
                if groups.iter().any(|gr| gr.id == *name) {
                    return Err(FactoryError(format!("two streams are named '{name}'")));
                }
                let gi = new_group(&mut groups, Some(name.clone()));
                groups[gi].spout = Some(i);
                gi
            }
            Op::Partition(_) => {
                // Into the state's bolt when it feeds a state operation already placed.
                let target = match children[i].as_slice() {
                    [c] => match &g.nodes[*c].op {
                        Op::Exec { state: Some(s), .. } => state_group.get(s).copied(),
                        _ => None,
                    },
                    _ => None,
                };
                match target {
                    Some(t) if node.parents.iter().all(|p| group_of[*p] != t) => t,
                    _ => new_group(&mut groups, None),
                }
            }
            Op::Merge => new_group(&mut groups, None),
            Op::Exec { state, .. } => {
                let parent = node.parents.first().map_or(0, |p| group_of[*p]);
                match state.and_then(|s| state_group.get(&s).copied()) {
                    Some(sg) => sg,
                    None => {
                        if let Some(s) = state {
                            state_group.insert(*s, parent);
                        }
                        parent
                    }
                }
            }
        };
        group_of[i] = gi;
        let gr = &mut groups[gi];
        gr.nodes.push(i);
        if let Some(p) = node.parallelism {
            gr.parallelism = Some(gr.parallelism.map_or(p, |q| q.max(p)));
        }
        if let Op::Exec {
            state: Some(s),
            commits,
            ..
        } = &node.op
        {
            gr.committer |= *commits;
            if !gr.states.contains(s) {
                gr.states.push(*s);
            }
        }
    }
    Ok((groups, group_of))
}

impl TridentTopology {
    /// Compile into spouts and bolts. `config` is the topology config (for
    /// `topology.max.spout.pending`: batches in flight, default 1; and
    /// `topology.trident.batch.emit.interval.millis`, default 500). Errors recorded
    /// while building (unknown fields, ...) are all reported here.
    pub fn build(&self, name: &str, config: &Config) -> Result<BuiltTopology, FactoryError> {
        let g = self.g.borrow();
        if !g.errors.is_empty() {
            return Err(FactoryError(format!(
                "trident topology '{name}': {}",
                g.errors.join("; ")
            )));
        }
        if config.get_u64(crate::topology::config::TOPOLOGY_ACKER_EXECUTORS) == Some(0) {
            return Err(FactoryError(
                "trident topologies need ackers: topology.acker.executors must not be 0"
                    .to_string(),
            ));
        }
        let spouts: Vec<usize> = (0..g.nodes.len())
            .filter(|&i| matches!(g.nodes[i].op, Op::Spout { .. }))
            .collect();
        if spouts.is_empty() {
            return Err(FactoryError(format!(
                "trident topology '{name}' has no stream"
            )));
        }
        let (groups, group_of) = assign_groups(&g)?;
        let mut local = vec![0usize; g.nodes.len()];
        for gr in &groups {
            for (li, &n) in gr.nodes.iter().enumerate() {
                local[n] = li;
            }
        }
        let mut plans: Vec<GroupPlan> = groups
            .iter()
            .map(|gr| GroupPlan {
                id: gr.id.clone(),
                nodes: Vec::new(),
                spout: None,
                entries: Vec::new(),
                upstream: Vec::new(),
                downstream: Vec::new(),
                states: gr
                    .states
                    .iter()
                    .map(|s| (*s, g.states[*s].clone()))
                    .collect(),
                outputs: Vec::new(),
                parallelism: gr.parallelism.unwrap_or(1),
            })
            .collect();
        let mut streams = Vec::new();
        for (gi, gr) in groups.iter().enumerate() {
            for &n in &gr.nodes {
                let node = &g.nodes[n];
                let make = match &node.op {
                    Op::Exec { make, .. } => make.clone(),
                    _ => Arc::new(|_: &super::nodes::NodeEnv<'_>| {
                        Ok(Box::new(super::nodes::Pass) as Box<dyn super::nodes::NodeExec>)
                    }) as super::graph::NodeFactory,
                };
                plans[gi].nodes.push(PlanNode {
                    make,
                    children: Vec::new(),
                    exits: Vec::new(),
                    label: node.label.clone(),
                });
            }
        }
        for (c, node) in g.nodes.iter().enumerate() {
            for &p in &node.parents {
                let (gp, gc) = (group_of[p], group_of[c]);
                if gp == gc {
                    plans[gp].nodes[local[p]].children.push(local[c]);
                    continue;
                }
                let stream = format!("s{p}");
                let partition = match &node.op {
                    Op::Partition(part) => part.clone(),
                    _ => Partitioning::Shuffle,
                };
                let to = groups[gc].id.clone();
                let from = groups[gp].id.clone();
                plans[gp].nodes[local[p]].exits.push(PlanExit {
                    stream: stream.clone(),
                    component: to.clone(),
                    partition,
                });
                if !plans[gp].outputs.iter().any(|(s, _)| *s == stream) {
                    plans[gp]
                        .outputs
                        .push((stream.clone(), g.nodes[p].fields.clone()));
                }
                plans[gc]
                    .entries
                    .push((from.clone(), stream.clone(), local[c]));
                if !plans[gp].downstream.contains(&to) {
                    plans[gp].downstream.push(to.clone());
                    plans[gc].upstream.push(from.clone());
                    streams.push(stream_def(&from, &to, GroupingKind::Direct, COORD_STREAM));
                }
                if !streams.iter().any(|s: &StreamDef| {
                    s.from == from && s.to == to && s.grouping.stream_id == stream
                }) {
                    streams.push(stream_def(&from, &to, GroupingKind::Direct, &stream));
                }
            }
        }
        let mut spout_list = Vec::new();
        for (gi, gr) in groups.iter().enumerate() {
            if let Some(s) = gr.spout
                && let Op::Spout { spout, name } = &g.nodes[s].op
            {
                plans[gi].spout = Some(PlanSpout {
                    index: spout_list.len(),
                    name: name.clone(),
                    spout: spout.clone(),
                });
                spout_list.push((name.clone(), spout.clone()));
                streams.push(stream_def(
                    MASTER_ID,
                    &gr.id,
                    GroupingKind::All,
                    BATCH_STREAM,
                ));
            }
            if gr.committer {
                streams.push(stream_def(
                    MASTER_ID,
                    &gr.id,
                    GroupingKind::All,
                    COMMIT_STREAM,
                ));
            }
        }
        let settings = MasterSettings {
            spouts: spout_list,
            max_pending: config
                .get_u64(crate::topology::config::TOPOLOGY_MAX_SPOUT_PENDING)
                .unwrap_or(1)
                .max(1) as usize,
            interval: Duration::from_millis(
                config.setting_u64(BATCH_EMIT_INTERVAL_MILLIS).unwrap_or(0),
            ),
            commit_log: self.commit_log.clone(),
            durable_states: g
                .states
                .iter()
                .filter_map(|s| s.durable_path().map(PathBuf::from))
                .collect(),
        };
        let mut components = Registry::new();
        let class = |id: &str| format!("trident:{name}:{id}");
        components.spout(&class(MASTER_ID), move |_| {
            Ok(MasterSpout::new(settings.clone()))
        });
        let mut master_config = ConfigMap::new();
        // The master limits batches itself; the spout executor must not hold back commits.
        master_config.insert(
            crate::topology::config::TOPOLOGY_MAX_SPOUT_PENDING.to_string(),
            serde_yaml::Value::Null,
        );
        let mut def = TopologyDef {
            name: name.to_string(),
            config: ConfigMap::new(),
            spouts: vec![ComponentDef {
                id: MASTER_ID.to_string(),
                class_name: class(MASTER_ID),
                parallelism: 1,
                num_tasks: None,
                constructor_args: vec![],
                config: master_config,
            }],
            bolts: Vec::new(),
            streams,
            ..TopologyDef::default()
        };
        for plan in plans {
            let plan = Arc::new(plan);
            let id = plan.id.clone();
            let parallelism = plan.parallelism;
            let p = plan.clone();
            components.bolt(&class(&id), move |_| Ok(TridentBolt::new(p.clone())));
            def.bolts.push(ComponentDef {
                id: id.clone(),
                class_name: class(&id),
                parallelism,
                num_tasks: None,
                constructor_args: vec![],
                config: ConfigMap::new(),
            });
        }
        Ok(BuiltTopology { def, components })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trident::ops::OpError;
    use crate::trident::{
        Count, FixedBatchSpout, StateKind, StateSpec, TridentCollector, TridentTuple,
    };

    fn split(t: &TridentTuple<'_>, out: &mut TridentCollector<'_>) -> Result<(), OpError> {
        for w in t.get_str(0)?.split(' ') {
            out.emit(crate::values![w]);
        }
        Ok(())
    }

    fn edges(def: &TopologyDef) -> Vec<String> {
        let mut e: Vec<String> = def
            .streams
            .iter()
            .map(|s| {
                format!(
                    "{}/{} -> {} {:?}",
                    s.from, s.grouping.stream_id, s.to, s.grouping.kind
                )
            })
            .collect();
        e.sort();
        e
    }

    #[test]
    fn word_count_compiles_to_a_spout_bolt_and_a_state_bolt_with_pre_aggregation() {
        let t = TridentTopology::new();
        t.new_stream("lines", FixedBatchSpout::new(&["line"], vec![]))
            .flat_map(&["line"], split, &["word"])
            .group_by(&["word"])
            .persistent_aggregate(
                StateSpec::memory("compile-test", StateKind::Opaque),
                &[],
                Count,
                &["count"],
            );
        let built = t.build("wc", &Config::merged([])).unwrap();
        let ids: Vec<&str> = built.def.bolts.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["lines", "b-0"]);
        assert_eq!(built.def.spouts[0].id, MASTER_ID);
        assert_eq!(
            edges(&built.def),
            [
                "$mastercoord/$batch -> lines All",
                "$mastercoord/$commit -> b-0 All",
                // s2: the partial counts (node 2), after the split (node 1).
                "lines/$coord -> b-0 Direct",
                "lines/s2 -> b-0 Direct",
            ]
        );
    }

    #[test]
    fn unknown_fields_and_missing_ackers_are_build_errors() {
        let t = TridentTopology::new();
        t.new_stream("s", FixedBatchSpout::new(&["line"], vec![]))
            .each(&["lin"], split, &["word"])
            .project(&["nope"]);
        let e = t.build("bad", &Config::merged([])).unwrap_err().0;
        assert!(e.contains("each: unknown field(s) [\"lin\"]"), "{e}");
        assert!(e.contains("project: unknown field(s) [\"nope\"]"), "{e}");
        let ok = TridentTopology::new();
        ok.new_stream("s", FixedBatchSpout::new(&["line"], vec![]));
        let mut no_ackers = ConfigMap::new();
        no_ackers.insert(
            crate::topology::config::TOPOLOGY_ACKER_EXECUTORS.to_string(),
            0.into(),
        );
        let e = ok.build("x", &Config::merged([&no_ackers])).unwrap_err().0;
        assert!(e.contains("need ackers"), "{e}");
    }
}
