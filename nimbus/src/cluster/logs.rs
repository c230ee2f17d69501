//! Which worker a log request goes to: a topology (by name or id) and a worker of its
//! current assignment (`HOST:PORT` or `SUPERVISOR_ID:PORT`).

use squall_runtime::cluster::addr::host_port;
use squall_runtime::cluster::protocol::logs::parse_worker;

use super::Cluster;
use super::views::find;
use crate::error::ClusterError;

/// The worker whose log is asked for, and the supervisor that reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    /// Topology name.
    pub topology: String,
    /// Topology id.
    pub topology_id: String,
    /// The supervisor running the worker.
    pub supervisor: String,
    /// Whether that supervisor heartbeats within its timeout.
    pub alive: bool,
    /// `HOST:PORT` of the worker.
    pub worker: String,
    /// The slot port.
    pub port: u16,
}

/// A host without the brackets of an IPv6 literal.
fn bare(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

impl Cluster {
    /// The worker `worker` (`HOST:PORT` or `SUPERVISOR_ID:PORT`; `None`: the only one)
    /// of topology `name_or_id`'s current assignment.
    pub fn log_target(
        &self,
        name_or_id: &str,
        worker: Option<&str>,
    ) -> Result<LogTarget, ClusterError> {
        let st = self.lock();
        let t = find(&st, name_or_id)
            .ok_or_else(|| ClusterError::TopologyNotFound(name_or_id.to_string()))?;
        let name = &t.record.name;
        let workers = &t.assignment.workers;
        let listed = || {
            workers
                .iter()
                .map(|w| host_port(&w.host, w.port))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let w = match worker {
            None => match workers.as_slice() {
                [only] => only,
                [] => {
                    return Err(ClusterError::Conflict(format!(
                        "topology '{name}' has no worker assigned now"
                    )));
                }
                _ => {
                    return Err(ClusterError::bad_request(format!(
                        "topology '{name}' has {} workers: name one with worker=HOST:PORT \
                         ({})",
                        workers.len(),
                        listed()
                    )));
                }
            },
            Some(asked) => {
                let (host, port) =
                    parse_worker(asked).map_err(|e| ClusterError::bad_request(e.to_string()))?;
                workers
                    .iter()
                    .find(|w| w.port == port && (bare(&w.host) == host || w.supervisor == host))
                    .ok_or_else(|| {
                        ClusterError::NotFound(format!(
                            "topology '{name}' has no worker at {asked}; its workers: {}",
                            listed()
                        ))
                    })?
            }
        };
        let alive = st.supervisors.get(&w.supervisor).is_some_and(|s| s.alive);
        Ok(LogTarget {
            topology: name.clone(),
            topology_id: t.record.id.clone(),
            supervisor: w.supervisor.clone(),
            alive,
            worker: host_port(&w.host, w.port),
            port: w.port,
        })
    }
}
