//! The master coordinator's durable memory: the last committed txid and how many times
//! it has started (its epoch, which makes attempts of a restarted coordinator newer
//! than any attempt of the one before). One record in a [`MetaSlot`] (nimbus in a
//! cluster, a file in local mode), replaced whole at every change.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::meta::{MetaError, MetaSlot};

/// The stored record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// Last committed txid (0: none).
    committed: u64,
    /// Starts of the coordinator before the current one.
    epoch: u32,
}

/// A stored record: JSON, or the line log of earlier versions (`epoch N` and
/// `commit T` lines; a torn last line, from a crash mid-append, is dropped with a
/// warning), read once and then replaced. `at` names the record for the warning.
fn decode(text: &str, at: &str) -> Result<Record, String> {
    let json = match serde_json::from_str::<Record>(text) {
        Ok(r) => return Ok(r),
        Err(e) => e,
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut record = Record::default();
    let mut valid = 0;
    for (i, line) in lines.iter().enumerate() {
        let parsed = match line.split_once(' ') {
            Some(("commit", t)) => t.trim().parse().map(|t| record.committed = t).is_ok(),
            Some(("epoch", e)) => e.trim().parse().map(|e| record.epoch = e).is_ok(),
            _ => false,
        };
        if parsed {
            valid += 1;
        } else if i + 1 < lines.len() {
            return Err(format!("{json} (nor a line log: line {}: {line:?})", i + 1));
        } else if valid > 0 {
            tracing::warn!(
                log = %at,
                line = i + 1,
                text = %line,
                "trident commit log: dropping a torn last line (a crash mid-write)"
            );
        }
    }
    if valid == 0 {
        // Not a line log either (a torn last line alone is no log).
        return Err(json.to_string());
    }
    Ok(record)
}

/// Refuse to run durable states (the files `states`) when the coordinator's commit
/// record (`slot`) would not survive a restart: the restarted coordinator would count
/// txids from 1 again, and the states would skip (transactional) or refuse (opaque)
/// batches they already hold. The message names the states and the record.
pub(crate) fn check_durable(states: &[PathBuf], slot: Option<&MetaSlot>) -> Result<(), String> {
    let Some(first) = states.first() else {
        return Ok(());
    };
    let record = match slot {
        Some(slot) if slot.is_durable() => return Ok(()),
        Some(slot) => format!("kept only in memory ({})", slot.describe()),
        None => "not kept (no commit log file and no metadata store)".to_string(),
    };
    let names: Vec<String> = states.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "durable state {} needs a durable commit record, but the master coordinator's is {record}: \
         after a restart its txids would start again at 1 behind the state's. Give the topology \
         a commit log file (TridentTopology::commit_log) or run it on a cluster",
        if names.len() == 1 {
            first.display().to_string()
        } else {
            names.join(", ")
        }
    ))
}

/// The commit log of one master coordinator.
#[derive(Debug)]
pub(crate) struct CommitLog {
    slot: Option<MetaSlot>,
    record: Record,
}

impl CommitLog {
    /// Read the record in `slot` and start a new epoch (written before anything else
    /// happens); `None` keeps nothing (txids start at 1, epoch 0).
    pub fn open(slot: Option<MetaSlot>) -> Result<CommitLog, MetaError> {
        let Some(slot) = slot else {
            return Ok(CommitLog {
                slot: None,
                record: Record::default(),
            });
        };
        let record = match slot.get()? {
            Some(text) => {
                let r = decode(&text, &slot.describe()).map_err(|message| MetaError::Corrupt {
                    at: slot.describe(),
                    message,
                })?;
                Record {
                    committed: r.committed,
                    epoch: r.epoch.wrapping_add(1),
                }
            }
            None => Record::default(),
        };
        slot.put_json(&record)?;
        Ok(CommitLog {
            slot: Some(slot),
            record,
        })
    }

    /// The last committed txid (0: none).
    pub fn committed(&self) -> u64 {
        self.record.committed
    }

    /// How many times the coordinator started before this run.
    pub fn epoch(&self) -> u32 {
        self.record.epoch
    }

    /// Start a new epoch, durably (the run used up the attempts one epoch can name for
    /// a txid); returns it.
    pub fn next_epoch(&mut self) -> Result<u32, MetaError> {
        let next = Record {
            epoch: self.record.epoch.wrapping_add(1),
            ..self.record
        };
        if let Some(slot) = &self.slot {
            slot.put_json(&next)?;
        }
        self.record = next;
        Ok(next.epoch)
    }

    /// Record, durably, that `txid` committed.
    pub fn record(&mut self, txid: u64) -> Result<(), MetaError> {
        let next = Record {
            committed: txid,
            ..self.record
        };
        if let Some(slot) = &self.slot {
            slot.put_json(&next)?;
        }
        self.record = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::trident::meta::{MemoryMetaStore, MetaKey};

    #[test]
    fn a_reopened_log_resumes_after_the_last_commit_in_a_new_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coord.log");
        let mut log = CommitLog::open(Some(MetaSlot::file(&path).unwrap())).unwrap();
        assert_eq!((log.committed(), log.epoch()), (0, 0));
        log.record(1).unwrap();
        log.record(2).unwrap();
        let again = CommitLog::open(Some(MetaSlot::file(&path).unwrap())).unwrap();
        assert_eq!((again.committed(), again.epoch()), (2, 1));
        std::fs::write(&path, "{\"committed\":1}\nbogus\n").unwrap();
        let e = CommitLog::open(Some(MetaSlot::file(&path).unwrap())).unwrap_err();
        assert!(e.to_string().contains("coord.log"), "{e}");
    }

    #[test]
    fn the_line_log_of_earlier_versions_is_read_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coord.log");
        std::fs::write(&path, "epoch 0\ncommit 1\nepoch 1\ncommit 3\ncomm").unwrap();
        let log = CommitLog::open(Some(MetaSlot::file(&path).unwrap())).unwrap();
        assert_eq!((log.committed(), log.epoch()), (3, 2));
        let stored = std::fs::read_to_string(&path).unwrap();
        assert_eq!(stored, "{\"committed\":3,\"epoch\":2}");
        std::fs::write(&path, "epoch 0\nbogus\ncommit 3\n").unwrap();
        let e = CommitLog::open(Some(MetaSlot::file(&path).unwrap())).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("line 2") && msg.contains("coord.log"), "{msg}");
        std::fs::write(&path, "garbage").unwrap();
        assert!(CommitLog::open(Some(MetaSlot::file(&path).unwrap())).is_err());
    }

    #[test]
    fn a_durable_state_needs_a_durable_commit_record() {
        let states = [PathBuf::from("/data/counts.redb")];
        let e = check_durable(&states, None).unwrap_err();
        assert!(
            e.contains("/data/counts.redb") && e.contains("not kept"),
            "{e}"
        );
        let memory: Arc<dyn crate::trident::meta::MetaStore> = Arc::new(MemoryMetaStore::new());
        let slot = MetaSlot::new(memory, MetaKey::coordinator());
        let e = check_durable(&states, Some(&slot)).unwrap_err();
        assert!(
            e.contains("/data/counts.redb") && e.contains("in memory ('coordinator'"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = MetaSlot::file(&dir.path().join("coord")).unwrap();
        check_durable(&states, Some(&file)).unwrap();
        // Memory states (no files) need nothing.
        check_durable(&[], None).unwrap();
    }

    #[test]
    fn a_coordinator_started_elsewhere_on_the_same_store_resumes_too() {
        let store: Arc<dyn crate::trident::meta::MetaStore> = Arc::new(MemoryMetaStore::new());
        let slot = || Some(MetaSlot::new(store.clone(), MetaKey::coordinator()));
        let mut first = CommitLog::open(slot()).unwrap();
        first.record(7).unwrap();
        let moved = CommitLog::open(slot()).unwrap();
        assert_eq!((moved.committed(), moved.epoch()), (7, 1));
    }
}
