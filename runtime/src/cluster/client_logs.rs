//! The client side of worker logs (`squall logs`): a range of one worker's log file
//! through nimbus (see [`crate::cluster::protocol::logs`]), and which workers run a
//! component's tasks.

use std::path::Path;

use crate::cluster::addr::host_port;
use crate::cluster::auth::credentials::{self, CredentialsError};
use crate::cluster::auth::pin::CaPin;
use crate::cluster::auth::tls::ClientTrust;
use crate::cluster::client::{ClientError, Nimbus};
use crate::cluster::protocol::TopologyInfo;
use crate::cluster::protocol::logs::{LogQuery, WorkerLog};

impl Nimbus {
    /// A client for nimbus at `url` as the CLI's commands make it: the token of
    /// `token_file` (`--token-file`), `SQUALL_TOKEN_FILE` or `SQUALL_TOKEN` (none: an
    /// open nimbus), trusting `ca_file`, else the token's CA pin, else the system's roots.
    pub fn for_cli(
        url: &str,
        token_file: Option<&Path>,
        ca_file: Option<&Path>,
    ) -> Result<Nimbus, ClientError> {
        let token = match credentials::load(token_file, "client") {
            Ok(t) => Some(t),
            Err(CredentialsError::Missing { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let pin = token.as_ref().and_then(|t| t.pin).map(CaPin);
        let trust =
            ClientTrust::resolve(ca_file, pin).map_err(|e| ClientError::Other(e.to_string()))?;
        Nimbus::with_trust(url, token.as_ref(), &trust)
    }

    /// A range of one worker's log file: `GET /api/v1/topology/{topology}/logs`
    /// (`topology`: its name or id).
    pub async fn worker_log(
        &self,
        topology: &str,
        query: &LogQuery,
    ) -> Result<WorkerLog, ClientError> {
        self.get_json(&query.path(topology)).await
    }
}

/// The workers (`HOST:PORT`) of a topology's status: all of them, or those running a
/// task of `component` (known once a task of it reported its counters).
pub fn workers_of(
    status: &TopologyInfo,
    component: Option<&str>,
) -> Result<Vec<String>, ClientError> {
    let name = &status.summary.name;
    let Some(component) = component else {
        return Ok(status
            .assignment
            .iter()
            .map(|w| host_port(&w.host, w.port))
            .collect());
    };
    if !status.components.contains_key(component) {
        let known: Vec<&str> = status.components.keys().map(String::as_str).collect();
        return Err(ClientError::Other(format!(
            "topology '{name}' has no component '{component}' (its components: {})",
            known.join(", ")
        )));
    }
    let tasks: Vec<u32> = status
        .tasks
        .iter()
        .filter(|t| t.component == component)
        .map(|t| t.task)
        .collect();
    if tasks.is_empty() {
        return Err(ClientError::Other(format!(
            "no task of component '{component}' has reported yet, so which workers run it is \
             not known: try again in a few seconds, or name a worker with --worker HOST:PORT \
             (`squall status {name}` lists them)"
        )));
    }
    Ok(status
        .assignment
        .iter()
        .filter(|w| tasks.iter().any(|t| w.runs_task(*t)))
        .map(|w| host_port(&w.host, w.port))
        .collect())
}
