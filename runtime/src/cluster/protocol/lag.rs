//! Kafka spout lag: how a spout task publishes it (two gauges per partition, named by
//! [`lag_gauge_name`], riding the ordinary user-metrics reports) and the answer nimbus
//! builds from them for `GET /api/v1/topology/{id}/lag`, in Storm's shape
//! (`TopologySpoutLag` + `KafkaOffsetLagUtil`):
//!
//! ```text
//! {"<spout id>": {"spoutId": "...", "spoutType": "KAFKA",
//!                 "spoutLagResult": {"<topic>": {"<partition>":
//!                     {"consumerCommittedOffset": 7, "logHeadOffset": 10, "lag": 3}}},
//!                 "errorInfo": "..."}}          // only when the values are stale
//! ```
//!
//! A gauge of `-1` means "unknown" (no commit yet, head not measured yet) or, for both,
//! "this task no longer owns the partition"; such partitions are left out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::UserMetricView;
use super::stats::{MAX_METRIC_NAME_CHARS, UserMetricValue};

/// The prefix of every per-partition lag gauge.
pub const LAG_GAUGE_PREFIX: &str = "kafka.lag:";

/// A task's gauge: 0 while its lag values are fresh; otherwise the unix time (ms) since
/// which the brokers have not answered (the values shown are the last known ones).
pub const LAG_STALE_GAUGE: &str = "kafka.lag.stale.since.ms";

/// The most partitions one spout task publishes lag for (two gauges each, within the
/// per-task user metrics cap); further partitions are left out with one warning.
pub const MAX_LAG_PARTITIONS_PER_TASK: usize = 24;

/// Which value of a partition a lag gauge holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LagField {
    /// The group's committed offset (next offset to read after a restart).
    Committed,
    /// The log end (high watermark).
    Head,
}

impl LagField {
    fn suffix(self) -> &'static str {
        match self {
            LagField::Committed => "committed",
            LagField::Head => "head",
        }
    }
}

/// The gauge name of a partition's value: `kafka.lag:<topic>:<partition>:<field>`
/// (`None` if it would be longer than a metric name may be; Kafka topic names have no
/// `:`).
pub fn lag_gauge_name(topic: &str, partition: i32, field: LagField) -> Option<String> {
    let name = format!("{LAG_GAUGE_PREFIX}{topic}:{partition}:{}", field.suffix());
    (name.len() <= MAX_METRIC_NAME_CHARS && !topic.contains(':')).then_some(name)
}

/// The topic, partition and field of a lag gauge name.
pub fn parse_lag_gauge(name: &str) -> Option<(&str, i32, LagField)> {
    let rest = name.strip_prefix(LAG_GAUGE_PREFIX)?;
    let mut it = rest.rsplitn(3, ':');
    let field = match it.next()? {
        "committed" => LagField::Committed,
        "head" => LagField::Head,
        _ => return None,
    };
    let partition = it.next()?.parse().ok()?;
    let topic = it.next()?;
    Some((topic, partition, field))
}

/// One partition's lag, as Storm's `KafkaPartitionOffsetLag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartitionLag {
    /// The group's committed offset (`-1`: none yet).
    pub consumer_committed_offset: i64,
    /// The log end.
    pub log_head_offset: i64,
    /// `logHeadOffset - max(consumerCommittedOffset, 0)`.
    pub lag: i64,
}

/// One Kafka spout's lag, as Storm's `TopologySpoutLag` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpoutLag {
    /// The spout's component id.
    pub spout_id: String,
    /// Always `KAFKA`.
    pub spout_type: String,
    /// By topic, then partition (as a string, as Storm's JSON).
    pub spout_lag_result: BTreeMap<String, BTreeMap<String, PartitionLag>>,
    /// Set when some values are stale (a task's brokers unreachable): which tasks, since
    /// when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_info: Option<String>,
}

/// The lag of every Kafka spout in `metrics` (a topology's user metrics, any order).
/// A component appears once one of its tasks published a lag gauge.
pub fn spout_lags<'a>(
    metrics: impl IntoIterator<Item = &'a UserMetricView>,
) -> BTreeMap<String, SpoutLag> {
    // component -> (topic, partition) -> (task, committed, head)
    type Parts = BTreeMap<(String, i32), BTreeMap<u32, (i64, i64)>>;
    let mut by_component: BTreeMap<&str, Parts> = BTreeMap::new();
    let mut stale: BTreeMap<&str, Vec<(u32, u64)>> = BTreeMap::new();
    for m in metrics {
        let UserMetricValue::Gauge(v) = m.metric.value else {
            continue;
        };
        if m.metric.name == LAG_STALE_GAUGE {
            by_component.entry(&m.component).or_default();
            if v > 0.0 {
                stale
                    .entry(&m.component)
                    .or_default()
                    .push((m.task, v as u64));
            }
            continue;
        }
        let Some((topic, partition, field)) = parse_lag_gauge(&m.metric.name) else {
            continue;
        };
        let e = by_component
            .entry(&m.component)
            .or_default()
            .entry((topic.to_string(), partition))
            .or_default()
            .entry(m.task)
            .or_insert((-1, -1));
        match field {
            LagField::Committed => e.0 = v as i64,
            LagField::Head => e.1 = v as i64,
        }
    }
    let mut out = BTreeMap::new();
    for (component, parts) in by_component {
        let mut result: BTreeMap<String, BTreeMap<String, PartitionLag>> = BTreeMap::new();
        for ((topic, partition), tasks) in parts {
            // The task that owns it (head known); during a hand-over, the furthest commit.
            let Some((committed, head)) = tasks
                .values()
                .filter(|(_, h)| *h >= 0)
                .max_by_key(|(c, _)| *c)
                .copied()
            else {
                continue;
            };
            result.entry(topic).or_default().insert(
                partition.to_string(),
                PartitionLag {
                    consumer_committed_offset: committed,
                    log_head_offset: head,
                    lag: head.saturating_sub(committed.max(0)).max(0),
                },
            );
        }
        let error_info = stale.get(component).map(|tasks| {
            let list: Vec<String> = tasks
                .iter()
                .map(|(t, since)| format!("task {t} since unix ms {since}"))
                .collect();
            format!(
                "stale: the brokers have not answered ({}); the last known values are shown",
                list.join(", ")
            )
        });
        out.insert(
            component.to_string(),
            SpoutLag {
                spout_id: component.to_string(),
                spout_type: "KAFKA".to_string(),
                spout_lag_result: result,
                error_info,
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::protocol::UserMetric;

    fn gauge(component: &str, task: u32, name: &str, v: f64) -> UserMetricView {
        UserMetricView {
            component: component.into(),
            task,
            metric: UserMetric {
                name: name.into(),
                value: UserMetricValue::Gauge(v),
            },
        }
    }

    #[test]
    fn names_round_trip_and_are_capped() {
        for field in [LagField::Committed, LagField::Head] {
            let n = lag_gauge_name("my.topic-1", 12, field).unwrap();
            assert_eq!(parse_lag_gauge(&n), Some(("my.topic-1", 12, field)));
        }
        assert_eq!(lag_gauge_name(&"t".repeat(200), 0, LagField::Head), None);
        assert_eq!(parse_lag_gauge("kafka.commits"), None);
        assert_eq!(parse_lag_gauge("kafka.lag:t:x:head"), None);
    }

    #[test]
    fn storm_shape_from_gauges() {
        let c = |t, p| lag_gauge_name(t, p, LagField::Committed).unwrap();
        let h = |t, p| lag_gauge_name(t, p, LagField::Head).unwrap();
        let metrics = vec![
            gauge("kafka", 1, &c("lines", 0), 7.0),
            gauge("kafka", 1, &h("lines", 0), 10.0),
            gauge("kafka", 1, LAG_STALE_GAUGE, 0.0),
            // Task 1 gave partition 1 up (both -1); task 2 owns it, nothing committed.
            gauge("kafka", 1, &c("lines", 1), -1.0),
            gauge("kafka", 1, &h("lines", 1), -1.0),
            gauge("kafka", 2, &c("lines", 1), -1.0),
            gauge("kafka", 2, &h("lines", 1), 4.0),
            gauge("kafka", 2, LAG_STALE_GAUGE, 1234.0),
            gauge("split", 3, "words", 5.0),
        ];
        let lags = spout_lags(&metrics);
        assert_eq!(lags.len(), 1);
        let k = &lags["kafka"];
        assert_eq!(
            (k.spout_id.as_str(), k.spout_type.as_str()),
            ("kafka", "KAFKA")
        );
        let lines = &k.spout_lag_result["lines"];
        assert_eq!(
            lines["0"],
            PartitionLag {
                consumer_committed_offset: 7,
                log_head_offset: 10,
                lag: 3
            }
        );
        assert_eq!(lines["1"].lag, 4);
        assert!(k.error_info.as_deref().unwrap().contains("task 2"));
        let json = serde_json::to_value(&lags).unwrap();
        assert_eq!(
            json["kafka"]["spoutLagResult"]["lines"]["0"]["consumerCommittedOffset"],
            7
        );
        assert!(json["kafka"]["errorInfo"].as_str().is_some());
    }
}
