//! Groupings, named streams and tasks per executor, through the Rust test API: a
//! recording bolt emits `[its task id, <input values...>]` for every input, and the
//! assertions read those records back from the run report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Prepared, Recorder, int, string};
use squall_runtime::local::RunReport;
use squall_runtime::testing::{FixedSpout, complete_topology};
use squall_runtime::{
    ComponentError, OutputDeclarer, Registry, Spout, SpoutCollector, TaskId, TopologyContext,
    Values, values,
};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A registry with `Recorder` (its prepared task ids go to the returned set) and a
/// `Seqs` spout emitting `[key, seq]` for the given keys, `seq` = index.
fn registry_with(keys: Vec<String>) -> (Registry, Prepared) {
    let prepared: Prepared = Arc::new(Mutex::new(BTreeSet::new()));
    let mut reg = Registry::new();
    let p = prepared.clone();
    reg.basic_bolt("Recorder", move |a| Recorder::from_args(a, Some(p.clone())));
    let tuples: Vec<Values> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| values![k.as_str(), i])
        .collect();
    reg.spout("Seqs", move |_| {
        Ok(FixedSpout::new(&["key", "seq"], tuples.clone()))
    });
    (reg, prepared)
}

fn run(reg: &Registry, yaml: &str) -> RunReport {
    complete_topology(reg, yaml, TIMEOUT)
        .unwrap_or_else(|e| panic!("topology did not complete: {e}"))
}

/// A one-edge topology `src` (Seqs) -> `rec` (Recorder [key, seq]) with this grouping.
fn one_edge(grouping: &str, rec_tasks: &str) -> String {
    format!(
        "\
name: grouping-test
spouts:
  - id: src
    className: Seqs
bolts:
  - id: rec
    className: Recorder
    constructorArgs: [key, seq]
    {rec_tasks}
streams:
  - from: src
    to: rec
    grouping: {grouping}
"
    )
}

/// Records of `rec` as (task, key, seq).
fn records(report: &RunReport, component: &str) -> Vec<(i64, String, i64)> {
    report
        .emitted(component, "default")
        .iter()
        .map(|v| (int(v, 0), string(v, 1), int(v, 2)))
        .collect()
}

/// Assert every seq in `0..n` was recorded exactly once.
fn exactly_once(recs: &[(i64, String, i64)], n: usize) {
    let mut per_seq: BTreeMap<i64, usize> = BTreeMap::new();
    for (_, _, seq) in recs {
        *per_seq.entry(*seq).or_default() += 1;
    }
    assert_eq!(recs.len(), n, "number of deliveries");
    assert_eq!(per_seq.len(), n, "distinct tuples delivered");
    assert!(
        per_seq.values().all(|c| *c == 1),
        "some tuple was delivered more than once: {:?}",
        per_seq.iter().filter(|(_, c)| **c != 1).collect::<Vec<_>>()
    );
}

fn tasks_used(recs: &[(i64, String, i64)]) -> BTreeSet<i64> {
    recs.iter().map(|r| r.0).collect()
}

fn keys(n: usize, distinct: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{}", i % distinct)).collect()
}

#[test]
fn fields_grouping_sends_equal_keys_to_one_task_across_senders() {
    let n = 600;
    // 61 keys: with round robin over 3 relays, each key comes from every relay.
    let (reg, prepared) = registry_with(keys(n, 61));
    // src -> relay (3 tasks, shuffle) -> rec (4 tasks, fields on key): several senders.
    let yaml = "\
name: fields
spouts:
  - id: src
    className: Seqs
bolts:
  - id: relay
    className: Recorder
    constructorArgs: [key, seq]
    parallelism: 3
  - id: rec
    className: Recorder
    constructorArgs: [relay, key, seq]
    parallelism: 4
streams:
  - from: src
    to: relay
    grouping: {type: SHUFFLE}
  - from: relay
    to: rec
    grouping: {type: FIELDS, args: [key]}
";
    let report = run(&reg, yaml);
    let recs: Vec<(i64, i64, String, i64)> = report
        .emitted("rec", "default")
        .iter()
        .map(|v| (int(v, 0), int(v, 1), string(v, 2), int(v, 3)))
        .collect();
    assert_eq!(recs.len(), n, "every tuple reaches rec once");
    let mut key_tasks: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    let mut key_senders: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for (task, relay, key, _) in &recs {
        key_tasks.entry(key).or_default().insert(*task);
        key_senders.entry(key).or_default().insert(*relay);
    }
    assert_eq!(key_tasks.len(), 61);
    for (key, tasks) in &key_tasks {
        assert_eq!(
            tasks.len(),
            1,
            "key '{key}' went to several tasks: {tasks:?}"
        );
    }
    assert!(
        key_senders.values().any(|s| s.len() > 1),
        "no key came from more than one sender; the test proves nothing"
    );
    let used: BTreeSet<i64> = recs.iter().map(|r| r.0).collect();
    assert!(used.len() > 1, "61 keys over 4 tasks all went to {used:?}");
    let prepared = prepared.lock().unwrap();
    assert_eq!(
        prepared.len(),
        3 + 4,
        "relay and rec tasks prepared: {prepared:?}"
    );
    assert!(used.is_subset(&prepared), "{used:?} not among {prepared:?}");
}

#[test]
fn all_grouping_delivers_every_tuple_to_every_task() {
    let n = 40;
    let (reg, prepared) = registry_with(keys(n, 7));
    let report = run(&reg, &one_edge("{type: ALL}", "parallelism: 3"));
    let recs = records(&report, "rec");
    let prepared = prepared.lock().unwrap().clone();
    assert_eq!(prepared.len(), 3);
    assert_eq!(recs.len(), n * 3, "tuples x tasks deliveries");
    for task in &prepared {
        let seqs: BTreeSet<i64> = recs.iter().filter(|r| r.0 == *task).map(|r| r.2).collect();
        let mine = recs.iter().filter(|r| r.0 == *task).count();
        assert_eq!(mine, n, "task {task} deliveries");
        assert_eq!(seqs, (0..n as i64).collect(), "task {task} tuples");
    }
    assert_eq!(report.components["rec"].executed, (n * 3) as u64);
    assert_eq!(report.components["src"].transferred, (n * 3) as u64);
}

#[test]
fn global_grouping_delivers_everything_to_the_lowest_task() {
    let n = 50;
    let (reg, prepared) = registry_with(keys(n, 5));
    let report = run(&reg, &one_edge("{type: GLOBAL}", "parallelism: 3"));
    let recs = records(&report, "rec");
    exactly_once(&recs, n);
    let prepared = prepared.lock().unwrap().clone();
    assert_eq!(prepared.len(), 3, "{prepared:?}");
    let lowest = *prepared.first().unwrap();
    // Tasks are numbered from 1 over components sorted by id, the system acker
    // included (as in Storm): __acker = 1, rec = 2..=4, src = 5.
    assert_eq!(lowest, 2, "task numbering: {prepared:?}");
    assert_eq!(tasks_used(&recs), BTreeSet::from([lowest]));
}

/// Emits `[seq, target]` on a direct default stream, each to task
/// `tasks[(seq / 3) % len]` of the component named in its first argument.
struct DirectSpout {
    to: String,
    targets: Vec<TaskId>,
    next: usize,
    count: usize,
}

#[squall_runtime::async_trait]
impl Spout for DirectSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare_direct(&["seq", "target"]);
    }

    async fn open(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.targets = ctx.component_tasks(&self.to).to_vec();
        if self.targets.is_empty() {
            return Err(ComponentError::msg(format!("no tasks for '{}'", self.to)));
        }
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if self.next < self.count {
            let target = self.targets[(self.next / 3) % self.targets.len()];
            out.emit_direct(target, "default", values![self.next, target.as_i64()], None)?;
            self.next += 1;
        }
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.count
    }
}

#[test]
fn direct_grouping_delivers_to_the_chosen_task() {
    let n = 90;
    let (mut reg, prepared) = registry_with(Vec::new());
    reg.spout("Direct", move |a| {
        Ok(DirectSpout {
            to: a.str(0, "target component")?.to_string(),
            targets: Vec::new(),
            next: 0,
            count: n,
        })
    });
    let yaml = "\
name: direct
spouts:
  - id: src
    className: Direct
    constructorArgs: [rec]
bolts:
  - id: rec
    className: Recorder
    constructorArgs: [seq, target]
    parallelism: 3
streams:
  - from: src
    to: rec
    grouping: {type: DIRECT}
";
    let report = run(&reg, yaml);
    let recs: Vec<(i64, i64, i64)> = report
        .emitted("rec", "default")
        .iter()
        .map(|v| (int(v, 0), int(v, 1), int(v, 2)))
        .collect();
    assert_eq!(recs.len(), n, "every direct tuple delivered once");
    let seqs: BTreeSet<i64> = recs.iter().map(|r| r.1).collect();
    assert_eq!(seqs.len(), n);
    for (task, seq, target) in &recs {
        assert_eq!(
            task, target,
            "tuple {seq} was sent to task {target}, arrived at {task}"
        );
    }
    let used: BTreeSet<i64> = recs.iter().map(|r| r.0).collect();
    assert_eq!(
        used,
        *prepared.lock().unwrap(),
        "the spout targeted every rec task"
    );
}

/// Deliveries per task for a one-edge topology with this grouping over 4 tasks.
fn spread(grouping: &str, n: usize) -> (Vec<(i64, String, i64)>, BTreeSet<i64>) {
    let (reg, prepared) = registry_with(keys(n, 13));
    let report = run(&reg, &one_edge(grouping, "parallelism: 4"));
    let recs = records(&report, "rec");
    let prepared = prepared.lock().unwrap().clone();
    assert_eq!(prepared.len(), 4);
    (recs, prepared)
}

#[test]
fn shuffle_spreads_over_all_tasks_exactly_once() {
    let (recs, prepared) = spread("{type: SHUFFLE}", 400);
    exactly_once(&recs, 400);
    assert_eq!(tasks_used(&recs), prepared);
}

#[test]
fn local_or_shuffle_spreads_over_all_tasks_exactly_once_in_local_mode() {
    let (recs, prepared) = spread("{type: LOCAL_OR_SHUFFLE}", 400);
    exactly_once(&recs, 400);
    assert_eq!(tasks_used(&recs), prepared);
}

#[test]
fn none_grouping_delivers_each_tuple_exactly_once() {
    let (recs, prepared) = spread("{type: NONE}", 400);
    exactly_once(&recs, 400);
    let used = tasks_used(&recs);
    assert!(used.is_subset(&prepared), "{used:?} not among {prepared:?}");
    assert!(used.len() > 1, "400 random picks all went to {used:?}");
}

#[test]
fn partial_key_grouping_uses_at_most_two_tasks_per_key() {
    let mut ks: Vec<String> = (0..200).map(|_| "hot".to_string()).collect();
    ks.extend(keys(300, 30));
    let n = ks.len();
    let (reg, prepared) = registry_with(ks);
    let report = run(
        &reg,
        &one_edge("{type: PARTIAL_KEY, args: [key]}", "parallelism: 4"),
    );
    let recs = records(&report, "rec");
    exactly_once(&recs, n);
    let mut key_tasks: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for (task, key, _) in &recs {
        key_tasks.entry(key).or_default().insert(*task);
    }
    assert_eq!(key_tasks.len(), 31);
    for (key, tasks) in &key_tasks {
        assert!(
            tasks.len() <= 2,
            "key '{key}' went to {} tasks: {tasks:?}",
            tasks.len()
        );
    }
    assert_eq!(
        key_tasks["hot"].len(),
        2,
        "a hot key is split over its two candidate tasks"
    );
    let used = tasks_used(&recs);
    assert!(used.len() > 2, "31 keys used only {used:?}");
    assert!(used.is_subset(&prepared.lock().unwrap()));
}

/// Emits n in `0..count` on stream `odd` or `even`.
struct ParitySpout {
    next: i64,
    count: i64,
}

impl Spout for ParitySpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare_stream("odd", &["n"]);
        out.declare_stream("even", &["n"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if self.next < self.count {
            let stream = if self.next % 2 == 1 { "odd" } else { "even" };
            out.emit_stream(stream, values![self.next], None)?;
            self.next += 1;
        }
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.count
    }
}

#[test]
fn named_streams_reach_only_their_subscribers() {
    let n = 101;
    let (mut reg, _) = registry_with(Vec::new());
    reg.spout("Parity", move |_| Ok(ParitySpout { next: 0, count: n }));
    let yaml = "\
name: streams
spouts:
  - id: src
    className: Parity
bolts:
  - id: odds
    className: Recorder
    constructorArgs: [n]
    parallelism: 2
  - id: evens
    className: Recorder
    constructorArgs: [n]
streams:
  - from: src
    to: odds
    grouping: {type: SHUFFLE, streamId: odd}
  - from: src
    to: evens
    grouping: {type: SHUFFLE, streamId: even}
";
    let report = run(&reg, yaml);
    assert_eq!(report.emitted("src", "odd").len(), 50);
    assert_eq!(report.emitted("src", "even").len(), 51);
    assert!(report.emitted("src", "default").is_empty());
    let seen = |c: &str| -> Vec<i64> {
        let mut v: Vec<i64> = report
            .emitted(c, "default")
            .iter()
            .map(|v| int(v, 1))
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        seen("odds"),
        (0..n).filter(|x| x % 2 == 1).collect::<Vec<_>>()
    );
    assert_eq!(
        seen("evens"),
        (0..n).filter(|x| x % 2 == 0).collect::<Vec<_>>()
    );
    assert_eq!(report.components["odds"].executed, 50);
    assert_eq!(report.components["evens"].executed, 51);
}

#[test]
fn several_tasks_per_executor_all_run() {
    let n = 400;
    let (reg, prepared) = registry_with(keys(n, 11));
    let report = run(
        &reg,
        &one_edge("{type: SHUFFLE}", "parallelism: 2\n    numTasks: 4"),
    );
    let recs = records(&report, "rec");
    exactly_once(&recs, n);
    let used = tasks_used(&recs);
    assert_eq!(used.len(), 4, "distinct task ids seen: {used:?}");
    assert_eq!(used, *prepared.lock().unwrap());
    assert_eq!(report.components["rec"].tasks, 4);
    assert_eq!(report.components["rec"].executed, n as u64);
}

#[test]
fn tiny_queues_apply_backpressure_without_losing_tuples() {
    let n = 5000;
    let (reg, _) = registry_with(keys(n, 97));
    // Queues of 2 batches of 3 tuples: senders block on full queues all the time.
    let yaml = "\
name: backpressure
config:
  topology.executor.receive.buffer.size: 6
  topology.producer.batch.size: 3
spouts:
  - id: src
    className: Seqs
bolts:
  - id: relay
    className: Recorder
    constructorArgs: [key, seq]
    parallelism: 2
  - id: rec
    className: Recorder
    constructorArgs: [relay, key, seq]
    parallelism: 3
streams:
  - from: src
    to: relay
    grouping: {type: SHUFFLE}
  - from: relay
    to: rec
    grouping: {type: FIELDS, args: [key]}
";
    let report = run(&reg, yaml);
    let seqs: Vec<i64> = report
        .emitted("rec", "default")
        .iter()
        .map(|v| int(v, 3))
        .collect();
    assert_eq!(seqs.len(), n, "deliveries to rec");
    assert_eq!(
        seqs.iter().collect::<BTreeSet<_>>().len(),
        n,
        "distinct tuples"
    );
    assert_eq!(report.components["relay"].executed, n as u64);
    assert_eq!(report.components["rec"].executed, n as u64);
}
