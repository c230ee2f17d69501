//! Topology secrets, nimbus side: rotating one, and checking a worker's credential (see
//! [`worker_credential`](squall_runtime::cluster::auth::worker_credential)).

use squall_runtime::cluster::auth::topology_secret::TopologySecret;
use squall_runtime::cluster::auth::worker_credential;
use squall_runtime::cluster::protocol::ActionResponse;

use super::Cluster;
use crate::error::{ClusterError, StoreError};

impl Cluster {
    /// Give topology `topology` (by name) a new secret: stored first, then sent in its
    /// slots' assignments, whose change restarts its workers with it (a worker that
    /// still holds the old one is refused by the new ones and by nimbus). Called when a
    /// supervisor that ran its workers loses its credential, and by
    /// `POST /api/v1/topologies/{name}/rotate-secret`.
    pub fn rotate_topology_secret(&self, topology: &str) -> Result<ActionResponse, ClusterError> {
        let secret = TopologySecret::generate().map_err(StoreError::from)?;
        let mut st = self.lock_mut();
        let Some(topo) = st.topologies.get_mut(topology) else {
            return Err(ClusterError::TopologyNotFound(topology.to_string()));
        };
        self.store
            .write(|w| w.put_topology_secret(topology, &secret))?;
        topo.secret = secret;
        tracing::info!(topology = %topology, id = %topo.record.id,
            "topology secret rotated; its workers restart with the new one");
        Ok(ActionResponse {
            name: topology.to_string(),
            id: topo.record.id.clone(),
            status: topo.record.status,
            message: "secret rotated: its workers restart with the new one".to_string(),
        })
    }

    /// The id of the topology whose workers' credential `bearer` is (the token after
    /// `Bearer `), or `None` if it is not a valid worker credential (unknown topology,
    /// wrong or stale MAC). The MAC is compared in constant time.
    pub fn worker_credential_topology(&self, bearer: &str) -> Option<String> {
        let claimed = worker_credential::claimed_topology(bearer)?;
        let st = self.lock();
        let topo = st.topologies.values().find(|t| t.record.id == claimed)?;
        worker_credential::verify(bearer, claimed, &topo.secret).then(|| claimed.to_string())
    }
}
