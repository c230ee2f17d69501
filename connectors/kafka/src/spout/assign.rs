//! Pure decisions of the spout: which partitions a task reads (manual assignment, round
//! robin over the sorted partitions by task index, storm-kafka-client's
//! `RoundRobinManualPartitioner`), where a newly assigned partition starts
//! (`first.poll.offset.strategy`), and the commit metadata naming the deployment.

use serde::{Deserialize, Serialize};

use crate::config::FirstPollOffsetStrategy;

/// The partitions of `all` (sorted here by topic then partition) that task number
/// `index` of `tasks` reads: every `tasks`-th one starting at `index`.
pub fn partitions_for_task(
    mut all: Vec<(String, i32)>,
    index: usize,
    tasks: usize,
) -> Vec<(String, i32)> {
    all.sort();
    all.dedup();
    let tasks = tasks.max(1);
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| i % tasks == index % tasks)
        .map(|(_, tp)| tp)
        .collect()
}

/// The commit metadata the spout writes (storm-kafka-client's `CommitMetadata` JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitMetadata {
    /// The deployment that committed.
    pub topology_id: String,
    /// Its task.
    pub task_id: i64,
    /// The committing thread.
    pub thread_name: String,
}

impl CommitMetadata {
    /// Whether `metadata` (as the broker returned it) names `topology_id`.
    pub fn is_from(metadata: &str, topology_id: &str) -> bool {
        serde_json::from_str::<CommitMetadata>(metadata).is_ok_and(|m| m.topology_id == topology_id)
    }
}

/// Where a newly assigned partition starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// At this offset (a commit).
    Offset(i64),
    /// At the partition's beginning (low watermark).
    Beginning,
    /// At its end (high watermark).
    End,
}

/// Storm's `doSeek`: `committed` is the group's commit for the partition, with whether
/// this deployment made it.
pub fn start_position(
    strategy: FirstPollOffsetStrategy,
    committed: Option<(i64, bool)>,
) -> StartAt {
    use FirstPollOffsetStrategy::*;
    match (committed, strategy) {
        // This deployment committed: resume, whatever the strategy.
        (Some((offset, true)), _) => StartAt::Offset(offset),
        // Another deployment's commit: EARLIEST/LATEST apply to a new deployment only.
        (Some(_), Earliest) => StartAt::Beginning,
        (Some(_), Latest) => StartAt::End,
        (Some((offset, false)), UncommittedEarliest | UncommittedLatest) => StartAt::Offset(offset),
        (None, Earliest | UncommittedEarliest) => StartAt::Beginning,
        (None, Latest | UncommittedLatest) => StartAt::End,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FirstPollOffsetStrategy::*;

    #[test]
    fn round_robin_over_sorted_partitions() {
        let all: Vec<(String, i32)> = [("b", 0), ("a", 1), ("a", 0), ("a", 2), ("b", 1)]
            .iter()
            .map(|(t, p)| (t.to_string(), *p))
            .collect();
        let t0 = partitions_for_task(all.clone(), 0, 2);
        let t1 = partitions_for_task(all.clone(), 1, 2);
        let s = |v: &[(String, i32)]| v.iter().map(|(t, p)| format!("{t}{p}")).collect::<Vec<_>>();
        assert_eq!(s(&t0), ["a0", "a2", "b1"]);
        assert_eq!(s(&t1), ["a1", "b0"]);
        assert_eq!(partitions_for_task(all, 0, 0).len(), 5);
    }

    #[test]
    fn first_poll_strategy_as_storm() {
        assert_eq!(
            start_position(Earliest, Some((7, true))),
            StartAt::Offset(7)
        );
        assert_eq!(
            start_position(Earliest, Some((7, false))),
            StartAt::Beginning
        );
        assert_eq!(start_position(Latest, Some((7, false))), StartAt::End);
        assert_eq!(
            start_position(UncommittedEarliest, Some((7, false))),
            StartAt::Offset(7)
        );
        assert_eq!(
            start_position(UncommittedLatest, Some((7, false))),
            StartAt::Offset(7)
        );
        assert_eq!(
            start_position(UncommittedEarliest, None),
            StartAt::Beginning
        );
        assert_eq!(start_position(UncommittedLatest, None), StartAt::End);
        assert_eq!(start_position(Latest, None), StartAt::End);
    }

    #[test]
    fn metadata_names_the_deployment() {
        let m = CommitMetadata {
            topology_id: "wc-1-17".into(),
            task_id: 3,
            thread_name: "kafka-3".into(),
        };
        let json = serde_json::to_string(&m).unwrap_or_default();
        assert!(json.contains("\"topologyId\":\"wc-1-17\""), "{json}");
        assert!(CommitMetadata::is_from(&json, "wc-1-17"));
        assert!(!CommitMetadata::is_from(&json, "wc-2-18"));
        assert!(!CommitMetadata::is_from("", "wc-1-17"));
        assert!(!CommitMetadata::is_from("not json", "wc-1-17"));
    }
}
