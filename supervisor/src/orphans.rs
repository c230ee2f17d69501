//! At start, the workers a previous run of this supervisor left running (it was killed
//! with `kill -9` or crashed; they outlive it by the orphan grace period, see
//! `squall_runtime::cluster::worker::orphan`): each one started by this supervisor (same
//! id, nimbus and data directory) is adopted into its slot, which then treats it as its
//! own running worker; nimbus's first answer decides, as for any worker, whether it keeps
//! running (same assignment: no restart) or is stopped and replaced. Any other leftover
//! is killed before the slot is used.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use squall_runtime::cluster::protocol::WorkerSpec;

use crate::daemon::{Daemon, SPEC_FILE};
use crate::slot::{Event, Phase};

/// The largest worker spec file read (the topology YAML is in it).
const MAX_SPEC_BYTES: u64 = 64 * 1024 * 1024;
/// How long a leftover that is not adopted gets to die after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// How often it is checked meanwhile.
const KILL_POLL: Duration = Duration::from_millis(20);

/// The worker spec in `path`, if it can be read.
pub(crate) fn read_spec(path: &Path) -> Result<WorkerSpec, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    file.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_SPEC_BYTES {
        return Err(format!("larger than {MAX_SPEC_BYTES} bytes"));
    }
    serde_json::from_slice(&text).map_err(|e| e.to_string())
}

impl Daemon {
    /// Why a leftover worker of slot `port` running `spec` cannot be adopted, if it
    /// cannot.
    fn refuse_adoption(&self, port: u16, spec: &WorkerSpec) -> Option<String> {
        let lock = self.lock_file.display().to_string();
        if spec.supervisor != self.id {
            Some(format!("started by supervisor '{}'", spec.supervisor))
        } else if spec.nimbus != self.opts.nimbus {
            Some(format!("reports to nimbus {}", spec.nimbus))
        } else if spec.assignment.port != port {
            Some(format!("assigned port {}", spec.assignment.port))
        } else if spec.supervisor_lock.as_deref() != Some(lock.as_str()) {
            Some("watches another supervisor lock file".into())
        } else {
            None
        }
    }

    /// Adopt (or kill) what a previous run left in each slot's worker directory.
    pub(crate) async fn adopt_orphans(&mut self) {
        for i in 0..self.slots.len() {
            let port = self.slots[i].port();
            let dir = self.worker_dir(port);
            let spec_path = dir.join(SPEC_FILE);
            let Some(mut process) = self.launcher().find_orphan(&dir, &spec_path) else {
                continue;
            };
            let pid = process.pid();
            let refused = match read_spec(&spec_path) {
                Ok(spec) => match self.refuse_adoption(port, &spec) {
                    None if *self.slots[i].phase() == Phase::Empty
                        && self.workers[i].process.is_none() =>
                    {
                        tracing::info!(port, pid, topology = %spec.assignment.topology,
                            "adopting the worker a previous run left running");
                        self.workers[i].process = Some(process);
                        // It keeps the uid it runs under; other topologies' uids are
                        // chosen around it.
                        self.workers[i].run_as = crate::worker_user::uid_of_process(pid)
                            .filter(|uid| *uid != 0)
                            .map(|uid| (spec.assignment.topology_id.clone(), uid));
                        let assignment = spec.assignment;
                        self.apply(i, Event::Adopted { assignment, pid }).await;
                        continue;
                    }
                    None => "the slot is in use".to_string(),
                    Some(why) => why,
                },
                Err(e) => format!("its spec {}: {e}", spec_path.display()),
            };
            tracing::warn!(
                port,
                pid,
                "killing a worker left by a previous run: {refused}"
            );
            process.kill();
            let deadline = tokio::time::Instant::now() + KILL_WAIT;
            while process.try_wait().is_none() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(KILL_POLL).await;
            }
        }
    }
}
