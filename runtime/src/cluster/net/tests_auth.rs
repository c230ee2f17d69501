//! Loopback tests of the data link's authentication: no data before the handshake, no
//! link without the topology secret, no forged, altered or replayed frame after it (an
//! in-test TCP proxy tampers with a real link), and idle half-open connections that do
//! not keep real peers out.

use std::collections::BTreeSet;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::handshake::client as client_handshake;
use super::tests::*;
use super::*;
use crate::api::ids::TaskId;
use crate::api::tuple::{Tuple, Values};
use crate::api::value::Value;
use crate::cluster::auth::frame_mac::TAG_LEN;
use crate::cluster::auth::topology_secret::TopologySecret;
use crate::cluster::wire::{self, FrameReader, HEADER_LEN};
use crate::engine::transfer::Envelope;

/// Poll `cond` until it holds, failing with `what` after [`WAIT`].
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A batch of one tuple whose word is `word`.
fn batch_of(word: &str) -> Envelope {
    let values: Values = [Value::from(word.to_string()), Value::Int(7)].into();
    Envelope::Batch {
        task: TaskId(5),
        tuples: vec![Tuple::new(values, word_schema(), TaskId(1))],
    }
}

/// The words of the tuples in `env`.
fn words(env: &Envelope) -> Vec<String> {
    match env {
        Envelope::Batch { tuples, .. } => tuples
            .iter()
            .map(|t| match &t.values()[0] {
                Value::Str(s) => s.to_string(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => vec![format!("{other:?}")],
    }
}

/// The plain encoding of `batch_of(word)`.
fn plain_frame(word: &str) -> Vec<u8> {
    let Envelope::Batch { task, tuples } = batch_of(word) else {
        unreachable!()
    };
    let mut out = Vec::new();
    wire::encode_tuples(task, &tuples, &identity("topo", "x").schemas, &mut out).unwrap();
    out
}

#[test]
fn a_data_frame_without_the_handshake_is_cut_and_nothing_is_delivered() {
    let (listener, rx) = listen_on(loopback(), "topo", 64);
    // A well-formed tuple batch as the first frame.
    let raw = TcpStream::connect(listener.local_addr()).unwrap();
    (&raw).write_all(&plain_frame("INJECTED")).unwrap();
    assert_closed_by_server(&raw);
    // The same with a made-up tag, as a sealed frame would look.
    let raw = TcpStream::connect(listener.local_addr()).unwrap();
    let mut sealed = plain_frame("INJECTED");
    let len = (sealed.len() - HEADER_LEN + TAG_LEN) as u32;
    sealed[..4].copy_from_slice(&len.to_le_bytes());
    sealed.extend_from_slice(&[0; TAG_LEN]);
    (&raw).write_all(&sealed).unwrap();
    assert_closed_by_server(&raw);
    wait_for("both refused", || listener.stats().refused == 2);
    let stats = listener.stats();
    assert_eq!((stats.accepted, stats.envelopes), (0, 0), "{stats:?}");
    assert!(rx.try_recv().is_err(), "something reached a task");
}

#[test]
fn a_peer_with_another_secret_is_refused_both_ways() {
    let (listener, rx) = listen_on(loopback(), "topo", 64);
    let mut stale = identity("topo", "stale");
    stale.secret = TopologySecret::from_bytes([1; 32]);

    // The connecting side checks the listener's proof first, and gives up.
    let stream = TcpStream::connect(listener.local_addr()).unwrap();
    let err = client_handshake(&stream, listener.local_addr(), &stale, &config()).unwrap_err();
    assert!(matches!(err, NetError::BadProof { .. }), "{err}");
    drop(stream);
    wait_for("the stale client refused", || listener.stats().refused == 1);

    // A client that ignores the listener's proof and sends a made-up one, then data.
    let raw = TcpStream::connect(listener.local_addr()).unwrap();
    let me = identity("topo", "forger");
    let mut out = Vec::new();
    let hello = wire::Handshake {
        topology_id: me.topology_id.clone(),
        worker_id: me.worker_id.clone(),
        schema_digest: me.schemas.digest(),
        nonce: [3; wire::NONCE_LEN],
        frame_mac: true,
    };
    wire::encode_handshake(&hello, &mut out).unwrap();
    (&raw).write_all(&out).unwrap();
    let mut frames = FrameReader::new(&raw, 4096);
    wire::decode_handshake(frames.next_frame().unwrap().unwrap()).unwrap();
    wire::decode_proof(frames.next_frame().unwrap().unwrap()).unwrap();
    out.clear();
    wire::encode_proof(&[0; wire::PROOF_LEN], &mut out).unwrap();
    out.extend_from_slice(&plain_frame("INJECTED"));
    let _ = (&raw).write_all(&out);
    match frames.next_frame() {
        Ok(None) | Err(_) => {}
        Ok(Some(f)) => panic!("the listener answered a forged proof with {f:?}"),
    }
    wait_for("the forger refused", || listener.stats().refused == 2);

    // A link with the stale secret never comes up; a good one does.
    let r = RemoteDestination::connect(listener.local_addr(), stale, config()).unwrap();
    assert!(!r.wait_connected(Duration::from_millis(300)));
    r.destination().send_blocking(batch_of("STALE")).unwrap();
    let good = connect(&listener, "topo");
    ping(&good, &rx, 1);
    assert_eq!(listener.stats().accepted, 1);
    assert!(rx.try_recv().is_err(), "something else reached a task");
}

/// What the proxy does to the next data frame from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tamper {
    Pass,
    /// Insert a forged frame before it.
    Inject,
    /// Flip a bit of its payload.
    Flip,
    /// Send it twice.
    Replay,
}

/// A TCP proxy to `upstream` that forwards whole frames from clients, tampering with
/// the next data frame (after the client's hello and proof) as `mode` says, once.
fn proxy(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<Tamper>>) {
    let socket = TcpListener::bind(loopback()).unwrap();
    let addr = socket.local_addr().unwrap();
    let mode = Arc::new(Mutex::new(Tamper::Pass));
    let m = mode.clone();
    std::thread::spawn(move || {
        for client in socket.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(upstream) else {
                return;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(Shutdown::Both);
            });
            let m = m.clone();
            std::thread::spawn(move || forward(&client, &server, &m));
        }
    });
    (addr, mode)
}

fn forward(client: &TcpStream, mut server: &TcpStream, mode: &Mutex<Tamper>) {
    let mut frames = FrameReader::new(client, 1 << 24);
    let mut n = 0;
    while let Ok(Some(frame)) = frames.next_frame() {
        n += 1;
        let mut frame = frame.to_vec();
        let tamper = if n > 2 {
            std::mem::replace(&mut *mode.lock().unwrap(), Tamper::Pass)
        } else {
            Tamper::Pass
        };
        let mut out = Vec::new();
        match tamper {
            Tamper::Pass => out.extend_from_slice(&frame),
            Tamper::Inject => {
                let mut forged = plain_frame("INJECTED");
                let len = (forged.len() - HEADER_LEN + TAG_LEN) as u32;
                forged[..4].copy_from_slice(&len.to_le_bytes());
                forged.extend_from_slice(&[0x42; TAG_LEN]);
                out.extend_from_slice(&forged);
                out.extend_from_slice(&frame);
            }
            Tamper::Flip => {
                let at = frame.len() - TAG_LEN - 1;
                frame[at] ^= 0x01;
                out.extend_from_slice(&frame);
            }
            Tamper::Replay => {
                out.extend_from_slice(&frame);
                out.extend_from_slice(&frame);
            }
        }
        if server.write_all(&out).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
    let _ = client.shutdown(Shutdown::Both);
}

/// Send `word` until it arrives (a send into a connection being cut can be lost),
/// keeping every envelope received in `got`.
fn deliver(r: &RemoteDestination, rx: &Receiver<Envelope>, word: &str, got: &mut Vec<Envelope>) {
    let deadline = Instant::now() + WAIT;
    loop {
        r.destination().send_blocking(batch_of(word)).unwrap();
        let pause = Instant::now() + Duration::from_millis(100);
        while let Ok(env) = rx.recv_deadline(pause) {
            let arrived = words(&env).iter().any(|w| w == word);
            got.push(env);
            if arrived {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "'{word}' not delivered within {WAIT:?}"
        );
    }
}

#[test]
fn frames_forged_altered_or_replayed_after_a_good_handshake_are_rejected() {
    let (listener, rx) = listen_on(loopback(), "topo", 1024);
    let (via, mode) = proxy(listener.local_addr());
    let remote = RemoteDestination::connect(via, identity("topo", "sender"), config()).unwrap();
    assert!(remote.wait_connected(WAIT), "no link through the proxy");
    let mut got = Vec::new();
    let mut sent = BTreeSet::new();
    deliver(&remote, &rx, "before", &mut got);
    sent.insert("before".to_string());
    for (i, tamper) in [Tamper::Inject, Tamper::Flip, Tamper::Replay]
        .into_iter()
        .enumerate()
    {
        let cut_before = listener.stats().bad_mac;
        *mode.lock().unwrap() = tamper;
        let victim = format!("victim-{i}");
        remote
            .destination()
            .send_blocking(batch_of(&victim))
            .unwrap();
        sent.insert(victim);
        wait_for(&format!("{tamper:?} detected"), || {
            listener.stats().bad_mac == cut_before + 1
        });
        // The link reconnects and carries on.
        let after = format!("after-{i}");
        deliver(&remote, &rx, &after, &mut got);
        sent.insert(after);
    }
    got.extend(rx.try_iter());
    let received: Vec<String> = got.iter().flat_map(words).collect();
    for w in &received {
        assert!(sent.contains(w), "'{w}' reached a task: {received:?}");
    }
    // Replayed: the original once, the copy never.
    let replayed = received.iter().filter(|w| *w == "victim-2").count();
    assert!(replayed <= 1, "{received:?}");
    assert_eq!(listener.stats().bad_mac, 3);
}

/// Threads of this process.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

#[test]
fn a_thousand_idle_connections_do_not_stop_real_links_nor_hold_a_thread_each() {
    let cfg = config();
    let max_pending = cfg.max_pending;
    let (listener, rx) = listen_with(cfg);
    let addr = listener.local_addr();
    let before = threads();
    let mut idle = Vec::new();
    for i in 0..1000 {
        match TcpStream::connect_timeout(&addr, WAIT) {
            Ok(s) => idle.push(s),
            Err(e) if e.kind() == ErrorKind::TimedOut => panic!("connection {i}: {e}"),
            Err(e) => panic!("connection {i}: {e}"),
        }
    }
    wait_for("idle connections evicted", || {
        listener.stats().evicted >= (1000 - max_pending) as u64
    });
    // Other tests run in this process too: the bound is loose, far under one a
    // connection.
    let grown = threads().saturating_sub(before);
    assert!(
        grown < 400,
        "{grown} more threads for 1000 idle connections"
    );
    let good = connect(&listener, "topo");
    ping(&good, &rx, 1);
    assert_eq!(listener.stats().accepted, 1);
    drop(idle);
}
