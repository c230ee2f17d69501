//! What the supervisor's long polls of nimbus share (assignments, log requests): one GET
//! whose JSON answer is read only up to a cap, and how an outage is reported and
//! retried (a warning once per outage, then debug; delays backing off).

use std::time::Duration;

use serde::de::DeserializeOwned;
use squall_runtime::engine::backoff::Backoff;
use tokio::sync::watch;

use crate::daemon::read_capped;

/// Delays between failed polls (nimbus down, refusing, or an older nimbus).
const RETRY: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(15));

/// Characters of a refusal's body kept in the error.
const MAX_REFUSAL_CHARS: usize = 500;

/// GET `url` and parse its JSON answer, read up to `max_bytes` (a larger answer is an
/// error, never allocated). Errors name the URL and what went wrong.
pub(crate) async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    max_bytes: usize,
) -> Result<T, String> {
    let resp = http.get(url).send().await.map_err(|e| {
        format!(
            "GET {url}: {}",
            squall_runtime::cluster::auth::tls::describe(&e)
        )
    })?;
    squall_runtime::cluster::http::check_answer(&resp).map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let body = read_capped(resp, max_bytes)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "GET {url}: {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(MAX_REFUSAL_CHARS)
                .collect::<String>()
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: bad answer: {e}"))
}

/// While `cut_off` is true (a test's partition), wait for it or `stop` to change.
/// Returns whether it waited (the caller then re-checks both).
pub(crate) async fn wait_while_cut_off(
    cut_off: &mut watch::Receiver<bool>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    if !*cut_off.borrow() {
        return false;
    }
    tokio::select! {
        _ = cut_off.changed() => {}
        _ = stop.changed() => {}
    }
    true
}

/// The failures in a row of one long poll.
#[derive(Debug)]
pub(crate) struct Outage {
    /// What is polled, for the log ("assignments", "log requests").
    what: &'static str,
    failures: u32,
}

impl Outage {
    /// No failure yet, polling for `what`.
    pub(crate) fn new(what: &'static str) -> Outage {
        Outage { what, failures: 0 }
    }

    /// A poll worked: said once after an outage.
    pub(crate) fn ended(&mut self) {
        if self.failures > 0 {
            tracing::info!("polling nimbus for {} works again", self.what);
        }
        self.failures = 0;
    }

    /// A poll failed with `error`: logged as a warning once per outage (then at debug),
    /// then wait the retry delay, or until `stop` changes.
    pub(crate) async fn failed(&mut self, error: &str, stop: &mut watch::Receiver<bool>) {
        self.failures = self.failures.saturating_add(1);
        if self.failures == 1 {
            tracing::warn!("cannot poll nimbus for {} (retrying): {error}", self.what);
        } else {
            tracing::debug!(
                failures = self.failures,
                "cannot poll nimbus for {}: {error}",
                self.what
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY.delay(self.failures)) => {}
            _ = stop.changed() => {}
        }
    }
}
