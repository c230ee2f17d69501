//! Wire codec throughput: encoding and decoding tuple-batch frames (batches of 100) for
//! the word count's word tuple (untracked, and with one anchor as with acking on) and the
//! 100-byte constant payload of the `const` benchmarks, in tuples per second, with the encoded size per tuple.
//!
//! `cargo bench --bench wire` (release); `SQUALL_BENCH_ONLY=<part of a name>` runs only
//! the matching rows (e.g. under `valgrind --tool=callgrind`). `cargo test --bench wire` runs a short debug
//! pass whose figures mean little.

use std::hint::black_box;
use std::time::Instant;

use squall_runtime::tuple::Anchors;
use squall_runtime::tuple::StreamSchema;
use squall_runtime::wire::{SchemaTable, decode_tuples, encode_tuples};
use squall_runtime::{Fields, TaskId, Tuple, Value, Values};

/// The constant payload of `ConstSpout` (100 bytes).
const PAYLOAD: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzAB";

const WORDS: [&str; 12] = [
    "the", "cow", "jumped", "over", "moon", "an", "apple", "a", "day", "keeps", "doctor", "away",
];

const BATCH: usize = 100;

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("{what}: {e}");
    std::process::exit(1);
}

fn run(
    name: &str,
    schema: &'static StreamSchema,
    value: impl Fn(usize) -> Value,
    anchored: bool,
    batches: usize,
) {
    if std::env::var("SQUALL_BENCH_ONLY").is_ok_and(|only| !name.contains(only.as_str())) {
        return;
    }
    let table = SchemaTable::from_schemas([schema]).unwrap_or_else(|e| fail("schema table", e));
    let batch: Vec<Tuple> = (0..BATCH)
        .map(|i| {
            let anchors = if anchored {
                // One tuple tree, as every tuple of an acked word count carries.
                let id = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                Anchors::One((id, id.rotate_left(17)))
            } else {
                Anchors::None
            };
            Tuple::with_anchors(Values::from(value(i)), schema, TaskId(1), anchors)
        })
        .collect();
    let mut buf = Vec::with_capacity(64 * 1024);
    let tuples = (batches * BATCH) as f64;

    let t = Instant::now();
    for _ in 0..batches {
        buf.clear();
        if let Err(e) = encode_tuples(TaskId(2), black_box(&batch), &table, &mut buf) {
            fail("encode", e);
        }
        black_box(&buf);
    }
    let encode = tuples / t.elapsed().as_secs_f64();

    let t = Instant::now();
    for _ in 0..batches {
        match decode_tuples(black_box(&buf), &table) {
            Ok(decoded) => drop(black_box(decoded)),
            Err(e) => fail("decode", e),
        }
    }
    let decode = tuples / t.elapsed().as_secs_f64();
    println!(
        "{name:<22} encode {:>7.2} M tuples/s   decode {:>7.2} M tuples/s   {:>5.1} bytes/tuple",
        encode / 1e6,
        decode / 1e6,
        buf.len() as f64 / BATCH as f64
    );
}

fn main() {
    let batches = if cfg!(debug_assertions) { 500 } else { 50_000 };
    if cfg!(debug_assertions) {
        println!("(debug build: figures mean little; use `cargo bench --bench wire`)");
    }
    let word = StreamSchema::intern("split", "default", &Fields::new(["word"]));
    run(
        "wordcount word",
        word,
        |i| Value::from(WORDS[i % WORDS.len()]),
        false,
        batches,
    );
    run(
        "word, one anchor",
        word,
        |i| Value::from(WORDS[i % WORDS.len()]),
        true,
        batches,
    );
    let payload = StreamSchema::intern("spout", "default", &Fields::new(["payload"]));
    run(
        "const 100-byte payload",
        payload,
        |_| Value::from_static(PAYLOAD),
        false,
        batches,
    );
}
