//! `processing.guarantee` AT_MOST_ONCE and NO_GUARANTEE: records are emitted without a
//! message id (not tracked, never retried).
//!
//! AT_MOST_ONCE commits the position after a whole poll (at most [`POLL_BUDGET`]
//! records, kept here until emitted) before emitting any of it, as storm-kafka-client
//! commits after each poll: a crash loses at most that poll, never replays it. If that
//! commit fails or is not confirmed within the call timeout, the poll is dropped and
//! read again later. NO_GUARANTEE commits the position every `offset.commit.period.ms`
//! without waiting (see [`super::commit`]).

use std::time::{Duration, Instant};

use squall_runtime::{ComponentError, SpoutCollector};

use super::consumer::{Polled, SpoutConsumer};
use super::state::{EMIT_BATCH, POLL_BUDGET, Running, part_index};
use crate::config::{KafkaSpoutConfig, ProcessingGuarantee};
use crate::translate::{OwnedRecord, RecordTranslator};

/// Emit the next buffered records (at most [`EMIT_BATCH`]), polling (and, at most once,
/// committing) a new batch when the buffer is empty.
pub(super) fn next_tuple<C: SpoutConsumer>(
    r: &mut Running<C>,
    config: &KafkaSpoutConfig,
    translator: &dyn RecordTranslator,
    out: &mut SpoutCollector,
    now: Instant,
) -> Result<(), ComponentError> {
    if r.buffer.is_empty() {
        fill(r, config, now);
        if r.buffer.is_empty() {
            return Ok(());
        }
        if config.processing_guarantee == ProcessingGuarantee::AtMostOnce
            && !commit_buffer(r, config)
        {
            return Ok(());
        }
    }
    let mut emitted = 0;
    while let Some(m) = r.buffer.pop_front() {
        let Some(idx) = part_index(&r.parts, &r.index, &m.topic, m.partition) else {
            continue;
        };
        let Some(p) = r.parts.get(usize::from(idx)).and_then(Option::as_ref) else {
            continue;
        };
        if p.stop_at.is_some_and(|s| m.offset >= s) {
            continue;
        }
        if let Some((stream, values)) = translator.translate(&m.as_record()) {
            out.emit_stream(stream, values, None)?;
            emitted += 1;
            if emitted >= EMIT_BATCH {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Poll what is there (at most [`POLL_BUDGET`] records) into the buffer.
fn fill<C: SpoutConsumer>(r: &mut Running<C>, config: &KafkaSpoutConfig, now: Instant) {
    for _ in 0..POLL_BUDGET {
        match r.consumer.poll() {
            None => return,
            Some(Err(e)) => {
                r.metrics.poll_errors.inc();
                if r.last_poll_error
                    .is_none_or(|t| now.duration_since(t) > Duration::from_secs(10))
                {
                    r.last_poll_error = Some(now);
                    tracing::warn!(group = %config.group_id, "Kafka spout: {e}");
                }
                return;
            }
            Some(Ok(m)) => {
                let m = m.record();
                if let Some(p) = part_index(&r.parts, &r.index, m.topic, m.partition)
                    .and_then(|i| r.parts.get_mut(usize::from(i)))
                    .and_then(Option::as_mut)
                {
                    p.position = m.offset + 1;
                    r.buffer.push_back(OwnedRecord::of(&m));
                }
            }
        }
    }
}

/// At most once: commit past the buffered records before emitting them. On failure the
/// partitions are sought back to their first buffered record and the buffer dropped.
fn commit_buffer<C: SpoutConsumer>(r: &mut Running<C>, config: &KafkaSpoutConfig) -> bool {
    r.commit_and_wait(config);
    let all_committed = r.buffer.iter().all(|m| {
        part_index(&r.parts, &r.index, &m.topic, m.partition)
            .and_then(|i| r.committed_positions.get(&i))
            .is_some_and(|c| *c > m.offset)
    });
    if all_committed {
        return true;
    }
    let mut first: Vec<(String, i32, i64)> = Vec::new();
    for m in &r.buffer {
        if !first
            .iter()
            .any(|(t, p, _)| *t == m.topic && *p == m.partition)
        {
            first.push((m.topic.clone(), m.partition, m.offset));
        }
    }
    r.buffer.clear();
    for (t, p, o) in first {
        let _ = r.consumer.seek(&t, p, o);
        if let Some(part) = r
            .index
            .get(&(t, p))
            .and_then(|i| r.parts.get_mut(usize::from(*i)))
            .and_then(Option::as_mut)
        {
            part.position = o;
        }
    }
    false
}

/// A bounded read is done when every partition's position reached its end and nothing
/// is buffered.
pub(super) fn is_exhausted<C: SpoutConsumer>(r: &Running<C>) -> bool {
    r.all_stops_known()
        && r.buffer.is_empty()
        && r.parts
            .iter()
            .flatten()
            .all(|p| p.stop_at.is_none_or(|s| p.position >= s))
}
