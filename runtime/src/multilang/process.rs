//! One multi-lang subprocess: started with piped stdio in the resources directory, the
//! handshake, and the threads that keep its I/O off the executor thread:
//!
//! - a **writer** owns stdin behind a `BufWriter`: it writes what the executor queues
//!   (tuples, task-id lists first, spout commands, heartbeats) and flushes whenever its
//!   queues are empty, so a busy stream goes out in large writes;
//! - a **reader** reads `JSON\nend\n` frames from stdout, parses them (off the executor
//!   thread) and hands them over in a bounded channel. It wakes a bolt's executor only
//!   for messages that need a prompt answer or finish work (acks, fails, syncs, errors,
//!   emits waiting for their task ids, the end of the stream) or when the channel fills:
//!   the emits before an ack are applied together with it, one wake-up per input instead
//!   of one per message;
//! - a **stderr** reader logs each line (at info, as Storm does) and keeps the last ones
//!   for the error report when the subprocess dies;
//! - for bolts, a **ticker** queues a heartbeat tuple every second (or a third of the
//!   timeout), wakes the executor for anything left unapplied, and kills the subprocess
//!   when it has been silent for longer than
//!   `topology.subprocess.timeout.secs` — unless it is the host that is not keeping up
//!   (the reader waiting on a full channel), which is backpressure, not a hang.
//!
//! Every channel is bounded. Killing the subprocess unblocks every thread (pipes break).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use smallvec::SmallVec;

use super::error::ShellError;
use super::pid_dir::PidDirUse;
use super::pipes::{Alarm, Liveness, log_stderr, read_loop, write_loop};
use super::protocol::{ParseError, ShellMsg};
use crate::api::context::Waker;
use crate::api::ids::TaskId;
use crate::api::tuple::Values;
use crate::engine::backoff::{Backoff, Failures};

/// Messages parsed ahead of the executor, per subprocess.
const EVENT_QUEUE: usize = 1024;
/// Task-id lists waiting to be written; a subprocess that asks for more without reading
/// them is broken.
const TASK_ID_QUEUE: usize = 4096;
/// Least time a subprocess gets to answer the handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopping subprocess gets to exit after its stdin is closed.
pub(crate) const EXIT_GRACE: Duration = Duration::from_millis(500);
/// Pauses between checks whether a stopping subprocess exited: 1 ms, doubling, at most
/// 20 ms.
const EXIT_POLL: Backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(20));

/// Something for the writer to send.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A tuple for a bolt.
    Tuple {
        /// The id the host gave it.
        id: u64,
        /// Source component.
        comp: &'static str,
        /// Source stream.
        stream: &'static str,
        /// Source task (-1 for ticks).
        task: i64,
        /// The values.
        values: Values,
    },
    /// A heartbeat tuple (bolts).
    Heartbeat,
    /// A spout command with its message id (`None`: `""`).
    Command {
        /// `next`, `ack`, `fail`, `activate`, `deactivate`.
        name: &'static str,
        /// The message id, echoed as the spout sent it.
        id: Option<serde_json::Value>,
    },
}

/// Why a subprocess's output ended.
#[derive(Debug)]
pub(crate) enum Closed {
    /// End of stream: it exited (or closed stdout).
    Eof,
    /// Reading failed.
    Io(std::io::Error),
    /// A message that is not protocol (the parse error and an excerpt of the text).
    Malformed(ParseError, String),
}

/// What the reader hands to the executor.
#[derive(Debug)]
pub(crate) enum Event {
    /// The handshake reply.
    Pid(u32),
    /// A message.
    Msg(ShellMsg),
    /// The output ended; nothing follows.
    Closed(Closed),
}

/// How the subprocess is started.
pub(crate) struct Launch<'a> {
    /// `component:task`, for logs and errors.
    pub(crate) label: &'a str,
    /// Program and arguments.
    pub(crate) command: &'a [String],
    /// Working directory (the topology's resources).
    pub(crate) dir: &'a Path,
    /// Where the subprocess writes its pid file.
    pub(crate) pid_dir: &'a Path,
    /// The handshake message.
    pub(crate) handshake: serde_json::Value,
    /// `topology.subprocess.timeout.secs`.
    pub(crate) timeout: Duration,
    /// Woken on every message (bolts).
    pub(crate) waker: Option<Waker>,
    /// Send heartbeats and watch for silence (bolts).
    pub(crate) heartbeat: bool,
    /// Capacity of the writer's queue.
    pub(crate) queue: usize,
}

/// How a subprocess ended: for the error report.
#[derive(Debug)]
pub(crate) struct Ended {
    /// `exit status: 1`, `signal: 9 (SIGKILL)`, or why it is unknown.
    pub(crate) status: String,
    /// The last lines of its stderr (`; stderr: ...`), or empty.
    pub(crate) stderr: String,
    /// Killed by the ticker for being silent.
    pub(crate) hung: bool,
}

/// A running subprocess and its I/O threads.
pub(crate) struct Subprocess {
    label: String,
    command: Vec<String>,
    child: Arc<Mutex<Child>>,
    /// The pid it reported in the handshake.
    pub(crate) pid: u32,
    data: Option<Sender<Outgoing>>,
    task_ids: Option<Sender<SmallVec<[TaskId; 4]>>>,
    /// Messages from the subprocess.
    pub(crate) events: Receiver<Event>,
    /// Rung when `events` holds something to apply now.
    pub(crate) notify: Receiver<()>,
    alarm: Alarm,
    live: Arc<Liveness>,
    writer: Option<JoinHandle<()>>,
    ticker: Option<(Sender<()>, JoinHandle<()>)>,
    stderr_done: Receiver<()>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    pid_file: Option<PathBuf>,
    /// Keeps the pid directory until this subprocess's pid file is gone (dropped after
    /// it: fields drop after `Drop::drop` and `finish`).
    _pid_dir: PidDirUse,
    /// When it was started.
    pub(crate) started: Instant,
}

impl std::fmt::Debug for Subprocess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subprocess")
            .field("label", &self.label)
            .field("command", &self.command)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// A relative program path with a `/` is relative to the working directory.
fn program(command: &str, dir: &Path) -> PathBuf {
    let p = Path::new(command);
    if p.is_relative() && command.contains('/') {
        dir.join(p)
    } else {
        p.to_path_buf()
    }
}

impl Subprocess {
    /// Start the subprocess and complete the handshake within the timeout.
    pub(crate) fn spawn(l: Launch<'_>) -> Result<Subprocess, ShellError> {
        let label = l.label.to_string();
        let io_err = |context: &str, source| ShellError::Io {
            component: label.clone(),
            context: context.to_string(),
            source,
        };
        let pid_dir = PidDirUse::acquire(l.pid_dir).map_err(|e| {
            io_err(
                &format!("creating the pid directory {}", l.pid_dir.display()),
                e,
            )
        })?;
        let mut child = Command::new(program(&l.command[0], l.dir))
            .args(&l.command[1..])
            .current_dir(l.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ShellError::Spawn {
                component: label.clone(),
                command: l.command.to_vec(),
                dir: l.dir.to_path_buf(),
                source,
            })?;
        let os_pid = child.id();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io_err(
                "starting",
                std::io::Error::other("the subprocess has no piped stdio"),
            ));
        };
        let live = Arc::new(Liveness {
            start: Instant::now(),
            last_heard: AtomicU64::new(0),
            reader_blocked: AtomicBool::new(false),
            hung: AtomicBool::new(false),
        });
        let (data_tx, data_rx) = bounded(l.queue.max(1));
        let (ids_tx, ids_rx) = bounded(TASK_ID_QUEUE);
        let (event_tx, events) = bounded(EVENT_QUEUE);
        let (notify_tx, notify) = bounded(1);
        let alarm = Alarm {
            waker: l.waker.clone(),
            notify: notify_tx,
        };
        let (stderr_done_tx, stderr_done) = bounded(1);
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let spawn_thread = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(format!("{name}-{os_pid}"))
                .spawn(f)
                .map_err(|e| io_err("starting an I/O thread", e))
        };
        let tail = stderr_tail.clone();
        let stderr_label = label.clone();
        let stderr_thread = spawn_thread(
            "shell-stderr",
            Box::new(move || {
                log_stderr(stderr, &stderr_label, os_pid, &tail);
                let _ = stderr_done_tx.send(());
            }),
        );
        let reader_live = live.clone();
        let reader_alarm = alarm.clone();
        let reader_thread = spawn_thread(
            "shell-reader",
            Box::new(move || read_loop(stdout, event_tx, &reader_live, &reader_alarm)),
        );
        let handshake = l.handshake;
        let writer_label = label.clone();
        let writer = spawn_thread(
            "shell-writer",
            Box::new(move || write_loop(stdin, &handshake, data_rx, ids_rx, &writer_label)),
        );
        let mut proc = Subprocess {
            label: label.clone(),
            command: l.command.to_vec(),
            child: Arc::new(Mutex::new(child)),
            pid: os_pid,
            data: Some(data_tx),
            task_ids: Some(ids_tx),
            events,
            notify,
            alarm,
            live,
            writer: None,
            ticker: None,
            stderr_done,
            stderr_tail,
            pid_file: None,
            _pid_dir: pid_dir,
            started: Instant::now(),
        };
        // The reader and stderr threads end by themselves at end of stream.
        let (writer, _reader, _stderr) = match (writer, reader_thread, stderr_thread) {
            (Ok(w), Ok(r), Ok(s)) => (w, r, s),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                proc.stop_now();
                return Err(e);
            }
        };
        proc.writer = Some(writer);
        let failed = |proc: Subprocess, detail: String| {
            let ended = proc.stop_now();
            ShellError::Handshake {
                component: label.clone(),
                command: l.command.to_vec(),
                detail: format!("{detail}; {}{}", ended.status, ended.stderr),
            }
        };
        // Start-up (interpreter, imports) may take longer than a silence is allowed to.
        let handshake_timeout = l.timeout.max(HANDSHAKE_TIMEOUT);
        match proc.events.recv_timeout(handshake_timeout) {
            Ok(Event::Pid(pid)) => proc.pid = pid,
            Ok(Event::Closed(c)) => {
                let detail = match c {
                    Closed::Eof => "it exited before replying {\"pid\": N}".to_string(),
                    Closed::Io(e) => format!("reading its reply: {e}"),
                    Closed::Malformed(e, text) => {
                        format!(
                            "its reply is not {{\"pid\": N}}: {}; message: {text}",
                            e.detail
                        )
                    }
                };
                return Err(failed(proc, detail));
            }
            Ok(Event::Msg(_)) | Err(_) => {
                let detail = format!(
                    "no {{\"pid\": N}} reply within {handshake_timeout:?} (the longer of \
                     topology.subprocess.timeout.secs and {HANDSHAKE_TIMEOUT:?})"
                );
                return Err(failed(proc, detail));
            }
        }
        // Storm's protocol has the subprocess create the file; make sure it is there.
        let pid_file = l.pid_dir.join(proc.pid.to_string());
        if !pid_file.exists()
            && let Err(e) = std::fs::File::create(&pid_file)
        {
            tracing::warn!(component = %label, "cannot create pid file {}: {e}", pid_file.display());
        }
        proc.pid_file = Some(pid_file);
        if l.heartbeat {
            proc.start_ticker(l.timeout)
                .map_err(|e| io_err("starting the heartbeat thread", e))?;
        }
        tracing::info!(component = %label, pid = proc.pid, "launched subprocess {:?}", l.command);
        Ok(proc)
    }

    fn start_ticker(&mut self, timeout: Duration) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = bounded::<()>(0);
        let period = (timeout / 3).min(Duration::from_secs(1));
        let live = self.live.clone();
        let child = self.child.clone();
        let data = self.data.clone();
        let alarm = self.alarm.clone();
        let label = self.label.clone();
        let handle = std::thread::Builder::new()
            .name(format!("shell-ticker-{}", self.pid))
            .spawn(move || {
                loop {
                    match stop_rx.recv_timeout(period) {
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    let silent = live.silent_for();
                    if silent > timeout && !live.reader_blocked.load(Ordering::Acquire) {
                        tracing::warn!(component = %label, "subprocess silent for {silent:?}: killing it");
                        live.hung.store(true, Ordering::Release);
                        let _ = child.lock().unwrap_or_else(|p| p.into_inner()).kill();
                        return;
                    }
                    if let Some(d) = &data {
                        // Full: tuples are queued, and the subprocess answers those.
                        let _ = d.try_send(Outgoing::Heartbeat);
                    }
                    // Apply what waited for an urgent message (emits nobody waits for).
                    alarm.ring();
                }
            })?;
        self.ticker = Some((stop_tx, handle));
        Ok(())
    }

    /// Queue `item` for the writer; `Err` gives it back when the queue is full or the
    /// writer is gone (`true`: gone).
    pub(crate) fn try_send(&self, item: Outgoing) -> Result<(), (Outgoing, bool)> {
        let Some(d) = &self.data else {
            return Err((item, true));
        };
        d.try_send(item).map_err(|e| match e {
            TrySendError::Full(i) => (i, false),
            TrySendError::Disconnected(i) => (i, true),
        })
    }

    /// The writer's queue, to wait on when it is full.
    pub(crate) fn data_queue(&self) -> Option<&Sender<Outgoing>> {
        self.data.as_ref()
    }

    /// Queue a task-id list (written before any queued tuple). `false`: the subprocess
    /// has asked for more lists than it read, or the writer is gone.
    pub(crate) fn send_task_ids(&self, tasks: &[TaskId]) -> bool {
        self.task_ids
            .as_ref()
            .is_some_and(|t| t.try_send(SmallVec::from_slice(tasks)).is_ok())
    }

    /// Whether the reader is waiting for the host (backpressure, not a hang).
    pub(crate) fn host_behind(&self) -> bool {
        self.live.reader_blocked.load(Ordering::Acquire)
    }

    fn stop_ticker(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            drop(stop);
            let _ = handle.join();
        }
    }

    fn kill(&self) {
        let _ = self.child.lock().unwrap_or_else(|p| p.into_inner()).kill();
    }

    /// Kill it now and collect how it ended.
    pub(crate) fn stop_now(mut self) -> Ended {
        self.stop_ticker();
        self.kill();
        self.finish()
    }

    /// Close its stdin, give it [`EXIT_GRACE`] to exit, then kill it.
    pub(crate) fn stop_gracefully(mut self) -> Ended {
        self.stop_ticker();
        self.data = None;
        self.task_ids = None;
        let deadline = Instant::now() + EXIT_GRACE;
        let mut polls = Failures::new(EXIT_POLL);
        loop {
            let exited = self
                .child
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .try_wait()
                .map(|s| s.is_some())
                .unwrap_or(true);
            if exited || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(polls.failed());
        }
        self.kill();
        self.finish()
    }

    /// Reap the (killed or exited) process and its threads; remove the pid file.
    fn finish(mut self) -> Ended {
        self.data = None;
        self.task_ids = None;
        let status = match self.child.lock().unwrap_or_else(|p| p.into_inner()).wait() {
            Ok(s) => s.to_string(),
            Err(e) => format!("exit status unknown ({e})"),
        };
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        // Unblocks the reader if it waits on a full channel; it ends at end of stream.
        let (_, detached) = bounded(1);
        drop(std::mem::replace(&mut self.events, detached));
        let _ = self.stderr_done.recv_timeout(Duration::from_millis(200));
        if let Some(f) = self.pid_file.take() {
            let _ = std::fs::remove_file(f);
        }
        let tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        let stderr = if tail.is_empty() {
            String::new()
        } else {
            let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
            format!("; its last stderr lines:\n  {}", lines.join("\n  "))
        };
        Ended {
            status,
            stderr,
            hung: self.live.hung.load(Ordering::Acquire),
        }
    }
}

impl Drop for Subprocess {
    fn drop(&mut self) {
        // A subprocess is stopped through `stop_now`/`stop_gracefully`; this only runs
        // when one is dropped on an error path, so never leave a process behind.
        if self.data.is_some() {
            self.stop_ticker();
            self.kill();
            let _ = self.child.lock().unwrap_or_else(|p| p.into_inner()).wait();
            if let Some(f) = self.pid_file.take() {
                let _ = std::fs::remove_file(f);
            }
        }
    }
}
