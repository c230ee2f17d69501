//! The client of nimbus's metrics view: `GET /api/v1/topologies/{name}/metrics?window=W`.

use crate::cluster::client::{ClientError, Nimbus};
use crate::cluster::protocol::{TopologyMetrics, Window};

impl Nimbus {
    /// A topology's figures over `window` (latencies, capacity, backpressure per
    /// component and task).
    pub async fn metrics(
        &self,
        name: &str,
        window: Window,
    ) -> Result<TopologyMetrics, ClientError> {
        self.call(
            reqwest::Method::GET,
            &format!(
                "/api/v1/topologies/{name}/metrics?window={}",
                window.storm_name()
            ),
            None,
        )
        .await
    }
}
