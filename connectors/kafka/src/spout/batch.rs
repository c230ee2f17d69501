//! Records taken from librdkafka many at a time (`rd_kafka_consume_batch_queue`) and
//! handed to the spout one by one ([`BatchQueue`]).
//!
//! `BaseConsumer::poll` pays per record for a queue lock, several clock reads (the
//! crate's and librdkafka's timeout bookkeeping) and an `Arc` allocation: 0.30–0.36 µs
//! of the consuming thread per record here, as much as all the spout's own work on it.
//! One batch call takes up to [`BATCH`] records with no clock read per record: 0.06–0.12
//! µs per record on the same broker and machine (`cargo bench -p squall-kafka --bench
//! spout -- null`, whose bare consumer reads both ways). The `rdkafka` crate has no safe
//! wrapper for that call, so this module is the crate's one use of `unsafe`, kept to a
//! few FFI calls and the reads of what librdkafka handed over.
//!
//! The batch call serves what it finds on the consumer's queue with librdkafka's own
//! handlers, not the crate's: client logs would go to stderr and client errors would be
//! lost. So the client's main queue (logs, client errors such as brokers down) is no
//! longer forwarded to the consumer's queue; [`BatchQueue::serve_events`] reads it and
//! passes logs and errors to the consumer's context (the crate's `tracing` output, as
//! before) and returns the errors, and a partition's consume errors come back from
//! [`BatchQueue::poll`].
//!
//! Semantics are the per-record poll's: a message whose partition is sought, paused or
//! unassigned after it was taken but before the spout saw it is dropped here, as
//! librdkafka drops outdated messages from its own queue at those calls.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka_sys::{RDKafkaRespErr, rd_kafka_message_t, rd_kafka_queue_t};

use super::consumer::Polled;
use crate::translate::Record;

/// Records taken from librdkafka per call at most.
pub const BATCH: usize = 256;

/// Events (logs, client errors) served per [`BatchQueue::serve_events`] call at most.
const EVENTS_PER_SERVE: usize = 64;

/// A consumer, its queue read in batches, the records taken from it that the spout has
/// not seen yet, and its main queue (logs, client errors).
///
/// It holds the consumer (shared: other threads may commit through it), so that the
/// consumer outlives the queues and the messages taken, which `Drop` releases first.
pub struct BatchQueue {
    queue: NonNull<rd_kafka_queue_t>,
    events: NonNull<rd_kafka_queue_t>,
    taken: RefCell<Taken>,
    /// Dropped after `Drop::drop` released the rest.
    consumer: Arc<BaseConsumer>,
}

/// Messages taken and not yet handed out: `msgs[next..]`.
#[derive(Default)]
struct Taken {
    msgs: Vec<NonNull<rd_kafka_message_t>>,
    next: usize,
}

// SAFETY: librdkafka's queue and message handles may be used and destroyed from any
// thread; a `BatchQueue` is used by one thread at a time (it is not `Sync`: the
// `RefCell`), the spout's.
unsafe impl Send for BatchQueue {}

impl BatchQueue {
    /// `consumer`, its queue read in batches from now on and its main queue served
    /// apart (`None`: librdkafka gave no queue; the consumer needs a `group.id`).
    pub fn of(consumer: BaseConsumer) -> Option<BatchQueue> {
        let consumer = Arc::new(consumer);
        let rk = consumer.client().native_ptr();
        // SAFETY: the client pointer is valid while `consumer` lives; both queue handles
        // are new references that `Drop` (or the failure path) releases. Forwarding the
        // main queue nowhere keeps its events on it.
        unsafe {
            let queue = NonNull::new(rdkafka_sys::rd_kafka_queue_get_consumer(rk));
            let events = NonNull::new(rdkafka_sys::rd_kafka_queue_get_main(rk));
            let (Some(queue), Some(events)) = (queue, events) else {
                for made in [queue, events].into_iter().flatten() {
                    rdkafka_sys::rd_kafka_queue_destroy(made.as_ptr());
                }
                return None;
            };
            rdkafka_sys::rd_kafka_queue_forward(events.as_ptr(), ptr::null_mut());
            Some(BatchQueue {
                queue,
                events,
                taken: RefCell::default(),
                consumer,
            })
        }
    }

    /// The consumer.
    pub fn consumer(&self) -> &Arc<BaseConsumer> {
        &self.consumer
    }

    /// The consumer, while no one else shares it.
    pub fn consumer_mut(&mut self) -> Option<&mut BaseConsumer> {
        Arc::get_mut(&mut self.consumer)
    }

    /// Serve the client's waiting events (at most 64): log lines and client errors go
    /// to the consumer's context (the `rdkafka` crate writes them to `tracing`, target
    /// `librdkafka`, as its own poll does); the first error is returned.
    pub fn serve_events(&self) -> Option<KafkaError> {
        let mut first = None;
        for _ in 0..EVENTS_PER_SERVE {
            // SAFETY: a live queue; an event returned is destroyed once, after its
            // strings (owned by it) were copied out.
            unsafe {
                if rdkafka_sys::rd_kafka_queue_length(self.events.as_ptr()) == 0 {
                    break;
                }
                let ev = rdkafka_sys::rd_kafka_queue_poll(self.events.as_ptr(), 0);
                if ev.is_null() {
                    break;
                }
                match rdkafka_sys::rd_kafka_event_type(ev) {
                    rdkafka_sys::RD_KAFKA_EVENT_LOG => {
                        let (mut fac, mut text): (*const c_char, *const c_char) =
                            (ptr::null(), ptr::null());
                        let mut level: c_int = 0;
                        if rdkafka_sys::rd_kafka_event_log(ev, &mut fac, &mut text, &mut level) == 0
                        {
                            let fac = text_of(fac);
                            let text = text_of(text);
                            self.consumer
                                .context()
                                .log(log_level(level), fac.trim(), text.trim());
                        }
                    }
                    rdkafka_sys::RD_KAFKA_EVENT_ERROR => {
                        let code = RDKafkaErrorCode::from(rdkafka_sys::rd_kafka_event_error(ev));
                        let reason = text_of(rdkafka_sys::rd_kafka_event_error_string(ev));
                        self.consumer
                            .context()
                            .error(KafkaError::Global(code), reason.trim());
                        let fatal = rdkafka_sys::rd_kafka_event_error_is_fatal(ev) != 0;
                        first.get_or_insert(if fatal {
                            KafkaError::MessageConsumptionFatal(code)
                        } else {
                            KafkaError::MessageConsumption(code)
                        });
                    }
                    _ => {}
                }
                rdkafka_sys::rd_kafka_event_destroy(ev);
            }
        }
        first
    }

    /// The next record, if one is there; never blocks.
    pub fn poll(&self) -> Option<Result<RdMessage<'_>, KafkaError>> {
        self.poll_within(Duration::ZERO)
    }

    /// The next record, waiting up to `timeout` for one when none was taken yet.
    pub fn poll_within(&self, timeout: Duration) -> Option<Result<RdMessage<'_>, KafkaError>> {
        let mut taken = self.taken.borrow_mut();
        if taken.next == taken.msgs.len() {
            taken.msgs.clear();
            taken.next = 0;
            // Whatever is waiting, at once; else (librdkafka's batch call waits for a
            // full batch) the first record to arrive within `timeout`.
            self.take(&mut taken, Duration::ZERO, BATCH);
            if taken.msgs.is_empty() && !timeout.is_zero() {
                self.take(&mut taken, timeout, 1);
            }
            if taken.msgs.is_empty() {
                return None;
            }
        }
        let msg = *taken.msgs.get(taken.next)?;
        taken.next += 1;
        let m = RdMessage {
            msg,
            _queue: PhantomData,
        };
        // SAFETY: a message librdkafka handed over, not destroyed yet (`m` owns it).
        let err = unsafe { msg.as_ref() }.err;
        if err == RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Some(Ok(m));
        }
        Some(Err(match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__PARTITION_EOF => {
                KafkaError::PartitionEOF(m.record().partition)
            }
            e => KafkaError::MessageConsumption(RDKafkaErrorCode::from(e)),
        }))
    }

    /// Take up to `max` (at most [`BATCH`]) records from librdkafka into `taken`,
    /// waiting up to `timeout` for them.
    fn take(&self, taken: &mut Taken, timeout: Duration, max: usize) {
        let mut raw = [ptr::null_mut::<rd_kafka_message_t>(); BATCH];
        let max = max.min(BATCH);
        // SAFETY: `queue` is a live queue reference; `raw` has room for `max` message
        // pointers. librdkafka returns how many it wrote (or -1 on an error, which
        // takes nothing).
        let n = unsafe {
            rdkafka_sys::rd_kafka_consume_batch_queue(
                self.queue.as_ptr(),
                i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
                raw.as_mut_ptr(),
                max,
            )
        };
        let n = usize::try_from(n).unwrap_or(0).min(max);
        taken
            .msgs
            .extend(raw.iter().take(n).filter_map(|m| NonNull::new(*m)));
    }

    /// Drop the taken messages of `topic`'s `partition` the spout has not seen (after a
    /// seek or a pause of it).
    pub fn discard(&self, topic: &str, partition: i32) {
        self.discard_where(|r| r.partition == partition && r.topic == topic);
    }

    /// Drop every taken message the spout has not seen (after a new assignment).
    pub fn discard_all(&self) {
        self.discard_where(|_| true);
    }

    fn discard_where(&self, drop_it: impl Fn(&Record<'_>) -> bool) {
        let mut taken = self.taken.borrow_mut();
        let next = taken.next;
        let rest: Vec<_> = taken.msgs.drain(next..).collect();
        for msg in rest {
            let m = RdMessage {
                msg,
                _queue: PhantomData,
            };
            if drop_it(&m.record()) {
                continue;
            }
            taken.msgs.push(m.into_raw());
        }
    }
}

impl Drop for BatchQueue {
    fn drop(&mut self) {
        let taken = std::mem::take(self.taken.get_mut());
        for msg in taken.msgs.into_iter().skip(taken.next) {
            drop(RdMessage {
                msg,
                _queue: PhantomData,
            });
        }
        // SAFETY: the references `of` made, released once.
        unsafe {
            rdkafka_sys::rd_kafka_queue_destroy(self.queue.as_ptr());
            rdkafka_sys::rd_kafka_queue_destroy(self.events.as_ptr());
        }
    }
}

/// One message taken from a [`BatchQueue`]; destroyed when dropped.
pub struct RdMessage<'a> {
    msg: NonNull<rd_kafka_message_t>,
    _queue: PhantomData<&'a BatchQueue>,
}

impl RdMessage<'_> {
    /// The message pointer, no longer destroyed by this value.
    fn into_raw(self) -> NonNull<rd_kafka_message_t> {
        let msg = self.msg;
        std::mem::forget(self);
        msg
    }
}

impl Drop for RdMessage<'_> {
    fn drop(&mut self) {
        // SAFETY: this value owns the message; it is destroyed once.
        unsafe { rdkafka_sys::rd_kafka_message_destroy(self.msg.as_ptr()) };
    }
}

/// `len` bytes at `p` as a slice, `None` for a null pointer.
///
/// # Safety
/// A non-null `p` must point to `len` readable bytes that live as long as `'a`.
unsafe fn bytes<'a>(p: *const std::ffi::c_void, len: usize) -> Option<&'a [u8]> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller's promise.
    Some(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

impl Polled for RdMessage<'_> {
    fn record(&self) -> Record<'_> {
        // SAFETY: the message is live while `self` is; its topic handle, key and
        // payload live as long as the message (librdkafka frees them with it).
        unsafe {
            let m = self.msg.as_ref();
            let topic = if m.rkt.is_null() {
                ""
            } else {
                let name = rdkafka_sys::rd_kafka_topic_name(m.rkt);
                if name.is_null() {
                    ""
                } else {
                    // Kafka topic names are ASCII ([a-zA-Z0-9._-]).
                    CStr::from_ptr(name).to_str().unwrap_or("")
                }
            };
            let mut kind = rdkafka_sys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
            let ts = rdkafka_sys::rd_kafka_message_timestamp(m, &mut kind);
            Record {
                topic,
                partition: m.partition,
                offset: m.offset,
                key: bytes(m.key, m.key_len),
                value: bytes(m.payload, m.len),
                timestamp: (kind
                    != rdkafka_sys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
                    && ts != -1)
                    .then_some(ts),
            }
        }
    }
}

/// librdkafka's syslog level as the crate's.
fn log_level(level: c_int) -> RDKafkaLogLevel {
    match level {
        0 => RDKafkaLogLevel::Emerg,
        1 => RDKafkaLogLevel::Alert,
        2 => RDKafkaLogLevel::Critical,
        3 => RDKafkaLogLevel::Error,
        4 => RDKafkaLogLevel::Warning,
        5 => RDKafkaLogLevel::Notice,
        6 => RDKafkaLogLevel::Info,
        _ => RDKafkaLogLevel::Debug,
    }
}

/// A C string owned by an event, as text (empty for a null pointer).
///
/// # Safety
/// A non-null `p` must point to a NUL-terminated string that lives while the result is
/// used.
unsafe fn text_of<'a>(p: *const c_char) -> std::borrow::Cow<'a, str> {
    if p.is_null() {
        return std::borrow::Cow::Borrowed("");
    }
    // SAFETY: the caller's promise.
    unsafe { CStr::from_ptr(p) }.to_string_lossy()
}
