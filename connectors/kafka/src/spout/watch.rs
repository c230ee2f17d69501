//! Finding the topics' partitions off the spout's thread: a watcher thread asks the
//! brokers every `partition.refresh.period.ms` with its own client and keeps the latest
//! answer, so an unreachable broker never blocks `next_tuple` (metadata requests wait
//! up to their timeout).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};

use super::client::{consumer, partitions_of};
use crate::config::KafkaSpoutConfig;
use crate::error::BrokerError;

/// The partitions of every topic, or why they are unknown.
pub(super) type Listing = Result<Vec<(String, i32)>, String>;

/// A thread listing the topics' partitions periodically; stops when dropped.
pub(super) struct PartitionWatcher {
    latest: Arc<Mutex<Option<Listing>>>,
    _stop: mpsc::Sender<()>,
}

impl PartitionWatcher {
    /// Start watching `config.topics`.
    pub(super) fn start(config: &KafkaSpoutConfig, name: &str) -> Result<Self, BrokerError> {
        let client = consumer(config, &config.group_id)?;
        let latest: Arc<Mutex<Option<Listing>>> = Arc::default();
        let (stop, stopped) = mpsc::channel::<()>();
        let (l, topics, bootstrap, period, group) = (
            latest.clone(),
            config.topics.clone(),
            config.bootstrap_servers.clone(),
            config.partition_refresh_period,
            config.group_id.clone(),
        );
        std::thread::Builder::new()
            .name(format!("{name}-partitions"))
            .spawn(move || {
                let mut last_error = String::new();
                loop {
                    let listing = partitions_of(&client, &topics, &bootstrap)
                        .map(|(all, missing)| (all, missing.join("; ")))
                        .map_err(|e| e.to_string());
                    // Log a problem once, not every period.
                    let problem = match &listing {
                        Ok((_, missing)) => missing.clone(),
                        Err(e) => e.clone(),
                    };
                    if problem != last_error && !problem.is_empty() {
                        tracing::warn!(group = %group, "Kafka spout: {problem}");
                    }
                    last_error = problem;
                    let listing = listing.map(|(all, _)| all);
                    *l.lock().unwrap_or_else(PoisonError::into_inner) = Some(listing);
                    match stopped.recv_timeout(period) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .map_err(|e| {
                BrokerError::new(
                    format!("starting the partition watcher: {e}"),
                    &config.bootstrap_servers,
                    rdkafka::error::KafkaError::Canceled,
                )
            })?;
        Ok(PartitionWatcher {
            latest,
            _stop: stop,
        })
    }

    /// The latest listing not taken yet.
    pub(super) fn take(&self) -> Option<Listing> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}
