//! Talking to the brokers off the spout's thread: a watcher thread asks them every
//! `partition.refresh.period.ms`, with its own client, for the topics' partitions (kept
//! for the spout to take) and the log ends of the task's partitions (the lag gauges,
//! [`super::lag`]), so an unreachable broker never blocks `next_tuple` (metadata
//! requests wait up to their timeout).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};

use super::client::partitions_of;
use super::consumer::{SpoutConsumer, TopicPartition};
use super::lag::LagBoard;
use crate::config::KafkaSpoutConfig;
use crate::error::BrokerError;

/// The partitions of every topic, or why they are unknown.
pub(super) type Listing = Result<Vec<TopicPartition>, String>;

/// A thread listing the topics' partitions periodically; stops when dropped.
pub(super) struct PartitionWatcher {
    latest: Arc<Mutex<Option<Listing>>>,
    _stop: mpsc::Sender<()>,
}

impl PartitionWatcher {
    /// Start watching `config.topics` (and the log ends of `lag`'s partitions).
    pub(super) fn start<C: SpoutConsumer>(
        connector: &C::Connector,
        config: &KafkaSpoutConfig,
        name: &str,
        lag: LagBoard,
    ) -> Result<Self, BrokerError> {
        let client = C::create(connector, config, &config.group_id)?;
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
                    if listing.is_ok() {
                        lag.refresh(&client);
                    } else {
                        lag.unreachable();
                    }
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
