//! The monitor: runs [`Cluster::tick`] every monitor interval, or sooner when a deadline
//! (a kill wait, a rebalance wait, a supervisor's heartbeat timeout) falls due first or a
//! request set a new one.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::cluster::Cluster;

/// Shortest sleep between ticks (bounds the tick rate when deadlines are already due).
const MIN_SLEEP: Duration = Duration::from_millis(10);

/// Tick until `stop` turns true.
pub async fn run(
    cluster: Arc<Cluster>,
    interval: Duration,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let c = cluster.clone();
        let next_due = match tokio::task::spawn_blocking(move || c.tick()).await {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "monitor pass failed; retrying next interval");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "monitor pass panicked; retrying next interval");
                None
            }
        };
        let mut sleep = interval;
        if let Some(due_in) = next_due {
            sleep = sleep.min(due_in);
        }
        let sleep = sleep.max(MIN_SLEEP);
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = wake.notified() => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        if *stop.borrow() {
            tracing::debug!("monitor stopped");
            return;
        }
    }
}
