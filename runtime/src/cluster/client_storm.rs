//! The client of the error views nimbus serves (`squall errors`): each component's
//! recent errors, from the topology's all-time metrics view.

use std::collections::BTreeMap;

use super::client::{ClientError, Nimbus};
use super::protocol::{ComponentError, TopologyMetrics, Window};

impl Nimbus {
    /// The recent errors (at most ten per component, oldest first) of every component
    /// of topology `name` that has any, by component id.
    pub async fn component_errors(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, Vec<ComponentError>>, ClientError> {
        let path = format!(
            "/api/v1/topologies/{name}/metrics?window={}",
            Window::AllTime.storm_name()
        );
        let metrics: TopologyMetrics = self.call(reqwest::Method::GET, &path, None).await?;
        Ok(metrics
            .components
            .into_iter()
            .filter(|(_, c)| !c.errors.is_empty())
            .map(|(id, c)| (id, c.errors))
            .collect())
    }
}
