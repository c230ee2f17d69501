//! Trident in local mode: the stream API end to end, exactly-once counts with failures
//! injected in functions and in state commits (transactional and opaque), commits in
//! txid order while batches finish out of order, and the trident-wordcount example
//! through the `squall` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use squall_runtime::trident::state::{RedbBackend, dump};
use squall_runtime::trident::{
    Aggregator, CommitFaults, Count, FileBatchSpout, FixedBatchSpout, MapGet, OpError, SourceMode,
    SpoutCoordinator, SpoutEmitter, StateKind, StateRead, StateSpec, StateUpdater, Sum,
    TransactionAttempt, TridentCollector, TridentTopology, TridentTuple,
};
use squall_runtime::trident::{BatchSpout, CoordinatorContext, OpContext};
use squall_runtime::{BuiltTopology, ComponentArgs, FactoryError, Registry, Value, Values, values};
use squall_topologies::FailingSplit;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Run the topology `build` makes (registered as builder "T") in local mode until its
/// spouts are exhausted and every batch committed.
fn run<F>(config: &str, build: F) -> squall_runtime::local::RunReport
where
    F: Fn(&ComponentArgs<'_>) -> Result<BuiltTopology, FactoryError> + Send + Sync + 'static,
{
    let mut registry = Registry::new();
    registry.topology("T", build);
    let yaml = format!("name: t\ntopologySource:\n  className: T\nconfig:\n{config}");
    squall_runtime::testing::complete_topology(&registry, &yaml, TIMEOUT)
        .unwrap_or_else(|e| panic!("trident run failed: {e}"))
}

fn split(t: &TridentTuple<'_>, out: &mut TridentCollector<'_>) -> Result<(), OpError> {
    for w in t.get_str(0)?.split_whitespace() {
        out.emit(values![w]);
    }
    Ok(())
}

fn expected_counts(lines: &[String]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for l in lines {
        for w in l.split_whitespace() {
            *m.entry(w.to_string()).or_insert(0) += 1;
        }
    }
    m
}

fn counts_in(backend: &dyn squall_runtime::trident::state::StateBackend) -> BTreeMap<String, i64> {
    let d = dump::read(backend).unwrap();
    d.entries
        .into_iter()
        .map(|(k, rec)| (dump::display_key(&k), rec.val.as_i64().unwrap()))
        .collect()
}

fn store_counts(path: &Path) -> BTreeMap<String, i64> {
    counts_in(&RedbBackend::open_existing(path).unwrap())
}

fn sentences(n: usize) -> Vec<String> {
    const WORDS: [&str; 12] = [
        "apple", "pear", "fig", "kiwi", "lime", "plum", "date", "yuzu", "sloe", "quince", "grape",
        "melon",
    ];
    (0..n)
        .map(|i| {
            (0..(3 + i % 5))
                .map(|j| WORDS[(i * 7 + j * 5 + i / 3) % WORDS.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn master_failed(report: &squall_runtime::local::RunReport) -> u64 {
    report
        .components
        .get("$mastercoord")
        .map(|c| c.failed)
        .unwrap_or(0)
}

#[test]
fn the_stream_api_merges_splits_filters_groups_and_queries_with_exact_results() {
    squall_runtime::trident::drop_memory_store("api-counts");
    let lines = sentences(300);
    let (a, b): (Vec<_>, Vec<_>) = lines
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let batches = |v: Vec<(usize, String)>| -> Vec<Vec<Values>> {
        v.chunks(25)
            .map(|c| c.iter().map(|(_, l)| values![l.as_str()]).collect())
            .collect()
    };
    let (ba, bb) = (batches(a), batches(b));
    let totals: Arc<Mutex<Vec<i64>>> = Arc::default();
    let queried: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let (t2, q2) = (totals.clone(), queried.clone());
    let report = run(
        "  topology.trident.batch.emit.interval.millis: 0\n  topology.max.spout.pending: 3\n",
        move |args| {
            let topo = TridentTopology::new();
            let s1 = topo.new_stream("left", FixedBatchSpout::new(&["line"], ba.clone()));
            let s2 = topo.new_stream("right", FixedBatchSpout::new(&["line"], bb.clone()).clone());
            let words = topo
                .merge(&[&s1, &s2])
                .flat_map(&["line"], split, &["word"])
                .parallelism_hint(2)
                .filter(&["word"], |t: &TridentTuple<'_>| Ok(t.get_str(0)? != "fig"))
                .map(
                    &["word"],
                    |t: &TridentTuple<'_>| Ok(values![t.get_str(0)?, 1]),
                    &["word", "one"],
                );
            let counts = words.group_by(&["word"]).persistent_aggregate(
                StateSpec::memory("api-counts", StateKind::Transactional),
                &[],
                Count,
                &["count"],
            );
            // Per-batch total through a global combiner aggregate.
            let t3 = t2.clone();
            words.aggregate(&["one"], Sum, &["n"]).each(
                &["n"],
                move |t: &TridentTuple<'_>, _out: &mut TridentCollector<'_>| {
                    t3.lock().unwrap().push(t.get_i64(0)?);
                    Ok(())
                },
                &[],
            );
            // Look every "pear" up in the counts.
            let q3 = q2.clone();
            words
                .filter(
                    &["word"],
                    |t: &TridentTuple<'_>| Ok(t.get_str(0)? == "pear"),
                )
                .project(&["word"])
                .group_by(&["word"])
                .state_query(&counts, MapGet, &["count"])
                .each(
                    &["word", "count"],
                    move |t: &TridentTuple<'_>, _o: &mut TridentCollector<'_>| {
                        let c = t.get(1)?.as_i64().unwrap_or(0);
                        q3.lock().unwrap().push((t.get_str(0)?.to_string(), c));
                        Ok(())
                    },
                    &[],
                );
            topo.build(args.id(), args.config())
        },
    );
    assert!(report.completed);
    let mut want = expected_counts(&lines);
    want.remove("fig");
    let store = squall_runtime::trident::memory_store("api-counts");
    assert_eq!(counts_in(&*store), want, "persistent counts");
    let total: i64 = want.values().sum();
    assert_eq!(
        totals.lock().unwrap().iter().sum::<i64>(),
        total,
        "per-batch aggregate totals"
    );
    let q = queried.lock().unwrap();
    assert_eq!(q.len() as i64, want["pear"], "one query result per pear");
    assert!(
        q.iter().all(|(w, c)| w == "pear" && *c <= want["pear"]),
        "{q:?}"
    );
}

/// Lines written to a file, for the file spout.
fn input_file(dir: &Path, lines: &[String]) -> std::path::PathBuf {
    let path = dir.join("input.txt");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn faulty_wordcount(
    dir: &Path,
    mode: SourceMode,
    kind: StateKind,
) -> (
    squall_runtime::local::RunReport,
    BTreeMap<String, i64>,
    BTreeMap<String, i64>,
) {
    let lines = sentences(2000);
    let input = input_file(dir, &lines);
    let store = dir.join("counts.redb");
    let (i2, s2, off) = (input.clone(), store.clone(), dir.join("offsets"));
    let coord = dir.join("coordinator");
    let report = run(
        "  topology.trident.batch.emit.interval.millis: 0\n  topology.max.spout.pending: 3\n",
        move |args| {
            let topo = TridentTopology::new().commit_log(&coord);
            topo.new_stream(
                "lines",
                FileBatchSpout::new(&i2, &off, mode).batch_lines(40),
            )
            .parallelism_hint(2)
            .flat_map(&["line"], FailingSplit::new(0.25), &["word"])
            .group_by(&["word"])
            .persistent_aggregate(
                StateSpec::redb(&s2, kind).with_commit_faults(CommitFaults {
                    before_write: 0.15,
                    after_write: 0.15,
                }),
                &[],
                Count,
                &["count"],
            );
            topo.build(args.id(), args.config())
        },
    );
    (report, store_counts(&store), expected_counts(&lines))
}

#[test]
fn transactional_counts_are_exact_despite_failed_functions_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (report, got, want) = faulty_wordcount(
        dir.path(),
        SourceMode::Transactional,
        StateKind::Transactional,
    );
    assert!(
        master_failed(&report) > 0,
        "failures were injected and replayed"
    );
    assert_eq!(got, want);
}

#[test]
fn opaque_counts_are_exact_despite_failed_functions_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (report, got, want) = faulty_wordcount(dir.path(), SourceMode::Opaque, StateKind::Opaque);
    assert!(
        master_failed(&report) > 0,
        "failures were injected and replayed"
    );
    assert_eq!(got, want);
}

/// An opaque spout whose replays hold more than the first attempt: attempt `a` of a
/// txid reads `step + a * grow` tuples from where the previous txid ended.
#[derive(Clone)]
struct GrowingSpout {
    tuples: Arc<Vec<String>>,
    step: usize,
    grow: usize,
}

struct GrowingCoordinator {
    spout: GrowingSpout,
    ends: BTreeMap<u64, usize>,
}

impl SpoutCoordinator for GrowingCoordinator {
    fn is_ready(&self) -> bool {
        self.ends.values().next_back().copied().unwrap_or(0) < self.spout.tuples.len()
    }
    fn plan(&mut self, ta: TransactionAttempt) -> Result<Value, OpError> {
        let start = self
            .ends
            .range(..ta.txid)
            .next_back()
            .map_or(0, |(_, e)| *e);
        let end = (start + self.spout.step + (ta.attempt as usize & 0xfff) * self.spout.grow)
            .min(self.spout.tuples.len());
        self.ends.split_off(&ta.txid);
        self.ends.insert(ta.txid, end);
        Ok(Value::from(vec![Value::from(start), Value::from(end)]))
    }
    fn is_exhausted(&self) -> bool {
        !self.is_ready()
    }
}

struct GrowingEmitter(Arc<Vec<String>>);

impl SpoutEmitter for GrowingEmitter {
    fn emit_batch(
        &mut self,
        _ta: TransactionAttempt,
        meta: &Value,
        emit: &mut dyn FnMut(Values) -> Result<(), OpError>,
    ) -> Result<(), OpError> {
        let r = meta.as_list().unwrap();
        let (s, e) = (
            r[0].as_i64().unwrap() as usize,
            r[1].as_i64().unwrap() as usize,
        );
        for l in &self.0[s..e] {
            emit(values![l.as_str()])?;
        }
        Ok(())
    }
}

impl BatchSpout for GrowingSpout {
    fn fields(&self) -> Vec<String> {
        vec!["line".into()]
    }
    fn coordinator(
        &self,
        _ctx: &CoordinatorContext<'_>,
    ) -> Result<Box<dyn SpoutCoordinator>, OpError> {
        Ok(Box::new(GrowingCoordinator {
            spout: self.clone(),
            ends: BTreeMap::new(),
        }))
    }
    fn emitter(&self, _ctx: &OpContext<'_>) -> Result<Box<dyn SpoutEmitter>, OpError> {
        Ok(Box::new(GrowingEmitter(self.tuples.clone())))
    }
}

#[test]
fn opaque_state_is_exact_when_replays_change_batch_contents() {
    let dir = tempfile::tempdir().unwrap();
    let lines = sentences(1500);
    let store = dir.path().join("counts.redb");
    let (l2, s2) = (Arc::new(lines.clone()), store.clone());
    let coord = dir.path().join("coordinator");
    let report = run(
        "  topology.trident.batch.emit.interval.millis: 0\n  topology.max.spout.pending: 2\n",
        move |args| {
            let topo = TridentTopology::new().commit_log(&coord);
            topo.new_stream(
                "lines",
                GrowingSpout {
                    tuples: l2.clone(),
                    step: 30,
                    grow: 17,
                },
            )
            .flat_map(&["line"], FailingSplit::new(0.3), &["word"])
            .group_by(&["word"])
            .persistent_aggregate(
                StateSpec::redb(&s2, StateKind::Opaque).with_commit_faults(CommitFaults {
                    before_write: 0.1,
                    after_write: 0.2,
                }),
                &[],
                Count,
                &["count"],
            );
            topo.build(args.id(), args.config())
        },
    );
    assert!(
        master_failed(&report) > 0,
        "failures were injected and replayed"
    );
    assert_eq!(store_counts(&store), expected_counts(&lines));
}

/// Logs `(txid, attempt)` when a task completes a batch.
#[derive(Clone)]
struct FinishLog(Arc<Mutex<Vec<TransactionAttempt>>>);

impl Aggregator for FinishLog {
    type State = Option<TransactionAttempt>;
    fn init(&mut self, batch: TransactionAttempt) -> Self::State {
        Some(batch)
    }
    fn aggregate(
        &mut self,
        _s: &mut Self::State,
        _t: &TridentTuple<'_>,
        _o: &mut TridentCollector<'_>,
    ) -> Result<(), OpError> {
        Ok(())
    }
    fn complete(&mut self, s: Self::State, out: &mut TridentCollector<'_>) -> Result<(), OpError> {
        if let Some(b) = s {
            self.0.lock().unwrap().push(b);
        }
        out.emit(values![1]);
        Ok(())
    }
}

/// Records the txid of every commit.
#[derive(Clone)]
struct CommitLog(Arc<Mutex<Vec<u64>>>);

impl StateUpdater for CommitLog {
    fn update(
        &mut self,
        batch: TransactionAttempt,
        _s: &dyn StateRead,
        _t: &[TridentTuple<'_>],
    ) -> Result<Vec<(Vec<Value>, Value)>, OpError> {
        self.0.lock().unwrap().push(batch.txid);
        Ok(vec![(vec![Value::from("last")], Value::from(batch.txid))])
    }
}

#[test]
fn commits_follow_txid_order_when_batches_finish_out_of_order() {
    squall_runtime::trident::drop_memory_store("order");
    // Batch 2's first attempt fails in the second bolt only once batch 3 has left the
    // spout, so batch 3 finishes there before batch 2's replay does.
    let batches: Vec<Vec<Values>> = (1..=6)
        .map(|b| (0..20).map(|i| values![b, i]).collect())
        .collect();
    let finished: Arc<Mutex<Vec<TransactionAttempt>>> = Arc::default();
    let commits: Arc<Mutex<Vec<u64>>> = Arc::default();
    let third_out = Arc::new(AtomicBool::new(false));
    let failed_once = Arc::new(AtomicBool::new(false));
    let (f2, c2) = (finished.clone(), commits.clone());
    run(
        "  topology.trident.batch.emit.interval.millis: 0\n  topology.max.spout.pending: 4\n",
        move |args| {
            let (flag, once) = (third_out.clone(), failed_once.clone());
            let gate = flag.clone();
            let topo = TridentTopology::new();
            topo.new_stream("nums", FixedBatchSpout::new(&["b", "i"], batches.clone()))
                .each(
                    &["b", "i"],
                    move |t: &TridentTuple<'_>, o: &mut TridentCollector<'_>| {
                        if t.get_i64(0)? == 3 && t.get_i64(1)? == 19 {
                            flag.store(true, Ordering::SeqCst);
                        }
                        o.emit(Values::new());
                        Ok(())
                    },
                    &[],
                )
                .shuffle()
                .each(
                    &["b"],
                    move |t: &TridentTuple<'_>, o: &mut TridentCollector<'_>| {
                        if t.get_i64(0)? == 2 && !once.load(Ordering::SeqCst) {
                            let deadline = Instant::now() + Duration::from_secs(20);
                            while !gate.load(Ordering::SeqCst) {
                                assert!(Instant::now() < deadline, "batch 3 never left the spout");
                                std::thread::yield_now();
                            }
                            once.store(true, Ordering::SeqCst);
                            return Err(OpError::msg(format!("failing batch {} once", o.batch())));
                        }
                        o.emit(Values::new());
                        Ok(())
                    },
                    &[],
                )
                .partition_aggregate(&[], FinishLog(f2.clone()), &["one"])
                .partition_persist(
                    StateSpec::memory("order", StateKind::Transactional),
                    &["one"],
                    CommitLog(c2.clone()),
                );
            topo.build(args.id(), args.config())
        },
    );
    let commits = commits.lock().unwrap().clone();
    assert_eq!(
        commits,
        vec![1, 2, 3, 4, 5, 6],
        "each txid committed once, in order"
    );
    let finished = finished.lock().unwrap().clone();
    let pos = |txid: u64, replay: bool| {
        finished
            .iter()
            .position(|b| b.txid == txid && (b.attempt != 0) == replay)
            .unwrap_or_else(|| {
                panic!("batch {txid} (replay: {replay}) never finished: {finished:?}")
            })
    };
    assert!(
        pos(3, false) < pos(2, true),
        "batch 3 finished before batch 2's replay: {finished:?}"
    );
}

#[test]
fn the_trident_wordcount_example_counts_exactly_and_dumps_plain_json() {
    let dir = tempfile::tempdir().unwrap();
    let lines = sentences(3000);
    let input = input_file(dir.path(), &lines);
    let store = dir.path().join("counts.redb");
    let yaml = dir.path().join("tw.yaml");
    std::fs::write(
        &yaml,
        format!(
            "name: tw\ntopologySource:\n  className: TridentWordCount\n  constructorArgs: [{:?}, {:?}, 0.2, opaque]\nconfig:\n  topology.trident.batch.emit.interval.millis: 0\n  squall.trident.file.batch.lines: 100\n",
            input.display().to_string(),
            store.display().to_string()
        ),
    )
    .unwrap();
    let run = common::squall(&["local", yaml.to_str().unwrap()], TIMEOUT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let dump = common::squall(
        &[
            "state",
            "dump",
            "--store",
            store.to_str().unwrap(),
            "--json",
        ],
        TIMEOUT,
    );
    assert_eq!(dump.code, Some(0), "{}", dump.stderr);
    let got: BTreeMap<String, i64> = serde_json::from_str(&dump.stdout).unwrap();
    assert_eq!(got, expected_counts(&lines));
    // Running it again reads nothing new: the coordinator resumes after its last commit.
    let again = common::squall(&["local", yaml.to_str().unwrap()], TIMEOUT);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(store_counts(&store), expected_counts(&lines));
}

/// A redb state outlives the run, but without a commit log the master would count txids
/// from 1 again at the next start, behind the state's: refused at open, naming both.
#[test]
fn a_durable_state_without_a_durable_commit_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("counts.redb");
    let s2 = store.clone();
    let mut registry = Registry::new();
    registry.topology("T", move |args| {
        let topo = TridentTopology::new();
        topo.new_stream(
            "words",
            FixedBatchSpout::new(&["word"], vec![vec![values!["a"], values!["b"]]]),
        )
        .group_by(&["word"])
        .persistent_aggregate(
            StateSpec::redb(&s2, StateKind::Transactional),
            &[],
            Count,
            &["count"],
        );
        topo.build(args.id(), args.config())
    });
    let yaml = "name: t\ntopologySource:\n  className: T\n";
    let err = squall_runtime::testing::complete_topology(&registry, yaml, TIMEOUT)
        .map(|r| format!("{:?}", r.components))
        .expect_err("a redb state without a commit log must be refused");
    let msg = err.to_string();
    assert!(
        msg.contains(&store.display().to_string()) && msg.contains("commit record"),
        "{msg}"
    );
}

/// Write errors at the store boundary only (no other failure): every injected error
/// fails the batch's commit, the batch replays, and nothing is committed twice — the
/// counts are exact and the last batch the redb state holds is the last commit the
/// coordinator recorded. Errors after the write are the hard case: the batch is stored,
/// its commit reported failed, and the replay must be recognised by its txid.
#[test]
fn redb_state_is_exactly_once_under_injected_store_write_errors() {
    for kind in [StateKind::Transactional, StateKind::Opaque] {
        let dir = tempfile::tempdir().unwrap();
        let lines = sentences(600);
        let input = input_file(dir.path(), &lines);
        let store = dir.path().join("counts.redb");
        let coord = dir.path().join("coordinator");
        let (i2, s2, off, c2) = (
            input.clone(),
            store.clone(),
            dir.path().join("offsets"),
            coord.clone(),
        );
        let report = run(
            "  topology.trident.batch.emit.interval.millis: 0\n  topology.max.spout.pending: 3\n",
            move |args| {
                let topo = TridentTopology::new().commit_log(&c2);
                topo.new_stream(
                    "lines",
                    FileBatchSpout::new(&i2, &off, SourceMode::Transactional).batch_lines(20),
                )
                .flat_map(&["line"], split, &["word"])
                .group_by(&["word"])
                .persistent_aggregate(
                    StateSpec::redb(&s2, kind)
                        .with_commit_faults(CommitFaults {
                            before_write: 0.2,
                            after_write: 0.3,
                        })
                        .with_fault_seed(11),
                    &[],
                    Count,
                    &["count"],
                );
                topo.build(args.id(), args.config())
            },
        );
        let store_errors: u64 = report
            .components
            .iter()
            .filter(|(id, _)| id.as_str() != "$mastercoord")
            .map(|(_, c)| c.errors)
            .sum();
        assert!(
            store_errors > 0 && master_failed(&report) > 0,
            "{kind}: write errors were injected ({store_errors}) and their batches replayed"
        );
        assert_eq!(store_counts(&store), expected_counts(&lines), "{kind}");
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&coord).unwrap()).unwrap();
        use squall_runtime::trident::state::StateBackend;
        let applied = RedbBackend::open_existing(&store)
            .unwrap()
            .applied_txid()
            .unwrap();
        assert_eq!(
            applied,
            record["committed"].as_u64(),
            "{kind}: the state holds exactly the batches the coordinator committed"
        );
    }
}

/// The word count example's store fault hook (what a chaos test sets in its YAML):
/// state writes fail at the store boundary, batches replay, counts stay exact.
#[test]
fn the_trident_wordcount_store_fault_hook_fails_writes_and_stays_exact() {
    let dir = tempfile::tempdir().unwrap();
    let lines = sentences(800);
    let input = input_file(dir.path(), &lines);
    let store = dir.path().join("counts.redb");
    let mut registry = Registry::new();
    registry.topology("TridentWordCount", squall_topologies::trident_wordcount);
    let yaml = format!(
        "name: tw\ntopologySource:\n  className: TridentWordCount\n  constructorArgs: [{:?}, {:?}]\nconfig:\n  topology.trident.batch.emit.interval.millis: 0\n  squall.trident.file.batch.lines: 40\n  {}: 0.4\n  {}: 7\n",
        input.display().to_string(),
        store.display().to_string(),
        squall_topologies::STORE_FAIL_FRACTION,
        squall_topologies::STORE_FAIL_SEED,
    );
    let report = squall_runtime::testing::complete_topology(&registry, &yaml, TIMEOUT)
        .unwrap_or_else(|e| panic!("trident run failed: {e}"));
    let errors: u64 = report.components.values().map(|c| c.errors).sum();
    assert!(
        errors > 0 && master_failed(&report) > 0,
        "store writes failed ({errors}) and their batches replayed"
    );
    assert_eq!(store_counts(&store), expected_counts(&lines));
    let bad = format!(
        "name: tw\ntopologySource:\n  className: TridentWordCount\n  constructorArgs: [{:?}, {:?}]\nconfig:\n  {}: 1.5\n",
        input.display().to_string(),
        store.display().to_string(),
        squall_topologies::STORE_FAIL_FRACTION,
    );
    let e = squall_runtime::testing::complete_topology(&registry, &bad, TIMEOUT)
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("store.fail.fraction"), "{e}");
}
