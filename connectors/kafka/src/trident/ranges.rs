//! The batch-range logic of the opaque Trident Kafka spout, pure (no broker, no store):
//! which partitions a task emits, where each partition's part of a batch starts, and the
//! per-partition record of the offsets every recent txid read.
//!
//! A partition's record holds, for the txids not known to be committed and for the
//! last committed one, the offsets `[first_offset, last_offset]` each read (an empty
//! read is `last_offset = first_offset - 1`). A batch of partition `p`:
//! - re-reads its own recorded range when `txid` has one (a replay reads the same
//!   offsets; records that vanished meanwhile are simply missing — opaque allows it);
//! - reads nothing when a later txid has a range already (that txid read past where
//!   this one would start);
//! - otherwise starts where the latest earlier txid's range ended, or — for the first
//!   batch of this deployment — where `first.poll.offset.strategy` says.

use serde::{Deserialize, Serialize};

use crate::config::FirstPollOffsetStrategy;

/// The offsets one txid read from a partition (inclusive; empty when
/// `last_offset < first_offset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRange {
    /// The transaction id.
    pub txid: u64,
    /// The first offset read.
    pub first_offset: i64,
    /// The last offset read (`first_offset - 1`: nothing read).
    pub last_offset: i64,
}

impl BatchRange {
    /// Where the next batch of the partition starts.
    pub fn next(&self) -> i64 {
        self.last_offset.saturating_add(1)
    }

    /// How many offsets the range spans.
    pub fn len(&self) -> u64 {
        u64::try_from(self.next().saturating_sub(self.first_offset)).unwrap_or(0)
    }

    /// Whether it spans no offset.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One partition's record in the Trident metadata store (Storm's batch metadata
/// `{firstOffset, lastOffset, topologyId}`, kept for every recent txid).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionRecord {
    /// The deployment that wrote the ranges (Storm's `topologyId`).
    pub topology_id: String,
    /// Ranges by ascending txid.
    pub batches: Vec<BatchRange>,
}

/// Where a new range starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At this offset (where the previous batch ended).
    At(i64),
    /// At the partition's first offset (its low watermark).
    Earliest,
    /// At the partition's end (its high watermark).
    Latest,
}

/// What a batch does with one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionPlan {
    /// Read the recorded range again (a replay).
    Reread {
        /// First offset.
        first: i64,
        /// Last offset.
        last: i64,
    },
    /// Read nothing: a later txid already read from where this one would start.
    Skip,
    /// Read a new range from here, at most `max.batch.size` records, and record it.
    Read(Start),
}

impl PartitionRecord {
    /// This deployment's view of a stored record: the record itself when `topology_id`
    /// wrote it; for another deployment's (or none), per Storm's first-poll rule:
    /// `EARLIEST`/`LATEST` ignore it (the partition starts over), `UNCOMMITTED_*` resume
    /// where its committed batches end (`committed`: the last committed txid; a record
    /// with nothing committed resumes at its first range), kept as the range of txid 0,
    /// before every real txid. Its uncommitted ranges are read again by new txids.
    pub fn adopt(
        stored: Option<PartitionRecord>,
        topology_id: &str,
        strategy: FirstPollOffsetStrategy,
        committed: u64,
    ) -> PartitionRecord {
        let fresh = PartitionRecord {
            topology_id: topology_id.to_string(),
            batches: Vec::new(),
        };
        let Some(stored) = stored else {
            return fresh;
        };
        if stored.topology_id == topology_id {
            return stored;
        }
        let resume = stored
            .committed_end(committed)
            .or_else(|| stored.batches.first().map(|r| r.first_offset));
        match (strategy, resume) {
            (
                FirstPollOffsetStrategy::UncommittedEarliest
                | FirstPollOffsetStrategy::UncommittedLatest,
                Some(next),
            ) => PartitionRecord {
                topology_id: topology_id.to_string(),
                batches: vec![BatchRange {
                    txid: 0,
                    first_offset: next,
                    last_offset: next - 1,
                }],
            },
            _ => fresh,
        }
    }

    /// What batch `txid` does with this partition (see the [module docs](self)).
    pub fn plan(&self, txid: u64, strategy: FirstPollOffsetStrategy) -> PartitionPlan {
        if let Some(r) = self.batches.iter().find(|r| r.txid == txid) {
            return PartitionPlan::Reread {
                first: r.first_offset,
                last: r.last_offset,
            };
        }
        if self.batches.iter().any(|r| r.txid > txid) {
            return PartitionPlan::Skip;
        }
        match self.batches.iter().rev().find(|r| r.txid < txid) {
            Some(prev) => PartitionPlan::Read(Start::At(prev.next())),
            None => PartitionPlan::Read(match strategy {
                FirstPollOffsetStrategy::Earliest
                | FirstPollOffsetStrategy::UncommittedEarliest => Start::Earliest,
                FirstPollOffsetStrategy::Latest | FirstPollOffsetStrategy::UncommittedLatest => {
                    Start::Latest
                }
            }),
        }
    }

    /// Record the range txid read, dropping what no replay can need once `committed`
    /// is committed: ranges before the latest one at or below `committed` (that one
    /// stays: the next batch starts where it ended). Returns whether the record changed
    /// (an empty read after an earlier range changes nothing worth storing).
    pub fn record(&mut self, range: BatchRange, committed: u64) -> bool {
        let pinned = self.batches.iter().any(|r| r.txid < range.txid);
        let changed = if range.is_empty() && pinned {
            false
        } else {
            self.batches.retain(|r| r.txid != range.txid);
            self.batches.push(range);
            self.batches.sort_by_key(|r| r.txid);
            true
        };
        self.prune(committed) || changed
    }

    /// Drop the ranges older than the latest one at or below `committed`; returns
    /// whether any was dropped.
    pub fn prune(&mut self, committed: u64) -> bool {
        let keep_from = self
            .batches
            .iter()
            .rposition(|r| r.txid <= committed)
            .unwrap_or(0);
        if keep_from == 0 {
            return false;
        }
        self.batches.drain(..keep_from);
        true
    }

    /// Where the partition stands once `committed` is committed: the end of the latest
    /// range at or below it (the next offset to read), if any.
    pub fn committed_end(&self, committed: u64) -> Option<i64> {
        self.batches
            .iter()
            .rev()
            .find(|r| r.txid <= committed)
            .map(BatchRange::next)
    }
}

/// The task (of `num_tasks`) that emits partition `partition` of the `topic_index`-th
/// configured topic. Stable: adding partitions or topics never moves a partition to
/// another task, so one partition's ranges are only ever written by one task.
///
/// # Examples
///
/// ```
/// use squall_kafka::trident::ranges::task_of;
/// assert_eq!(task_of(0, 0, 2), 0);
/// assert_eq!(task_of(0, 1, 2), 1);
/// assert_eq!(task_of(1, 0, 2), 1); // each topic starts one task further
/// ```
pub fn task_of(topic_index: usize, partition: i32, num_tasks: usize) -> usize {
    let p = usize::try_from(partition).unwrap_or(0);
    topic_index.wrapping_add(p) % num_tasks.max(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use FirstPollOffsetStrategy::*;

    fn r(txid: u64, first: i64, last: i64) -> BatchRange {
        BatchRange {
            txid,
            first_offset: first,
            last_offset: last,
        }
    }

    fn rec(batches: &[BatchRange]) -> PartitionRecord {
        PartitionRecord {
            topology_id: "topo-1".into(),
            batches: batches.to_vec(),
        }
    }

    #[test]
    fn a_new_partition_starts_where_the_strategy_says() {
        let fresh = PartitionRecord::adopt(None, "topo-1", Earliest, 0);
        assert_eq!(
            fresh.plan(1, Earliest),
            PartitionPlan::Read(Start::Earliest)
        );
        assert_eq!(fresh.plan(1, Latest), PartitionPlan::Read(Start::Latest));
        assert_eq!(
            fresh.plan(7, UncommittedEarliest),
            PartitionPlan::Read(Start::Earliest)
        );
        assert_eq!(
            fresh.plan(7, UncommittedLatest),
            PartitionPlan::Read(Start::Latest)
        );
    }

    #[test]
    fn each_batch_starts_where_the_previous_one_ended() {
        let mut p = rec(&[]);
        assert!(p.record(r(1, 0, 9), 0));
        assert_eq!(p.plan(2, Earliest), PartitionPlan::Read(Start::At(10)));
        assert!(p.record(r(2, 10, 14), 0));
        // Pipelined: txid 3 starts after txid 2 even though nothing is committed.
        assert_eq!(p.plan(3, Earliest), PartitionPlan::Read(Start::At(15)));
        // A gap of txids without records (empty reads) still starts at the last end.
        assert_eq!(p.plan(9, Earliest), PartitionPlan::Read(Start::At(15)));
    }

    #[test]
    fn a_replayed_txid_rereads_its_own_range() {
        let p = rec(&[r(4, 0, 9), r(5, 10, 19), r(6, 20, 20)]);
        assert_eq!(
            p.plan(5, Earliest),
            PartitionPlan::Reread {
                first: 10,
                last: 19
            }
        );
        assert_eq!(
            p.plan(6, Latest),
            PartitionPlan::Reread {
                first: 20,
                last: 20
            }
        );
    }

    #[test]
    fn a_txid_without_a_range_reads_nothing_once_a_later_txid_read_on() {
        // Txid 5 was never recorded (its emitter died first, or the partition was not
        // in its list), txid 6 read 10..19: a replay of 5 must not read 10.. again.
        let p = rec(&[r(4, 0, 9), r(6, 10, 19)]);
        assert_eq!(p.plan(5, Earliest), PartitionPlan::Skip);
        // Same for a partition new in txid 6's list, replayed in 5's.
        let p = rec(&[r(6, 0, 9)]);
        assert_eq!(p.plan(5, Earliest), PartitionPlan::Skip);
    }

    #[test]
    fn empty_reads_pin_only_a_first_position() {
        let mut p = rec(&[]);
        // LATEST resolved to offset 42 with nothing there yet: pinned, so the next
        // batch does not look for the end again (and skip what arrived meanwhile).
        assert!(p.record(r(1, 42, 41), 0));
        assert_eq!(p.plan(2, Latest), PartitionPlan::Read(Start::At(42)));
        // After that, an empty read is not worth a write.
        assert!(!p.record(r(2, 42, 41), 0));
        assert_eq!(p.batches, vec![r(1, 42, 41)]);
    }

    #[test]
    fn committed_ranges_are_pruned_but_the_last_one_is_kept() {
        let mut p = rec(&[r(1, 0, 9), r(2, 10, 19), r(3, 20, 29)]);
        assert!(p.record(r(4, 30, 39), 2));
        assert_eq!(p.batches, vec![r(2, 10, 19), r(3, 20, 29), r(4, 30, 39)]);
        assert_eq!(p.committed_end(2), Some(20));
        assert_eq!(p.committed_end(4), Some(40));
        assert_eq!(p.committed_end(1), None);
        assert!(!p.prune(2));
        assert!(p.prune(9));
        assert_eq!(p.batches, vec![r(4, 30, 39)]);
        assert_eq!(p.plan(10, Earliest), PartitionPlan::Read(Start::At(40)));
    }

    #[test]
    fn another_deployments_record_follows_storms_first_poll_rule() {
        let old = PartitionRecord {
            topology_id: "topo-0".into(),
            batches: vec![r(8, 0, 9), r(9, 10, 19)],
        };
        for s in [Earliest, Latest] {
            let p = PartitionRecord::adopt(Some(old.clone()), "topo-1", s, 9);
            assert_eq!(p.topology_id, "topo-1");
            assert!(p.batches.is_empty(), "{s:?} starts over");
        }
        for s in [UncommittedEarliest, UncommittedLatest] {
            // Everything committed: resume after it.
            let p = PartitionRecord::adopt(Some(old.clone()), "topo-1", s, 9);
            assert_eq!(p.plan(1, s), PartitionPlan::Read(Start::At(20)), "{s:?}");
            assert_eq!(p.plan(10, s), PartitionPlan::Read(Start::At(20)), "{s:?}");
            // Txid 9 never committed: its offsets are read again, not lost.
            let p = PartitionRecord::adopt(Some(old.clone()), "topo-1", s, 8);
            assert_eq!(p.plan(9, s), PartitionPlan::Read(Start::At(10)), "{s:?}");
            // Nothing known committed (another commit log): from its first range.
            let p = PartitionRecord::adopt(Some(old.clone()), "topo-1", s, 0);
            assert_eq!(p.plan(1, s), PartitionPlan::Read(Start::At(0)), "{s:?}");
        }
        // The same deployment (a worker restart) resumes whatever the strategy.
        let same = PartitionRecord::adopt(Some(old.clone()), "topo-0", Earliest, 0);
        assert_eq!(same, old);
        assert_eq!(same.plan(10, Earliest), PartitionPlan::Read(Start::At(20)));
        assert_eq!(
            same.plan(9, Latest),
            PartitionPlan::Reread {
                first: 10,
                last: 19
            }
        );
    }

    #[test]
    fn partitions_stay_with_their_task_when_partitions_are_added() {
        let tasks = 3;
        let before: Vec<usize> = (0..4).map(|p| task_of(1, p, tasks)).collect();
        let after: Vec<usize> = (0..8).map(|p| task_of(1, p, tasks)).collect();
        assert_eq!(before[..], after[..4]);
        // Spread evenly over the tasks.
        let mut per_task = [0; 3];
        for t in after {
            per_task[t] += 1;
        }
        assert!(
            per_task.iter().all(|&n| (2..=3).contains(&n)),
            "{per_task:?}"
        );
        assert_eq!(task_of(5, 3, 1), 0);
        assert_eq!(task_of(0, -1, 2), 0);
    }

    #[test]
    fn the_record_is_storms_batch_metadata_as_json() {
        let p = rec(&[r(3, 5, 9)]);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"topology_id":"topo-1","batches":[{"txid":3,"first_offset":5,"last_offset":9}]}"#
        );
        assert_eq!(serde_json::from_str::<PartitionRecord>(&json).unwrap(), p);
        assert!(
            serde_json::from_str::<PartitionRecord>(r#"{"topology_id":"x","batches":[],"y":1}"#)
                .is_err()
        );
    }
}
