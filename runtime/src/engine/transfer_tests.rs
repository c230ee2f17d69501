//! The tuple-counted bound of executor queues: admission by weight, blocking and
//! resuming, a spout draining its own queue while blocked, right-sized partial batches.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use super::*;
use crate::api::tuple::{Fields, StreamSchema, Values};
use crate::api::value::Value;
use crate::engine::acking::Outcome;

const WAIT: Duration = Duration::from_secs(20);

fn tuple() -> Tuple {
    let schema = StreamSchema::intern("queue", "default", &Fields::new(["n"]));
    Tuple::new(Values::from(Value::from(1i64)), schema, TaskId(1))
}

fn batch(n: usize) -> Envelope {
    Envelope::Batch {
        task: TaskId(2),
        tuples: (0..n).map(|_| tuple()).collect(),
    }
}

fn tuples_in(env: &Envelope) -> usize {
    match env {
        Envelope::Batch { tuples, .. } => tuples.len(),
        other => panic!("expected a batch, got {other:?}"),
    }
}

/// Poll `cond` until it holds, failing with `what` after WAIT.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn capacity_counts_tuples_not_batches() {
    let (dest, inbox) = channel(10);
    // Ten batches of one tuple fit: a queue counted in batches of 1,000 would have
    // been full after its few slots.
    for i in 0..10 {
        dest.try_send(batch(1))
            .unwrap_or_else(|_| panic!("batch {i} of 1 refused with {i} tuples queued"));
    }
    assert!(matches!(
        dest.try_send(batch(1)),
        Err(TrySendError::Full(_))
    ));
    assert_eq!(dest.occupancy().depth(), 10);
    // Taking one tuple makes room for one more batch, whatever its size.
    assert_eq!(tuples_in(&inbox.try_recv().unwrap()), 1);
    dest.try_send(batch(5)).unwrap();
    assert!(matches!(
        dest.try_send(batch(1)),
        Err(TrySendError::Full(_))
    ));
    assert_eq!(
        dest.occupancy().depth(),
        14,
        "9 + 5: at most one batch over"
    );
    while inbox.try_recv().is_ok() {}
    assert_eq!(dest.occupancy().depth(), 0);
    // An empty queue takes a batch larger than its capacity (no deadlock).
    dest.try_send(batch(1000)).unwrap();
    assert!(matches!(
        dest.try_send(batch(1)),
        Err(TrySendError::Full(_))
    ));
    // The receiver gone: senders are refused, not blocked.
    drop(inbox);
    assert!(matches!(
        dest.try_send(batch(1)),
        Err(TrySendError::Disconnected(_))
    ));
    assert!(dest.send_blocking(batch(1)).is_err());
}

#[test]
fn a_blocked_sender_resumes_as_the_receiver_takes_and_the_bound_holds() {
    const CAP: usize = 8;
    const BATCH: usize = 3;
    const BATCHES: usize = 2000;
    let (dest, inbox) = channel(CAP);
    let d = dest.clone();
    let sender = std::thread::spawn(move || {
        let mut blocked = 0u64;
        for _ in 0..BATCHES {
            blocked += d.send_blocking(batch(BATCH)).unwrap();
        }
        blocked
    });
    let mut got = 0;
    let start = Instant::now();
    while got < BATCHES * BATCH {
        // One sender: at most CAP - 1 tuples plus its batch.
        let depth = dest.occupancy().depth();
        assert!(
            depth < CAP + BATCH,
            "{depth} tuples queued (capacity {CAP})"
        );
        got += tuples_in(&inbox.recv_timeout(WAIT).expect("the sender stalled"));
        if got % 300 == 0 {
            // A slow receiver now and then: the sender fills the queue and blocks.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let blocked = sender.join().unwrap();
    assert!(blocked > 0, "the sender never blocked on a queue of {CAP}");
    assert_eq!(dest.blocked.load(Ordering::Relaxed), blocked);
    // A lost wake-up costs a 100 ms park: hundreds of blocks would take tens of seconds.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(dest.occupancy().depth(), 0);
}

#[test]
fn a_spout_blocked_on_a_full_queue_drains_its_own() {
    // The spout's own queue, with its doorbell, and a full destination.
    let (own_dest, own_inbox) = channel_with_bell(4);
    let (dest, inbox) = channel(1);
    dest.try_send(batch(1)).unwrap();
    let mut out = Outbox::new(
        [(TaskId(2), dest)],
        Vec::new(),
        2,
        Arc::new(RunState::new(1)),
    );
    out.drain_while_blocked(own_inbox.drain());
    let spout = std::thread::spawn(move || {
        // A full batch of 2: blocks on the full destination.
        out.push(TaskId(2), tuple());
        out.push(TaskId(2), tuple());
        out
    });
    // A verdict for the blocked spout: it must take it (an acker blocked on the spout's
    // queue would otherwise deadlock with it).
    let verdicts = || {
        Envelope::Completions(
            (0..4)
                .map(|root| Completion {
                    spout_task: TaskId(1),
                    root,
                    slot: 0,
                    outcome: Outcome::Acked,
                })
                .collect(),
        )
    };
    own_dest.try_send(verdicts()).unwrap();
    wait_until("the blocked spout drains its own queue", || {
        own_dest.occupancy().depth() == 0
    });
    // The drained verdicts gave their room back: another set fits.
    own_dest.try_send(verdicts()).unwrap();
    wait_until("the blocked spout drains again", || {
        own_dest.occupancy().depth() == 0
    });
    // Room on the destination: the spout's send completes.
    assert_eq!(tuples_in(&inbox.recv_timeout(WAIT).unwrap()), 1);
    let out = spout.join().unwrap();
    assert_eq!(tuples_in(&inbox.recv_timeout(WAIT).unwrap()), 2);
    assert_eq!(out.stash.len(), 2, "{:?}", out.stash);
    assert!(out.send_blocked_ns > 0);
    drop(own_inbox);
}

#[test]
fn a_flushed_partial_batch_travels_in_a_buffer_of_its_size() {
    let (dest, inbox) = channel(10_000);
    let mut out = Outbox::new(
        [(TaskId(2), dest)],
        Vec::new(),
        1000,
        Arc::new(RunState::new(1)),
    );
    for _ in 0..3 {
        out.push(TaskId(2), tuple());
    }
    out.flush();
    match inbox.try_recv().unwrap() {
        Envelope::Batch { tuples, .. } => {
            assert_eq!(tuples.len(), 3);
            assert!(tuples.capacity() < 1000, "capacity {}", tuples.capacity());
        }
        other => panic!("{other:?}"),
    }
    // A full batch goes as it is (no copy on the hot path).
    for _ in 0..1000 {
        out.push(TaskId(2), tuple());
    }
    match inbox.try_recv().unwrap() {
        Envelope::Batch { tuples, .. } => assert_eq!(tuples.len(), 1000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn acks_of_one_tree_in_a_row_travel_as_one_message_with_the_same_verdicts() {
    use crate::engine::acking::{AckMsg, AckerState};
    let (dest, inbox) = channel(10_000);
    let mut out = Outbox::new(
        Vec::<(TaskId, Destination)>::new(),
        vec![(TaskId(9), dest)],
        1000,
        Arc::new(RunState::new(1)),
    );
    let (a, b, c, d) = (0x11, 0x2200, 0x330000, 0x44000000);
    let sent = [
        AckMsg::Init {
            root: 1,
            xor: a ^ b,
            spout_task: TaskId(1),
            slot: 0,
        },
        AckMsg::Init {
            root: 2,
            xor: d,
            spout_task: TaskId(1),
            slot: 1,
        },
        // Tree 1: three acks in a row (one of them creating edge c), then one after a
        // message of tree 2: two messages.
        AckMsg::Ack { root: 1, xor: a },
        AckMsg::Ack {
            root: 1,
            xor: b ^ c,
        },
        AckMsg::Ack { root: 1, xor: 0 },
        AckMsg::Reset { root: 2 },
        AckMsg::Ack { root: 1, xor: c },
        // Tree 2: a fail is never folded, nor an ack into it.
        AckMsg::Fail { root: 2 },
        AckMsg::Ack { root: 2, xor: d },
    ];
    for m in sent {
        out.push_ack(m);
    }
    out.flush();
    let folded = match inbox.try_recv().unwrap() {
        Envelope::Acks { msgs, .. } => msgs,
        other => panic!("{other:?}"),
    };
    assert_eq!(folded.len(), 7, "{folded:?}");
    assert_eq!(
        folded[2],
        AckMsg::Ack {
            root: 1,
            xor: a ^ b ^ c
        }
    );
    let verdicts = |msgs: &[AckMsg]| {
        let mut acker = AckerState::default();
        let mut v = Vec::new();
        acker.handle_batch(msgs, |c| v.push(c));
        v
    };
    let expected = verdicts(&sent);
    assert_eq!(
        expected.len(),
        3,
        "tree 1 acked, tree 2 reset and failed: {expected:?}"
    );
    assert_eq!(verdicts(&folded), expected);
}
