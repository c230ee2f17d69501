//! The client side of a topology's log configuration
//! (`/api/v1/topology/{id}/logconfig`, Storm's shape).

use super::client::{ClientError, Nimbus};
use crate::cluster::protocol::logconfig::{LogConfigBody, logconfig_path};

impl Nimbus {
    /// The log configuration of topology `name` (or id).
    pub async fn log_config(&self, name: &str) -> Result<LogConfigBody, ClientError> {
        self.call(reqwest::Method::GET, &logconfig_path(name), None)
            .await
    }

    /// Change the log configuration of topology `name` (or id) as `body` says; the
    /// answer is the whole configuration.
    pub async fn set_log_config(
        &self,
        name: &str,
        body: &LogConfigBody,
    ) -> Result<LogConfigBody, ClientError> {
        self.call(reqwest::Method::POST, &logconfig_path(name), Some(body))
            .await
    }
}
