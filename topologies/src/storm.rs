//! Built-ins standing in for Storm's well-known test and Flux classes, so Flux files that
//! use them run unchanged, and a spout reading a file of the topology's resources
//! directory.

use std::path::PathBuf;

use compact_str::CompactString;
use rustc_hash::FxHashMap;
use squall_runtime::config::TOPOLOGY_RESOURCES_DIR;
use squall_runtime::{
    BasicBolt, BasicCollector, ComponentArgs, ComponentError, FactoryError, MessageId,
    OutputDeclarer, Spout, SpoutCollector, TopologyContext, Tuple, Value, Values, async_trait,
};

use crate::LineFileSpout;

/// Storm's `org.apache.storm.flux.wrappers.bolts.LogInfoBolt`: logs every tuple at info
/// level (`SQUALL_LOG=info` shows them) and emits nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogInfoBolt;

impl BasicBolt for LogInfoBolt {
    fn declare_outputs(&self, _out: &mut OutputDeclarer) {}

    fn execute(
        &mut self,
        input: &Tuple,
        _out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        tracing::info!(target: "LogInfoBolt", "{input}");
        Ok(())
    }
}

/// Logs every tuple at debug level (target `LogDebugBolt`) with its number in this
/// task (`seq`), and emits nothing: shows a log filter changing at run time (`squall
/// set-log-level NAME debug`).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogDebugBolt {
    seq: u64,
}

impl BasicBolt for LogDebugBolt {
    fn declare_outputs(&self, _out: &mut OutputDeclarer) {}

    fn execute(
        &mut self,
        input: &Tuple,
        _out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.seq += 1;
        tracing::debug!(target: "LogDebugBolt", seq = self.seq, "log-debug-bolt tuple {input}");
        Ok(())
    }
}

/// Storm's `org.apache.storm.testing.TestWordCounter`: counts the values of field 0 (as
/// text) and emits `word`, `count` after each update.
#[derive(Debug, Default)]
pub struct TestWordCounter {
    counts: FxHashMap<CompactString, i64>,
}

impl BasicBolt for TestWordCounter {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["word", "count"]);
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        let word = match input.get(0)? {
            Value::Str(s) => s.clone(),
            other => CompactString::new(other.to_string()),
        };
        let count = self.counts.entry(word.clone()).or_insert(0);
        *count += 1;
        let mut values = Values::with_capacity(2);
        values.push(Value::Str(word));
        values.push(*count);
        out.emit(values)?;
        Ok(())
    }
}

/// Emits each line of a file of the topology's resources directory (field `line`), like
/// [`LineFileSpout`]: `constructorArgs: [relative/path.txt]`, resolved against
/// `topology.resources.dir` when the spout opens (the directory `squall local
/// --resources` names, or the one `squall submit --resources` shipped to the worker).
#[derive(Debug)]
pub struct ResourceLineSpout {
    relative: PathBuf,
    inner: Option<LineFileSpout>,
}

impl ResourceLineSpout {
    /// From `constructorArgs: [path]`, a relative path.
    pub fn from_args(args: &ComponentArgs<'_>) -> Result<ResourceLineSpout, FactoryError> {
        let relative = PathBuf::from(args.str(0, "file path inside the resources directory")?);
        if relative.is_absolute() {
            return Err(FactoryError(format!(
                "constructorArgs[0] must be relative to the resources directory, got {}",
                relative.display()
            )));
        }
        Ok(ResourceLineSpout {
            relative,
            inner: None,
        })
    }
}

#[async_trait]
impl Spout for ResourceLineSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["line"]);
    }

    async fn open(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        let dir = ctx
            .config()
            .get_str(TOPOLOGY_RESOURCES_DIR)
            .ok_or_else(|| {
                ComponentError::msg(format!(
                    "{TOPOLOGY_RESOURCES_DIR} is not set: run with --resources DIR"
                ))
            })?;
        let mut inner = LineFileSpout::new(PathBuf::from(dir).join(&self.relative));
        inner.open(ctx).await?;
        self.inner = Some(inner);
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        match self.inner.as_mut() {
            Some(inner) => inner.next_tuple(out),
            None => Ok(()),
        }
    }

    fn is_exhausted(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.is_exhausted())
    }

    fn ack(&mut self, id: MessageId) {
        if let Some(inner) = self.inner.as_mut() {
            inner.ack(id);
        }
    }

    fn fail(&mut self, id: MessageId) {
        if let Some(inner) = self.inner.as_mut() {
            inner.fail(id);
        }
    }
}
