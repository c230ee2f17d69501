//! Workers on threads of the supervisor's own process ([`InProcessLauncher`]), for
//! clusters in one process: the launcher runs the worker of the spec file a
//! [`LaunchSpec`] names with [`squall_runtime::worker::spawn_in_process`] and a
//! [`Registry`] of this process; the artifact is never run.
//!
//! Faults are injected through [`InProcessWorkers`], shared with the test: crash the
//! worker of a port (it stops, and its end is reported as `killed (simulated crash)`)
//! or make it hang (it keeps running but stops writing heartbeats).
//!
//! Nothing here signals a process: an in-process worker reports the pid of the process
//! it runs in, and the launcher keeps no pid files, so the supervisor's orphan handling
//! ([`Launcher::find_orphan`]) finds nothing. An in-process worker lives and dies with
//! its supervisor's process, so it does not watch its supervisor or exit by itself.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use squall_runtime::Registry;
use squall_runtime::cluster::protocol::WorkerSpec;
use squall_runtime::engine::clock::Clock;
use squall_runtime::worker::{InProcessWorker, WorkerControl, spawn_in_process_with};

use crate::process::{LaunchSpec, Launcher, WorkerProcess};

/// How a crashed in-process worker's end is reported (`last_exit`).
pub const SIMULATED_CRASH: &str = "killed (simulated crash)";
/// How an in-process worker stopped by [`WorkerProcess::kill`] is reported.
const KILLED: &str = "killed (stopped by the supervisor)";

/// The worker a port runs now: its control and, once a fault ended it, how.
#[derive(Debug)]
struct Tracked {
    control: Arc<WorkerControl>,
    /// Set when the worker was crashed or killed: what its end reports.
    cause: Mutex<Option<String>>,
}

impl Tracked {
    fn end_as(&self, cause: &str) {
        let mut c = self.cause.lock().unwrap_or_else(PoisonError::into_inner);
        c.get_or_insert_with(|| cause.to_string());
        drop(c);
        self.control.stop();
    }

    fn cause(&self) -> Option<String> {
        self.cause
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The in-process workers of one launcher by slot port, for fault injection. Cheap to
/// clone (shared).
#[derive(Debug, Clone, Default)]
pub struct InProcessWorkers {
    by_port: Arc<Mutex<BTreeMap<u16, Arc<Tracked>>>>,
}

impl InProcessWorkers {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u16, Arc<Tracked>>> {
        self.by_port.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, port: u16) -> Option<Arc<Tracked>> {
        self.lock().get(&port).cloned()
    }

    /// Make the worker on `port` die: it stops at once and its supervisor sees it end
    /// with [`SIMULATED_CRASH`]. False when no worker was launched on that port.
    pub fn crash(&self, port: u16) -> bool {
        self.get(port).map(|t| t.end_as(SIMULATED_CRASH)).is_some()
    }

    /// Make the worker on `port` hang (`true`: it stops writing heartbeats but keeps
    /// running) or recover (`false`). False when no worker was launched on that port.
    pub fn hang(&self, port: u16, hung: bool) -> bool {
        self.get(port)
            .map(|t| t.control.pause_heartbeats(hung))
            .is_some()
    }

    /// Stop every worker (when the cluster they belong to goes away).
    pub fn stop_all(&self) {
        for t in self.lock().values() {
            t.control.stop();
        }
    }

    /// Ports whose latest worker has not been told to stop.
    pub fn live_ports(&self) -> Vec<u16> {
        self.lock()
            .iter()
            .filter(|(_, t)| !t.control.stop_requested())
            .map(|(p, _)| *p)
            .collect()
    }
}

/// A [`Launcher`] running workers on threads of this process.
#[derive(Debug, Clone)]
pub struct InProcessLauncher {
    registry: Registry,
    workers: InProcessWorkers,
    clock: Arc<dyn Clock>,
}

impl InProcessLauncher {
    /// A launcher whose workers use the components of `registry`.
    pub fn new(registry: Registry) -> InProcessLauncher {
        InProcessLauncher {
            registry,
            workers: InProcessWorkers::default(),
            clock: squall_runtime::engine::clock::system(),
        }
    }

    /// Run the workers' topologies on `clock` (a harness's manual clock), so what they
    /// time (Trident's batch emit interval) moves only when the harness moves it.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> InProcessLauncher {
        self.clock = clock;
        self
    }

    /// Its workers, for fault injection (shared: keep a clone before handing the
    /// launcher to [`crate::start_with`]).
    pub fn workers(&self) -> InProcessWorkers {
        self.workers.clone()
    }
}

/// The spec file of `worker --spec FILE`.
fn spec_file(args: &[String]) -> Option<&str> {
    let at = args.iter().position(|a| a == "--spec")?;
    args.get(at + 1).map(String::as_str)
}

/// The slot port a spec file assigns (None if it cannot be read: the worker itself then
/// fails and says why).
fn spec_port(path: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(path).ok()?;
    let spec: WorkerSpec = serde_json::from_str(&text).ok()?;
    Some(spec.assignment.port)
}

impl Launcher for InProcessLauncher {
    fn launch(&mut self, spec: &LaunchSpec) -> std::io::Result<Box<dyn WorkerProcess>> {
        let path = spec_file(&spec.args).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("no `--spec FILE` in the worker arguments {:?}", spec.args),
            )
        })?;
        let path = Path::new(path);
        let worker = spawn_in_process_with(
            self.registry.clone(),
            path.to_path_buf(),
            WorkerControl::with_clock(self.clock.clone()),
        );
        let tracked = Arc::new(Tracked {
            control: worker.control(),
            cause: Mutex::new(None),
        });
        if let Some(port) = spec_port(path) {
            self.workers.lock().insert(port, tracked.clone());
        }
        Ok(Box::new(InProcess { worker, tracked }))
    }
}

/// One in-process worker as the supervisor sees it.
struct InProcess {
    worker: InProcessWorker,
    tracked: Arc<Tracked>,
}

impl WorkerProcess for InProcess {
    /// The pid of this process, which runs the worker (nothing signals it: see the
    /// module documentation).
    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn try_wait(&mut self) -> Option<String> {
        let exit = self.worker.try_wait()?;
        Some(self.tracked.cause().unwrap_or(exit))
    }

    fn terminate(&mut self) {
        self.worker.stop();
    }

    fn kill(&mut self) {
        self.tracked.end_as(KILLED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_file_is_found_in_the_worker_arguments() {
        let args: Vec<String> = ["worker", "--spec", "/w/6700/worker.json"]
            .map(String::from)
            .to_vec();
        assert_eq!(spec_file(&args), Some("/w/6700/worker.json"));
        assert_eq!(spec_file(&args[..2]), None);
    }

    #[test]
    fn a_worker_whose_spec_is_missing_ends_with_the_reason_and_faults_find_no_port() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = dir.path().join("worker.json");
        let mut launcher = InProcessLauncher::new(Registry::new());
        let workers = launcher.workers();
        let mut w = launcher
            .launch(&LaunchSpec {
                artifact: dir.path().join("artifact"),
                args: vec!["worker".into(), "--spec".into(), spec.display().to_string()],
                dir: dir.path().to_path_buf(),
                user: None,
                memory_limit_mb: None,
            })
            .expect("launch");
        let exit = crate::process::wait_ended(w.as_mut());
        assert!(
            exit.starts_with("exited with code 1") && exit.contains("worker.json"),
            "{exit}"
        );
        assert!(!workers.crash(6700), "no worker was registered for a port");
        assert_eq!(w.pid(), std::process::id());
    }
}
