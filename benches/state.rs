//! Stateful bolts' state: the time of one checkpoint (`prepare_commit` + `commit`) of
//! 10,000 changed keys (16-byte keys, 64-byte values) for the memory, redb and Redis
//! providers; the median of 5 rounds, plus the time to buffer the 10,000 puts.
//!
//! `cargo bench --bench state` (release). The Redis round starts its own `redis-server`
//! (`SQUALL_REDIS_SERVER` names another binary) on a free loopback port, with a password;
//! without one the Redis figures are skipped.

use std::time::{Duration, Instant};

#[path = "../runtime/tests/state_common/redis_server.rs"]
mod redis_server;

use squall_runtime::state::provider::StateProvider;
use squall_runtime::state::provider::memory::MemoryProvider;
use squall_runtime::state::provider::redb::RedbProvider;
use squall_runtime::state::provider::redis::RedisProvider;

use redis_server::RedisServer;

const KEYS: usize = 10_000;
const ROUNDS: u64 = 5;

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("{what}: {e}");
    std::process::exit(1);
}

fn run(name: &str, provider: &dyn StateProvider) {
    let mut state = provider
        .open(&format!("bench-{name}"))
        .unwrap_or_else(|e| fail(name, e));
    let mut puts = Vec::new();
    let mut checkpoints = Vec::new();
    for round in 1..=ROUNDS {
        let t = Instant::now();
        for i in 0..KEYS {
            let key = format!("key-{i:012}").into_bytes();
            let value = vec![u8::try_from(round).unwrap_or(0); 64];
            state.put(key, value).unwrap_or_else(|e| fail(name, e));
        }
        puts.push(t.elapsed());
        let t = Instant::now();
        state
            .prepare_commit(round)
            .unwrap_or_else(|e| fail(name, e));
        state.commit(round).unwrap_or_else(|e| fail(name, e));
        checkpoints.push(t.elapsed());
    }
    puts.sort();
    checkpoints.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    println!(
        "{name:>6}: {KEYS} puts {:>9.2?}, prepare+commit {:>9.2?} (median of {ROUNDS}; min {:.2?}, max {:.2?})",
        median(&puts),
        median(&checkpoints),
        checkpoints[0],
        checkpoints[checkpoints.len() - 1],
    );
}

fn main() {
    run("memory", &MemoryProvider::new());
    let dir = tempfile::tempdir().unwrap_or_else(|e| fail("temp dir", e));
    run("redb", &RedbProvider::new(dir.path()));
    match RedisServer::try_start() {
        Ok(server) => {
            let provider = RedisProvider::new(server.config()).unwrap_or_else(|e| fail("redis", e));
            run("redis", &provider);
        }
        Err(e) => println!(" redis: skipped ({e})"),
    }
}
