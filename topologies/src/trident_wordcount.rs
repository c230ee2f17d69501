//! `TridentWordCount`: the Trident word count — lines of a file, split into words,
//! grouped by word, counted into a durable (redb) store exactly once.
//!
//! constructorArgs: `[input_path, store_path, fail_fraction, mode]`. `fail_fraction`
//! (default 0) makes the split function fail that fraction of batch attempts at random,
//! to show replays; `mode` is `transactional` (default) or `opaque` (spout and state).
//! The coordination metadata that makes replays after a crash exact — each uncommitted
//! txid's byte range and the last committed txid — lives at nimbus on a cluster (so the
//! coordinator can move between supervisors), and next to the store in local mode
//! (`STORE.offsets`, `STORE.coordinator`). The redb store itself is host-local: on a
//! cluster its path must be reachable wherever the state's task runs. Config `squall.trident.file.batch.lines` (default 100000) caps a batch;
//! `squall.trident.wordcount.parallelism` (default 1) sets the tasks reading and
//! splitting (each reads its share of every batch).
//!
//! Fault hook (for chaos tests): `squall.trident.wordcount.store.fail.fraction` (default
//! 0) makes that fraction of the state's writes fail — half of them before the write,
//! half after it — and `squall.trident.wordcount.store.fail.seed` seeds the draws.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use squall_runtime::trident::{
    CommitFaults, Count, OpError, SourceMode, StateKind, StateSpec, TridentCollector,
    TridentTopology, TridentTuple,
};
use squall_runtime::{BuiltTopology, ComponentArgs, FactoryError, Value, Values};

/// Config key: most lines in one batch of the word count's file spout.
pub const BATCH_LINES: &str = "squall.trident.file.batch.lines";
/// Config key: tasks of the word count's spout bolt (reading and splitting).
pub const PARALLELISM: &str = "squall.trident.wordcount.parallelism";
/// Config key: fraction in [0, 1) of the state's writes that fail (a write error at the
/// store boundary; half before the write, half after it). Default 0.
pub const STORE_FAIL_FRACTION: &str = "squall.trident.wordcount.store.fail.fraction";
/// Config key: seed of the injected store write errors (default: drawn at random).
pub const STORE_FAIL_SEED: &str = "squall.trident.wordcount.store.fail.seed";

/// Splits `line` into words; fails the batch attempts a `fail_fraction` of attempts
/// picks (the same attempts in every task).
#[derive(Debug, Clone)]
pub struct FailingSplit {
    fail_fraction: f64,
}

impl FailingSplit {
    /// A split that fails `fail_fraction` of batch attempts.
    pub fn new(fail_fraction: f64) -> Self {
        FailingSplit { fail_fraction }
    }

    fn fails(&self, out: &TridentCollector<'_>) -> bool {
        if self.fail_fraction <= 0.0 {
            return false;
        }
        let mut h = rustc_hash::FxHasher::default();
        out.batch().hash(&mut h);
        let x = h.finish().wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11;
        (x as f64 / (1u64 << 53) as f64) < self.fail_fraction
    }
}

impl squall_runtime::trident::Function for FailingSplit {
    fn execute(
        &mut self,
        input: &TridentTuple<'_>,
        out: &mut TridentCollector<'_>,
    ) -> Result<(), OpError> {
        if self.fails(out) {
            return Err(OpError(format!(
                "injected failure of batch {} (fail_fraction {})",
                out.batch(),
                self.fail_fraction
            )));
        }
        for w in input.get_str(0)?.split_whitespace() {
            out.emit(Values::from(Value::from(w)));
        }
        Ok(())
    }
}

fn with_suffix(path: &str, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{path}{suffix}"))
}

/// The builder registered as `TridentWordCount`.
pub fn trident_wordcount(args: &ComponentArgs<'_>) -> Result<BuiltTopology, FactoryError> {
    let input = args.str(0, "input file path")?;
    let store = args.str(1, "state store path")?;
    let fail = args.f64_or(2, "fail fraction", 0.0)?;
    if !(0.0..1.0).contains(&fail) {
        return Err(FactoryError(format!(
            "constructorArgs[2] (fail fraction) must be in [0, 1), got {fail}"
        )));
    }
    let mode = match args.args().get(3).map(|v| v.as_str()) {
        None | Some(Some("transactional")) => SourceMode::Transactional,
        Some(Some("opaque")) => SourceMode::Opaque,
        Some(other) => {
            return Err(FactoryError(format!(
                "constructorArgs[3] (mode) must be \"transactional\" or \"opaque\", got {}",
                other.unwrap_or("a non-string")
            )));
        }
    };
    let kind = match mode {
        SourceMode::Transactional => StateKind::Transactional,
        SourceMode::Opaque => StateKind::Opaque,
    };
    let lines = args.config().get_u64(BATCH_LINES).unwrap_or(100_000) as usize;
    let parallelism = args
        .config()
        .get_u64(PARALLELISM)
        .unwrap_or(1)
        .clamp(1, 1024) as u32;
    let spout =
        squall_runtime::trident::FileBatchSpout::new(input, with_suffix(store, ".offsets"), mode)
            .batch_lines(lines);
    let store_fail = args.config().get_f64(STORE_FAIL_FRACTION).unwrap_or(0.0);
    if !(0.0..1.0).contains(&store_fail) {
        return Err(FactoryError(format!(
            "{STORE_FAIL_FRACTION} must be in [0, 1), got {store_fail}"
        )));
    }
    let mut state = StateSpec::redb(store, kind);
    if store_fail > 0.0 {
        state = state.with_commit_faults(CommitFaults {
            before_write: store_fail / 2.0,
            after_write: store_fail / 2.0,
        });
        if let Some(seed) = args.config().get_u64(STORE_FAIL_SEED) {
            state = state.with_fault_seed(seed);
        }
    }
    let topology = TridentTopology::new().commit_log(with_suffix(store, ".coordinator"));
    topology
        .new_stream("lines", spout)
        .parallelism_hint(parallelism)
        .flat_map(&["line"], FailingSplit::new(fail), &["word"])
        .group_by(&["word"])
        .persistent_aggregate(state, &[], Count, &["count"]);
    topology.build(args.id(), args.config())
}
