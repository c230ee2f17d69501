//! Loopback tests of listener and remote destination: bulk transfer in order, refused
//! handshakes, garbage, backpressure, reconnects and shutdown.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, bounded};

use super::handshake::client as client_handshake;
use super::*;
use crate::api::ids::TaskId;
use crate::api::tuple::{Anchors, Fields, StreamSchema, Tuple, Values};
use crate::api::value::Value;
use crate::cluster::auth::topology_secret::TopologySecret;
use crate::cluster::wire::{self, SchemaTable};
use crate::engine::acking::AckMsg;
use crate::engine::transfer::Envelope;

pub(super) const WAIT: Duration = Duration::from_secs(20);

pub(super) fn word_schema() -> &'static StreamSchema {
    StreamSchema::intern("split", "default", &Fields::new(["word", "n"]))
}

pub(super) fn identity(topology: &str, worker: &str) -> Identity {
    let payload = StreamSchema::intern("spout", "default", &Fields::new(["payload"]));
    Identity {
        topology_id: topology.into(),
        worker_id: worker.into(),
        schemas: Arc::new(SchemaTable::from_schemas([word_schema(), payload]).unwrap()),
        secret: TopologySecret::from_bytes([0x5e; 32]),
        frame_mac: true,
    }
}

pub(super) fn config() -> NetConfig {
    NetConfig {
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        ..NetConfig::default()
    }
}

pub(super) fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A listener for topology `topology` whose router forwards into a channel of `cap`.
pub(super) fn listen_on(
    addr: SocketAddr,
    topology: &str,
    cap: usize,
) -> (Listener, Receiver<Envelope>) {
    let (tx, rx) = bounded(cap);
    let route = move |env: Envelope| {
        let _ = tx.send(env);
    };
    let l = Listener::bind(
        addr,
        identity(topology, "receiver"),
        config(),
        Arc::new(route),
    );
    (l.unwrap(), rx)
}

pub(super) fn connect(l: &Listener, topology: &str) -> RemoteDestination {
    let r =
        RemoteDestination::connect(l.local_addr(), identity(topology, "sender"), config()).unwrap();
    assert!(
        r.wait_connected(WAIT),
        "no connection to {} within {WAIT:?}",
        l.local_addr()
    );
    r
}

pub(super) fn tuple(i: u64) -> Tuple {
    let values: Values = [Value::from(format!("word-{i}")), Value::Int(i as i64)].into();
    let anchors = match i % 3 {
        0 => Anchors::None,
        1 => Anchors::One((i, !i)),
        _ => Anchors::Many(Arc::from(vec![(i, 1), (i + 1, 2)])),
    };
    Tuple::with_anchors(values, word_schema(), TaskId(i as u32 % 7), anchors)
}

pub(super) fn recv(rx: &Receiver<Envelope>, what: &str) -> Envelope {
    rx.recv_timeout(WAIT)
        .unwrap_or_else(|e| panic!("no {what} within {WAIT:?}: {e}"))
}

/// Send one batch holding `tuple(i)` and check it arrives.
pub(super) fn ping(r: &RemoteDestination, rx: &Receiver<Envelope>, i: u64) {
    let env = Envelope::Batch {
        task: TaskId(5),
        tuples: vec![tuple(i)],
    };
    r.destination().send_blocking(env).unwrap();
    match recv(rx, "ping") {
        Envelope::Batch { tuples, .. } => assert_eq!(tuples[0].values(), tuple(i).values()),
        other => panic!("expected a batch, got {other:?}"),
    }
}

/// Whether the server closed `s` (EOF or reset) without sending anything.
pub(super) fn assert_closed_by_server(mut s: &TcpStream) {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ) => {}
        other => panic!("expected the server to close the connection, got {other:?}"),
    }
}

#[test]
fn hundred_thousand_tuples_arrive_in_order() {
    const TUPLES: u64 = 100_000;
    const BATCH: u64 = 100;
    let (listener, rx) = listen_on(loopback(), "topo", 64);
    let remote = connect(&listener, "topo");
    let dest = remote.destination();
    let sender = std::thread::spawn(move || {
        for b in 0..TUPLES / BATCH {
            let tuples = (b * BATCH..(b + 1) * BATCH).map(tuple).collect();
            dest.send_blocking(Envelope::Batch {
                task: TaskId(3),
                tuples,
            })
            .unwrap();
            if b % 100 == 0 {
                let msgs = vec![AckMsg::Ack { root: b, xor: !b }];
                dest.send_blocking(Envelope::Acks {
                    task: TaskId(9),
                    msgs,
                })
                .unwrap();
            }
        }
    });
    let (mut next, mut acks) = (0u64, 0u64);
    while next < TUPLES {
        match recv(&rx, "tuples") {
            Envelope::Batch { task, tuples } => {
                assert_eq!(task, TaskId(3));
                for t in tuples {
                    let want = tuple(next);
                    assert_eq!(t.values(), want.values(), "tuple {next}");
                    assert_eq!(t.anchors(), want.anchors(), "tuple {next}");
                    assert_eq!(t.source_task(), want.source_task());
                    assert!(std::ptr::eq(t.schema(), word_schema()));
                    next += 1;
                }
            }
            Envelope::Acks { task, msgs } => {
                assert_eq!(task, TaskId(9));
                assert_eq!(
                    msgs,
                    [AckMsg::Ack {
                        root: acks * 100,
                        xor: !(acks * 100)
                    }]
                );
                acks += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    sender.join().unwrap();
    assert_eq!(acks, TUPLES / BATCH / 100);
    let stats: LinkStats = remote.stats();
    assert_eq!(stats.tuples_sent, TUPLES);
    assert_eq!((stats.connects, stats.tuples_dropped), (1, 0));
    assert!(remote.shutdown());
    assert!(listener.shutdown());
}

#[test]
fn wrong_topology_is_refused_and_good_connections_keep_working() {
    let (listener, rx) = listen_on(loopback(), "topo", 64);
    let good = connect(&listener, "topo");
    ping(&good, &rx, 1);

    // A raw peer of another topology: closed without an answer.
    let raw = TcpStream::connect(listener.local_addr()).unwrap();
    let them = identity("other", "intruder");
    let theirs = wire::Handshake {
        topology_id: them.topology_id.clone(),
        worker_id: them.worker_id.clone(),
        schema_digest: them.schemas.digest(),
        nonce: [1; wire::NONCE_LEN],
        frame_mac: true,
    };
    let mut hello = Vec::new();
    wire::encode_handshake(&theirs, &mut hello).unwrap();
    (&raw).write_all(&hello).unwrap();
    assert_closed_by_server(&raw);
    assert_eq!(listener.stats().refused, 1);

    // Same topology id, other streams: refused too, and the client side sees why.
    let stream = TcpStream::connect(listener.local_addr()).unwrap();
    let mut other = identity("topo", "old-build");
    other.schemas = Arc::new(SchemaTable::from_schemas([word_schema()]).unwrap());
    let err = client_handshake(&stream, listener.local_addr(), &other, &config()).unwrap_err();
    assert!(
        matches!(err, NetError::Refused { .. } | NetError::Io(_)),
        "unexpected {err}"
    );
    assert_closed_by_server(&stream);
    assert_eq!(listener.stats().refused, 2);

    // A listener of another topology: the connecting side refuses it.
    let (wrong, _rx) = listen_on(loopback(), "other", 1);
    let stream = TcpStream::connect(wrong.local_addr()).unwrap();
    let err = client_handshake(
        &stream,
        wrong.local_addr(),
        &identity("topo", "x"),
        &config(),
    );
    assert!(matches!(
        err,
        Err(NetError::Refused { .. } | NetError::Io(_))
    ));

    ping(&good, &rx, 2);
    assert_eq!(
        good.stats().connects,
        1,
        "the good connection was never broken"
    );
    let fresh = connect(&listener, "topo");
    ping(&fresh, &rx, 3);
}

#[test]
fn garbage_closes_only_that_connection() {
    let (listener, rx) = listen_on(loopback(), "topo", 64);
    let good = connect(&listener, "topo");
    ping(&good, &rx, 1);

    // Garbage instead of a handshake (its "length" is far over the maximum).
    let raw = TcpStream::connect(listener.local_addr()).unwrap();
    (&raw)
        .write_all(&[0xde, 0xad, 0xbe, 0xef, 0x42, 1, 2, 3, 4, 5, 6, 7])
        .unwrap();
    assert_closed_by_server(&raw);

    // A proper handshake, then a corrupt frame.
    let raw = TcpStream::connect(listener.local_addr()).unwrap();
    let me = identity("topo", "corrupt");
    let answer = client_handshake(&raw, listener.local_addr(), &me, &config()).unwrap();
    assert_eq!(answer.peer_worker, "receiver");
    (&raw).write_all(&[3, 0, 0, 0, 0x63, 1, 2, 3]).unwrap();
    assert_closed_by_server(&raw);
    let stats: ListenerStats = listener.stats();
    // Too short to carry a MAC: cut before it is decoded.
    assert_eq!((stats.refused, stats.bad_mac), (1, 1), "{stats:?}");

    ping(&good, &rx, 2);
    assert_eq!(good.stats().connects, 1);
    assert!(listener.shutdown());
}

#[test]
fn a_slow_receiver_blocks_the_sender_and_nothing_is_lost() {
    // The router's channel holds one envelope and nobody drains it yet.
    let (listener, rx) = listen_on(loopback(), "topo", 1);
    let cfg = NetConfig {
        queue_capacity: 2,
        ..config()
    };
    let remote =
        RemoteDestination::connect(listener.local_addr(), identity("topo", "s"), cfg).unwrap();
    assert!(remote.wait_connected(WAIT));
    let payload = Value::from(vec![7u8; 4096]);
    let payload_schema = StreamSchema::intern("spout", "default", &Fields::new(["payload"]));
    let batch = || {
        let tuples = (0..16)
            .map(|_| Tuple::new(Values::from(payload.clone()), payload_schema, TaskId(1)))
            .collect();
        Envelope::Batch {
            task: TaskId(2),
            tuples,
        }
    };
    let dest = remote.destination();
    let deadline = Instant::now() + WAIT;
    let mut sent = 0u64;
    loop {
        match dest.try_send(batch()) {
            Ok(()) => sent += 1,
            Err(crossbeam_channel::TrySendError::Full(_)) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the sender never blocked after {sent} batches"
        );
    }
    // Everything queued so far arrives once the receiver drains.
    let mut got = 0u64;
    while got < sent {
        match recv(&rx, "backlog") {
            Envelope::Batch { tuples, .. } => {
                assert_eq!(tuples.len(), 16);
                got += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(remote.stats().tuples_dropped, 0);
}

#[test]
fn the_writer_reconnects_after_the_peer_restarts() {
    let (first, rx) = listen_on(loopback(), "topo", 64);
    let addr = first.local_addr();
    let remote = connect(&first, "topo");
    ping(&remote, &rx, 1);
    assert!(first.shutdown());
    let (second, rx) = listen_on(addr, "topo", 64);
    // Envelopes written into the dead connection are lost (that is the contract), so
    // keep sending until one arrives through the new connection.
    let deadline = Instant::now() + WAIT;
    let dest = remote.destination();
    let mut i = 0;
    loop {
        i += 1;
        let tuples = vec![tuple(i)];
        dest.send_blocking(Envelope::Batch {
            task: TaskId(1),
            tuples,
        })
        .unwrap();
        if let Ok(Envelope::Batch { tuples, .. }) = rx.recv_timeout(Duration::from_millis(100)) {
            assert!(tuples[0].values()[1].as_i64().unwrap() <= i as i64);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no delivery after the peer restarted"
        );
    }
    assert_eq!(remote.stats().connects, 2);
    assert!(remote.shutdown());
    assert!(second.shutdown());
}

#[test]
fn an_idle_writer_whose_peer_closed_delivers_the_next_envelope_to_its_restart() {
    let (first, rx) = listen_on(loopback(), "topo", 64);
    let addr = first.local_addr();
    let remote = connect(&first, "topo");
    ping(&remote, &rx, 1);
    // The peer goes away while the writer is idle (a killed worker), and comes back
    // on the same port (its restart).
    assert!(first.shutdown());
    let (second, rx) = listen_on(addr, "topo", 64);
    // The one envelope sent next is not written into the dead connection: it arrives.
    ping(&remote, &rx, 2);
    assert_eq!(remote.stats().connects, 2);
    assert_eq!(remote.stats().envelopes_dropped, 0);
    assert!(remote.shutdown());
    assert!(second.shutdown());
}

#[test]
fn shutdown_is_prompt_even_while_connecting() {
    // A port nobody listens on.
    let port = TcpListener::bind(loopback()).unwrap().local_addr().unwrap();
    let remote = RemoteDestination::connect(port, identity("topo", "s"), config()).unwrap();
    assert_eq!(remote.state(), LinkState::Connecting);
    assert_eq!(remote.peer(), port);
    let started = Instant::now();
    assert!(remote.shutdown());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn task_router_delivers_by_task() {
    let (a, a_inbox) = crate::engine::transfer::channel(4);
    let (b, b_inbox) = crate::engine::transfer::channel(4);
    let router = TaskRouter::new([(TaskId(1), a), (TaskId(2), b)].into_iter().collect());
    let peer = Peer {
        addr: loopback(),
        worker: None,
    };
    let done = |task| crate::engine::acking::Completion {
        spout_task: TaskId(task),
        root: 1,
        slot: 0,
        outcome: crate::engine::acking::Outcome::Acked,
    };
    router.route(
        Envelope::Completions(vec![done(1), done(1), done(2), done(1)]),
        &peer,
    );
    router.route(
        Envelope::Batch {
            task: TaskId(2),
            tuples: vec![tuple(0)],
        },
        &peer,
    );
    router.route(
        Envelope::Batch {
            task: TaskId(99),
            tuples: vec![tuple(0)],
        },
        &peer,
    );
    let lens = |inbox: &crate::engine::transfer::Inbox| -> Vec<usize> {
        std::iter::from_fn(|| inbox.try_recv().ok())
            .map(|e| match e {
                Envelope::Completions(c) => c.len(),
                Envelope::Batch { tuples, .. } => 100 + tuples.len(),
                _ => 0,
            })
            .collect()
    };
    assert_eq!(lens(&a_inbox), [2, 1]);
    assert_eq!(lens(&b_inbox), [1, 101]);
}

/// A listener with this config.
pub(super) fn listen_with(cfg: NetConfig) -> (Listener, Receiver<Envelope>) {
    let (tx, rx) = bounded(64);
    let route = move |env: Envelope| {
        let _ = tx.send(env);
    };
    let l = Listener::bind(
        loopback(),
        identity("topo", "receiver"),
        cfg,
        Arc::new(route),
    );
    (l.unwrap(), rx)
}

#[test]
fn a_trickled_handshake_is_cut_at_the_handshake_deadline() {
    let (listener, rx) = listen_with(NetConfig {
        handshake_timeout: Duration::from_millis(300),
        ..config()
    });
    let raw = TcpStream::connect(listener.local_addr()).unwrap();
    // A header announcing a 1000-byte handshake, then a byte every 20 ms: each read
    // makes progress, so only a deadline for the whole handshake cuts it.
    (&raw).write_all(&[0xe8, 0x03, 0, 0, 0x01]).unwrap();
    let start = Instant::now();
    let mut cut = false;
    for _ in 0..250 {
        if (&raw).write_all(&[0x20]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        if listener.stats().refused == 1 {
            cut = true;
            break;
        }
    }
    assert!(cut, "a handshake trickled for 5 s was not cut");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_closed_by_server(&raw);
    let good = connect(&listener, "topo");
    ping(&good, &rx, 1);
}

#[test]
fn a_handshake_longer_than_4_kib_is_refused_before_it_is_read() {
    let (listener, _rx) = listen_with(config());
    let raw = TcpStream::connect(listener.local_addr()).unwrap();
    // 5000 bytes announced (far under the 16 MiB frame limit of a connected peer).
    (&raw).write_all(&[0x88, 0x13, 0, 0, 0x01]).unwrap();
    let start = Instant::now();
    assert_closed_by_server(&raw);
    // Refused on the header: the listener does not wait for the bytes.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(listener.stats().refused, 1);
}

#[test]
fn past_the_connection_limit_a_new_connection_is_closed() {
    let (listener, rx) = listen_with(NetConfig {
        max_connections: 2,
        ..config()
    });
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(listener.local_addr()).unwrap())
        .collect();
    let extra = TcpStream::connect(listener.local_addr()).unwrap();
    assert_closed_by_server(&extra);
    assert_eq!(listener.stats().refused, 1);
    // Once an idle connection goes, a worker connects again.
    drop(idle);
    let good = connect(&listener, "topo");
    ping(&good, &rx, 1);
}
