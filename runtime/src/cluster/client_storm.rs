//! The client of the error views nimbus serves (`squall errors`): each component's
//! recent errors, from the topology's all-time metrics view.

use std::collections::BTreeMap;

use serde_json::Value;

use super::client::{ClientError, Nimbus};
use super::protocol::{ComponentError, Window};

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
        // Read as a JSON value, not as `TopologyMetrics`: a component's JSON has the
        // key `errors` twice (the error count of its flattened figures, then the list),
        // which the typed reader refuses; the value keeps the last, the list.
        let metrics: Value = self.call(reqwest::Method::GET, &path, None).await?;
        let mut out = BTreeMap::new();
        let components = metrics["components"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (id, c) in components {
            let Some(list) = c.get("errors").filter(|e| e.is_array()) else {
                continue;
            };
            let errors: Vec<ComponentError> =
                serde_json::from_value(list.clone()).map_err(|e| {
                    ClientError::Other(format!(
                        "nimbus's errors of component '{id}' are not what this client expects: {e}"
                    ))
                })?;
            if !errors.is_empty() {
                out.insert(id, errors);
            }
        }
        Ok(out)
    }
}
