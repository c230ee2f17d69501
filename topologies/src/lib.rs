//! # squall-topologies
//!
//! The built-in components of the `squall` binary — word count, exclamation, file
//! input/output and the storm-perf benchmark components — and [`register`], which adds
//! them to a [`Registry`]. The example topology files live in this crate's directory
//! (`topologies/*.yaml`).

mod bench;
mod faults;
mod files;
mod sources;
mod stateful;
mod storm;
mod trident_wordcount;
mod windows;
mod words;

pub use bench::{ConstSpout, IdBolt, NullBolt};
pub use faults::{ErrorBolt, FlakyBolt, MAX_ERROR_TEXT, MAX_HOG_MB, MemoryHogBolt, SlowBolt};
pub use files::{FileSinkBolt, LineFileSpout};
pub use sources::exclamation_topology;
pub use stateful::StatefulWordCountBolt;
pub use storm::{LogDebugBolt, LogInfoBolt, ResourceLineSpout, TestWordCounter};
pub use trident_wordcount::{
    BATCH_LINES, FailingSplit, PARALLELISM, STORE_FAIL_FRACTION, STORE_FAIL_SEED, trident_wordcount,
};
pub use windows::{SlidingWindowSumBolt, TestPrintBolt, TestWindowBolt, TumblingWindowAvgBolt};
pub use words::{
    ExclamationBolt, RandomSentenceSpout, SplitSentenceBolt, WordCountBolt, WordSpout,
};

use squall_runtime::{Registry, Value};

/// Register every built-in component and topology builder under its name.
pub fn register(registry: &mut Registry) {
    // Multi-lang shell components: ShellBolt, ShellSpout and Storm's names for them.
    squall_runtime::multilang::register(registry);
    registry
        .spout("RandomSentenceSpout", |_| Ok(RandomSentenceSpout::new()))
        .spout("WordSpout", |_| Ok(WordSpout::new()))
        .spout("LineFileSpout", |a| {
            Ok(LineFileSpout::new(a.str(0, "input file path")?))
        })
        .spout("ConstSpout", |a| {
            let (count, rate) = (
                a.u64_or(0, "tuple count (0 = unbounded)", 0)?,
                a.u64_or(1, "tuples per second (0 = as fast as possible)", 0)?,
            );
            Ok(match a.len() {
                ..=2 => ConstSpout::new(count, rate),
                _ => {
                    ConstSpout::with_payload(Value::from(a.str(2, "payload string")?), count, rate)
                }
            })
        })
        .basic_bolt("SplitSentenceBolt", |_| Ok(SplitSentenceBolt))
        .basic_bolt("WordCountBolt", |_| Ok(WordCountBolt::default()))
        .basic_bolt("ExclamationBolt", |_| Ok(ExclamationBolt))
        .bolt("FileSinkBolt", |a| {
            Ok(FileSinkBolt::new(a.str(0, "output file path")?))
        })
        .basic_bolt("IdBolt", |_| Ok(IdBolt))
        .bolt("NullBolt", |_| Ok(NullBolt))
        .bolt("FlakyBolt", FlakyBolt::from_args)
        .basic_bolt("ErrorBolt", ErrorBolt::from_args)
        .bolt("SlowBolt", SlowBolt::from_args)
        .bolt("MemoryHogBolt", MemoryHogBolt::from_args)
        .topology("ExclamationTopology", exclamation_topology)
        .topology("TridentWordCount", trident_wordcount);
    registry.stateful_bolt("StatefulWordCountBolt", |_| Ok(StatefulWordCountBolt));
    // Windowed bolts: the window comes from the component's config (or Flux's withWindow).
    registry
        .spout("ConstNumberSpout", |a| {
            Ok(ConstSpout::number(
                a.u64_or(0, "tuple count (0 = unbounded)", 0)?,
                a.u64_or(1, "tuples per second (0 = as fast as possible)", 0)?,
            ))
        })
        .spout("SequenceSpout", |a| {
            Ok(ConstSpout::sequence(
                a.u64_or(0, "tuple count (0 = unbounded)", 0)?,
                a.u64_or(1, "tuples per second (0 = as fast as possible)", 0)?,
            ))
        })
        .windowed_bolt("SlidingWindowSumBolt", SlidingWindowSumBolt::from_args)
        .windowed_bolt("TumblingWindowAvgBolt", TumblingWindowAvgBolt::from_args)
        .windowed_bolt("TestWindowBolt", |_| Ok(TestWindowBolt))
        .basic_bolt("TestPrintBolt", |_| Ok(TestPrintBolt))
        .alias(
            "org.apache.storm.flux.examples.TestWindowBolt",
            "TestWindowBolt",
        )
        .alias(
            "org.apache.storm.flux.examples.TestPrintBolt",
            "TestPrintBolt",
        )
        .alias(
            "org.apache.storm.starter.bolt.SlidingWindowSumBolt",
            "SlidingWindowSumBolt",
        );
    // Storm's well-known classes, so Flux files using them run unchanged.
    registry
        .spout("ResourceLineSpout", ResourceLineSpout::from_args)
        .basic_bolt("LogInfoBolt", |_| Ok(LogInfoBolt))
        .basic_bolt("LogDebugBolt", |_| Ok(LogDebugBolt::default()))
        .basic_bolt("TestWordCounter", |_| Ok(TestWordCounter::default()))
        .alias("org.apache.storm.testing.TestWordSpout", "WordSpout")
        .alias(
            "org.apache.storm.testing.TestWordCounter",
            "TestWordCounter",
        )
        .alias(
            "org.apache.storm.flux.wrappers.bolts.LogInfoBolt",
            "LogInfoBolt",
        )
        .alias(
            "org.apache.storm.flux.examples.StatefulWordCounter",
            "StatefulWordCountBolt",
        );
}
