//! The cost of the worker data link's security. First the time to open a link on
//! loopback: a TCP connect alone, and a connect with the whole handshake (hello, nonces,
//! proofs, session keys) as a worker does it. Then candidate per-frame MACs on real
//! frame sizes: word-count tuple batches of 1, 10, 100 and 1000 tuples (the default
//! `topology.producer.batch.size`) encoded by the wire codec. Each MAC covers an 8-byte
//! sequence number and the frame; the figure is frames (and MB) per second on one
//! thread. Candidates: HMAC-SHA256 (SHA-NI through `sha2`), keyed BLAKE3 (AVX2),
//! Poly1305 (AVX2) under a one-time key per frame from HMAC-SHA256(key, sequence number),
//! AES-128-GMAC (AES-NI + PCLMUL through `aes-gcm`, the sequence number as the nonce),
//! and what the link uses: AES-256-GCM through `ring` (VAES + VPCLMULQDQ), which also
//! encrypts the frame (the data link's own `FrameMac`, copy included).
//!
//! `cargo bench --bench data_link` (release). `cargo test --bench data_link` runs a short
//! debug pass whose figures mean little.
//!
//! `cargo bench --bench data_link -- throughput` measures instead one whole link on
//! loopback, as between two workers: an executor's `Outbox` (batches of 1000), the writer
//! thread (encode, MAC, `write`), the listener's reader thread (`read`, MAC check,
//! decode, send to the executor queue) and a consumer that drops the tuples, for a word
//! (`"jumped"`) and the const spout's 100-byte payload, MACs on and off
//! (`SQUALL_BENCH_TUPLES`, default 20M per run; `SQUALL_BENCH_ROUNDS`, default 3): the rate
//! and each thread's CPU time per tuple, the cost model of a tuple crossing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, KeyInit as _, Nonce};
use hmac::{Hmac, KeyInit, Mac};
use poly1305::Poly1305;
use sha2::Sha256;
use squall_runtime::cluster::auth::frame_mac::FrameMac;
use squall_runtime::tuple::StreamSchema;
use squall_runtime::wire::{SchemaTable, encode_tuples};
use squall_runtime::{Fields, TaskId, Tuple, Value, Values};

const WORDS: [&str; 12] = [
    "the", "cow", "jumped", "over", "moon", "an", "apple", "a", "day", "keeps", "doctor", "away",
];

fn frame(n: usize) -> Vec<u8> {
    let schema = StreamSchema::intern("split", "default", &Fields::new(["word"]));
    let table = SchemaTable::from_schemas([schema]).unwrap();
    let batch: Vec<Tuple> = (0..n)
        .map(|i| {
            Tuple::new(
                Values::from(Value::from(WORDS[i % WORDS.len()])),
                schema,
                TaskId(1),
            )
        })
        .collect();
    let mut buf = Vec::new();
    encode_tuples(TaskId(2), &batch, &table, &mut buf).unwrap();
    buf
}

fn measure(name: &str, frame: &[u8], iters: u64, mut tag: impl FnMut(u64, &[u8]) -> [u8; 16]) {
    let t = Instant::now();
    let mut acc = 0u8;
    for seq in 0..iters {
        acc ^= tag(seq, black_box(frame))[0];
    }
    black_box(acc);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "  {name:<14} {:>8.2} M frames/s {:>8.0} MB/s {:>7.0} ns/frame",
        iters as f64 / secs / 1e6,
        iters as f64 * frame.len() as f64 / secs / 1e6,
        secs * 1e9 / iters as f64
    );
}

/// The `throughput` mode: see the module docs.
fn throughput() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let total = env(
        "SQUALL_BENCH_TUPLES",
        if cfg!(debug_assertions) {
            100_000
        } else {
            20_000_000
        },
    );
    let rounds = env("SQUALL_BENCH_ROUNDS", 3);
    // ConstSpout's payload (`topologies/src/bench.rs`).
    let payload = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzAB";
    for (name, value) in [("word", "jumped"), ("100-byte payload", payload)] {
        for frame_mac in [true, false] {
            for _ in 0..rounds {
                let r =
                    squall_runtime::cluster::bench_link_throughput(total, 1000, value, frame_mac)
                        .unwrap_or_else(|e| panic!("link throughput: {e}"));
                let cpu: Vec<String> = r
                    .cpu_ns_per_tuple
                    .iter()
                    .map(|(role, ns)| format!("{role} {ns:.1}"))
                    .collect();
                let sum: f64 = r.cpu_ns_per_tuple.iter().map(|(_, ns)| ns).sum();
                println!(
                    "link, {name}, MACs {}: {:.2}M tuples/s; CPU ns/tuple: {} (total {sum:.1})",
                    if frame_mac { "on" } else { "off" },
                    r.tuples_per_sec / 1e6,
                    cpu.join(", ")
                );
            }
        }
    }
}

fn main() {
    if std::env::args().skip(1).any(|a| a == "throughput") {
        throughput();
        return;
    }
    let n = if cfg!(debug_assertions) { 20 } else { 2000 };
    for frame_mac in [true, false] {
        let (tcp, full) = squall_runtime::cluster::bench_data_link_connect_times(n, frame_mac)
            .unwrap_or_else(|e| panic!("connect times: {e}"));
        println!(
            "data link connect (mean of {n}, frame MACs {}): TCP alone {:.0} us, TCP + handshake {:.0} us",
            if frame_mac { "on" } else { "off" },
            tcp.as_secs_f64() * 1e6,
            full.as_secs_f64() * 1e6
        );
    }
    let key = [7u8; 32];
    let hmac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    let gmac = Aes128Gcm::new_from_slice(&key[..16]).unwrap();
    let scale: u64 = if cfg!(debug_assertions) { 1 } else { 100 };
    for n in [1usize, 10, 100, 1000, 10000] {
        let f = frame(n);
        println!("batch of {n} word tuples: {} bytes", f.len());
        let iters = scale * 20_000_000 / (f.len() as u64 + 64);
        measure("hmac-sha256", &f, iters, |seq, f| {
            let mut m = hmac.clone();
            m.update(&seq.to_le_bytes());
            m.update(f);
            let out = m.finalize().into_bytes();
            let mut t = [0u8; 16];
            t.copy_from_slice(&out[..16]);
            t
        });
        measure("blake3-keyed", &f, iters, |seq, f| {
            let mut h = blake3::Hasher::new_keyed(&key);
            h.update(&seq.to_le_bytes());
            h.update(f);
            let mut t = [0u8; 16];
            t.copy_from_slice(&h.finalize().as_bytes()[..16]);
            t
        });
        measure("hmac+poly1305", &f, iters, |seq, f| {
            // A one-time Poly1305 key per frame from HMAC-SHA256(key, seq).
            let mut m = hmac.clone();
            m.update(&seq.to_le_bytes());
            let k = m.finalize().into_bytes();
            let tag = Poly1305::new(poly1305::Key::from_slice(&k)).compute_unpadded(f);
            tag.into()
        });
        // What the data link does (since 2026-12-02): AES-256-GCM through `ring`,
        // encrypting the frame in place (here: copied into one buffer, then sealed).
        let mut sealer = FrameMac::new(&key);
        let mut sealed = Vec::with_capacity(f.len() + 64);
        measure("aes256-gcm-ring", &f, iters, |_, f| {
            sealed.clear();
            sealed.extend_from_slice(f);
            sealer.seal_from(&mut sealed, 0).unwrap();
            let mut t = [0u8; 16];
            t.copy_from_slice(&sealed[sealed.len() - 16..]);
            t
        });
        measure("aes128-gmac", &f, iters, |seq, f| {
            let mut nonce = [0u8; 12];
            nonce[..8].copy_from_slice(&seq.to_le_bytes());
            let tag = gmac
                .encrypt_in_place_detached(Nonce::from_slice(&nonce), f, &mut [])
                .unwrap();
            tag.into()
        });
    }
}
