//! Committing: up to each partition's lowest un-acked offset, every
//! `offset.commit.period.ms` **without waiting** (an asynchronous commit; its outcome is
//! applied from a later `next_tuple`, so a broker outage never blocks the spout's
//! thread — librdkafka's synchronous commit waits for the broker without a time limit),
//! and on deactivate, close and partition revocation (and, at most once, before a poll
//! is emitted) with a wait bounded by [`CALL_TIMEOUT`].
//!
//! A commit's effects (the offset manager forgets what it covers, the lag gauge, the
//! marker group, skipping ahead past re-read records) apply when the broker confirmed
//! it. One periodic commit is in flight at a time.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::client::{CALL_TIMEOUT, committed, marker_group};
use super::consumer::{Polled, SpoutConsumer, TopicPartition};
use super::state::{Running, live};
use crate::config::{KafkaSpoutConfig, ProcessingGuarantee};

impl<C: SpoutConsumer> Running<C> {
    /// Each live partition's commit point, where it moved: the lowest un-acked offset
    /// (at least once), else the position.
    fn commit_offsets(&self) -> Vec<(TopicPartition, i64)> {
        live(&self.parts)
            .filter_map(|(i, p)| {
                let c = if self.guarantee == ProcessingGuarantee::AtLeastOnce {
                    p.offsets.next_commit()?
                } else {
                    let idx = u16::try_from(i).unwrap_or(u16::MAX);
                    if self.committed_positions.get(&idx) == Some(&p.position) {
                        return None;
                    }
                    p.position
                };
                Some(((p.topic.clone(), p.partition), c))
            })
            .collect()
    }

    /// Start a commit of every partition that moved; false if it could not start.
    fn start_commit(&mut self, config: &KafkaSpoutConfig) -> bool {
        let offsets = self.commit_offsets();
        if offsets.is_empty() {
            return true;
        }
        match self.consumer.commit_async(&offsets, &self.metadata) {
            Ok(()) => {
                self.commits_in_flight += 1;
                true
            }
            Err(e) => {
                self.metrics.commit_errors.inc();
                tracing::warn!(group = %config.group_id, "Kafka spout: commit failed (retried next period): {e}");
                false
            }
        }
    }

    /// The periodic commit: started, not waited for; skipped while the previous one is
    /// unanswered (a broker outage), retried next period.
    pub(crate) fn commit(&mut self, config: &KafkaSpoutConfig) {
        self.next_commit = Instant::now() + config.offset_commit_period;
        if self.commits_in_flight == 0 {
            self.start_commit(config);
        }
    }

    /// Commit and wait (at most [`CALL_TIMEOUT`]) for the broker's answer, and for any
    /// periodic commit still in flight: deactivate, close, revocation. Records polled
    /// meanwhile are read again (their partitions are sought back).
    pub(crate) fn commit_and_wait(&mut self, config: &KafkaSpoutConfig) {
        self.next_commit = Instant::now() + config.offset_commit_period;
        if !self.start_commit(config) {
            return;
        }
        let deadline = Instant::now() + CALL_TIMEOUT;
        let mut polled: BTreeSet<u16> = BTreeSet::new();
        loop {
            self.apply_commit_outcomes(config);
            if self.commits_in_flight == 0 {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(group = %config.group_id,
                    "Kafka spout: commit not confirmed within {CALL_TIMEOUT:?}; records since the last confirmed commit may be read again after a restart");
                break;
            }
            // librdkafka reports the outcome from poll.
            match self.consumer.poll() {
                Some(Ok(m)) => {
                    let r = m.record();
                    if let Some(idx) = self.index.get(&(r.topic.to_string(), r.partition)) {
                        polled.insert(*idx);
                    }
                }
                Some(Err(_)) | None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        for idx in polled {
            if let Some(p) = self
                .parts
                .get_mut(usize::from(idx))
                .and_then(Option::as_mut)
            {
                let _ = self.consumer.seek(&p.topic, p.partition, p.position);
                p.seeked_to = Some(p.position);
            }
        }
    }

    /// Apply the outcomes of commits the broker answered.
    pub(super) fn apply_commit_outcomes(&mut self, config: &KafkaSpoutConfig) {
        for o in self.consumer.commit_outcomes() {
            self.commits_in_flight = self.commits_in_flight.saturating_sub(1);
            match o.result {
                Ok(()) => self.committed(config, &o.offsets),
                Err(e) => {
                    self.metrics.commit_errors.inc();
                    tracing::warn!(group = %config.group_id, "Kafka spout: commit failed (retried next period): {e}");
                }
            }
        }
    }

    /// The broker took `offsets`.
    fn committed(&mut self, config: &KafkaSpoutConfig, offsets: &[(TopicPartition, i64)]) {
        self.metrics.commits.inc();
        self.mark(config, offsets);
        for (tp, c) in offsets {
            self.lag.committed(tp, *c);
            let Some(&idx) = self.index.get(tp) else {
                continue;
            };
            let Some(p) = self
                .parts
                .get_mut(usize::from(idx))
                .and_then(Option::as_mut)
            else {
                continue;
            };
            let done = self.committed_positions.entry(idx).or_insert(*c);
            *done = (*done).max(*c);
            p.offsets.commit(*c);
            if p.position < *c {
                // Caught up past records being re-read for a retry: skip ahead.
                p.position = *c;
                let _ = self.consumer.seek(&p.topic, p.partition, *c);
                p.seeked_to = Some(*c);
            }
        }
    }

    /// Keep the deployment's marker group in step when the broker drops metadata: the
    /// first commit of a partition there waits (a restart must find it), later ones
    /// do not.
    pub(super) fn mark(&mut self, config: &KafkaSpoutConfig, offsets: &[(TopicPartition, i64)]) {
        if self.drops_metadata.is_none() {
            let parts: Vec<TopicPartition> = offsets.iter().map(|(tp, _)| tp.clone()).collect();
            if let Ok(back) = committed(&self.consumer, &parts, &config.bootstrap_servers) {
                let drops = back.values().any(|(_, m)| m.is_empty());
                self.drops_metadata = Some(drops);
                if drops {
                    tracing::info!(group = %config.group_id,
                        "Kafka spout: the broker drops commit metadata; keeping a marker group");
                }
            }
        }
        if self.drops_metadata != Some(true) {
            return;
        }
        if self.marker.is_none() {
            match C::create(
                &self.connector,
                config,
                &marker_group(&config.group_id, &self.topology_id),
            ) {
                Ok(m) => self.marker = Some(m),
                Err(e) => {
                    tracing::warn!("Kafka spout: {e}");
                    return;
                }
            }
        }
        let Some(m) = &self.marker else { return };
        // Serve and drop the outcomes of earlier marker commits.
        let _ = m.poll();
        for o in m.commit_outcomes() {
            if let Err(e) = o.result {
                tracing::debug!(group = %config.group_id, "Kafka spout: marker commit failed: {e}");
            }
        }
        let first = offsets.iter().any(|(tp, _)| !self.marked.contains(tp));
        let r = if first {
            m.commit(offsets, &self.metadata)
        } else {
            m.commit_async(offsets, &self.metadata)
        };
        match r {
            Ok(()) if first => self.marked.extend(offsets.iter().map(|(tp, _)| tp.clone())),
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(group = %config.group_id, "Kafka spout: marker commit failed: {e}")
            }
        }
    }
}
