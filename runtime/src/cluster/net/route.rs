//! Where envelopes arriving from other workers go.

use std::collections::BTreeMap;

use super::Peer;
use crate::api::ids::TaskId;
use crate::engine::transfer::{Destination, Envelope};

/// Delivers envelopes decoded from a connection to the local executor queues.
///
/// Called on the connection's reader thread, one envelope at a time, in arrival order.
/// It should block while the destination queue is full: the reader then stops reading
/// the socket and TCP flow control pushes back on the sending worker.
pub(crate) trait Route: Send + Sync + 'static {
    /// Deliver `env`, received from `peer`.
    fn route(&self, env: Envelope, peer: &Peer);
}

impl<F> Route for F
where
    F: Fn(Envelope) + Send + Sync + 'static,
{
    fn route(&self, env: Envelope, _peer: &Peer) {
        self(env)
    }
}

/// Routes by destination task to the queues of this worker's executors: tuple and
/// acker batches by their task, completions by their spout task.
#[derive(Debug, Clone)]
pub(crate) struct TaskRouter {
    local: BTreeMap<TaskId, Destination>,
}

impl TaskRouter {
    /// A router to these local tasks' queues.
    pub(crate) fn new(local: BTreeMap<TaskId, Destination>) -> TaskRouter {
        TaskRouter { local }
    }

    fn deliver(&self, task: TaskId, env: Envelope, peer: &Peer) {
        match self.local.get(&task) {
            // Time blocked on a full queue counts against the task (backpressure).
            Some(dest) => {
                if dest.send_blocking(env).is_err() {
                    tracing::debug!(%peer, %task, "executor queue closed; envelope dropped");
                }
            }
            None => tracing::warn!(
                %peer,
                %task,
                "envelope for a task this worker does not run; dropped"
            ),
        }
    }
}

impl Route for TaskRouter {
    fn route(&self, env: Envelope, peer: &Peer) {
        match env {
            Envelope::Batch { task, .. } | Envelope::Acks { task, .. } => {
                self.deliver(task, env, peer)
            }
            Envelope::Completions(mut all) => {
                // Split into runs of one spout task each (usually the whole batch).
                while let Some(first) = all.first() {
                    let task = first.spout_task;
                    let run = all.iter().take_while(|c| c.spout_task == task).count();
                    let rest = all.split_off(run);
                    self.deliver(task, Envelope::Completions(all), peer);
                    all = rest;
                }
            }
            Envelope::Tick { .. } | Envelope::Wake | Envelope::Stop => {}
        }
    }
}
