//! Helpers shared by the integration tests: running the `squall` binary with a bounded
//! wait, and small test components (a recording bolt, an untracked counting spout).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use squall_runtime::{
    BasicBolt, BasicCollector, ComponentArgs, ComponentError, FactoryError, OutputDeclarer, Spout,
    SpoutCollector, TopologyContext, Tuple, Value, Values,
};

/// Path of the `squall` binary built for these tests.
pub const SQUALL: &str = env!("CARGO_BIN_EXE_squall");

/// What a finished `squall` process left behind.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub wall: Duration,
}

/// Run `squall ARGS...` and wait at most `timeout` for it; kills it and panics on timeout.
pub fn squall(args: &[&str], timeout: Duration) -> Run {
    squall_env(args, &[], timeout)
}

/// [`squall`] with these environment variables set.
pub fn squall_env(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Run {
    let start = Instant::now();
    let child = Command::new(SQUALL)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("SQUALL_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the squall binary");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<std::io::Result<Output>>();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => {
            let out = out.expect("waiting for squall");
            Run {
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                wall: start.elapsed(),
            }
        }
        Err(_) => {
            // Only the process we started, by its id.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!(
                "`squall {}` did not exit within {timeout:?}",
                args.join(" ")
            );
        }
    }
}

/// `squall ARGS...` with a file path as the last argument.
pub fn squall_file(args: &[&str], file: &Path, timeout: Duration) -> Run {
    let file = file.to_str().expect("utf-8 temp path");
    let mut all: Vec<&str> = args.to_vec();
    all.push(file);
    squall(&all, timeout)
}

/// Task ids seen in `prepare`, shared between a test and the components it registers.
pub type Prepared = Arc<Mutex<BTreeSet<i64>>>;

/// A bolt that emits `[task, <input values...>]` for every input on its default stream.
/// Its constructor arguments name the input fields (declared after `task`).
#[derive(Debug)]
pub struct Recorder {
    fields: Vec<String>,
    task: i64,
    prepared: Option<Prepared>,
}

impl Recorder {
    /// From `constructorArgs` (the input field names).
    pub fn from_args(
        a: &ComponentArgs<'_>,
        prepared: Option<Prepared>,
    ) -> Result<Self, FactoryError> {
        let fields = (0..a.len())
            .map(|i| a.str(i, "input field name").map(str::to_string))
            .collect::<Result<Vec<_>, _>>()?;
        if fields.is_empty() {
            return Err(FactoryError("Recorder needs the input field names".into()));
        }
        Ok(Recorder {
            fields,
            task: -1,
            prepared,
        })
    }
}

#[squall_runtime::async_trait]
impl BasicBolt for Recorder {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        let mut fields = vec!["task"];
        fields.extend(self.fields.iter().map(String::as_str));
        out.declare(&fields);
    }

    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.task = ctx.this_task().as_i64();
        if let Some(p) = &self.prepared {
            p.lock().unwrap().insert(self.task);
        }
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        let mut v = Values::with_capacity(input.len() + 1);
        v.push(self.task);
        for x in input.values().iter() {
            v.push(x.clone());
        }
        out.emit(v)?;
        Ok(())
    }
}

/// Emits `n` (field `n`) for n in `0..count` on the default stream without message ids,
/// then is exhausted. Untracked emits are never replayed, whatever the bolts do.
#[derive(Debug)]
pub struct CountSpout {
    next: i64,
    count: i64,
}

impl CountSpout {
    /// A spout emitting `0..count`.
    pub fn new(count: i64) -> Self {
        CountSpout { next: 0, count }
    }
}

impl Spout for CountSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        if self.next < self.count {
            out.emit(Value::from(self.next))?;
            self.next += 1;
        }
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.count
    }
}

/// The integer at `index` of captured values (panics with the values otherwise).
pub fn int(v: &Values, index: usize) -> i64 {
    v.get(index)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("expected an int at {index} in {:?}", v.to_json()))
}

/// The string at `index` of captured values.
pub fn string(v: &Values, index: usize) -> String {
    v.get(index)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected a string at {index} in {:?}", v.to_json()))
        .to_string()
}
