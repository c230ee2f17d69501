//! The in-process validator: the topology checked against a registry of this process.

use std::path::Path;

use squall_runtime::Registry;
use squall_runtime::state::checkpoint::wiring;
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
            // The checkpoint wiring of stateful bolts changes the declaration too.
            if !resolve && !wiring::is_wired(&checked.resolved.def) {
                return Ok(None);
            }
            checked.resolved_yaml().map(Some).map_err(|e| {
                ClusterError::Internal(format!("cannot encode the resolved topology: {e}"))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use squall_runtime::testing::FixedSpout;

    const VALID: &str = "name: t\nspouts: [{id: words, className: Words}]\n";

    fn validator() -> RegistryValidator {
        let mut registry = Registry::new();
        registry.spout("Words", |_| Ok(FixedSpout::new(&["word"], Vec::new())));
        RegistryValidator::new(registry)
    }

    async fn validate(yaml: &str, resolve: bool) -> Result<Option<String>, ClusterError> {
        validator()
            .validate(Path::new("/no/such/artifact"), "abc", yaml, resolve)
            .await
    }

    #[tokio::test]
    async fn a_valid_topology_passes_without_running_the_artifact() {
        assert_eq!(validate(VALID, false).await.unwrap(), None);
        let resolved = validate(VALID, true).await.unwrap().expect("resolved");
        assert!(resolved.contains("Words"), "{resolved}");
    }

    #[tokio::test]
    async fn an_unknown_component_is_a_bad_request_naming_it() {
        let bad = VALID.replace("Words", "Nope");
        match validate(&bad, false).await {
            Err(ClusterError::BadRequest { message, details }) => {
                assert!(message.starts_with("the topology is invalid"), "{message}");
                assert!(details.iter().any(|d| d.contains("Nope")), "{details:?}");
            }
            other => panic!("expected a bad request, got {other:?}"),
        }
    }
}
