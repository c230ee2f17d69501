//! `squall state dump` through the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use squall_runtime::Value;
use squall_runtime::trident::state::{Combiner, Count, MapState, RedbBackend, StateKind};

fn squall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(args)
        .output()
        .expect("run squall")
}

fn dump(path: &Path, flags: &[&str]) -> Output {
    let mut args = vec!["state", "dump", "--store", path.to_str().unwrap()];
    args.extend_from_slice(flags);
    squall(&args)
}

/// An opaque word-count store: batch 1 = a a b, batch 2 = a.
fn word_counts(path: &Path) {
    let state: MapState<_, i64> =
        MapState::open(RedbBackend::open(path).unwrap(), StateKind::Opaque).unwrap();
    let none: &[Value] = &[];
    for (txid, words) in [(1, vec!["a", "a", "b"]), (2, vec!["a"])] {
        let batch = words.into_iter().map(|w| (vec![Value::from(w)], none));
        let partials = Count.partials(batch).unwrap();
        state.combine_batch(txid, &Count, &partials).unwrap();
    }
}

#[test]
fn dump_prints_plain_values_as_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.redb");
    word_counts(&path);
    let out = dump(&path, &["--json"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json, serde_json::json!({"a": 3, "b": 1}));

    let out = dump(&path, &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a: 3\nb: 1\n");
}

#[test]
fn dump_raw_shows_the_txid_bookkeeping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.redb");
    word_counts(&path);
    let out = dump(&path, &["--raw"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "kind: opaque\na: 3  txid=2  prev=2\nb: 1  txid=1  prev=none\n"
    );
    let out = dump(&path, &["--raw", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "opaque", "entries": {
            "a": {"txid": 2, "val": 3, "prev": 2},
            "b": {"txid": 1, "val": 1},
        }})
    );
}

#[test]
fn dump_of_a_missing_or_corrupt_store_fails_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.redb");
    let out = dump(&missing, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nope.redb") && err.contains("no such file"),
        "{err}"
    );
    assert!(!missing.exists(), "dump must not create the store");

    let corrupt = dir.path().join("junk.redb");
    std::fs::write(&corrupt, b"this is not a database").unwrap();
    let out = dump(&corrupt, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.redb"));
}
