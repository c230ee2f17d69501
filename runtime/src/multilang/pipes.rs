//! The bodies of a subprocess's I/O threads (see [`super::process`]): the reader, the
//! writer and the stderr logger, with the liveness they share with the ticker and the
//! alarm that wakes the executor.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::process::ChildStdin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender, TryRecvError, TrySendError};
use smallvec::SmallVec;

use super::error::excerpt;
use super::frame::{FrameError, FrameReader};
use super::process::{Closed, Event, Outgoing};
use super::protocol::{self, ParseError, ShellMsg};
use crate::api::context::Waker;
use crate::api::ids::TaskId;

/// Lines of stderr kept for the error report.
const STDERR_LINES: usize = 20;
/// Longest stderr line kept.
const STDERR_LINE_BYTES: usize = 500;
/// Longest piece of a stderr line logged at once (a longer line is logged in pieces).
const STDERR_LOG_LINE_BYTES: usize = 16 * 1024;

/// Whether the executor should apply `ev` now (else it waits for the next urgent one, an
/// input, or the ticker): emits nobody waits for, logs and metrics can wait.
fn urgent(ev: &Event) -> bool {
    match ev {
        Event::Msg(ShellMsg::Emit(e)) => e.need_task_ids && e.task.is_none(),
        Event::Msg(ShellMsg::Log { .. } | ShellMsg::Metrics { .. }) => false,
        _ => true,
    }
}

/// Wakes whoever applies the subprocess's messages: the executor through its waker
/// (when idle), and `notify` (when it waits for room in the writer's queue).
#[derive(Debug, Clone)]
pub(crate) struct Alarm {
    pub(crate) waker: Option<Waker>,
    pub(crate) notify: Sender<()>,
}

impl Alarm {
    pub(crate) fn ring(&self) {
        let _ = self.notify.try_send(());
        if let Some(w) = &self.waker {
            w.wake();
        }
    }
}

/// Liveness shared by the reader and the ticker.
#[derive(Debug)]
pub(crate) struct Liveness {
    pub(crate) start: Instant,
    /// Milliseconds since `start` when the last message arrived.
    pub(crate) last_heard: AtomicU64,
    /// The reader is waiting for room in the event channel (the host is behind).
    pub(crate) reader_blocked: AtomicBool,
    /// The ticker killed the subprocess for being silent.
    pub(crate) hung: AtomicBool,
}

impl Liveness {
    pub(crate) fn touch(&self) {
        self.last_heard
            .store(self.start.elapsed().as_millis() as u64, Ordering::Release);
    }

    pub(crate) fn silent_for(&self) -> Duration {
        let heard = Duration::from_millis(self.last_heard.load(Ordering::Acquire));
        self.start.elapsed().saturating_sub(heard)
    }
}

/// Send `ev` to the executor, ringing `alarm` if it is urgent; `false` when the
/// executor is gone.
fn deliver(tx: &Sender<Event>, ev: Event, live: &Liveness, alarm: &Alarm) -> bool {
    let ring = urgent(&ev);
    match tx.try_send(ev) {
        Ok(()) => {}
        Err(TrySendError::Full(ev)) => {
            live.reader_blocked.store(true, Ordering::Release);
            alarm.ring();
            let sent = tx.send(ev).is_ok();
            live.touch();
            live.reader_blocked.store(false, Ordering::Release);
            if !sent {
                return false;
            }
        }
        Err(TrySendError::Disconnected(_)) => return false,
    }
    if ring {
        alarm.ring();
    }
    true
}

pub(crate) fn read_loop(stdout: impl Read, tx: Sender<Event>, live: &Liveness, alarm: &Alarm) {
    let mut frames = FrameReader::new(BufReader::with_capacity(64 << 10, stdout));
    let mut first = true;
    loop {
        let ev = match frames.next_frame() {
            Ok(Some(text)) => {
                live.touch();
                if first {
                    first = false;
                    match protocol::parse_pid(text) {
                        Ok(pid) => Event::Pid(pid),
                        Err(detail) => Event::Closed(Closed::Malformed(
                            ParseError {
                                command: "handshake".into(),
                                detail,
                            },
                            excerpt(text),
                        )),
                    }
                } else {
                    match protocol::parse_msg(text) {
                        Ok(m) => Event::Msg(m),
                        Err(e) => Event::Closed(Closed::Malformed(e, excerpt(text))),
                    }
                }
            }
            Ok(None) => Event::Closed(Closed::Eof),
            Err(FrameError::Io(e)) => Event::Closed(Closed::Io(e)),
            Err(FrameError::Truncated(text)) => Event::Closed(Closed::Malformed(
                ParseError {
                    command: "?".into(),
                    detail: "the output ended in the middle of a message (no \"end\" line)".into(),
                },
                excerpt(&text),
            )),
            Err(FrameError::TooLong(text)) => Event::Closed(Closed::Malformed(
                ParseError {
                    command: "?".into(),
                    detail: format!(
                        "a message longer than {} MiB",
                        super::frame::MAX_MESSAGE >> 20
                    ),
                },
                excerpt(&text),
            )),
        };
        let last = matches!(ev, Event::Closed(_));
        if !deliver(&tx, ev, live, alarm) || last {
            return;
        }
    }
}

pub(crate) fn write_loop(
    stdin: ChildStdin,
    handshake: &serde_json::Value,
    data: Receiver<Outgoing>,
    task_ids: Receiver<SmallVec<[TaskId; 4]>>,
    label: &str,
) {
    let mut w = BufWriter::with_capacity(64 << 10, stdin);
    let mut heartbeat_ids = rand::random::<u32>() as u64;
    let mut write = |w: &mut BufWriter<ChildStdin>, item: Outgoing| match item {
        Outgoing::Tuple {
            id,
            comp,
            stream,
            task,
            values,
        } => protocol::write_tuple(w, id, Some(comp), stream, task, &values),
        Outgoing::Heartbeat => {
            heartbeat_ids += 1;
            protocol::write_tuple(w, heartbeat_ids, None, "__heartbeat", -1, &[])
        }
        Outgoing::Command { name, id } => protocol::write_command(w, name, id.as_ref()),
    };
    let result = (|| -> std::io::Result<()> {
        protocol::write_json(&mut w, handshake)?;
        w.flush()?;
        loop {
            // Task-id lists first: the subprocess may be waiting for one.
            match task_ids.try_recv() {
                Ok(ids) => {
                    protocol::write_task_ids(&mut w, &ids)?;
                    continue;
                }
                Err(TryRecvError::Disconnected) => return w.flush(),
                Err(TryRecvError::Empty) => {}
            }
            match data.try_recv() {
                Ok(item) => {
                    write(&mut w, item)?;
                    continue;
                }
                Err(TryRecvError::Disconnected) => return w.flush(),
                Err(TryRecvError::Empty) => {}
            }
            // Nothing queued: send what was written, then wait.
            w.flush()?;
            let mut sel = Select::new();
            let ids_op = sel.recv(&task_ids);
            let data_op = sel.recv(&data);
            let op = sel.select();
            match op.index() {
                i if i == ids_op => match op.recv(&task_ids) {
                    Ok(ids) => protocol::write_task_ids(&mut w, &ids)?,
                    Err(_) => return w.flush(),
                },
                i if i == data_op => match op.recv(&data) {
                    Ok(item) => write(&mut w, item)?,
                    Err(_) => return w.flush(),
                },
                _ => {}
            }
        }
    })();
    if let Err(e) = result {
        // The subprocess died or closed stdin; the reader reports it.
        tracing::debug!(component = %label, "writing to the subprocess stopped: {e}");
    }
}

/// Log each line of a subprocess's stderr (into the worker's log, which rotates: see
/// [`crate::cluster::logs`]) and keep the last ones for the error report. A line longer
/// than [`STDERR_LOG_LINE_BYTES`] is logged in pieces: memory stays bounded whatever the
/// subprocess writes.
pub(crate) fn log_stderr(stderr: impl Read, label: &str, pid: u32, tail: &Mutex<VecDeque<String>>) {
    let mut r = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut r)
            .take(STDERR_LOG_LINE_BYTES as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        tracing::info!(component = %label, pid, "subprocess stderr: {text}");
        let mut keep = text.to_string();
        if keep.len() > STDERR_LINE_BYTES {
            let mut end = STDERR_LINE_BYTES;
            while !keep.is_char_boundary(end) {
                end -= 1;
            }
            keep.truncate(end);
            keep.push_str("...");
        }
        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() == STDERR_LINES {
            t.pop_front();
        }
        t.push_back(keep);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A subprocess writing an endless line to stderr: logged in pieces as it comes
    /// (before, the line was buffered whole, without bound, until its end).
    #[test]
    fn an_endless_stderr_line_is_logged_in_bounded_pieces() {
        let (read, mut write) = std::io::pipe().unwrap();
        let tail = std::sync::Arc::new(Mutex::new(VecDeque::new()));
        let logger = {
            let tail = tail.clone();
            std::thread::spawn(move || log_stderr(read, "chatty", 1, &tail))
        };
        // 4 MiB without a newline; the pipe stays open.
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            write.write_all(&chunk).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while tail.lock().unwrap().len() < STDERR_LINES {
            assert!(
                Instant::now() < deadline,
                "an unterminated 4 MiB stderr line was not logged in pieces within 10 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        write.write_all(b"\nfinal words\n").unwrap();
        drop(write);
        logger.join().unwrap();
        let tail = tail.lock().unwrap();
        assert_eq!(tail.back().map(String::as_str), Some("final words"));
        assert!(tail.iter().all(|l| l.len() <= STDERR_LINE_BYTES + 3));
    }
}
