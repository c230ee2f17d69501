//! At-least-once processing end to end, through the Rust test API: tuple trees shaped as
//! chains, fan-outs, diamonds and multi-anchored joins complete exactly when their last
//! tuple is acked; failures and timeouts reach the spout; `topology.max.spout.pending`
//! bounds the tuples in flight; acking can be turned off; unanchored emits leave the
//! tree; tick tuples reach the bolts configured for them.
//!
//! Every test registers its own components around a fresh [`Log`], so the tests of this
//! file can run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use squall_runtime::local::{LocalOptions, RunReport, run_local};
use squall_runtime::stats::ComponentReport;
use squall_runtime::testing::{complete_topology, validate_yaml};
use squall_runtime::{
    BasicBolt, BasicCollector, Bolt, BoltCollector, ComponentError, MessageId, OutputDeclarer,
    Registry, Spout, SpoutCollector, TopologyContext, Tuple, values,
};

/// Bound on every run that is expected to complete by itself.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Messages per run.
const N: i64 = 120;
/// The late-ack test's last message.
const SENTINEL: i64 = 1_000_000;

/// `topology.max.spout.pending` as the spout saw it.
#[derive(Debug, Default, Clone, Copy)]
struct PendingSeen {
    calls: u64,
    /// Largest `pending()` on entry to `next_tuple`.
    max_before: usize,
    /// Largest `pending()` after `next_tuple` emitted.
    max_after: usize,
    /// `pending()` on entry to the latest `next_tuple`.
    last_before: usize,
}

/// What the test components saw, shared with the test.
#[derive(Debug, Default)]
struct Log {
    /// Spout `ack(id)` calls, in order.
    acked: Mutex<Vec<i64>>,
    /// Spout `fail(id)` calls, in order.
    failed: Mutex<Vec<i64>>,
    pending: Mutex<PendingSeen>,
    /// Leaf executions per message (every integer in a leaf's input counts).
    leaves: Mutex<BTreeMap<i64, u32>>,
    /// Spout acks that came when the leaves of that message did not all run yet.
    premature: Mutex<Vec<String>>,
    /// Messages a `FailFirst` bolt has seen.
    first_seen: Mutex<BTreeSet<i64>>,
    /// Tick tuples seen per component.
    ticks: Mutex<BTreeMap<String, u64>>,
    /// Anything a component found wrong.
    problems: Mutex<Vec<String>>,
}

impl Log {
    fn acked(&self) -> Vec<i64> {
        self.acked.lock().unwrap().clone()
    }
    fn failed(&self) -> Vec<i64> {
        self.failed.lock().unwrap().clone()
    }
    fn ticks(&self, component: &str) -> u64 {
        self.ticks
            .lock()
            .unwrap()
            .get(component)
            .copied()
            .unwrap_or(0)
    }
    fn problem(&self, p: String) {
        self.problems.lock().unwrap().push(p);
    }
    /// Panics with what the components reported as wrong, if anything.
    fn assert_no_problems(&self) {
        let premature = self.premature.lock().unwrap();
        assert!(
            premature.is_empty(),
            "spout acks before the tree was done ({}): {:?}",
            premature.len(),
            &premature[..premature.len().min(10)]
        );
        let problems = self.problems.lock().unwrap();
        assert!(problems.is_empty(), "components reported: {problems:?}");
    }
}

/// Emits `n` (field `n`) for n in `base..base + count` with message id `n`, where
/// `base` is `count` times the task's index. Replays failed ids when `replay`; when
/// `leaves` > 0, checks at every `ack(id)` that the leaves ran exactly `leaves` times
/// for `id` (else the ack was premature). Records `pending()`.
struct Seq {
    count: i64,
    base: i64,
    next: i64,
    replay: bool,
    replays: VecDeque<i64>,
    leaves: u32,
    log: Arc<Log>,
}

impl Seq {
    fn new(count: i64, replay: bool, leaves: u32, log: Arc<Log>) -> Seq {
        Seq {
            count,
            base: 0,
            next: 0,
            replay,
            replays: VecDeque::new(),
            leaves,
            log,
        }
    }
}

#[squall_runtime::async_trait]
impl Spout for Seq {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    async fn open(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.base = ctx.this_task_index() as i64 * self.count;
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        let before = out.pending();
        let id = match self.replays.pop_front() {
            Some(id) => Some(id),
            None if self.next < self.count => {
                self.next += 1;
                Some(self.base + self.next - 1)
            }
            None => None,
        };
        if let Some(id) = id {
            out.emit_id(values![id], id as MessageId)?;
        }
        let after = out.pending();
        let mut p = self.log.pending.lock().unwrap();
        p.calls += 1;
        p.max_before = p.max_before.max(before);
        p.max_after = p.max_after.max(after);
        p.last_before = before;
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.count && self.replays.is_empty()
    }

    fn ack(&mut self, id: MessageId) {
        let id = id as i64;
        self.log.acked.lock().unwrap().push(id);
        if self.leaves > 0 {
            let ran = self.log.leaves.lock().unwrap().get(&id).copied();
            if ran != Some(self.leaves) {
                self.log.premature.lock().unwrap().push(format!(
                    "message {id} acked after {ran:?} of {} leaf executions",
                    self.leaves
                ));
            }
        }
    }

    fn fail(&mut self, id: MessageId) {
        self.log.failed.lock().unwrap().push(id as i64);
        if self.replay {
            self.replays.push_back(id as i64);
        }
    }
}

/// Emits its input `copies` times (field `n`), anchored (a basic bolt).
struct Pass {
    copies: u32,
}

impl BasicBolt for Pass {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        for _ in 0..self.copies {
            out.emit(values![input.get_i64(0)?])?;
        }
        Ok(())
    }
}

/// A sink that counts each integer of its input as one leaf execution of that message,
/// then acks the input.
struct Leaf {
    log: Arc<Log>,
}

impl Bolt for Leaf {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        {
            let mut leaves = self.log.leaves.lock().unwrap();
            for v in input.values().iter() {
                let n = v
                    .as_i64()
                    .ok_or_else(|| ComponentError::msg(format!("not an int: {v:?}")))?;
                *leaves.entry(n).or_insert(0) += 1;
            }
        }
        out.ack(&input);
        Ok(())
    }
}

/// Sends each input on two streams, `left` and `right`, anchored, then acks it.
struct Split;

impl Bolt for Split {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare_stream("left", &["n"])
            .declare_stream("right", &["n"]);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let n = input.get_i64(0)?;
        out.emit_stream("left", &[&input], values![n])?;
        out.emit_stream("right", &[&input], values![n])?;
        out.ack(&input);
        Ok(())
    }
}

/// Joins the two branches of a diamond: holds the first input of each `n` until the
/// other branch's arrives, emits one tuple anchored to both, then acks both.
struct Join {
    held: HashMap<i64, Tuple>,
    log: Arc<Log>,
}

impl Bolt for Join {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let n = input.get_i64(0)?;
        match self.held.remove(&n) {
            None => {
                self.held.insert(n, input);
            }
            Some(first) => {
                if first.source_component() == input.source_component() {
                    self.log.problem(format!(
                        "join got {n} twice from {}",
                        input.source_component()
                    ));
                }
                out.emit_stream("default", &[&first, &input], values![n])?;
                out.ack(&first);
                out.ack(&input);
            }
        }
        Ok(())
    }
}

/// Pairs consecutive inputs (of different spout messages): holds one, and with the next
/// emits `[a, b]` anchored to both, then acks both.
struct Pair {
    held: Option<Tuple>,
}

impl Bolt for Pair {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["a", "b"]);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        match self.held.take() {
            None => self.held = Some(input),
            Some(first) => {
                let (a, b) = (first.get_i64(0)?, input.get_i64(0)?);
                out.emit_stream("default", &[&first, &input], values![a, b])?;
                out.ack(&first);
                out.ack(&input);
            }
        }
        Ok(())
    }
}

/// Fails the first attempt of every message (by content), passes later ones on.
struct FailFirst {
    log: Arc<Log>,
}

impl Bolt for FailFirst {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let n = input.get_i64(0)?;
        if self.log.first_seen.lock().unwrap().insert(n) {
            out.fail(&input);
        } else {
            out.emit_anchored(&input, values![n])?;
            out.ack(&input);
        }
        Ok(())
    }
}

/// Neither acks nor fails anything.
struct NeverAck;

impl Bolt for NeverAck {
    fn execute(&mut self, _input: Tuple, _out: &mut BoltCollector) -> Result<(), ComponentError> {
        Ok(())
    }
}

/// Emits its input unanchored (field `n`), then acks the input.
struct Unanchored;

impl Bolt for Unanchored {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        out.emit(values![input.get_i64(0)?])?;
        out.ack(&input);
        Ok(())
    }
}

/// Holds every input without acking it until the [`SENTINEL`] arrives; then acks every
/// held input (late: their trees have timed out) and the sentinel.
struct Holder {
    held: Vec<Tuple>,
}

impl Bolt for Holder {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        if input.get_i64(0)? == SENTINEL {
            for t in self.held.drain(..) {
                out.ack(&t);
            }
            out.ack(&input);
        } else {
            self.held.push(input);
        }
        Ok(())
    }
}

/// Holds every input; on each tick resets the timeout of everything held, and on the
/// `ticks`-th tick acks everything held.
struct Keeper {
    ticks: u64,
    seen: u64,
    held: Vec<Tuple>,
}

impl Bolt for Keeper {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        if !input.is_tick() {
            self.held.push(input);
            return Ok(());
        }
        self.seen += 1;
        if self.seen < self.ticks {
            for t in &self.held {
                out.reset_timeout(t);
            }
        } else {
            for t in self.held.drain(..) {
                out.ack(&t);
            }
        }
        Ok(())
    }
}

/// Emits `0..count` with ids, never replays; once every one of them has failed, emits
/// [`SENTINEL`] and is exhausted when the sentinel is acked or failed.
struct LateAckSpout {
    count: i64,
    next: i64,
    failed: i64,
    sentinel: Option<bool>,
    done: bool,
    log: Arc<Log>,
}

impl Spout for LateAckSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if self.next < self.count {
            out.emit_id(values![self.next], self.next as MessageId)?;
            self.next += 1;
        } else if self.failed >= self.count && self.sentinel.is_none() {
            self.sentinel = Some(true);
            out.emit_id(values![SENTINEL], SENTINEL as MessageId)?;
        }
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.done
    }

    fn ack(&mut self, id: MessageId) {
        self.log.acked.lock().unwrap().push(id as i64);
        if id as i64 == SENTINEL {
            self.done = true;
        }
    }

    fn fail(&mut self, id: MessageId) {
        self.log.failed.lock().unwrap().push(id as i64);
        if id as i64 == SENTINEL {
            self.done = true;
        } else {
            self.failed += 1;
        }
    }
}

/// Emits `0..count` untracked, then is exhausted once every component in `wait_for`
/// has seen at least that many tick tuples.
struct UntilTicks {
    count: i64,
    next: i64,
    wait_for: Vec<(String, u64)>,
    log: Arc<Log>,
}

impl Spout for UntilTicks {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if self.next < self.count {
            out.emit(values![self.next])?;
            self.next += 1;
        }
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.count
            && self
                .wait_for
                .iter()
                .all(|(c, min)| self.log.ticks(c) >= *min)
    }
}

/// Counts the tick tuples it gets (checking what they look like) per component id.
struct TickCounter {
    component: String,
    log: Arc<Log>,
}

#[squall_runtime::async_trait]
impl BasicBolt for TickCounter {
    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.component = ctx.this_component().to_string();
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        _out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        if input.is_tick() {
            if input.source_component() != squall_runtime::SYSTEM_COMPONENT
                || input.source_stream() != squall_runtime::TICK_STREAM
                || input.get_i64(0).ok() != Some(1)
            {
                self.log.problem(format!(
                    "odd tick at {}: {}/{} {:?}",
                    self.component,
                    input.source_component(),
                    input.source_stream(),
                    input.values()
                ));
            }
            *self
                .log
                .ticks
                .lock()
                .unwrap()
                .entry(self.component.clone())
                .or_insert(0) += 1;
        } else if input.source_component() != "src" {
            self.log.problem(format!(
                "{} got a non-tick tuple from {}",
                self.component,
                input.source_component()
            ));
        }
        Ok(())
    }
}

/// A registry with every test component above bound to `log`, plus the built-ins. The
/// spout `Seq` emits `N` messages and replays failures; `SeqOnce` does not replay.
/// `leaves` is the number of leaf executions each message's tree must have had when
/// the spout gets its ack (0: not checked).
fn registry(log: &Arc<Log>, leaves: u32) -> Registry {
    let mut reg = Registry::new();
    squall_topologies::register(&mut reg);
    let l = log.clone();
    reg.spout("Seq", move |a| {
        Ok(Seq::new(
            a.u64_or(0, "count", N as u64)? as i64,
            true,
            leaves,
            l.clone(),
        ))
    });
    let l = log.clone();
    reg.spout("SeqOnce", move |a| {
        Ok(Seq::new(
            a.u64_or(0, "count", N as u64)? as i64,
            false,
            leaves,
            l.clone(),
        ))
    });
    let l = log.clone();
    reg.spout("LateAckSpout", move |_| {
        Ok(LateAckSpout {
            count: N,
            next: 0,
            failed: 0,
            sentinel: None,
            done: false,
            log: l.clone(),
        })
    });
    let l = log.clone();
    reg.spout("UntilTicks", move |a| {
        let wait_for = a
            .args()
            .iter()
            .map(|v| {
                let s = v.as_str().expect("UntilTicks args: \"component:ticks\"");
                let (c, n) = s.split_once(':').expect("component:ticks");
                (c.to_string(), n.parse().expect("tick count"))
            })
            .collect();
        Ok(UntilTicks {
            count: 20,
            next: 0,
            wait_for,
            log: l.clone(),
        })
    });
    reg.basic_bolt("Pass", |a| {
        Ok(Pass {
            copies: a.u64_or(0, "copies", 1)? as u32,
        })
    });
    let l = log.clone();
    reg.bolt("Leaf", move |_| Ok(Leaf { log: l.clone() }));
    reg.bolt("Split", |_| Ok(Split));
    let l = log.clone();
    reg.bolt("Join", move |_| {
        Ok(Join {
            held: HashMap::new(),
            log: l.clone(),
        })
    });
    reg.bolt("Pair", |_| Ok(Pair { held: None }));
    let l = log.clone();
    reg.bolt("FailFirst", move |_| Ok(FailFirst { log: l.clone() }));
    reg.bolt("NeverAck", |_| Ok(NeverAck));
    reg.bolt("Unanchored", |_| Ok(Unanchored));
    reg.bolt("Holder", |_| Ok(Holder { held: Vec::new() }));
    reg.bolt("Keeper", |a| {
        Ok(Keeper {
            ticks: a.u64(0, "ticks to hold")?,
            seen: 0,
            held: Vec::new(),
        })
    });
    let l = log.clone();
    reg.basic_bolt("TickCounter", move |_| {
        Ok(TickCounter {
            component: String::new(),
            log: l.clone(),
        })
    });
    reg
}

/// Run until complete; panics with the error (and totals) otherwise.
fn complete(reg: &Registry, yaml: &str) -> RunReport {
    complete_topology(reg, yaml, TIMEOUT)
        .unwrap_or_else(|e| panic!("the topology did not complete: {e}"))
}

/// Run for exactly `duration` (for topologies that never complete).
fn run_for(reg: &Registry, yaml: &str, duration: Duration) -> RunReport {
    let topo = validate_yaml(reg, yaml).unwrap_or_else(|e| panic!("invalid topology: {e}"));
    run_local(
        reg,
        &topo,
        LocalOptions {
            duration: Some(duration),
            capture: false,
            progress: None,
            stop_on_interrupt: false,
        },
    )
    .unwrap_or_else(|e| panic!("run failed: {e}"))
}

fn all_ids() -> Vec<i64> {
    (0..N).collect()
}

/// The ids of every message of `tasks` spout tasks.
fn ids_of(tasks: u32) -> Vec<i64> {
    (0..N * i64::from(tasks)).collect()
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

/// The spout's report shows every one of its messages (`N` per task) acked once, none
/// failed, nothing pending at the end, and a complete latency.
fn assert_all_acked_once(report: &RunReport, log: &Log) -> ComponentReport {
    let src = report.components["src"].clone();
    let total = N as u64 * u64::from(src.tasks);
    assert!(report.completed);
    assert_eq!(src.emitted, total, "{src:?}");
    assert_eq!(src.acked, total, "{src:?}");
    assert_eq!(src.failed, 0, "{src:?}");
    assert_eq!(src.replayed, 0, "{src:?}");
    assert_eq!(
        sorted(log.acked()),
        ids_of(src.tasks),
        "ids the spout's ack() got"
    );
    assert!(log.failed().is_empty(), "fail() calls: {:?}", log.failed());
    let lat = src
        .complete_latency_ms
        .unwrap_or_else(|| panic!("no complete latency with acking on: {src:?}"));
    assert!(
        lat.p50 <= lat.p99 && lat.p99 <= lat.max && lat.max < TIMEOUT.as_secs_f64() * 1e3,
        "{lat:?}"
    );
    let p = *log.pending.lock().unwrap();
    assert_eq!(
        p.last_before, 0,
        "pending() on the last next_tuple call: {p:?}"
    );
    log.assert_no_problems();
    src
}

/// Every message (of one spout task) ran through the leaves exactly `times` times.
fn assert_leaves(log: &Log, times: u32) {
    assert_leaves_of(log, times, 1);
}

/// Every message of `tasks` spout tasks ran through the leaves exactly `times` times.
fn assert_leaves_of(log: &Log, times: u32, tasks: u32) {
    let leaves = log.leaves.lock().unwrap();
    let want: BTreeMap<i64, u32> = ids_of(tasks).into_iter().map(|n| (n, times)).collect();
    assert_eq!(*leaves, want, "leaf executions per message");
}

#[test]
fn chain_tree_completes_at_the_last_ack() {
    let log = Arc::new(Log::default());
    let reg = registry(&log, 1);
    let yaml = "
name: chain
spouts: [{id: src, className: Seq}]
bolts:
  - {id: a, className: Pass, parallelism: 2}
  - {id: b, className: Pass}
  - {id: c, className: Pass, parallelism: 2}
  - {id: leaf, className: Leaf, parallelism: 2}
streams:
  - {from: src, to: a, grouping: {type: SHUFFLE}}
  - {from: a, to: b, grouping: {type: SHUFFLE}}
  - {from: b, to: c, grouping: {type: FIELDS, args: [n]}}
  - {from: c, to: leaf, grouping: {type: SHUFFLE}}
";
    let report = complete(&reg, yaml);
    assert_all_acked_once(&report, &log);
    assert_leaves(&log, 1);
    for id in ["a", "b", "c", "leaf"] {
        let r = &report.components[id];
        assert_eq!(
            (r.executed, r.acked, r.failed),
            (N as u64, N as u64, 0),
            "{id}: {r:?}"
        );
    }
}

#[test]
fn fan_out_tree_waits_for_every_branch() {
    // Each message: 2 copies through `wide` (ALL over 2 tasks) and 3 children of
    // `many`, all ending in `leaf`: 5 leaf executions per message.
    let log = Arc::new(Log::default());
    let reg = registry(&log, 5);
    let yaml = "
name: fan-out
spouts: [{id: src, className: Seq}]
bolts:
  - {id: wide, className: Pass, parallelism: 2}
  - {id: many, className: Pass, constructorArgs: [3], parallelism: 2}
  - {id: leaf, className: Leaf, parallelism: 2}
streams:
  - {from: src, to: wide, grouping: {type: ALL}}
  - {from: src, to: many, grouping: {type: SHUFFLE}}
  - {from: wide, to: leaf, grouping: {type: SHUFFLE}}
  - {from: many, to: leaf, grouping: {type: FIELDS, args: [n]}}
";
    let report = complete(&reg, yaml);
    let src = assert_all_acked_once(&report, &log);
    assert_eq!(src.transferred, 3 * N as u64, "2 ALL copies + 1 shuffled");
    assert_leaves(&log, 5);
    assert_eq!(report.components["leaf"].executed, 5 * N as u64);
}

#[test]
fn diamond_with_a_multi_anchored_join_completes() {
    let log = Arc::new(Log::default());
    let reg = registry(&log, 1);
    let yaml = "
name: diamond
spouts: [{id: src, className: Seq}]
bolts:
  - {id: split, className: Split, parallelism: 2}
  - {id: left, className: Pass}
  - {id: right, className: Pass, parallelism: 2}
  - {id: join, className: Join, parallelism: 2}
  - {id: leaf, className: Leaf}
streams:
  - {from: src, to: split, grouping: {type: SHUFFLE}}
  - {from: split, to: left, grouping: {type: SHUFFLE, streamId: left}}
  - {from: split, to: right, grouping: {type: SHUFFLE, streamId: right}}
  - {from: left, to: join, grouping: {type: FIELDS, args: [n]}}
  - {from: right, to: join, grouping: {type: FIELDS, args: [n]}}
  - {from: join, to: leaf, grouping: {type: SHUFFLE}}
";
    let report = complete(&reg, yaml);
    assert_all_acked_once(&report, &log);
    assert_leaves(&log, 1);
    let join = &report.components["join"];
    assert_eq!(
        (join.executed, join.emitted, join.acked),
        (2 * N as u64, N as u64, 2 * N as u64),
        "{join:?}"
    );
}

#[test]
fn one_tuple_anchored_to_two_spout_messages_completes_both() {
    // `pair` holds each odd message until the next one arrives: neither tree may
    // complete before the joined tuple reached the leaf.
    let log = Arc::new(Log::default());
    let reg = registry(&log, 1);
    let yaml = "
name: multi-anchor
spouts: [{id: src, className: Seq}]
bolts:
  - {id: pass, className: Pass, parallelism: 2}
  - {id: pair, className: Pair}
  - {id: leaf, className: Leaf, parallelism: 2}
streams:
  - {from: src, to: pass, grouping: {type: SHUFFLE}}
  - {from: pass, to: pair, grouping: {type: GLOBAL}}
  - {from: pair, to: leaf, grouping: {type: SHUFFLE}}
";
    assert_eq!(N % 2, 0, "pairs need an even count");
    let report = complete(&reg, yaml);
    assert_all_acked_once(&report, &log);
    assert_leaves(&log, 1);
    assert_eq!(report.components["pair"].emitted, N as u64 / 2);
    assert_eq!(report.components["leaf"].executed, N as u64 / 2);
}

#[test]
fn completions_reach_the_right_spout_task_with_several_ackers() {
    // 4 spout tasks on 2 executors, 3 acker tasks: the pairs join messages of
    // different spout tasks, whose roots belong to different ackers.
    let log = Arc::new(Log::default());
    let reg = registry(&log, 1);
    let yaml = "
name: many-tasks
config: {topology.acker.executors: 3}
spouts: [{id: src, className: Seq, parallelism: 2, numTasks: 4}]
bolts:
  - {id: pass, className: Pass, parallelism: 2}
  - {id: pair, className: Pair}
  - {id: leaf, className: Leaf, parallelism: 2}
streams:
  - {from: src, to: pass, grouping: {type: SHUFFLE}}
  - {from: pass, to: pair, grouping: {type: GLOBAL}}
  - {from: pair, to: leaf, grouping: {type: SHUFFLE}}
";
    let report = complete(&reg, yaml);
    let src = assert_all_acked_once(&report, &log);
    assert_eq!(src.tasks, 4);
    assert_leaves_of(&log, 1, 4);
    assert_eq!(report.components["pair"].emitted, 2 * N as u64);
}

#[test]
fn a_message_no_bolt_subscribes_to_is_acked_at_once() {
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    let yaml = "
name: no-subscriber
spouts: [{id: src, className: Seq}]
";
    let report = complete(&reg, yaml);
    let src = &report.components["src"];
    assert_eq!((src.emitted, src.transferred), (N as u64, 0), "{src:?}");
    assert_eq!((src.acked, src.failed), (N as u64, 0), "{src:?}");
    assert_eq!(sorted(log.acked()), all_ids());
    let p = *log.pending.lock().unwrap();
    assert_eq!(p.max_after, 0, "nothing to wait for: {p:?}");
}

#[test]
fn reset_timeout_keeps_a_held_message_alive() {
    // `keep` holds every message for 5 ticks (5 s), calling reset_timeout on each tick;
    // the message timeout is 2 s, so without the resets every message would have failed
    // after 2 to 4 s.
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    let yaml = "
name: reset-timeout
config: {topology.message.timeout.secs: 2}
spouts: [{id: src, className: Seq}]
bolts:
  - {id: keep, className: Keeper, constructorArgs: [5], config: {topology.tick.tuple.freq.secs: 1}}
streams:
  - {from: src, to: keep, grouping: {type: SHUFFLE}}
";
    let report = complete(&reg, yaml);
    let src = assert_all_acked_once(&report, &log);
    let lat = src.complete_latency_ms.unwrap();
    assert!(lat.p50 >= 4000.0, "messages were held ~5 s: {lat:?}");
    let keep = &report.components["keep"];
    assert_eq!(keep.acked, N as u64, "{keep:?}");
}

#[test]
fn disabled_message_timeouts_never_fail_a_message() {
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    let yaml = "
name: no-timeouts
config: {topology.message.timeout.secs: 1, topology.enable.message.timeouts: false}
spouts: [{id: src, className: Seq}]
bolts: [{id: sink, className: NeverAck}]
streams: [{from: src, to: sink, grouping: {type: SHUFFLE}}]
";
    // With timeouts on, every message would fail within 2 s.
    let report = run_for(&reg, yaml, Duration::from_millis(2500));
    let src = &report.components["src"];
    assert_eq!((src.acked, src.failed), (0, 0), "{src:?}");
    assert!(log.failed().is_empty());
    assert_eq!(log.pending.lock().unwrap().last_before, N as usize);
}

#[test]
fn failure_in_the_middle_replays_every_message_once() {
    let log = Arc::new(Log::default());
    let reg = registry(&log, 1);
    let yaml = "
name: fail-first
spouts: [{id: src, className: Seq}]
bolts:
  - {id: a, className: Pass, parallelism: 2}
  - {id: flaky, className: FailFirst, parallelism: 2}
  - {id: leaf, className: Leaf}
streams:
  - {from: src, to: a, grouping: {type: SHUFFLE}}
  - {from: a, to: flaky, grouping: {type: SHUFFLE}}
  - {from: flaky, to: leaf, grouping: {type: SHUFFLE}}
";
    let report = complete(&reg, yaml);
    let src = &report.components["src"];
    assert_eq!(src.failed, N as u64, "{src:?}");
    assert_eq!(src.replayed, N as u64, "{src:?}");
    assert_eq!(src.acked, N as u64, "{src:?}");
    assert_eq!(src.emitted, 2 * N as u64, "{src:?}");
    assert!(src.complete_latency_ms.is_some(), "{src:?}");
    assert_eq!(sorted(log.failed()), all_ids(), "each id failed once");
    assert_eq!(sorted(log.acked()), all_ids(), "each id acked once");
    // The failed first attempts emitted nothing: every message reached the leaf once.
    assert_leaves(&log, 1);
    let flaky = &report.components["flaky"];
    assert_eq!(
        (flaky.executed, flaky.failed, flaky.acked),
        (2 * N as u64, N as u64, N as u64),
        "{flaky:?}"
    );
    log.assert_no_problems();
}

#[test]
fn unacked_messages_time_out_and_are_replayed() {
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    let yaml = "
name: timeout-replay
config: {topology.message.timeout.secs: 1}
spouts: [{id: src, className: Seq}]
bolts: [{id: sink, className: NeverAck}]
streams: [{from: src, to: sink, grouping: {type: SHUFFLE}}]
";
    // Messages emitted at the start time out 1 to 2 s later.
    let report = run_for(&reg, yaml, Duration::from_millis(3500));
    let src = &report.components["src"];
    assert!(!report.completed);
    assert_eq!(src.acked, 0, "{src:?}");
    assert!(src.failed >= N as u64, "every message timed out: {src:?}");
    assert!(
        src.replayed >= 1 && src.replayed <= src.failed,
        "timed-out messages are replayed: {src:?}"
    );
    assert!(src.complete_latency_ms.is_none(), "{src:?}");
    let failed: BTreeSet<i64> = log.failed().into_iter().collect();
    assert_eq!(failed, all_ids().into_iter().collect(), "ids that failed");
    assert!(log.acked().is_empty());
}

#[test]
fn without_replay_each_timed_out_id_fails_exactly_once() {
    // The spout does not replay: once every message timed out, it is exhausted with
    // nothing pending and the run completes by itself.
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    let yaml = "
name: timeout-once
config: {topology.message.timeout.secs: 1}
spouts: [{id: src, className: SeqOnce}]
bolts: [{id: sink, className: NeverAck, parallelism: 2}]
streams: [{from: src, to: sink, grouping: {type: SHUFFLE}}]
";
    let report = complete(&reg, yaml);
    let src = &report.components["src"];
    assert_eq!(src.emitted, N as u64, "{src:?}");
    assert_eq!(src.failed, N as u64, "{src:?}");
    assert_eq!(src.acked, 0, "{src:?}");
    assert_eq!(src.replayed, 0, "{src:?}");
    assert!(src.complete_latency_ms.is_none(), "{src:?}");
    assert!(
        report.elapsed_secs >= 0.9,
        "no message may time out before 1 s: {}",
        report.elapsed_secs
    );
    assert_eq!(sorted(log.failed()), all_ids(), "each id failed once");
    assert!(log.acked().is_empty());
    assert_eq!(log.pending.lock().unwrap().last_before, 0);
}

#[test]
fn a_late_ack_after_the_timeout_is_not_counted() {
    // `hold` keeps every message past its timeout; once the spout saw all of them
    // fail it emits a sentinel, on which `hold` acks everything it held, then the
    // sentinel. Those late acks reach the acker before the sentinel's: the spout must
    // ignore them and count only the sentinel.
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    let yaml = "
name: late-ack
config: {topology.message.timeout.secs: 1}
spouts: [{id: src, className: LateAckSpout}]
bolts: [{id: hold, className: Holder}]
streams: [{from: src, to: hold, grouping: {type: GLOBAL}}]
";
    let report = complete(&reg, yaml);
    let src = &report.components["src"];
    assert_eq!(log.acked(), vec![SENTINEL], "the spout's ack() calls");
    assert_eq!(sorted(log.failed()), all_ids(), "each held id failed once");
    assert_eq!(src.acked, 1, "{src:?}");
    assert_eq!(src.failed, N as u64, "{src:?}");
    let hold = &report.components["hold"];
    assert_eq!(
        hold.acked,
        N as u64 + 1,
        "the late acks were sent: {hold:?}"
    );
}

#[test]
fn max_spout_pending_bounds_the_messages_in_flight() {
    let log = Arc::new(Log::default());
    let reg = registry(&log, 1);
    let yaml = "
name: max-pending
config: {topology.max.spout.pending: 5}
spouts: [{id: src, className: Seq}]
bolts:
  - {id: slow, className: SlowBolt, constructorArgs: [1000, [n]]}
  - {id: leaf, className: Leaf}
streams:
  - {from: src, to: slow, grouping: {type: SHUFFLE}}
  - {from: slow, to: leaf, grouping: {type: SHUFFLE}}
";
    let report = complete(&reg, yaml);
    assert_all_acked_once(&report, &log);
    assert_leaves(&log, 1);
    let p = *log.pending.lock().unwrap();
    assert!(p.max_after <= 5, "more than 5 messages in flight: {p:?}");
    assert!(p.max_before < 5, "next_tuple called at the limit: {p:?}");
    assert_eq!(
        p.max_after, 5,
        "a 1 ms/tuple bolt should let the spout reach the limit: {p:?}"
    );
}

#[test]
fn without_max_spout_pending_the_spout_runs_ahead() {
    // The control for the test above: the same topology without the limit.
    let log = Arc::new(Log::default());
    let reg = registry(&log, 1);
    let yaml = "
name: no-max-pending
spouts: [{id: src, className: Seq}]
bolts:
  - {id: slow, className: SlowBolt, constructorArgs: [1000, [n]]}
  - {id: leaf, className: Leaf}
streams:
  - {from: src, to: slow, grouping: {type: SHUFFLE}}
  - {from: slow, to: leaf, grouping: {type: SHUFFLE}}
";
    let report = complete(&reg, yaml);
    assert_all_acked_once(&report, &log);
    let p = *log.pending.lock().unwrap();
    assert!(p.max_after > 20, "{p:?}");
}

#[test]
fn acking_off_acks_every_message_at_emit() {
    // The only bolt never acks: with acking on this would never complete.
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    let yaml = "
name: acking-off
config: {topology.acker.executors: 0, topology.message.timeout.secs: 1}
spouts: [{id: src, className: Seq}]
bolts: [{id: sink, className: NeverAck}]
streams: [{from: src, to: sink, grouping: {type: SHUFFLE}}]
";
    let report = complete(&reg, yaml);
    let src = &report.components["src"];
    assert_eq!(src.emitted, N as u64, "{src:?}");
    assert_eq!(src.acked, src.emitted, "{src:?}");
    assert_eq!((src.failed, src.replayed), (0, 0), "{src:?}");
    assert!(
        src.complete_latency_ms.is_none(),
        "no latency without acking: {src:?}"
    );
    assert_eq!(sorted(log.acked()), all_ids());
    let p = *log.pending.lock().unwrap();
    assert_eq!(p.max_after, 0, "nothing is pending without acking: {p:?}");
    assert_eq!(report.components["sink"].executed, N as u64);
}

#[test]
fn unanchored_emits_do_not_hold_the_spout_tuple() {
    // `free` acks its input and emits unanchored to a sink that never acks.
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    let yaml = "
name: unanchored
spouts: [{id: src, className: Seq}]
bolts:
  - {id: free, className: Unanchored, parallelism: 2}
  - {id: sink, className: NeverAck}
streams:
  - {from: src, to: free, grouping: {type: SHUFFLE}}
  - {from: free, to: sink, grouping: {type: SHUFFLE}}
";
    let report = complete(&reg, yaml);
    assert_all_acked_once(&report, &log);
    assert_eq!(report.components["sink"].executed, N as u64);
}

#[test]
fn anchored_emits_to_a_bolt_that_never_acks_hold_the_spout_tuple() {
    // The control for the test above: anchored, nothing completes (timeout 30 s).
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    let yaml = "
name: anchored
spouts: [{id: src, className: Seq}]
bolts:
  - {id: held, className: Pass, parallelism: 2}
  - {id: sink, className: NeverAck}
streams:
  - {from: src, to: held, grouping: {type: SHUFFLE}}
  - {from: held, to: sink, grouping: {type: SHUFFLE}}
";
    let report = run_for(&reg, yaml, Duration::from_secs(1));
    let src = &report.components["src"];
    assert!(!report.completed);
    assert_eq!(report.components["sink"].executed, N as u64);
    assert_eq!((src.acked, src.failed), (0, 0), "{src:?}");
    assert!(log.acked().is_empty());
    assert_eq!(log.pending.lock().unwrap().last_before, N as usize);
}

/// A tick test topology: `src` (UntilTicks waiting for `wait`) feeding two
/// TickCounters `one` and `two` with the given config blocks.
fn tick_topology(topo_config: &str, one: &str, two: &str, wait: &[&str]) -> String {
    let wait = serde_json::to_string(wait).unwrap();
    format!(
        "
name: ticks
config: {topo_config}
spouts: [{{id: src, className: UntilTicks, constructorArgs: {wait}}}]
bolts:
  - {{id: one, className: TickCounter, config: {one}}}
  - {{id: two, className: TickCounter, config: {two}}}
streams:
  - {{from: src, to: one, grouping: {{type: SHUFFLE}}}}
  - {{from: src, to: two, grouping: {{type: SHUFFLE}}}}
"
    )
}

#[test]
fn topology_wide_tick_frequency_ticks_every_bolt() {
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    // Ends once `one` has seen a tick and `two` too (the spout waits for both).
    let yaml = tick_topology(
        "{topology.tick.tuple.freq.secs: 1}",
        "{}",
        "{}",
        &["one:1", "two:1"],
    );
    let report = complete(&reg, &yaml);
    assert!(log.ticks("one") >= 1 && log.ticks("two") >= 1);
    assert!(
        report.elapsed_secs >= 0.8,
        "the first tick comes after one period: {}",
        report.elapsed_secs
    );
    // Ticks are executed (and acked by the basic bolt) but not counted as tuples from
    // the spout.
    let one = &report.components["one"];
    assert!(one.executed > 20, "{one:?}");
    log.assert_no_problems();
}

#[test]
fn a_component_tick_frequency_ticks_only_that_bolt() {
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    // Runs until `two` has seen 2 ticks (≥ 2 s): `one` would have seen one by then.
    let yaml = tick_topology("{}", "{}", "{topology.tick.tuple.freq.secs: 1}", &["two:2"]);
    let report = complete(&reg, &yaml);
    assert!(log.ticks("two") >= 2);
    assert_eq!(log.ticks("one"), 0, "`one` has no tick frequency");
    assert!(report.elapsed_secs >= 1.5, "{}", report.elapsed_secs);
    log.assert_no_problems();
}

#[test]
fn a_component_can_turn_the_topology_tick_off() {
    let log = Arc::new(Log::default());
    let reg = registry(&log, 0);
    let yaml = tick_topology(
        "{topology.tick.tuple.freq.secs: 1}",
        "{topology.tick.tuple.freq.secs: null}",
        "{}",
        &["two:2"],
    );
    let report = complete(&reg, &yaml);
    assert!(log.ticks("two") >= 2);
    assert_eq!(log.ticks("one"), 0, "`one` set the frequency to null");
    assert!(report.elapsed_secs >= 1.5, "{}", report.elapsed_secs);
    log.assert_no_problems();
}
