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
//! The batch call serves the consumer's queue with librdkafka's own handlers, not the
//! crate's: client logs would go to stderr. So the client's logs are sent to a queue of
//! their own, passed to the consumer's context (the crate's `tracing` output, as
//! before) each time the queue takes more records: at least every [`BATCH`] records and
//! whenever none is waiting. Client errors reach the same logs (librdkafka logs them
//! when the batch call finds them); [`BatchQueue::poll`] returns an error for them, as
//! for a partition's consume errors.
//!
//! Semantics are the per-record poll's: a message whose partition is sought, paused or
//! unassigned after it was taken but before the spout saw it is dropped here, as
//! librdkafka drops outdated messages from its own queue at those calls.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
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

/// Log lines passed on per [`BatchQueue::serve_logs`] call at most.
const LOGS_PER_SERVE: usize = 64;

/// The facility of the log line librdkafka writes for a client error it serves itself.
const CLIENT_ERROR_FACILITY: &str = "ERROR";

/// A consumer, its queue read in batches, the records taken from it that the spout has
/// not seen yet, and the queue the consumer's logs go to.
///
/// It holds the consumer (shared: other threads may commit through it), so that the
/// consumer outlives the queues and the messages taken, which `Drop` releases first.
pub struct BatchQueue {
    queue: NonNull<rd_kafka_queue_t>,
    logs: NonNull<rd_kafka_queue_t>,
    /// Messages taken and not yet handed out, oldest first.
    taken: RefCell<VecDeque<NonNull<rd_kafka_message_t>>>,
    /// Dropped after `Drop::drop` released the rest.
    consumer: Arc<BaseConsumer>,
}

// SAFETY: librdkafka's queue and message handles may be used and destroyed from any
// thread; a `BatchQueue` is used by one thread at a time (it is not `Sync`: the
// `RefCell`), the spout's.
unsafe impl Send for BatchQueue {}

impl BatchQueue {
    /// `consumer`, its queue read in batches from now on and its logs sent to a queue
    /// of their own (`None`: librdkafka gave no queue).
    pub fn of(consumer: BaseConsumer) -> Option<BatchQueue> {
        let consumer = Arc::new(consumer);
        let rk = consumer.client().native_ptr();
        // SAFETY: the client pointer is valid while `consumer` lives; both queues are
        // new references that `Drop` (or the failure path) releases; the client keeps
        // its own reference to the log queue.
        unsafe {
            let queue = NonNull::new(rdkafka_sys::rd_kafka_queue_get_consumer(rk));
            let logs = NonNull::new(rdkafka_sys::rd_kafka_queue_new(rk));
            let (Some(queue), Some(logs)) = (queue, logs) else {
                for made in [queue, logs].into_iter().flatten() {
                    rdkafka_sys::rd_kafka_queue_destroy(made.as_ptr());
                }
                return None;
            };
            let err = rdkafka_sys::rd_kafka_set_log_queue(rk, logs.as_ptr());
            if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                rdkafka_sys::rd_kafka_queue_destroy(queue.as_ptr());
                rdkafka_sys::rd_kafka_queue_destroy(logs.as_ptr());
                return None;
            }
            Some(BatchQueue {
                queue,
                logs,
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

    /// Pass the client's waiting log lines (at most 64) to the consumer's context (the
    /// `rdkafka` crate writes them to `tracing`, target `librdkafka`); returns how many
    /// of them were client errors (a broker down, a failed login: facility `ERROR`, as
    /// librdkafka logs the errors the batch call finds on the consumer's queue).
    fn serve_logs(&self) -> usize {
        let mut errors = 0;
        for _ in 0..LOGS_PER_SERVE {
            // SAFETY: a live queue; an event returned is destroyed once, after its
            // strings (owned by it) were copied out.
            unsafe {
                if rdkafka_sys::rd_kafka_queue_length(self.logs.as_ptr()) == 0 {
                    break;
                }
                let ev = rdkafka_sys::rd_kafka_queue_poll(self.logs.as_ptr(), 0);
                if ev.is_null() {
                    break;
                }
                let (mut fac, mut text): (*const c_char, *const c_char) =
                    (ptr::null(), ptr::null());
                let mut level: c_int = 0;
                if rdkafka_sys::rd_kafka_event_log(ev, &mut fac, &mut text, &mut level) == 0
                    && !fac.is_null()
                    && !text.is_null()
                {
                    let fac = CStr::from_ptr(fac).to_string_lossy();
                    let text = CStr::from_ptr(text).to_string_lossy();
                    if fac.trim() == CLIENT_ERROR_FACILITY {
                        errors += 1;
                    }
                    self.consumer
                        .context()
                        .log(log_level(level), fac.trim(), text.trim());
                }
                rdkafka_sys::rd_kafka_event_destroy(ev);
            }
        }
        errors
    }

    /// The next record, if one is there; never blocks.
    pub fn poll(&self) -> Option<Result<RdMessage<'_>, KafkaError>> {
        self.poll_within(Duration::ZERO)
    }

    /// The next record, waiting up to `timeout` for one when none was taken yet. Before
    /// taking more records the client's logs are passed on; a client error among them
    /// is returned (`KafkaError::Global`, code `Fail`: its text is in the log line).
    pub fn poll_within(&self, timeout: Duration) -> Option<Result<RdMessage<'_>, KafkaError>> {
        let mut taken = self.taken.borrow_mut();
        if taken.is_empty() {
            if self.serve_logs() > 0 {
                return Some(Err(KafkaError::Global(RDKafkaErrorCode::Fail)));
            }
            // Whatever is waiting, at once; else (librdkafka's batch call waits for a
            // full batch) the first record to arrive within `timeout`.
            self.take(&mut taken, Duration::ZERO, BATCH);
            if taken.is_empty() && !timeout.is_zero() {
                self.take(&mut taken, timeout, 1);
            }
        }
        let msg = taken.pop_front()?;
        // SAFETY: a message librdkafka handed over, not destroyed yet (`m` owns it).
        let err = unsafe { msg.as_ref() }.err;
        let m = RdMessage {
            msg,
            _queue: PhantomData,
        };
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
    fn take(
        &self,
        taken: &mut VecDeque<NonNull<rd_kafka_message_t>>,
        timeout: Duration,
        max: usize,
    ) {
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
        taken.extend(raw.iter().take(n).filter_map(|m| NonNull::new(*m)));
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
        self.taken.borrow_mut().retain(|msg| {
            // SAFETY: a message taken and not handed out: live, owned by the queue.
            if !drop_it(&unsafe { record_of(*msg) }) {
                return true;
            }
            // SAFETY: as above; it leaves the queue now, destroyed once.
            unsafe { rdkafka_sys::rd_kafka_message_destroy(msg.as_ptr()) };
            false
        });
    }
}

impl Drop for BatchQueue {
    fn drop(&mut self) {
        for msg in self.taken.get_mut().drain(..) {
            // SAFETY: messages taken and never handed out, destroyed once.
            unsafe { rdkafka_sys::rd_kafka_message_destroy(msg.as_ptr()) };
        }
        // SAFETY: the references `of` made, released once (the client keeps its own
        // to the log queue).
        unsafe {
            rdkafka_sys::rd_kafka_queue_destroy(self.queue.as_ptr());
            rdkafka_sys::rd_kafka_queue_destroy(self.logs.as_ptr());
        }
    }
}

/// One message taken from a [`BatchQueue`]; destroyed when dropped.
pub struct RdMessage<'a> {
    msg: NonNull<rd_kafka_message_t>,
    _queue: PhantomData<&'a BatchQueue>,
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
        // SAFETY: the message is live while `self` is.
        unsafe { record_of(self.msg) }
    }
}

/// The fields of the message at `msg`.
///
/// # Safety
/// `msg` must be a live message, and stay live as long as `'a` (its topic handle, key
/// and payload live as long as the message: librdkafka frees them with it).
unsafe fn record_of<'a>(msg: NonNull<rd_kafka_message_t>) -> Record<'a> {
    use rdkafka_sys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    // SAFETY: the caller's promise.
    unsafe {
        let m = msg.as_ref();
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
        let mut kind = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        let ts = rdkafka_sys::rd_kafka_message_timestamp(m, &mut kind);
        Record {
            topic,
            partition: m.partition,
            offset: m.offset,
            key: bytes(m.key, m.key_len),
            value: bytes(m.payload, m.len),
            timestamp: (kind != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts != -1).then_some(ts),
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
