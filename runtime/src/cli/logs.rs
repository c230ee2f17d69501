//! `squall logs NAME [--component C | --worker HOST:PORT] [--follow] [--tail N]
//! [--file log|out]`: a topology's worker logs, read through nimbus (which has the
//! worker's supervisor read them; see [`crate::cluster::protocol::logs`]).
//!
//! Without `--worker` or `--component` every worker of the topology is shown; when more
//! than one worker is shown, each line is prefixed with the worker's `host:port`.
//! `--follow` then asks every second for what each worker wrote since
//! (`offset=end_offset`), until interrupted.

use std::io::Write;
use std::time::Duration;

use crate::cli::NimbusArg;
use crate::cluster::client::{ClientError, Nimbus};
use crate::cluster::client_logs::{all_workers, check_component};
use crate::cluster::protocol::logs::{DEFAULT_TAIL_LINES, LogFile, LogQuery, MAX_TAIL_LINES};

/// How often `--follow` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);
/// The most reads of one worker in a row while it has more than one answer holds.
const MAX_CATCH_UP_READS: u32 = 16;

/// The arguments of `squall logs`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    /// Topology name.
    pub name: String,
    /// Only the workers running this component's tasks.
    #[arg(long, conflicts_with = "worker")]
    pub component: Option<String>,
    /// Only this worker: HOST:PORT or SUPERVISOR_ID:PORT (`squall status` lists them).
    #[arg(long, value_name = "HOST:PORT")]
    pub worker: Option<String>,
    /// Keep printing what the workers log (polling every second) until interrupted.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show this many lines from the end of each log first (at most 10000).
    #[arg(short = 'n', long, default_value_t = DEFAULT_TAIL_LINES)]
    pub tail: u32,
    /// Which file: `log` (the worker's log and stderr) or `out` (its stdout).
    #[arg(long, default_value = "log")]
    pub file: LogFile,
    /// Where nimbus is.
    #[command(flatten)]
    pub nimbus: NimbusArg,
}

/// One worker being shown: where its next read starts, and the start of a line whose
/// end has not arrived yet.
struct Shown {
    worker: String,
    offset: Option<u64>,
    partial: String,
    last_error: Option<String>,
}

/// Run `squall logs`; returns the exit code.
pub fn run(args: LogsArgs) -> i32 {
    let n = match Nimbus::for_cli(
        &args.nimbus.url,
        args.nimbus.token_file.as_deref(),
        args.nimbus.ca_file.as_deref(),
    ) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: async runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(logs(&n, &args)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

async fn logs(n: &Nimbus, args: &LogsArgs) -> Result<(), ClientError> {
    let tail = if args.tail > MAX_TAIL_LINES {
        eprintln!(
            "warning: --tail {} is over the limit of {MAX_TAIL_LINES} lines: showing the last \
             {MAX_TAIL_LINES}",
            args.tail
        );
        MAX_TAIL_LINES
    } else {
        args.tail
    };
    let workers = match (&args.worker, &args.component) {
        (Some(w), _) => vec![w.clone()],
        // Where its executors run, from nimbus's plan (known before any task reports).
        (None, Some(c)) => {
            let status = n.status(&args.name).await?;
            check_component(&status, c)?;
            n.component_workers(&args.name, c).await?
        }
        (None, None) => all_workers(&n.status(&args.name).await?),
    };
    if workers.is_empty() {
        return Err(ClientError::Other(format!(
            "topology '{}' has no worker assigned now",
            args.name
        )));
    }
    let total = workers.len();
    let reading = Reading {
        name: args.name.clone(),
        file: args.file,
        tail,
        prefixed: total > 1,
    };
    let mut shown: Vec<Shown> = workers
        .into_iter()
        .map(|worker| Shown {
            worker,
            offset: None,
            partial: String::new(),
            last_error: None,
        })
        .collect();
    loop {
        let mut failed = 0;
        let mut next = Vec::with_capacity(total);
        for (mut s, read) in read_round(n, &reading, std::mem::take(&mut shown)).await {
            match read {
                Ok(()) => {
                    if s.last_error.take().is_some() {
                        eprintln!("[{}: reading its log works again]", s.worker);
                    }
                }
                // One worker, once: its error is the command's.
                Err(e) if total == 1 && !args.follow => return Err(e),
                Err(e) => {
                    failed += 1;
                    report(&mut s, e);
                }
            }
            next.push(s);
        }
        shown = next;
        if !args.follow {
            for s in &mut shown {
                flush_partial(s, reading.prefixed);
            }
            if failed > 0 {
                return Err(ClientError::Other(format!(
                    "the logs of {failed} of {total} workers could not be read"
                )));
            }
            return Ok(());
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// What every read of a `squall logs` run shares.
#[derive(Debug, Clone)]
struct Reading {
    name: String,
    file: LogFile,
    tail: u32,
    prefixed: bool,
}

/// Read (and print) what each worker has next, all workers at once (a supervisor that
/// does not answer delays only its own workers); each with the outcome.
async fn read_round(
    n: &Nimbus,
    reading: &Reading,
    shown: Vec<Shown>,
) -> Vec<(Shown, Result<(), ClientError>)> {
    let mut set = tokio::task::JoinSet::new();
    for mut s in shown {
        let (n, reading) = (n.clone(), reading.clone());
        set.spawn(async move {
            let read = read_next(&n, &reading, &mut s).await;
            (s, read)
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        match done {
            Ok(d) => out.push(d),
            Err(e) => eprintln!("[a log read failed: {e}]"),
        }
    }
    out
}

/// Print what worker `s` wrote since its offset (its tail first, when it has none
/// yet), reading again while an answer said more was there.
async fn read_next(n: &Nimbus, reading: &Reading, s: &mut Shown) -> Result<(), ClientError> {
    let file_name = reading.file.file_name();
    for _ in 0..MAX_CATCH_UP_READS {
        let query = match s.offset {
            Some(offset) => LogQuery::from_offset(Some(s.worker.clone()), reading.file, offset),
            None => LogQuery::tail(Some(s.worker.clone()), reading.file, reading.tail),
        };
        let log = n.worker_log(&reading.name, &query).await?;
        let chunk = log.chunk;
        let first = s.offset.is_none();
        if first && chunk.truncated {
            eprintln!(
                "[{}: only the last {} bytes of its {file_name} are shown]",
                s.worker,
                chunk.text.len()
            );
        }
        if chunk.rotated {
            flush_partial(s, reading.prefixed);
            eprintln!(
                "[{}: {file_name} was rotated; continuing from the start of the new file]",
                s.worker
            );
        }
        s.offset = Some(chunk.end_offset);
        print_text(s, &chunk.text, reading.prefixed);
        // A tail's `truncated` is about the lines before it.
        if first || !chunk.truncated {
            return Ok(());
        }
    }
    Ok(())
}

/// Say why worker `s` could not be read (once until it changes).
fn report(s: &mut Shown, e: ClientError) {
    let message = e.to_string();
    if s.last_error.as_deref() != Some(message.as_str()) {
        eprintln!("[{}: {message}]", s.worker);
        s.last_error = Some(message);
    }
}

/// Print the whole lines of `text` (after what was held back of `s`), holding back a
/// last line without its end.
fn print_text(s: &mut Shown, text: &str, prefixed: bool) {
    if text.is_empty() {
        return;
    }
    s.partial.push_str(text);
    let Some(end) = s.partial.rfind('\n') else {
        return;
    };
    let rest = s.partial.split_off(end + 1);
    let whole = std::mem::replace(&mut s.partial, rest);
    let mut out = std::io::stdout().lock();
    for line in whole.lines() {
        let _ = if prefixed {
            writeln!(out, "{} {line}", s.worker)
        } else {
            writeln!(out, "{line}")
        };
    }
    let _ = out.flush();
}

/// Print a held-back last line.
fn flush_partial(s: &mut Shown, prefixed: bool) {
    if !s.partial.is_empty() {
        let held = std::mem::take(&mut s.partial) + "\n";
        print_text(s, &held, prefixed);
    }
}
