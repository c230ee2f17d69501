//! A worker inside the calling process, for `LocalCluster`-style tests: the same code
//! as a worker process (see [`super`]), run on a thread of its own, stopped
//! through a [`WorkerControl`] instead of SIGTERM (an in-process worker never installs a
//! signal handler), with fault hooks a test can pull: stop writing heartbeats (a hang).
//!
//! ```no_run
//! use std::path::PathBuf;
//! use squall_runtime::Registry;
//! use squall_runtime::worker::spawn_in_process;
//!
//! let mut worker = spawn_in_process(Registry::new(), PathBuf::from("workers/6700/worker.json"));
//! worker.stop();
//! while worker.try_wait().is_none() {
//!     std::thread::sleep(std::time::Duration::from_millis(10));
//! }
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::api::registry::Registry;
use crate::engine::clock::Clock;
use crate::engine::run_state::RunState;

use super::WorkerError;

/// Controls one in-process worker from outside: stop it, pause its heartbeats.
/// Cheap to share (`Arc`); every method may be called from any thread, at any time
/// (a stop asked before the worker's engine started is honoured when it starts).
#[derive(Debug)]
pub struct WorkerControl {
    state: Mutex<ControlState>,
    heartbeats_paused: AtomicBool,
    clock: Arc<dyn Clock>,
}

impl Default for WorkerControl {
    fn default() -> WorkerControl {
        WorkerControl::with_clock(crate::engine::clock::system())
    }
}

#[derive(Debug, Default)]
struct ControlState {
    stop: bool,
    run: Option<Arc<RunState>>,
}

impl WorkerControl {
    /// A control whose worker takes its topology's time from `clock` (see
    /// [`crate::TopologyContext::clock`]).
    pub fn with_clock(clock: Arc<dyn Clock>) -> WorkerControl {
        WorkerControl {
            state: Mutex::new(ControlState::default()),
            heartbeats_paused: AtomicBool::new(false),
            clock,
        }
    }

    /// The clock the worker's topology runs on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ask the worker to stop, as SIGTERM does a worker process: it stops its
    /// executors and connections and its thread ends.
    pub fn stop(&self) {
        let mut st = self.lock();
        st.stop = true;
        if let Some(run) = &st.run {
            run.request_stop();
        }
    }

    /// Whether [`WorkerControl::stop`] was called.
    pub fn stop_requested(&self) -> bool {
        self.lock().stop
    }

    /// Stop (or resume) writing the heartbeat file while the worker keeps running: to
    /// its supervisor it looks hung.
    pub fn pause_heartbeats(&self, paused: bool) {
        self.heartbeats_paused.store(paused, Ordering::SeqCst);
    }

    /// Whether heartbeats are paused.
    pub fn heartbeats_paused(&self) -> bool {
        self.heartbeats_paused.load(Ordering::SeqCst)
    }

    /// Called by the worker once its engine runs: stops it at once if a stop came
    /// first.
    pub(super) fn attach(&self, run: &Arc<RunState>) {
        let mut st = self.lock();
        if st.stop {
            run.request_stop();
        }
        st.run = Some(run.clone());
    }
}

/// A worker running on a thread of the calling process (see [`spawn_in_process`]).
#[derive(Debug)]
pub struct InProcessWorker {
    control: Arc<WorkerControl>,
    thread: Option<JoinHandle<Result<(), WorkerError>>>,
    exit: Option<String>,
}

impl InProcessWorker {
    /// The worker's control (stop, heartbeat pause), to keep beside the worker.
    pub fn control(&self) -> Arc<WorkerControl> {
        self.control.clone()
    }

    /// Ask the worker to stop (like SIGTERM); see [`InProcessWorker::try_wait`].
    pub fn stop(&self) {
        self.control.stop();
    }

    /// Whether the worker's thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// `Some(how it ended)` once the worker's thread has ended, worded like a process
    /// exit: `exited with code 0` after a stop, `exited with code 1: <error>` when it
    /// could not start, `panicked: <message>`.
    pub fn try_wait(&mut self) -> Option<String> {
        if self.exit.is_none() && self.is_finished() {
            let exit = match self.thread.take().map(JoinHandle::join) {
                Some(Ok(Ok(()))) | None => "exited with code 0".to_string(),
                Some(Ok(Err(e))) => format!("exited with code 1: {e}"),
                Some(Err(panic)) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".to_string());
                    format!("panicked: {message}")
                }
            };
            self.exit = Some(exit);
        }
        self.exit.clone()
    }
}

/// Start a worker from its spec file on a new thread of this process: what
/// `<artifact> worker --spec FILE` does in a process of its own, with `registry` as the
/// binary's components, and without the SIGTERM watcher (stop it with
/// [`InProcessWorker::stop`]).
pub fn spawn_in_process(registry: Registry, spec_path: PathBuf) -> InProcessWorker {
    spawn_in_process_with(registry, spec_path, WorkerControl::default())
}

/// [`spawn_in_process`] with a control made beforehand, e.g. one whose worker runs on a
/// manual clock ([`WorkerControl::with_clock`]).
pub fn spawn_in_process_with(
    registry: Registry,
    spec_path: PathBuf,
    control: WorkerControl,
) -> InProcessWorker {
    let control = Arc::new(control);
    let name = format!(
        "worker-{}",
        spec_path
            .parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let ctl = control.clone();
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let result = super::start_and_wait(&registry, &spec_path, Some(&ctl));
        if let Err(e) = &result {
            tracing::error!(spec = %spec_path.display(), "in-process worker failed: {e}");
        }
        result
    });
    let (thread, exit) = match spawned {
        Ok(t) => (Some(t), None),
        Err(e) => (
            None,
            Some(format!("exited with code 1: cannot start a thread: {e}")),
        ),
    };
    InProcessWorker {
        control,
        thread,
        exit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_before_the_engine_runs_is_honoured_when_it_attaches() {
        let control = WorkerControl::default();
        control.stop();
        let run = Arc::new(RunState::new(0));
        control.attach(&run);
        assert!(run.stopping());
    }

    #[test]
    fn a_stop_after_the_engine_runs_stops_it_and_heartbeats_pause_and_resume() {
        let control = WorkerControl::default();
        let run = Arc::new(RunState::new(0));
        control.attach(&run);
        assert!(!run.stopping() && !control.stop_requested());
        control.pause_heartbeats(true);
        assert!(control.heartbeats_paused());
        control.pause_heartbeats(false);
        assert!(!control.heartbeats_paused());
        control.stop();
        assert!(run.stopping() && control.stop_requested());
    }

    #[test]
    fn a_worker_without_a_spec_ends_with_the_reason() {
        let dir = std::env::temp_dir().join(format!("squall-no-spec-{}", std::process::id()));
        let mut worker = spawn_in_process(Registry::new(), dir.join("worker.json"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let exit = loop {
            if let Some(exit) = worker.try_wait() {
                break exit;
            }
            assert!(std::time::Instant::now() < deadline, "never ended");
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert!(
            exit.starts_with("exited with code 1: worker spec"),
            "{exit}"
        );
        assert!(worker.is_finished());
    }
}
