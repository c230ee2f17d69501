//! File input and output: one tuple per line in, one JSON array per line out.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use squall_runtime::{
    Bolt, BoltCollector, ComponentError, MessageId, OutputDeclarer, Spout, SpoutCollector,
    TopologyContext, Tuple, Value, async_trait,
};

/// Emits each line of a file (field `line`, without the line break) with its 0-based
/// line number as message id; exhausted at end of file once nothing is left to replay.
/// Lines are kept until acked; failed lines are emitted again.
#[derive(Debug)]
pub struct LineFileSpout {
    path: PathBuf,
    reader: Option<BufReader<File>>,
    next_line: MessageId,
    eof: bool,
    pending: HashMap<MessageId, Value>,
    replay: VecDeque<MessageId>,
    buf: Vec<u8>,
}

impl LineFileSpout {
    /// A spout over the file at `path` (opened in `open`).
    pub fn new(path: impl Into<PathBuf>) -> LineFileSpout {
        LineFileSpout {
            path: path.into(),
            reader: None,
            next_line: 0,
            eof: false,
            pending: HashMap::new(),
            replay: VecDeque::new(),
            buf: Vec::new(),
        }
    }
}

#[async_trait]
impl Spout for LineFileSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["line"]);
    }

    async fn open(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        let file = File::open(&self.path)
            .map_err(|e| ComponentError::io(format!("opening {}", self.path.display()), e))?;
        self.reader = Some(BufReader::with_capacity(1 << 16, file));
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if let Some(id) = self.replay.pop_front() {
            if let Some(line) = self.pending.get(&id) {
                out.emit_id(line.clone(), id)?;
            }
            return Ok(());
        }
        if self.eof {
            return Ok(());
        }
        let Some(reader) = self.reader.as_mut() else {
            return Ok(());
        };
        self.buf.clear();
        let n = reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| ComponentError::io(format!("reading {}", self.path.display()), e))?;
        if n == 0 {
            self.eof = true;
            return Ok(());
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        let line = Value::from(String::from_utf8_lossy(&self.buf).as_ref());
        let id = self.next_line;
        self.next_line += 1;
        self.pending.insert(id, line.clone());
        out.emit_id(line, id)?;
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.eof && self.replay.is_empty()
    }

    fn ack(&mut self, id: MessageId) {
        self.pending.remove(&id);
    }

    fn fail(&mut self, id: MessageId) {
        if self.pending.contains_key(&id) {
            self.replay.push_back(id);
        }
    }
}

/// How often [`FileSinkBolt`] flushes its buffer at the latest.
const SINK_FLUSH: Duration = Duration::from_millis(200);

/// Most written tuples [`FileSinkBolt`] holds un-acked before it flushes.
const SINK_MAX_PENDING: usize = 10_000;

/// Appends each input tuple to a file as one JSON array per line. A tuple is acked only
/// once its line is flushed to the file, so nothing acked is lost if the worker dies.
/// The buffer is flushed at least every 200 ms (a timer wakes the bolt), after
/// 10 000 tuples, on every tick tuple, and at shutdown.
#[derive(Debug)]
pub struct FileSinkBolt {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    last_flush: Instant,
    pending: Vec<Tuple>,
    has_pending: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    timed: bool,
}

impl FileSinkBolt {
    /// A sink appending to the file at `path` (created if missing, in `prepare`).
    pub fn new(path: impl Into<PathBuf>) -> FileSinkBolt {
        FileSinkBolt {
            path: path.into(),
            out: None,
            last_flush: Instant::now(),
            pending: Vec::new(),
            has_pending: Arc::default(),
            stop: Arc::default(),
            timed: false,
        }
    }

    /// Flush, then ack everything written since the last flush (or fail it all).
    fn flush_and_ack(&mut self, out: &mut BoltCollector) -> Result<(), ComponentError> {
        self.last_flush = Instant::now();
        self.has_pending.store(false, Ordering::Release);
        let flushed = match self.out.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        };
        match flushed {
            Ok(()) => {
                for t in self.pending.drain(..) {
                    out.ack(&t);
                }
                Ok(())
            }
            Err(e) => {
                for t in self.pending.drain(..) {
                    out.fail(&t);
                }
                Err(self.io_err(e))
            }
        }
    }

    fn io_err(&self, e: std::io::Error) -> ComponentError {
        ComponentError::io(format!("writing {}", self.path.display()), e)
    }
}

#[async_trait]
impl Bolt for FileSinkBolt {
    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| ComponentError::io(format!("opening {}", self.path.display()), e))?;
        self.out = Some(BufWriter::new(file));
        if let Some(waker) = ctx.waker() {
            // Flush (and ack) what an idle stream left in the buffer.
            let (pending, stop) = (self.has_pending.clone(), self.stop.clone());
            let spawned = std::thread::Builder::new()
                .name("file-sink-timer".to_string())
                .spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        std::thread::sleep(SINK_FLUSH);
                        if pending.load(Ordering::Acquire) {
                            waker.wake();
                        }
                    }
                });
            self.timed = spawned.is_ok();
        }
        Ok(())
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        if input.is_tick() {
            // Ticks (`topology.tick.tuple.freq.secs` on this component) flush an idle sink.
            return self.flush_and_ack(out);
        }
        let Some(w) = self.out.as_mut() else {
            out.fail(&input);
            return Err(ComponentError::msg("sink not prepared"));
        };
        let mut line = input.values().to_json().to_string();
        line.push('\n');
        if let Err(e) = w.write_all(line.as_bytes()) {
            out.fail(&input);
            return Err(self.io_err(e));
        }
        self.pending.push(input);
        self.has_pending.store(true, Ordering::Release);
        if !self.timed
            || self.pending.len() >= SINK_MAX_PENDING
            || self.last_flush.elapsed() >= SINK_FLUSH
        {
            return self.flush_and_ack(out);
        }
        Ok(())
    }

    fn wake(&mut self, out: &mut BoltCollector) -> Result<(), ComponentError> {
        self.flush_and_ack(out)
    }

    async fn cleanup(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(w) = self.out.as_mut()
            && let Err(e) = w.flush()
        {
            tracing::error!(path = %self.path.display(), "flushing file sink: {e}");
        }
    }
}
