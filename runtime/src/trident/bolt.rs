//! The bolt every Trident operation runs in. It tracks each batch: counts the tuples it
//! receives, collects the `$coord` counts its upstream tasks send when they are done,
//! and once all have arrived (and the counts match) finishes the batch — runs the
//! nodes' `finish`, tells each downstream task how many tuples it sent it, and acks the
//! held count tuples. Only count tuples are anchored, so a batch's tuple tree is a few
//! tuples per task pair, whatever its size. An operation error fails the held tuples:
//! the master coordinator replays the batch.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use rustc_hash::FxHashMap;

use super::coordinator::TransactionAttempt;
use super::graph::Partitioning;
use super::nodes::{NodeEnv, NodeExec, Pass};
use super::ops::{OpContext, OpError, Row};
use super::plan::GroupPlan;
use super::spout::{EmitterContext, SpoutEmitter};
use super::tx::{self, BATCH_STREAM, COMMIT_STREAM, COORD_STREAM, MASTER_ID, TX_FIELD};
use crate::api::component::Bolt;
use crate::api::context::TopologyContext;
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::ids::TaskId;
use crate::{BoltCollector, Tuple, Value};

/// Most batches a task keeps track of; older ones are dropped (they have failed or
/// committed long ago).
const MAX_TRACKED: usize = 256;

/// A Trident bolt (one per compiled group of operations).
pub(crate) struct TridentBolt {
    plan: Arc<GroupPlan>,
    rt: Option<Runtime>,
}

impl TridentBolt {
    pub fn new(plan: Arc<GroupPlan>) -> Self {
        TridentBolt { plan, rt: None }
    }
}

struct Slot {
    exec: Box<dyn NodeExec>,
    children: Vec<usize>,
    exits: Vec<usize>,
}

struct Exit {
    stream: String,
    /// `(task, index into the downstream task list)`.
    tasks: Vec<(TaskId, usize)>,
    partition: Partitioning,
    next: usize,
}

#[derive(Default)]
struct Track {
    attempt: u32,
    received: u64,
    expected: u64,
    coords: u32,
    held: Vec<Tuple>,
    sent: Vec<u64>,
    failed: bool,
    done: bool,
}

struct Runtime {
    slots: Vec<Slot>,
    exits: Vec<Exit>,
    emitter: Option<(usize, Box<dyn SpoutEmitter>)>,
    entries: Vec<(String, String, usize)>,
    down_tasks: Vec<TaskId>,
    expected_coords: u32,
    tracks: BTreeMap<u64, Track>,
    component: String,
}

/// Where node outputs that leave the bolt go, for one batch.
struct Out<'a> {
    col: &'a mut BoltCollector,
    exits: &'a mut [Exit],
    sent: &'a mut [u64],
    tx: Value,
}

impl Out<'_> {
    fn send(&mut self, exit: usize, row: Row<'_>) -> Result<(), OpError> {
        let e = &mut self.exits[exit];
        let n = e.tasks.len();
        if n == 0 {
            return Ok(());
        }
        let (lo, hi) = match &e.partition {
            Partitioning::Shuffle => {
                let i = e.next;
                e.next = (i + 1) % n;
                (i, i + 1)
            }
            Partitioning::Fields(idx) => {
                let h = crate::engine::grouping::hash_selected(idx.iter().map(|&i| row.get(i)));
                let i = crate::engine::grouping::reduce(h, n);
                (i, i + 1)
            }
            Partitioning::Global => (0, 1),
            Partitioning::Broadcast => (0, n),
        };
        for &(task, slot) in &e.tasks[lo..hi] {
            let values = row.to_values_with(Some(self.tx.clone()));
            self.col
                .emit_direct(task, &e.stream, &[], values)
                .map_err(|err| OpError(err.to_string()))?;
            self.sent[slot] += 1;
        }
        Ok(())
    }
}

/// Run node `i` (global index; `slots[0]` is node `base`) on one row, and everything
/// downstream of it in this bolt.
fn push(
    slots: &mut [Slot],
    base: usize,
    i: usize,
    batch: TransactionAttempt,
    row: Row<'_>,
    out: &mut Out<'_>,
) -> Result<(), OpError> {
    let (head, tail) = slots[i - base..].split_at_mut(1);
    let Slot {
        exec,
        children,
        exits,
    } = &mut head[0];
    exec.execute(batch, row, &mut |r: Row<'_>| {
        forward(tail, i + 1, children, exits, batch, r, out)
    })
}

fn forward(
    tail: &mut [Slot],
    base: usize,
    children: &[usize],
    exits: &[usize],
    batch: TransactionAttempt,
    row: Row<'_>,
    out: &mut Out<'_>,
) -> Result<(), OpError> {
    for &c in children {
        push(tail, base, c, batch, row, out)?;
    }
    for &e in exits {
        out.send(e, row)?;
    }
    Ok(())
}

impl Runtime {
    /// The track of `ta`, unless `ta` is an attempt older than the one tracked.
    fn track(&mut self, ta: TransactionAttempt, col: &mut BoltCollector) -> Option<&mut Track> {
        let replace = match self.tracks.get(&ta.txid) {
            None => true,
            Some(t) if t.attempt == ta.attempt => false,
            Some(t) if tx::is_newer(ta.attempt, t.attempt) => true,
            Some(_) => return None,
        };
        if replace {
            if let Some(old) = self.tracks.remove(&ta.txid) {
                for t in &old.held {
                    col.fail(t);
                }
                for s in &mut self.slots {
                    s.exec.forget(ta.txid);
                }
            }
            self.tracks.insert(
                ta.txid,
                Track {
                    attempt: ta.attempt,
                    sent: vec![0; self.down_tasks.len()],
                    ..Track::default()
                },
            );
            while self.tracks.len() > MAX_TRACKED {
                if let Some((txid, old)) = self.tracks.pop_first() {
                    for t in &old.held {
                        col.fail(t);
                    }
                    for s in &mut self.slots {
                        s.exec.forget(txid);
                    }
                }
            }
        }
        self.tracks.get_mut(&ta.txid)
    }

    fn fail_batch(&mut self, ta: TransactionAttempt, err: &OpError, col: &mut BoltCollector) {
        tracing::warn!(component = %self.component, batch = %ta, error = %err, "trident batch failed");
        col.report_error(&format!("batch {ta}: {err}"));
        if let Some(t) = self.tracks.get_mut(&ta.txid) {
            t.failed = true;
            for h in t.held.drain(..) {
                col.fail(&h);
            }
        }
        for s in &mut self.slots {
            s.exec.forget(ta.txid);
        }
    }

    /// Run the rows of one input through the nodes, counting what leaves.
    fn run(
        &mut self,
        ta: TransactionAttempt,
        col: &mut BoltCollector,
        f: impl FnOnce(
            &mut [Slot],
            &mut Out<'_>,
            &mut Option<(usize, Box<dyn SpoutEmitter>)>,
        ) -> Result<(), OpError>,
    ) -> Result<(), OpError> {
        let Some(track) = self.tracks.get_mut(&ta.txid) else {
            return Ok(());
        };
        let mut out = Out {
            col,
            exits: &mut self.exits,
            sent: &mut track.sent,
            tx: tx::pack(ta),
        };
        f(&mut self.slots, &mut out, &mut self.emitter)
    }

    fn maybe_finish(&mut self, ta: TransactionAttempt, col: &mut BoltCollector) {
        let ready = self.tracks.get(&ta.txid).is_some_and(|t| {
            t.attempt == ta.attempt
                && !t.failed
                && !t.done
                && t.coords >= self.expected_coords
                && t.received >= t.expected
                && !t.held.is_empty()
        });
        if !ready {
            return;
        }
        let result = self.run(ta, col, |slots, out, _| {
            for i in 0..slots.len() {
                let (head, tail) = slots.split_at_mut(i + 1);
                let Slot {
                    exec,
                    children,
                    exits,
                } = &mut head[i];
                exec.finish(ta, &mut |r: Row<'_>| {
                    forward(tail, i + 1, children, exits, ta, r, out)
                })?;
            }
            Ok(())
        });
        if let Err(e) = result {
            self.fail_batch(ta, &e, col);
            return;
        }
        let Some(track) = self.tracks.get_mut(&ta.txid) else {
            return;
        };
        let packed = tx::pack(ta);
        let mut failed = None;
        for (slot, &task) in self.down_tasks.iter().enumerate() {
            let count = Value::Int(track.sent[slot] as i64);
            let vals = crate::values![packed.clone(), count];
            if let Err(e) = col.emit_direct(task, COORD_STREAM, &[&track.held[0]], vals) {
                failed = Some(OpError(e.to_string()));
                break;
            }
        }
        if let Some(err) = failed {
            self.fail_batch(ta, &err, col);
            return;
        }
        for h in track.held.drain(..) {
            col.ack(&h);
        }
        track.done = true;
    }

    fn on_batch(&mut self, input: Tuple, ta: TransactionAttempt, col: &mut BoltCollector) {
        let Some((index, _)) = self.emitter.as_ref().map(|(i, _)| (*i, ())) else {
            col.ack(&input);
            return;
        };
        let meta = input
            .get(1)
            .ok()
            .and_then(Value::as_list)
            .and_then(|m| m.get(index))
            .cloned()
            .unwrap_or(Value::Null);
        let Some(track) = self.track(ta, col) else {
            col.ack(&input);
            return;
        };
        track.held.push(input);
        let result = self.run(ta, col, |slots, out, emitter| {
            let Some((_, em)) = emitter else {
                return Ok(());
            };
            em.emit_batch(ta, &meta, &mut |values| {
                push(slots, 0, 0, ta, Row::of(&values), out)
            })
        });
        match result {
            Ok(()) => self.maybe_finish(ta, col),
            Err(e) => self.fail_batch(ta, &e, col),
        }
    }

    fn on_data(&mut self, input: &Tuple, ta: TransactionAttempt, col: &mut BoltCollector) {
        let Some(track) = self.track(ta, col) else {
            return;
        };
        if track.failed {
            return;
        }
        track.received += 1;
        let (comp, stream) = (input.source_component(), input.source_stream());
        let values = input.values();
        let row = Row::of(values.get(1..).unwrap_or(&[]));
        let mut result = Ok(());
        for i in 0..self.entries.len() {
            let (c, s, node) = &self.entries[i];
            if c == comp && s == stream {
                let node = *node;
                result = self.run(ta, col, |slots, out, _| push(slots, 0, node, ta, row, out));
                if result.is_err() {
                    break;
                }
            }
        }
        match result {
            Ok(()) => self.maybe_finish(ta, col),
            Err(e) => self.fail_batch(ta, &e, col),
        }
    }

    fn on_coord(&mut self, input: Tuple, ta: TransactionAttempt, col: &mut BoltCollector) {
        let count = input
            .get(1)
            .ok()
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .max(0) as u64;
        let Some(track) = self.track(ta, col) else {
            col.ack(&input);
            return;
        };
        if track.failed {
            col.fail(&input);
            return;
        }
        track.coords += 1;
        track.expected += count;
        track.held.push(input);
        self.maybe_finish(ta, col);
    }

    fn on_commit(&mut self, input: &Tuple, ta: TransactionAttempt, col: &mut BoltCollector) {
        let mut result = Ok(());
        for s in &mut self.slots {
            if let Err(e) = s.exec.commit(ta) {
                result = Err(e);
                break;
            }
        }
        match result {
            Ok(()) => col.ack(input),
            Err(e) => {
                tracing::warn!(component = %self.component, batch = %ta, error = %e, "trident commit failed");
                col.report_error(&format!("commit of batch {ta}: {e}"));
                for s in &mut self.slots {
                    s.exec.forget(ta.txid);
                }
                col.fail(input);
            }
        }
        // Batches up to a commit are over in this task.
        while self
            .tracks
            .first_key_value()
            .is_some_and(|(t, _)| *t <= ta.txid)
        {
            if let Some((_, old)) = self.tracks.pop_first() {
                for h in &old.held {
                    col.fail(h);
                }
            }
        }
    }
}

#[async_trait]
impl Bolt for TridentBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        for (stream, fields) in &self.plan.outputs {
            let mut all: Vec<&str> = vec![TX_FIELD];
            all.extend(fields.iter().map(String::as_str));
            out.declare_stream_direct(stream, &all);
        }
        if !self.plan.downstream.is_empty() {
            out.declare_stream_direct(COORD_STREAM, &[TX_FIELD, "$count"]);
        }
    }

    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        let plan = &self.plan;
        let op_ctx = OpContext {
            component: ctx.this_component(),
            task_index: ctx.this_task_index(),
            num_tasks: ctx.component_tasks(ctx.this_component()).len(),
        };
        let mut states = HashMap::new();
        for (id, spec) in &plan.states {
            let backend = spec
                .open()
                .map_err(|e| ComponentError::msg(format!("{}: opening state: {e}", plan.id)))?;
            let map = super::nodes::TxMap::open(backend, spec.kind())
                .map_err(|e| ComponentError::msg(format!("{}: opening state: {e}", plan.id)))?;
            states.insert(*id, Arc::new(map));
        }
        let env = NodeEnv {
            ctx: op_ctx,
            states: &states,
        };
        let mut down_tasks = Vec::new();
        let mut slot_of: FxHashMap<TaskId, usize> = FxHashMap::default();
        for comp in &plan.downstream {
            for &t in ctx.component_tasks(comp) {
                slot_of.entry(t).or_insert_with(|| {
                    down_tasks.push(t);
                    down_tasks.len() - 1
                });
            }
        }
        let mut exits = Vec::new();
        let mut slots = Vec::new();
        for (i, node) in plan.nodes.iter().enumerate() {
            let exec: Box<dyn NodeExec> = if plan.spout.is_some() && i == 0 {
                Box::new(Pass)
            } else {
                (node.make)(&env)
                    .map_err(|e| ComponentError::msg(format!("{}: {}: {e}", plan.id, node.label)))?
            };
            let mut exit_ids = Vec::new();
            for e in &node.exits {
                let tasks = ctx
                    .component_tasks(&e.component)
                    .iter()
                    .filter_map(|t| slot_of.get(t).map(|s| (*t, *s)))
                    .collect();
                exits.push(Exit {
                    stream: e.stream.clone(),
                    tasks,
                    partition: e.partition.clone(),
                    next: op_ctx.task_index,
                });
                exit_ids.push(exits.len() - 1);
            }
            slots.push(Slot {
                exec,
                children: node.children.clone(),
                exits: exit_ids,
            });
        }
        let emitter = match &plan.spout {
            Some(s) => Some((
                s.index,
                s.spout
                    .emitter_in(&EmitterContext::new(
                        op_ctx,
                        &s.name,
                        ctx.topology_id(),
                        ctx.trident_meta(),
                    ))
                    .map_err(|e| ComponentError::msg(format!("{}: spout emitter: {e}", plan.id)))?,
            )),
            None => None,
        };
        let expected_coords = plan
            .upstream
            .iter()
            .map(|c| ctx.component_tasks(c).len() as u32)
            .sum();
        self.rt = Some(Runtime {
            slots,
            exits,
            emitter,
            entries: plan.entries.clone(),
            down_tasks,
            expected_coords,
            tracks: BTreeMap::new(),
            component: plan.id.clone(),
        });
        Ok(())
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let Some(rt) = self.rt.as_mut() else {
            return Err(ComponentError::msg("trident bolt used before prepare"));
        };
        let Some(ta) = input.get(0).ok().and_then(tx::unpack) else {
            out.report_error(&format!(
                "{}: tuple without a batch id from {}/{}",
                rt.component,
                input.source_component(),
                input.source_stream()
            ));
            out.fail(&input);
            return Ok(());
        };
        let stream = input.source_stream();
        if input.source_component() == MASTER_ID {
            if stream == BATCH_STREAM {
                rt.on_batch(input, ta, out);
            } else if stream == COMMIT_STREAM {
                rt.on_commit(&input, ta, out);
            }
        } else if stream == COORD_STREAM {
            rt.on_coord(input, ta, out);
        } else {
            rt.on_data(&input, ta, out);
        }
        Ok(())
    }
}
