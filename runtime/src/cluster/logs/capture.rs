//! A worker process's stdout and stderr, captured into [`RotatingFile`]s by the worker
//! itself: both descriptors are pointed at pipes, and a thread per pipe copies what
//! arrives (whole lines where it can) into the files. Everything the process writes —
//! its `tracing` log, a component's `println!`, a library's output — is bounded, and the
//! capture needs nobody else: a worker that outlives its supervisor keeps logging.
//!
//! A panic's report is written to the log file directly (not through the pipe), so a
//! panic that ends the process is not lost in a pipe nobody reads any more.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::unistd::{dup2_stderr, dup2_stdout, pipe2};

use super::rotate::RotatingFile;
use super::{LOG_FILE, OUT_FILE};
use crate::cluster::protocol::WorkerLogs;

/// Bytes read from a pipe at a time; also the longest partial line held back.
const CHUNK: usize = 64 * 1024;
/// How long [`Capture`]'s drop waits for the copiers to write what is left.
const DRAIN_WAIT: Duration = Duration::from_secs(2);
/// How long the panic hook waits for the log file held by a copier.
const PANIC_LOCK_WAIT: Duration = Duration::from_millis(200);

type Shared = Arc<Mutex<RotatingFile>>;

/// The capture of this process's stdout and stderr; dropping it writes what is left and
/// points both descriptors at `/dev/null`.
#[derive(Debug)]
pub struct Capture {
    copiers: Vec<Receiver<()>>,
}

/// Point this process's stdout and stderr at the rotating files `worker.out` and
/// `worker.log` of `logs`. Call it once, early, before threads that print start.
pub fn capture(logs: &WorkerLogs) -> io::Result<Capture> {
    let dir = Path::new(&logs.dir);
    std::fs::create_dir_all(dir)?;
    let open = |name: &str| -> io::Result<Shared> {
        let file = RotatingFile::open(&dir.join(name), logs.max_bytes, logs.files)?;
        Ok(Arc::new(Mutex::new(file)))
    };
    let (log, out) = (open(LOG_FILE)?, open(OUT_FILE)?);
    let (err_read, err_write) = pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let (out_read, out_write) = pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let mut copiers = Vec::new();
    for (name, from, to) in [
        ("log-stderr", File::from(err_read), log.clone()),
        ("log-stdout", File::from(out_read), out),
    ] {
        let (done, copied) = channel();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || copy(from, &to, &done))?;
        copiers.push(copied);
    }
    let _ = io::stdout().flush();
    dup2_stdout(&out_write).map_err(io::Error::from)?;
    dup2_stderr(&err_write).map_err(io::Error::from)?;
    // fds 1 and 2 are now the only write ends: the copiers see the end of their pipe
    // when those are closed (in `Drop`).
    drop((out_write, err_write));
    install_panic_hook(log);
    Ok(Capture { copiers })
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        let _ = std::panic::take_hook();
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            let _ = dup2_stdout(&null);
            let _ = dup2_stderr(&null);
        }
        let deadline = Instant::now() + DRAIN_WAIT;
        for copied in &self.copiers {
            let _ = copied.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        }
    }
}

/// Copy `from` into `to` until the end of the pipe: whole lines, unless a line is
/// longer than [`CHUNK`] (then in pieces of that size).
fn copy(mut from: File, to: &Shared, done: &Sender<()>) {
    let mut buf = vec![0u8; CHUNK];
    let mut held = 0;
    loop {
        let n = match from.read(&mut buf[held..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let filled = held + n;
        let cut = match buf[..filled].iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None if filled == buf.len() => filled,
            None => 0,
        };
        if cut > 0 {
            write(to, &buf[..cut]);
            buf.copy_within(cut..filled, 0);
        }
        held = filled - cut;
    }
    if held > 0 {
        write(to, &buf[..held]);
    }
    let _ = done.send(());
}

/// Write to a shared file; errors are dropped (there is nowhere left to report them).
fn write(to: &Shared, bytes: &[u8]) {
    let mut file = to.lock().unwrap_or_else(|p| p.into_inner());
    let _ = file.write_all(bytes);
}

/// Panics are reported straight into the log file: the default hook writes to stderr,
/// a pipe whose reader dies with the process when the panic ends it.
fn install_panic_hook(log: Shared) {
    let fallback = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let backtrace = std::backtrace::Backtrace::capture();
        let report = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => {
                format!("thread '{name}' {info}\nstack backtrace:\n{backtrace}\n")
            }
            _ => format!(
                "thread '{name}' {info}\nnote: run with `RUST_BACKTRACE=1` environment \
                 variable to display a backtrace\n"
            ),
        };
        // The copier holds the file only while it writes; this thread may hold it
        // itself (a panic inside a write): then the default hook reports instead.
        let deadline = Instant::now() + PANIC_LOCK_WAIT;
        loop {
            match log.try_lock() {
                Ok(mut file) => {
                    let _ = file.write_all(report.as_bytes());
                    return;
                }
                Err(TryLockError::Poisoned(p)) => {
                    let _ = p.into_inner().write_all(report.as_bytes());
                    return;
                }
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TryLockError::WouldBlock) => return fallback(info),
            }
        }
    }));
}
