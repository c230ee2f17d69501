//! `KafkaTridentWordCount`: Kafka → Trident word count, exactly once. Each record's
//! value is a line; its words are counted into an opaque redb state fed by
//! [`KafkaTridentSpoutOpaque`](super::KafkaTridentSpoutOpaque) (stream `lines`).
//!
//! constructorArgs: `[spout_config, store_path, fail_fraction]` — the spout's map (as
//! [`KafkaTridentSpoutConfig::from_yaml`](super::KafkaTridentSpoutConfig::from_yaml)
//! reads it; the translator is forced to `VALUE`), the redb store, and the fraction of
//! batch attempts the split function fails (default 0; failed batches are replayed).
//! In local mode the partition records and the commit log live next to the store
//! (`STORE.meta/`, `STORE.coordinator`); on a cluster at nimbus. Config
//! `squall.trident.wordcount.parallelism` (default 1) sets the spout tasks.

use squall_runtime::trident::{Count, StateKind, StateSpec, TridentTopology};
use squall_runtime::{BuiltTopology, ComponentArgs, FactoryError};
use squall_topologies::{FailingSplit, PARALLELISM as TRIDENT_PARALLELISM};

use super::KafkaTridentSpoutOpaque;
use super::config::{KafkaTridentSpoutConfig, TridentTranslator};

/// The builder registered as `KafkaTridentWordCount`.
pub fn kafka_trident_wordcount(args: &ComponentArgs<'_>) -> Result<BuiltTopology, FactoryError> {
    let map = args.args().first().ok_or_else(|| {
        FactoryError(
            "KafkaTridentWordCount needs constructorArgs[0]: the spout's map (bootstrap.servers, topics, …)"
                .into(),
        )
    })?;
    let mut config = KafkaTridentSpoutConfig::from_yaml(map)
        .map_err(|e| FactoryError(format!("constructorArgs[0]: {e}")))?;
    config.translator = TridentTranslator::Value;
    let store = args.str(1, "state store path")?;
    let fail = args.f64_or(2, "fail fraction", 0.0)?;
    if !(0.0..1.0).contains(&fail) {
        return Err(FactoryError(format!(
            "constructorArgs[2] (fail fraction) must be in [0, 1), got {fail}"
        )));
    }
    let parallelism = args
        .config()
        .get_u64(TRIDENT_PARALLELISM)
        .unwrap_or(1)
        .clamp(1, 1024) as u32;
    let spout = KafkaTridentSpoutOpaque::new(config)
        .map_err(|e| FactoryError(format!("constructorArgs[0]: {e}")))?
        .meta_dir(format!("{store}.meta"));
    let topology = TridentTopology::new().commit_log(format!("{store}.coordinator"));
    topology
        .new_stream("lines", spout)
        .parallelism_hint(parallelism)
        .flat_map(&["value"], FailingSplit::new(fail), &["word"])
        .group_by(&["word"])
        .persistent_aggregate(
            StateSpec::redb(store, StateKind::Opaque),
            &[],
            Count,
            &["count"],
        );
    topology.build(args.id(), args.config())
}
