//! The coordinator half (in the master batch coordinator): lists the topics'
//! partitions off its thread and tells every batch which partitions exist and which
//! txid is known committed (so emitters can forget older ranges).

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use squall_runtime::Value;
use squall_runtime::trident::meta::MetaStore;
use squall_runtime::trident::{OpError, SpoutCoordinator, TransactionAttempt};

use super::client::{consumer, partitions_of};
use super::config::KafkaTridentSpoutConfig;
use super::partition_record;

/// The metadata of one batch, as the master hands it to the emitters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchMeta {
    /// The highest txid known committed when the batch started (0: none).
    pub committed: u64,
    /// Every partition of the configured topics known when the batch started.
    pub partitions: Vec<(String, i32)>,
}

/// The latest partition listing of the watcher thread, not taken yet.
type Latest = Arc<Mutex<Option<Vec<(String, i32)>>>>;

/// The coordinator half.
pub(super) struct Coordinator {
    latest: Latest,
    _stop: mpsc::Sender<()>,
    partitions: Vec<(String, i32)>,
    topics: Vec<String>,
    listed: bool,
    committed: Option<u64>,
    spout: String,
    topology_id: String,
    store: Arc<dyn MetaStore>,
    stop_at: Option<Arc<BTreeMap<(String, i32), i64>>>,
    exhausted: bool,
}

impl Coordinator {
    /// Start listing `config.topics` every `partition.refresh.period.ms`.
    pub(super) fn start(
        config: &KafkaTridentSpoutConfig,
        spout: &str,
        topology_id: &str,
        store: Arc<dyn MetaStore>,
        stop_at: Option<Arc<BTreeMap<(String, i32), i64>>>,
    ) -> Result<Coordinator, OpError> {
        let client = consumer(config).map_err(|e| OpError(e.to_string()))?;
        let latest: Latest = Arc::default();
        let (stop, stopped) = mpsc::channel::<()>();
        let (l, topics, bootstrap, period) = (
            latest.clone(),
            config.topics.clone(),
            config.bootstrap_servers.clone(),
            config.partition_refresh_period,
        );
        std::thread::Builder::new()
            .name(format!("{spout}-partitions"))
            .spawn(move || {
                let mut last_error = String::new();
                loop {
                    match partitions_of(&client, &topics, &bootstrap) {
                        Ok(all) => {
                            last_error.clear();
                            *l.lock().unwrap_or_else(PoisonError::into_inner) = Some(all);
                        }
                        Err(e) => {
                            let e = e.to_string();
                            if e != last_error {
                                tracing::warn!(
                                    "Kafka Trident spout: listing partitions: {e} (retrying)"
                                );
                            }
                            last_error = e;
                        }
                    }
                    match stopped.recv_timeout(period) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .map_err(|e| OpError(format!("starting the partition listing thread: {e}")))?;
        Ok(Coordinator {
            latest,
            _stop: stop,
            partitions: Vec::new(),
            topics: config.topics.clone(),
            listed: false,
            committed: None,
            spout: spout.to_string(),
            topology_id: topology_id.to_string(),
            store,
            stop_at,
            exhausted: false,
        })
    }

    /// Take the watcher's latest listing: partitions only ever get added, so the
    /// known ones stay (a topic briefly missing from an answer keeps its partitions).
    fn refresh(&mut self) {
        let Some(listing) = self
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        self.listed = true;
        let mut all: Vec<(String, i32)> = self.partitions.drain(..).chain(listing).collect();
        let topics = &self.topics;
        all.sort_by_key(|(t, p)| (topics.iter().position(|x| x == t), *p));
        all.dedup();
        if all.len() != self.partitions.len() {
            tracing::info!(
                spout = %self.spout,
                partitions = all.len(),
                "Kafka Trident spout: partitions listed"
            );
        }
        self.partitions = all;
    }

    /// With `stop_at`: whether every listed partition's committed ranges (of this
    /// deployment) reach its end.
    fn reached_ends(&self, committed: u64) -> bool {
        let Some(ends) = &self.stop_at else {
            return false;
        };
        ends.iter().all(|((topic, p), end)| {
            partition_record(&self.store, &self.spout, topic, *p)
                .ok()
                .flatten()
                .filter(|r| r.topology_id == self.topology_id)
                .and_then(|r| r.committed_end(committed))
                .is_some_and(|e| e >= *end)
        })
    }
}

impl SpoutCoordinator for Coordinator {
    fn is_ready(&self) -> bool {
        // A bounded read that reached its ends starts no more batches.
        !self.exhausted
            && (self.listed
                || self
                    .latest
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some())
    }

    fn plan(&mut self, ta: TransactionAttempt) -> Result<Value, OpError> {
        self.refresh();
        // The first batch after a (re)start is the one after the last commit.
        let committed = *self.committed.get_or_insert(ta.txid.saturating_sub(1));
        let meta = BatchMeta {
            committed,
            partitions: self.partitions.clone(),
        };
        serde_json::to_string(&meta)
            .map(Value::from)
            .map_err(|e| OpError(format!("encoding the batch metadata: {e}")))
    }

    fn success(&mut self, txid: u64) {
        let c = self.committed.map_or(txid, |c| c.max(txid));
        self.committed = Some(c);
        if !self.exhausted && self.reached_ends(c) {
            tracing::info!(spout = %self.spout, txid, "Kafka Trident spout: every partition read to its stop offset");
            self.exhausted = true;
        }
    }

    fn is_exhausted(&self) -> bool {
        self.exhausted
    }
}
