//! The running spout: its consumer, partitions, offsets and retries.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use squall_runtime::retry::{RetryDecision, RetrySchedule};
use squall_runtime::{ComponentError, Counter, MessageId, SpoutCollector, TopologyContext};

use super::assign::{CommitMetadata, StartAt, partitions_for_task, start_position};
use super::client::{committed, marker_group, partitions_of};
use super::consumer::{Polled, SpoutConsumer, TopicPartition};
use super::lag::LagBoard;
use super::unreliable;
use super::watch::PartitionWatcher;
use crate::config::{KafkaSpoutConfig, ProcessingGuarantee};
use crate::error::BrokerError;
use crate::offsets::{OffsetManager, OffsetSet};
use crate::translate::{DefaultRecordTranslator, OwnedRecord, Record, RecordTranslator};

/// Records looked at per `next_tuple` call at most (skipped ones included).
pub(super) const POLL_BUDGET: usize = 256;
/// Tuples emitted per `next_tuple` call at most (fewer when `topology.max.spout.pending`
/// is reached): the per-call work (the clock, the commit timer, the partition watcher,
/// due retries, flow control, the executor's own round) is shared by a batch of records.
pub(super) const EMIT_BATCH: usize = 16;
/// Offsets fit in the low 48 bits of a message id; the partition index above.
const OFFSET_BITS: u32 = 48;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
/// Partitions one task may own (the index must fit the message id's top 16 bits).
const MAX_PARTITIONS: usize = 1 << 16;

type Key = (u16, i64);

fn message_id(idx: u16, offset: i64) -> Option<MessageId> {
    let o = u64::try_from(offset).ok()?;
    (o <= OFFSET_MASK).then(|| (u64::from(idx) << OFFSET_BITS) | o)
}

fn split_id(id: MessageId) -> Key {
    let idx = u16::try_from(id >> OFFSET_BITS).unwrap_or(u16::MAX);
    (idx, i64::try_from(id & OFFSET_MASK).unwrap_or(0))
}

/// The assigned partitions with their indexes.
pub(super) fn live(parts: &[Option<Part>]) -> impl Iterator<Item = (usize, &Part)> {
    parts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
}

/// One assigned partition.
#[derive(Debug)]
pub(super) struct Part {
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) offsets: OffsetManager,
    /// Emitted on the spout's streams, awaiting ack or fail.
    pub(super) in_flight: OffsetSet,
    /// Retries used up: to emit on the dead-letter stream (due time, failures).
    pub(super) dead: BTreeMap<i64, (Instant, u32)>,
    /// Emitted on the dead-letter stream, awaiting ack or fail.
    pub(super) dead_in_flight: BTreeSet<i64>,
    /// The next offset the consumer delivers.
    pub(super) position: i64,
    /// Where the last seek went, until a record arrives (to spot records that vanished).
    pub(super) seeked_to: Option<i64>,
    pub(super) paused: bool,
    /// End of a bounded read.
    pub(super) stop_at: Option<i64>,
}

impl Part {
    fn done_to_stop(&self) -> bool {
        let Some(stop) = self.stop_at else {
            return false;
        };
        // Cheap tests first: `next_commit` walks every acked offset since the last
        // commit, and the executor asks after every call. It can only reach `stop` once
        // the record before it was emitted (or committed).
        let read_to_stop = self.offsets.committed() >= stop
            || self
                .offsets
                .latest_emitted()
                .is_some_and(|l| l.saturating_add(1) >= stop);
        if !read_to_stop || !self.in_flight.is_empty() || !self.dead.is_empty() {
            return false;
        }
        let reach = self
            .offsets
            .next_commit()
            .unwrap_or(self.offsets.committed());
        reach >= stop
    }
}

/// Metrics of one spout task.
#[derive(Debug)]
pub(super) struct Metrics {
    pub(super) commits: Counter,
    pub(super) commit_errors: Counter,
    pub(super) poll_errors: Counter,
    pub(super) retried: Counter,
    pub(super) dead_lettered: Counter,
}

/// The spout after `open`.
pub(crate) struct Running<C: SpoutConsumer> {
    pub(super) connector: C::Connector,
    pub(super) consumer: C,
    /// The deployment's marker group, once the broker was seen dropping metadata.
    pub(super) marker: Option<C>,
    /// The lag gauges (log ends measured by the watcher).
    pub(super) lag: LagBoard,
    /// `None` until the first commit was read back.
    pub(super) drops_metadata: Option<bool>,
    /// Partitions the marker group has a commit for (from this task).
    pub(super) marked: BTreeSet<TopicPartition>,
    /// Asynchronous commits started and not answered yet.
    pub(super) commits_in_flight: u32,
    pub(super) topology_id: String,
    pub(super) metadata: String,
    pub(super) task_index: usize,
    pub(super) tasks: usize,
    /// Assigned partitions by index (the index is in message ids); `None`: revoked.
    pub(super) parts: Vec<Option<Part>>,
    pub(super) index: BTreeMap<(String, i32), u16>,
    pub(super) retry: RetrySchedule<Key>,
    pub(super) next_commit: Instant,
    /// Every partition of the topics in the latest listing.
    pub(super) known: BTreeSet<(String, i32)>,
    /// Lists the topics' partitions off this thread (`None`: it could not start).
    pub(super) watcher: Option<PartitionWatcher>,
    pub(super) stop_at: Option<BTreeMap<(String, i32), i64>>,
    pub(super) metrics: Metrics,
    pub(super) last_poll_error: Option<Instant>,
    /// AT_MOST_ONCE / NO_GUARANTEE: polled records not emitted yet (one poll's worth).
    pub(super) buffer: VecDeque<OwnedRecord>,
    /// NO_GUARANTEE / AT_MOST_ONCE: the position last committed per partition index.
    pub(super) committed_positions: BTreeMap<u16, i64>,
    pub(super) guarantee: ProcessingGuarantee,
    /// `topology.max.spout.pending`: a batch of emits stops there.
    pub(super) max_pending: usize,
}

impl<C: SpoutConsumer> Running<C> {
    pub(crate) fn open(
        connector: &C::Connector,
        config: &KafkaSpoutConfig,
        ctx: &TopologyContext,
        stop_at: Option<BTreeMap<(String, i32), i64>>,
    ) -> Result<Running<C>, BrokerError> {
        let mut consumer = C::create(connector, config, &config.group_id)?;
        if let Some(waker) = ctx.waker() {
            // Records arriving end the executor's idle wait.
            consumer.wake_on_records(Box::new(move || waker.wake()));
        }
        let metadata = serde_json::to_string(&CommitMetadata {
            topology_id: ctx.topology_id().to_string(),
            task_id: ctx.this_task().as_i64(),
            thread_name: format!("{}-{}", ctx.this_component(), ctx.this_task()),
        })
        .unwrap_or_default();
        let now = Instant::now();
        let name = format!("{}-{}", ctx.this_component(), ctx.this_task());
        let lag = LagBoard::new(ctx.metrics_registry());
        let watcher = PartitionWatcher::start::<C>(connector, config, &name, lag.clone())
            .inspect_err(|e| tracing::warn!("Kafka spout: {e}; partitions are not refreshed"))
            .ok();
        Ok(Running {
            connector: connector.clone(),
            consumer,
            lag,
            marker: None,
            drops_metadata: None,
            marked: BTreeSet::new(),
            commits_in_flight: 0,
            topology_id: ctx.topology_id().to_string(),
            metadata,
            task_index: ctx.this_task_index(),
            tasks: ctx.component_tasks(ctx.this_component()).len().max(1),
            parts: Vec::new(),
            index: BTreeMap::new(),
            retry: RetrySchedule::new(config.retry),
            next_commit: now + config.offset_commit_period,
            watcher,
            known: BTreeSet::new(),
            stop_at,
            metrics: Metrics {
                commits: ctx.counter("kafka.commits"),
                commit_errors: ctx.counter("kafka.commit.errors"),
                poll_errors: ctx.counter("kafka.poll.errors"),
                retried: ctx.counter("kafka.retried"),
                dead_lettered: ctx.counter("kafka.dead.lettered"),
            },
            last_poll_error: None,
            buffer: VecDeque::new(),
            committed_positions: BTreeMap::new(),
            guarantee: config.processing_guarantee,
            max_pending: ctx
                .config()
                .settings()
                .max_spout_pending
                .unwrap_or(usize::MAX),
        })
    }

    fn broker_error(
        config: &KafkaSpoutConfig,
        what: &str,
        source: rdkafka::error::KafkaError,
    ) -> BrokerError {
        BrokerError::new(what, &config.bootstrap_servers, source)
    }

    /// Look up the topics' partitions (blocking, bounded by the call timeout) and take
    /// on this task's new ones. Errors are logged; the watcher's next listing retries.
    pub(crate) fn refresh_assignment(&mut self, config: &KafkaSpoutConfig) {
        let listing = partitions_of(&self.consumer, &config.topics, &config.bootstrap_servers);
        let applied = listing.and_then(|(all, missing)| {
            for m in missing {
                tracing::warn!(group = %config.group_id, "Kafka spout: {m}");
            }
            self.apply_partitions(config, all)
        });
        if let Err(e) = applied {
            tracing::warn!(group = %config.group_id, "Kafka spout: {e}");
        }
    }

    /// Apply the watcher's latest listing, if there is a new one.
    fn follow_watcher(&mut self, config: &KafkaSpoutConfig) {
        if let Some(Ok(all)) = self.watcher.as_ref().and_then(PartitionWatcher::take)
            && let Err(e) = self.apply_partitions(config, all)
        {
            tracing::warn!(group = %config.group_id, "Kafka spout: {e}");
        }
    }

    /// Take on this task's share of `all` partitions: start the new ones at their start
    /// positions, let go of those now another task's.
    fn apply_partitions(
        &mut self,
        config: &KafkaSpoutConfig,
        all: Vec<(String, i32)>,
    ) -> Result<(), BrokerError> {
        // Known only once this task holds its share of them (a bounded read must not
        // end while a partition of its own failed to start).
        let listed: BTreeSet<(String, i32)> = all.iter().cloned().collect();
        let mine = partitions_for_task(all, self.task_index, self.tasks);
        let new: Vec<(String, i32)> = mine
            .iter()
            .filter(|tp| !self.index.contains_key(*tp))
            .cloned()
            .collect();
        let gone: Vec<(String, i32)> = self
            .index
            .keys()
            .filter(|tp| !mine.contains(tp))
            .cloned()
            .collect();
        if new.is_empty() && gone.is_empty() {
            self.known = listed;
            return Ok(());
        }
        if !gone.is_empty() {
            // Partitions now another task's (the sorted list shifted): commit what is
            // done and let them go; their late acks and fails are ignored.
            self.commit_and_wait(config);
            for tp in &gone {
                self.lag.untrack(tp);
                if let Some(idx) = self.index.remove(tp) {
                    if let Some(slot) = self.parts.get_mut(usize::from(idx)) {
                        *slot = None;
                    }
                    self.retry.retain(|(i, _)| *i != idx);
                    tracing::info!(topic = %tp.0, partition = tp.1, "Kafka spout: partition revoked");
                }
            }
        }
        if self.parts.len() + new.len() > MAX_PARTITIONS {
            return Err(Self::broker_error(
                config,
                "assignment: more partitions than one task can track",
                rdkafka::error::KafkaError::Subscription("too many partitions".into()),
            ));
        }
        let commits = committed(&self.consumer, &new, &config.bootstrap_servers)?;
        let mut markers = BTreeMap::new();
        if commits.values().any(|(_, m)| m.is_empty()) {
            let marker = C::create(
                &self.connector,
                config,
                &marker_group(&config.group_id, &self.topology_id),
            )?;
            markers = committed(&marker, &new, &config.bootstrap_servers)?;
            self.marker = Some(marker);
        }
        let mut starts = Vec::new();
        for tp in &new {
            let commit = commits.get(tp).map(|(offset, meta)| {
                let ours = CommitMetadata::is_from(meta, &self.topology_id)
                    || (meta.is_empty() && markers.contains_key(tp));
                (*offset, ours)
            });
            let at = match start_position(config.first_poll, commit) {
                StartAt::Offset(o) => o,
                StartAt::Beginning | StartAt::End => {
                    let (low, high) = self.consumer.watermarks(&tp.0, tp.1).map_err(|e| {
                        Self::broker_error(config, &format!("watermarks of {}-{}", tp.0, tp.1), e)
                    })?;
                    if start_position(config.first_poll, commit) == StartAt::Beginning {
                        low
                    } else {
                        high
                    }
                }
            };
            tracing::info!(topic = %tp.0, partition = tp.1, offset = at, strategy = ?config.first_poll,
                committed = ?commit, "Kafka spout: partition assigned");
            starts.push((tp.clone(), at));
            self.lag.track(tp, commits.get(tp).map(|(o, _)| *o));
        }
        for (tp, at) in starts {
            let idx = u16::try_from(self.parts.len()).unwrap_or(u16::MAX);
            self.index.insert(tp.clone(), idx);
            let stop = self.stop_at.as_ref().and_then(|s| s.get(&tp)).copied();
            self.parts.push(Some(Part {
                topic: tp.0,
                partition: tp.1,
                offsets: OffsetManager::new(at),
                in_flight: OffsetSet::default(),
                dead: BTreeMap::new(),
                dead_in_flight: BTreeSet::new(),
                position: at,
                seeked_to: None,
                paused: false,
                stop_at: stop,
            }));
        }
        let at: Vec<(TopicPartition, i64)> = self
            .parts
            .iter()
            .flatten()
            .map(|p| ((p.topic.clone(), p.partition), p.position))
            .collect();
        self.consumer
            .assign(&at)
            .map_err(|e| Self::broker_error(config, "assigning partitions", e))?;
        for p in self.parts.iter_mut().flatten() {
            p.paused = false;
        }
        self.known = listed;
        Ok(())
    }

    pub(crate) fn is_exhausted(&self) -> bool {
        if self.guarantee != ProcessingGuarantee::AtLeastOnce {
            return unreliable::is_exhausted(self);
        }
        self.all_stops_known() && self.parts.iter().flatten().all(Part::done_to_stop)
    }

    /// A bounded read whose every partition the brokers listed (so this task knows
    /// which of them are its own).
    pub(super) fn all_stops_known(&self) -> bool {
        self.stop_at
            .as_ref()
            .is_some_and(|s| s.keys().all(|tp| self.known.contains(tp)))
    }

    pub(crate) fn next_tuple(
        &mut self,
        config: &KafkaSpoutConfig,
        translator: &dyn RecordTranslator,
        out: &mut SpoutCollector,
    ) -> Result<(), ComponentError> {
        let now = Instant::now();
        if self.commits_in_flight > 0 {
            self.apply_commit_outcomes(config);
        }
        if now >= self.next_commit {
            self.commit(config);
        }
        self.follow_watcher(config);
        if self.guarantee != ProcessingGuarantee::AtLeastOnce {
            return unreliable::next_tuple(self, config, translator, out, now);
        }
        self.seek_for_retries(now);
        self.flow_control(config, now);
        let mut n_emitted = 0;
        for _ in 0..POLL_BUDGET {
            let Some(polled) = self.consumer.poll() else {
                return Ok(());
            };
            let m = match polled {
                Ok(m) => m,
                Err(e) => {
                    self.metrics.poll_errors.inc();
                    if self
                        .last_poll_error
                        .is_none_or(|t| now.duration_since(t) > Duration::from_secs(10))
                    {
                        self.last_poll_error = Some(now);
                        tracing::warn!(group = %config.group_id, "Kafka spout: {e}");
                    }
                    return Ok(());
                }
            };
            let emitted = handle(
                &mut self.parts,
                &self.index,
                &mut self.retry,
                &self.consumer,
                &self.metrics,
                config,
                translator,
                &m.record(),
                now,
                out,
            )?;
            if emitted {
                n_emitted += 1;
                if n_emitted >= EMIT_BATCH || out.pending() >= self.max_pending {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Seek partitions back to retries (and dead letters) that are due.
    fn seek_for_retries(&mut self, now: Instant) {
        let mut targets: BTreeMap<u16, i64> = BTreeMap::new();
        for (idx, off) in self.retry.ready(now) {
            let t = targets.entry(*idx).or_insert(*off);
            *t = (*t).min(*off);
        }
        for (i, p) in live(&self.parts) {
            let idx = u16::try_from(i).unwrap_or(u16::MAX);
            for (off, (due, _)) in &p.dead {
                if *due <= now && !p.dead_in_flight.contains(off) {
                    let t = targets.entry(idx).or_insert(*off);
                    *t = (*t).min(*off);
                }
            }
        }
        for (idx, off) in targets {
            let Some(p) = self
                .parts
                .get_mut(usize::from(idx))
                .and_then(Option::as_mut)
            else {
                continue;
            };
            if off < p.position {
                if let Err(e) = self.consumer.seek(&p.topic, p.partition, off) {
                    tracing::debug!(topic = %p.topic, partition = p.partition, "seek for retry: {e}");
                    continue;
                }
                p.position = off;
                p.seeked_to = Some(off);
            }
        }
    }

    /// Pause partitions at `max.uncommitted.offsets` (unless a retry within the limit is
    /// due), resume the others.
    fn flow_control(&mut self, config: &KafkaSpoutConfig, now: Instant) {
        let max = config.max_uncommitted_offsets;
        let mut earliest: BTreeMap<u16, i64> = BTreeMap::new();
        for (idx, off) in self.retry.ready(now) {
            let e = earliest.entry(*idx).or_insert(*off);
            *e = (*e).min(*off);
        }
        for (i, p) in self.parts.iter_mut().enumerate() {
            let Some(p) = p.as_mut() else { continue };
            let idx = u16::try_from(i).unwrap_or(u16::MAX);
            // Not blocked by a due retry within the limit (the limit offset is looked up
            // only when a retry is due).
            let blocked = p.offsets.uncommitted() >= max
                && earliest
                    .get(&idx)
                    .is_none_or(|e| p.offsets.nth_uncommitted(max).is_none_or(|l| *e > l))
                && p.dead.is_empty();
            if blocked == p.paused {
                continue;
            }
            let r = if blocked {
                self.consumer.pause(&p.topic, p.partition)
            } else {
                self.consumer
                    .resume(&p.topic, p.partition)
                    // Resume exactly where the spout is.
                    .and_then(|()| self.consumer.seek(&p.topic, p.partition, p.position))
            };
            if r.is_ok() {
                p.paused = blocked;
                if !blocked {
                    p.seeked_to = Some(p.position);
                }
            }
        }
    }

    pub(crate) fn ack(&mut self, id: MessageId) {
        let (idx, off) = split_id(id);
        let Some(p) = self
            .parts
            .get_mut(usize::from(idx))
            .and_then(Option::as_mut)
        else {
            return;
        };
        if p.dead_in_flight.remove(&off) {
            p.dead.remove(&off);
        } else if !p.in_flight.remove(off) {
            return;
        }
        p.offsets.acked(off);
        self.retry.acked(&(idx, off));
    }

    pub(crate) fn fail(&mut self, id: MessageId) {
        let (idx, off) = split_id(id);
        let Some(p) = self
            .parts
            .get_mut(usize::from(idx))
            .and_then(Option::as_mut)
        else {
            return;
        };
        let now = Instant::now();
        if p.dead_in_flight.remove(&off) {
            // The dead-letter tuple failed: send it again after the longest delay.
            if let Some(d) = p.dead.get_mut(&off) {
                d.0 = now + self.retry.policy().delay(u32::MAX);
            }
            return;
        }
        if !p.in_flight.remove(off) {
            return;
        }
        match self.retry.fail((idx, off), now) {
            RetryDecision::Retry { .. } => self.metrics.retried.inc(),
            RetryDecision::Exhausted { failures } => {
                tracing::warn!(topic = %p.topic, partition = p.partition, offset = off, failures,
                    "Kafka spout: retries used up; the record goes to the dead-letter stream");
                p.dead.insert(off, (now, failures));
            }
        }
    }
}

/// The index of a record's partition. A task owns few partitions: scanning them (the
/// partition number first) costs less than the `String` a map lookup needs per record.
pub(super) fn part_index(
    parts: &[Option<Part>],
    index: &BTreeMap<(String, i32), u16>,
    topic: &str,
    partition: i32,
) -> Option<u16> {
    const SCAN: usize = 32;
    if parts.len() > SCAN {
        return index.get(&(topic.to_string(), partition)).copied();
    }
    let i = parts.iter().position(|p| {
        p.as_ref()
            .is_some_and(|p| p.partition == partition && p.topic == topic)
    })?;
    u16::try_from(i).ok()
}

/// One polled record: skip it, or emit it (on its stream or the dead-letter stream).
/// Returns whether a tuple was emitted.
#[allow(clippy::too_many_arguments)]
fn handle<C: SpoutConsumer>(
    parts: &mut [Option<Part>],
    index: &BTreeMap<(String, i32), u16>,
    retry: &mut RetrySchedule<Key>,
    consumer: &C,
    metrics: &Metrics,
    config: &KafkaSpoutConfig,
    translator: &dyn RecordTranslator,
    record: &Record<'_>,
    now: Instant,
    out: &mut SpoutCollector,
) -> Result<bool, ComponentError> {
    let Some(idx) = part_index(parts, index, record.topic, record.partition) else {
        return Ok(false);
    };
    let Some(p) = parts.get_mut(usize::from(idx)).and_then(Option::as_mut) else {
        return Ok(false);
    };
    let off = record.offset;
    if let Some(from) = p.seeked_to.take()
        && off > from
    {
        // Records in [from, off) no longer exist (deleted or compacted away): those
        // waiting for a retry or a dead letter are done.
        let gone: Vec<i64> = p
            .dead
            .range(from..off)
            .map(|(o, _)| *o)
            .filter(|o| !p.dead_in_flight.contains(o))
            .collect();
        for o in gone {
            p.dead.remove(&o);
            p.offsets.acked(o);
        }
        let scheduled: Vec<i64> = (from..off)
            .take(100_000)
            .filter(|o| retry.is_scheduled(&(idx, *o)))
            .collect();
        for o in scheduled {
            retry.acked(&(idx, o));
            p.offsets.acked(o);
        }
    }
    p.position = off + 1;
    if p.offsets.is_done(off) || p.in_flight.contains(off) || p.dead_in_flight.contains(&off) {
        return Ok(false);
    }
    let Some(id) = message_id(idx, off) else {
        return Err(ComponentError::msg(format!(
            "offset {off} of {}-{} does not fit a message id",
            p.topic, p.partition
        )));
    };
    if let Some((due, failures)) = p.dead.get(&off).copied() {
        if due > now {
            return Ok(false);
        }
        let mut values = DefaultRecordTranslator {
            key: config.key_deserializer,
            value: config.value_deserializer,
        }
        .values(record);
        values.push(format!("failed {failures} times: retries used up"));
        out.emit_stream(&config.dead_letter_stream, values, Some(id))?;
        p.dead_in_flight.insert(off);
        metrics.dead_lettered.inc();
        return Ok(true);
    }
    let key = (idx, off);
    if retry.is_scheduled(&key) {
        if !retry.is_ready(&key, now) {
            return Ok(false);
        }
        retry.emitted(&key);
    } else {
        // A record never emitted.
        if p.stop_at.is_some_and(|s| off >= s) {
            return Ok(false);
        }
        if p.offsets.uncommitted() >= config.max_uncommitted_offsets
            && p.offsets.latest_emitted().is_none_or(|l| off > l)
        {
            // At the limit: read it again later.
            let _ = consumer.seek(&p.topic, p.partition, off);
            p.position = off;
            p.seeked_to = Some(off);
            return Ok(false);
        }
    }
    match translator.translate(record) {
        Some((stream, values)) => {
            out.emit_stream(stream, values, Some(id))?;
            p.offsets.emitted(off);
            p.in_flight.insert(off);
            Ok(true)
        }
        None => {
            p.offsets.emitted(off);
            p.offsets.acked(off);
            retry.acked(&key);
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_round_trip() {
        for (idx, off) in [(0u16, 0i64), (3, 17), (u16::MAX, (1 << 48) - 1)] {
            let id = message_id(idx, off).unwrap_or_default();
            assert_eq!(split_id(id), (idx, off));
        }
        assert_eq!(message_id(0, -1), None);
        assert_eq!(message_id(0, 1 << 48), None);
    }
}
