//! The in-process validator: the topology checked against a registry of this process.

use std::path::Path;

use squall_runtime::Registry;
use squall_runtime::topology::check;

use super::{ValidateFuture, Validator, invalid};
use crate::error::ClusterError;

/// Validates submissions against the components of `registry` in this process, exactly
/// as a topology binary's `validate` command does, without running the artifact (which
/// is not looked at). For clusters in one process (`LocalCluster`), where the
/// components are linked into the test itself.
///
/// ```
/// use std::sync::Arc;
/// use squall_nimbus::validate::RegistryValidator;
///
/// let mut opts = squall_nimbus::NimbusOpts::new("/tmp/nimbus".into());
/// opts.validator = Some(Arc::new(RegistryValidator::new(squall_runtime::Registry::new())));
/// ```
#[derive(Debug, Clone)]
pub struct RegistryValidator {
    registry: Registry,
}

impl RegistryValidator {
    /// A validator for the components and topology builders of `registry`.
    pub fn new(registry: Registry) -> RegistryValidator {
        RegistryValidator { registry }
    }
}

impl Validator for RegistryValidator {
    fn validate<'a>(
        &'a self,
        _artifact: &'a Path,
        _hash: &'a str,
        yaml: &'a str,
        resolve: bool,
    ) -> ValidateFuture<'a> {
        let (registry, yaml) = (self.registry.clone(), yaml.to_string());
        Box::pin(async move {
            // Builders and factories are user code: off the async threads.
            let checked = tokio::task::spawn_blocking(move || check::check_str(&yaml, &registry))
                .await
                .map_err(|e| ClusterError::Internal(format!("validation panicked: {e}")))?
                .map_err(|errors| invalid(errors.to_string().trim()))?;
            if !resolve {
                return Ok(None);
            }
            checked.resolved_yaml().map(Some).map_err(|e| {
                ClusterError::Internal(format!("cannot encode the resolved topology: {e}"))
            })
        })
    }
}
