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
use crate::cluster::protocol::trident::encode_segment;

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
        self.call(reqwest::Method::GET, &query.path(topology), None)
            .await
    }

    /// The workers (`HOST:PORT`) running `component`'s executors, from Storm's component
    /// page (`GET /api/v1/topology/{topology}/component/{component}`), which nimbus
    /// builds from the assignment: known before any task reported.
    pub async fn component_workers(
        &self,
        topology: &str,
        component: &str,
    ) -> Result<Vec<String>, ClientError> {
        let path = format!(
            "/api/v1/topology/{}/component/{}",
            encode_segment(topology),
            encode_segment(component)
        );
        let page: serde_json::Value = self.call(reqwest::Method::GET, &path, None).await?;
        Ok(executor_workers(&page))
    }
}

/// `HOST:PORT` of each distinct worker in a Storm component page's `executorStats`.
fn executor_workers(page: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in page["executorStats"].as_array().into_iter().flatten() {
        let (Some(host), Some(port)) = (
            e["host"].as_str(),
            e["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
        ) else {
            continue;
        };
        let worker = host_port(host, port);
        if !out.contains(&worker) {
            out.push(worker);
        }
    }
    out
}

/// Every worker (`HOST:PORT`) of a topology's status.
pub fn all_workers(status: &TopologyInfo) -> Vec<String> {
    status
        .assignment
        .iter()
        .map(|w| host_port(&w.host, w.port))
        .collect()
}

/// Refuse a component the topology does not have, listing those it has.
pub fn check_component(status: &TopologyInfo, component: &str) -> Result<(), ClientError> {
    if status.components.contains_key(component) {
        return Ok(());
    }
    let known: Vec<&str> = status.components.keys().map(String::as_str).collect();
    Err(ClientError::Other(format!(
        "topology '{}' has no component '{component}' (its components: {})",
        status.summary.name,
        known.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_component_page_gives_each_worker_once() {
        let page = serde_json::json!({"executorStats": [
            {"host": "10.0.0.1", "port": 6700},
            {"host": "10.0.0.1", "port": 6700},
            {"host": "::1", "port": 6701},
            {"host": "bad", "port": 70000},
        ]});
        assert_eq!(executor_workers(&page), ["10.0.0.1:6700", "[::1]:6701"]);
        assert!(executor_workers(&serde_json::json!({})).is_empty());
    }
}
