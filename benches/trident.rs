//! Trident word count with the durable (redb) store, in local mode: words/s over a
//! whole input file (from the first batch to the last commit) and batch latency (a
//! batch's first start to its commit), p50/p99.
//!
//! `cargo bench --bench trident`. `SQUALL_BENCH_LINES` (default 1 000 000) lines of
//! 1-12 words; each configuration runs on a fresh store.

use std::time::Duration;

use squall_runtime::Registry;
use squall_runtime::local::{LocalOptions, run_local};

fn input(dir: &std::path::Path, lines: usize) -> (std::path::PathBuf, u64) {
    const WORDS: [&str; 24] = [
        "the", "cow", "jumped", "over", "moon", "an", "apple", "a", "day", "keeps", "doctor",
        "away", "four", "score", "and", "seven", "years", "ago", "snow", "white", "dwarfs", "i",
        "am", "nature",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let mut text = String::with_capacity(lines * 40);
    let mut words = 0u64;
    for _ in 0..lines {
        let n = 1 + next() % 12;
        for i in 0..n {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(WORDS[next() % WORDS.len()]);
        }
        words += n as u64;
        text.push('\n');
    }
    let path = dir.join("input.txt");
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    (path, words)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn main() {
    let lines = std::env::var("SQUALL_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000usize);
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tempdir: {e}");
            std::process::exit(1);
        }
    };
    let (path, words) = input(dir.path(), lines);
    let mut registry = Registry::new();
    squall_topologies::register(&mut registry);
    // (label, emit interval ms, max pending batches, lines per batch, mode, spout tasks)
    let configs = [
        (
            "defaults (500 ms, 1 pending, 100k lines)",
            500,
            1,
            100_000,
            "transactional",
            1,
        ),
        (
            "0 ms, 2 pending, 100k lines",
            0,
            2,
            100_000,
            "transactional",
            1,
        ),
        (
            "0 ms, 2 pending, 100k lines, opaque",
            0,
            2,
            100_000,
            "opaque",
            1,
        ),
        (
            "0 ms, 2 pending, 100k lines, 2 spout tasks",
            0,
            2,
            100_000,
            "transactional",
            2,
        ),
    ];
    println!("trident wordcount, {lines} lines, {words} words, redb store");
    for (i, (label, interval, pending, batch, mode, tasks)) in configs.into_iter().enumerate() {
        let store = dir.path().join(format!("counts-{i}.redb"));
        let yaml = format!(
            "name: trident-bench\ntopologySource:\n  className: TridentWordCount\n  constructorArgs: [{:?}, {:?}, 0.0, {mode}]\n\
             config:\n  topology.max.spout.pending: {pending}\n  topology.trident.batch.emit.interval.millis: {interval}\n  \
             squall.trident.file.batch.lines: {batch}\n  squall.trident.wordcount.parallelism: {tasks}\n",
            path.display().to_string(),
            store.display().to_string(),
        );
        let parsed = match squall_runtime::spec::parse_str(&yaml, None) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        let (topo, reg) = match squall_runtime::topology_source::validate(&parsed, &registry) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        squall_runtime::trident::take_batch_latencies();
        let report = run_local(
            &reg,
            &topo,
            LocalOptions {
                duration: Some(Duration::from_secs(600)),
                capture: false,
                progress: None,
                stop_on_interrupt: true,
            },
        );
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{label}: {e}");
                std::process::exit(1);
            }
        };
        let mut lat = squall_runtime::trident::take_batch_latencies();
        lat.sort();
        println!(
            "  {label:<48} {:>6.2}M words/s  {:>5.1} s  {:>4} batches  batch latency p50 {:.0} ms p99 {:.0} ms{}",
            words as f64 / report.elapsed_secs / 1e6,
            report.elapsed_secs,
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            if report.completed {
                ""
            } else {
                "  (did not complete)"
            },
        );
    }
}
