//! Trident spouts: a batch source split in two halves, as in Storm. The coordinator
//! half runs inside the master batch coordinator and decides what each batch holds
//! (its metadata, recorded durably where replays need it); the emitter half runs in the
//! spout's tasks and emits the tuples the metadata names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::coordinator::TransactionAttempt;
use super::meta::{MetaError, MetaKey, MetaSlot, MetaStore};
use super::ops::{OpContext, OpError};
use super::source::{FileBatchSource, SourceMode, read_part};
use crate::{Value, Values};

/// A Trident spout: the factory of its two halves.
pub trait BatchSpout: Send + Sync + 'static {
    /// The fields of the tuples it emits.
    fn fields(&self) -> Vec<String>;
    /// The coordinator half (one, in the master coordinator's task). Metadata it must
    /// find again after a restart (what each txid holds) belongs in
    /// [`CoordinatorContext::meta_slot`] when there is one.
    fn coordinator(
        &self,
        ctx: &CoordinatorContext<'_>,
    ) -> Result<Box<dyn SpoutCoordinator>, OpError>;
    /// The emitter half (one per spout task).
    fn emitter(&self, ctx: &OpContext<'_>) -> Result<Box<dyn SpoutEmitter>, OpError>;
    /// The emitter half made with the spout's whole context (its stream name, the
    /// topology's metadata store and id), for emitters that record metadata of their
    /// own (Storm's partitioned spouts keep each partition's batch metadata). The
    /// default calls [`emitter`](BatchSpout::emitter).
    fn emitter_in(&self, ctx: &EmitterContext<'_>) -> Result<Box<dyn SpoutEmitter>, OpError> {
        self.emitter(ctx.op())
    }
}

/// What a spout's emitter half is made with: the task's [`OpContext`], the spout's
/// stream name, the topology's id and its metadata store.
#[derive(Debug, Clone, Copy)]
pub struct EmitterContext<'a> {
    op: OpContext<'a>,
    spout: &'a str,
    topology_id: &'a str,
    meta: Option<&'a Arc<dyn MetaStore>>,
}

impl<'a> EmitterContext<'a> {
    /// The context of a task of spout (stream) `spout` in topology `topology_id`, with
    /// the topology's metadata store (`None` in local mode).
    pub fn new(
        op: OpContext<'a>,
        spout: &'a str,
        topology_id: &'a str,
        meta: Option<&'a Arc<dyn MetaStore>>,
    ) -> EmitterContext<'a> {
        EmitterContext {
            op,
            spout,
            topology_id,
            meta,
        }
    }

    /// The task: component, index, number of tasks.
    pub fn op(&self) -> &OpContext<'a> {
        &self.op
    }

    /// The spout's stream name (which keys its metadata).
    pub fn spout_name(&self) -> &str {
        self.spout
    }

    /// The topology's id (Storm's `getStormId`): the same for every worker of one
    /// deployment, new for each submission.
    pub fn topology_id(&self) -> &str {
        self.topology_id
    }

    /// The topology's metadata store: nimbus in a cluster worker, `None` in local mode.
    pub fn meta_store(&self) -> Option<&Arc<dyn MetaStore>> {
        self.meta
    }
}

/// What a spout's coordinator half is made with: the spout's stream name and the
/// topology's metadata store.
#[derive(Debug, Clone, Copy)]
pub struct CoordinatorContext<'a> {
    spout: &'a str,
    meta: Option<&'a Arc<dyn MetaStore>>,
    topology_id: &'a str,
}

impl<'a> CoordinatorContext<'a> {
    /// The context of spout (stream) `spout` with the topology's metadata store (`None`
    /// in local mode).
    pub fn new(spout: &'a str, meta: Option<&'a Arc<dyn MetaStore>>) -> CoordinatorContext<'a> {
        CoordinatorContext {
            spout,
            meta,
            topology_id: "",
        }
    }

    /// The same context in topology `topology_id` (Storm's `getStormId`).
    pub fn with_topology_id(mut self, topology_id: &'a str) -> CoordinatorContext<'a> {
        self.topology_id = topology_id;
        self
    }

    /// The topology's id (empty when the caller did not give it).
    pub fn topology_id(&self) -> &str {
        self.topology_id
    }

    /// The spout's stream name.
    pub fn spout_name(&self) -> &str {
        self.spout
    }

    /// The topology's metadata store: nimbus in a cluster worker, `None` in local mode.
    pub fn meta_store(&self) -> Option<&Arc<dyn MetaStore>> {
        self.meta
    }

    /// This spout's record `leaf` (key `spouts/<name>/<leaf>`) in the metadata store, or
    /// `None` in local mode.
    pub fn meta_slot(&self, leaf: &str) -> Result<Option<MetaSlot>, MetaError> {
        self.meta
            .map(|store| {
                Ok(MetaSlot::new(
                    store.clone(),
                    MetaKey::spout(self.spout, leaf)?,
                ))
            })
            .transpose()
    }
}

/// Decides batch contents; runs in the master coordinator.
pub trait SpoutCoordinator: Send {
    /// Whether a new batch would have data (replays never ask).
    fn is_ready(&self) -> bool {
        true
    }
    /// The metadata of batch `ta` (called for every attempt): what the emitters read.
    fn plan(&mut self, ta: TransactionAttempt) -> Result<Value, OpError>;
    /// Batch `txid` committed.
    fn success(&mut self, _txid: u64) {}
    /// Whether no batch will ever have data again (ends a local run).
    fn is_exhausted(&self) -> bool {
        false
    }
}

/// Emits a batch's tuples; runs in each spout task.
pub trait SpoutEmitter: Send {
    /// Emit this task's share of batch `ta` described by `meta`.
    fn emit_batch(
        &mut self,
        ta: TransactionAttempt,
        meta: &Value,
        emit: &mut dyn FnMut(Values) -> Result<(), OpError>,
    ) -> Result<(), OpError>;
}

/// A replayable spout over the lines of a text file (field `line`): transactional
/// (a txid always has the same lines) or opaque (a replay re-reads from where the
/// previous txid ended). The byte range of every uncommitted txid is recorded before
/// its batch is emitted — at nimbus in a cluster (key `spouts/<stream>/offsets`), in
/// the `offsets` file in local mode — so a replay after a crash, or on another
/// supervisor, reads the same lines. Several tasks split each batch's range.
#[derive(Debug, Clone)]
pub struct FileBatchSpout {
    input: PathBuf,
    offsets: PathBuf,
    mode: SourceMode,
    batch_lines: usize,
    follow: bool,
}

impl FileBatchSpout {
    /// Lines of `input`, batch ranges recorded in `offsets` (a file; used in local
    /// mode, a cluster keeps them at nimbus).
    pub fn new(input: impl AsRef<Path>, offsets: impl AsRef<Path>, mode: SourceMode) -> Self {
        FileBatchSpout {
            input: input.as_ref().to_path_buf(),
            offsets: offsets.as_ref().to_path_buf(),
            mode,
            batch_lines: 100_000,
            follow: false,
        }
    }

    /// At most this many lines per batch (default 100 000).
    pub fn batch_lines(mut self, n: usize) -> Self {
        self.batch_lines = n.max(1);
        self
    }

    /// Keep waiting for lines appended to the file instead of ending a local run at
    /// the end of the file.
    pub fn follow(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }
}

fn source_err(e: impl std::fmt::Display) -> OpError {
    OpError(e.to_string())
}

struct FileCoordinator {
    source: FileBatchSource,
    follow: bool,
    warned: std::sync::atomic::AtomicBool,
}

impl SpoutCoordinator for FileCoordinator {
    fn is_ready(&self) -> bool {
        match self.source.has_more() {
            Ok(more) => {
                self.warned
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                more
            }
            Err(e) => {
                if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(error = %e, "trident file spout cannot read its input");
                }
                false
            }
        }
    }

    fn plan(&mut self, ta: TransactionAttempt) -> Result<Value, OpError> {
        let (start, end) = self.source.plan(ta.txid).map_err(source_err)?;
        Ok(Value::from(vec![Value::from(start), Value::from(end)]))
    }

    fn success(&mut self, txid: u64) {
        self.source.committed(txid);
    }

    fn is_exhausted(&self) -> bool {
        !self.follow && !self.is_ready()
    }
}

struct FileEmitter {
    input: PathBuf,
    part: usize,
    parts: usize,
}

impl SpoutEmitter for FileEmitter {
    fn emit_batch(
        &mut self,
        ta: TransactionAttempt,
        meta: &Value,
        emit: &mut dyn FnMut(Values) -> Result<(), OpError>,
    ) -> Result<(), OpError> {
        let range = meta.as_list().and_then(|l| match l {
            [s, e] => Some((s.as_i64()? as u64, e.as_i64()? as u64)),
            _ => None,
        });
        let Some((start, end)) = range else {
            return Err(OpError(format!(
                "batch {ta}: file spout metadata must be [start, end], got {meta}"
            )));
        };
        let mut result = Ok(());
        read_part(&self.input, start, end, self.part, self.parts, |line| {
            if result.is_ok() {
                result = emit(Values::from(Value::from(line)));
            }
        })
        .map_err(source_err)?;
        result
    }
}

impl BatchSpout for FileBatchSpout {
    fn fields(&self) -> Vec<String> {
        vec!["line".to_string()]
    }

    fn coordinator(
        &self,
        ctx: &CoordinatorContext<'_>,
    ) -> Result<Box<dyn SpoutCoordinator>, OpError> {
        std::fs::metadata(&self.input)
            .map_err(|e| OpError(format!("input file {}: {e}", self.input.display())))?;
        let slot = match ctx.meta_slot("offsets").map_err(source_err)? {
            Some(slot) => slot,
            None => MetaSlot::file(&self.offsets).map_err(source_err)?,
        };
        let source = FileBatchSource::open_in(&self.input, slot, self.mode, self.batch_lines)
            .map_err(source_err)?;
        Ok(Box::new(FileCoordinator {
            source,
            follow: self.follow,
            warned: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    fn emitter(&self, ctx: &OpContext<'_>) -> Result<Box<dyn SpoutEmitter>, OpError> {
        Ok(Box::new(FileEmitter {
            input: self.input.clone(),
            part: ctx.task_index,
            parts: ctx.num_tasks,
        }))
    }
}

/// A spout over fixed in-memory batches (for tests and examples): batch `txid` holds
/// `batches[txid - 1]`, the same on every attempt; exhausted after the last one.
#[derive(Debug, Clone)]
pub struct FixedBatchSpout {
    fields: Vec<String>,
    batches: Arc<Vec<Vec<Values>>>,
}

impl FixedBatchSpout {
    /// Batches of tuples with these fields.
    pub fn new(fields: &[&str], batches: Vec<Vec<Values>>) -> Self {
        FixedBatchSpout {
            fields: fields.iter().map(|f| f.to_string()).collect(),
            batches: Arc::new(batches),
        }
    }
}

struct FixedCoordinator {
    count: u64,
    planned: u64,
}

impl SpoutCoordinator for FixedCoordinator {
    fn is_ready(&self) -> bool {
        self.planned < self.count
    }
    fn plan(&mut self, ta: TransactionAttempt) -> Result<Value, OpError> {
        self.planned = self.planned.max(ta.txid);
        Ok(Value::from(ta.txid))
    }
    fn is_exhausted(&self) -> bool {
        self.planned >= self.count
    }
}

struct FixedEmitter {
    batches: Arc<Vec<Vec<Values>>>,
    part: usize,
    parts: usize,
}

impl SpoutEmitter for FixedEmitter {
    fn emit_batch(
        &mut self,
        ta: TransactionAttempt,
        _meta: &Value,
        emit: &mut dyn FnMut(Values) -> Result<(), OpError>,
    ) -> Result<(), OpError> {
        let Some(batch) = ta
            .txid
            .checked_sub(1)
            .and_then(|i| self.batches.get(i as usize))
        else {
            return Ok(());
        };
        for t in batch.iter().skip(self.part).step_by(self.parts.max(1)) {
            emit(t.clone())?;
        }
        Ok(())
    }
}

impl BatchSpout for FixedBatchSpout {
    fn fields(&self) -> Vec<String> {
        self.fields.clone()
    }
    fn coordinator(
        &self,
        _ctx: &CoordinatorContext<'_>,
    ) -> Result<Box<dyn SpoutCoordinator>, OpError> {
        Ok(Box::new(FixedCoordinator {
            count: self.batches.len() as u64,
            planned: 0,
        }))
    }
    fn emitter(&self, ctx: &OpContext<'_>) -> Result<Box<dyn SpoutEmitter>, OpError> {
        Ok(Box::new(FixedEmitter {
            batches: self.batches.clone(),
            part: ctx.task_index,
            parts: ctx.num_tasks,
        }))
    }
}
