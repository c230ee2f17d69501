use super::*;
use crate::trident::state::{Count, MemoryBackend, RedbBackend, dump};

fn w(s: &'static str) -> Vec<Value> {
    vec![Value::from_static(s)]
}

fn state(kind: StateKind) -> MapState<MemoryBackend, i64> {
    MapState::open(MemoryBackend::new(), kind).unwrap()
}

/// Apply one word-count batch.
fn count(
    s: &MapState<impl StateBackend, i64>,
    txid: u64,
    words: &[&'static str],
) -> Result<Vec<i64>, StateError> {
    let none: &[Value] = &[];
    let partials = Count.partials(words.iter().map(|x| (w(x), none))).unwrap();
    s.combine_batch(txid, &Count, &partials)
}

fn get(s: &MapState<impl StateBackend, i64>, word: &'static str) -> Option<i64> {
    s.multi_get(&[w(word)]).unwrap()[0]
}

#[test]
fn non_transactional_replay_double_counts() {
    let s = state(StateKind::NonTransactional);
    count(&s, 1, &["a", "a", "b"]).unwrap();
    count(&s, 1, &["a", "a", "b"]).unwrap();
    assert_eq!((get(&s, "a"), get(&s, "b")), (Some(4), Some(2)));
    let rec = s.multi_get_records(&[w("a")]).unwrap().remove(0).unwrap();
    assert_eq!(
        rec,
        Record {
            txid: None,
            val: 4,
            prev: None
        }
    );
}

#[test]
fn transactional_replay_of_the_same_txid_is_skipped() {
    let s = state(StateKind::Transactional);
    count(&s, 1, &["a", "b"]).unwrap();
    count(&s, 2, &["a"]).unwrap();
    // Batch 2 replayed (identical contents, as a transactional spout guarantees).
    assert_eq!(count(&s, 2, &["a"]).unwrap(), vec![2]);
    assert_eq!((get(&s, "a"), get(&s, "b")), (Some(2), Some(1)));
    let recs = s.multi_get_records(&[w("a"), w("b")]).unwrap();
    assert_eq!(
        recs[0],
        Some(Record {
            txid: Some(2),
            val: 2,
            prev: None
        })
    );
    assert_eq!(
        recs[1],
        Some(Record {
            txid: Some(1),
            val: 1,
            prev: None
        })
    );
    // Unlike Storm, a txid older than the last applied batch is refused (it means the
    // coordinator's txids restarted behind the state's).
    assert!(matches!(
        count(&s, 1, &["a"]),
        Err(StateError::TxidBehind { .. })
    ));
    assert_eq!(get(&s, "a"), Some(2));
}

#[test]
fn opaque_replay_with_different_contents_recomputes_from_prev() {
    let s = state(StateKind::Opaque);
    count(&s, 1, &["a", "a"]).unwrap();
    count(&s, 2, &["a", "b"]).unwrap();
    assert_eq!((get(&s, "a"), get(&s, "b")), (Some(3), Some(1)));
    // Batch 2 replayed by an opaque spout with other tuples: a counted from prev (2).
    count(&s, 2, &["a", "a", "a"]).unwrap();
    assert_eq!(get(&s, "a"), Some(5));
    let rec = s.multi_get_records(&[w("a")]).unwrap().remove(0).unwrap();
    assert_eq!(
        rec,
        Record {
            txid: Some(2),
            val: 5,
            prev: Some(2)
        }
    );
    // b is not in the replay, so it keeps batch 2's first attempt (Storm does the same).
    assert_eq!(get(&s, "b"), Some(1));
    count(&s, 3, &["a"]).unwrap();
    let rec = s.multi_get_records(&[w("a")]).unwrap().remove(0).unwrap();
    assert_eq!(
        rec,
        Record {
            txid: Some(3),
            val: 6,
            prev: Some(5)
        }
    );
}

#[test]
fn opaque_batch_behind_state_is_refused_and_writes_nothing() {
    let s = state(StateKind::Opaque);
    count(&s, 5, &["a"]).unwrap();
    // A store of an earlier version: key a holds batch 5, the store no applied txid.
    let a = s
        .backend()
        .multi_get(&[encode_key(&w("a")).unwrap()])
        .unwrap();
    let s = state(StateKind::Opaque);
    s.backend()
        .put_batch(
            None,
            &[(encode_key(&w("a")).unwrap(), a[0].clone().unwrap())],
        )
        .unwrap();
    let err = count(&s, 4, &["b", "a", "c"]).unwrap_err();
    assert!(
        matches!(
            err,
            StateError::BatchBehind {
                txid: 4,
                stored: 5,
                ..
            }
        ),
        "{err}"
    );
    // All or nothing: b and c (updated before a in the same batch) were not written.
    assert_eq!(
        (get(&s, "a"), get(&s, "b"), get(&s, "c")),
        (Some(1), None, None)
    );
}

#[test]
fn a_key_repeated_in_one_batch_builds_on_its_in_batch_value() {
    for kind in [
        StateKind::NonTransactional,
        StateKind::Transactional,
        StateKind::Opaque,
    ] {
        let s = state(kind);
        let out = s
            .apply(1, &[w("a"), w("a")], |_, old| old.unwrap_or(0) + 1)
            .unwrap();
        assert_eq!(out, vec![1, 2], "{kind}");
        assert_eq!(get(&s, "a"), Some(2), "{kind}");
    }
}

#[test]
fn multi_put_sets_values_and_multi_get_reads_them() {
    let s = state(StateKind::Transactional);
    s.multi_put(1, &[w("x"), w("y")], &[7, 8]).unwrap();
    assert_eq!(
        s.multi_get(&[w("y"), w("z"), w("x")]).unwrap(),
        vec![Some(8), None, Some(7)]
    );
}

#[test]
fn put_batch_is_all_or_nothing_and_redb_state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.redb");
    {
        let s: MapState<_, i64> =
            MapState::open(RedbBackend::open(&path).unwrap(), StateKind::Opaque).unwrap();
        count(&s, 1, &["a", "a", "b"]).unwrap();
        count(&s, 2, &["a"]).unwrap();
        assert!(count(&s, 1, &["c", "a"]).is_err());
    }
    let backend = RedbBackend::open(&path).unwrap();
    assert_eq!(
        backend.iter_all().unwrap().len(),
        2,
        "c of the refused batch is absent"
    );
    let s: MapState<_, i64> = MapState::open(backend, StateKind::Opaque).unwrap();
    assert_eq!(
        (get(&s, "a"), get(&s, "b"), get(&s, "c")),
        (Some(3), Some(1), None)
    );
    count(&s, 2, &["a", "a"]).unwrap();
    assert_eq!(get(&s, "a"), Some(4));
    drop(s);
    let err = MapState::<_, i64>::open(RedbBackend::open(&path).unwrap(), StateKind::Transactional);
    assert!(matches!(err, Err(StateError::KindMismatch { .. })));
}

#[test]
fn memory_put_batch_is_seen_whole_by_a_concurrent_reader() {
    let b = std::sync::Arc::new(MemoryBackend::new());
    let keys: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i]).collect();
    let writer = {
        let (b, keys) = (b.clone(), keys.clone());
        std::thread::spawn(move || {
            for round in 0..200u8 {
                let entries: Vec<_> = keys.iter().map(|k| (k.clone(), vec![round])).collect();
                b.put_batch(None, &entries).unwrap();
            }
        })
    };
    for _ in 0..200 {
        let seen = b.multi_get(&keys).unwrap();
        assert!(
            seen.windows(2).all(|p| p[0] == p[1]),
            "a batch was seen half written"
        );
    }
    writer.join().unwrap();
}

#[test]
fn dump_reads_plain_and_raw() {
    let s = state(StateKind::Opaque);
    count(&s, 1, &["a", "b", "a"]).unwrap();
    count(&s, 2, &["a"]).unwrap();
    let d = dump::read(s.backend()).unwrap();
    assert_eq!(d.kind, StateKind::Opaque);
    assert_eq!(dump::render(&d, true, false), r#"{"a":3,"b":1}"#);
    assert_eq!(dump::render(&d, false, false), "a: 3\nb: 1\n");
    let raw = dump::render(&d, false, true);
    assert_eq!(
        raw,
        "kind: opaque\na: 3  txid=2  prev=2\nb: 1  txid=1  prev=none\n"
    );
    let json: serde_json::Value = serde_json::from_str(&dump::render(&d, true, true)).unwrap();
    assert_eq!(
        json["entries"]["a"],
        serde_json::json!({"txid": 2, "val": 3, "prev": 2})
    );
    assert_eq!(
        dump::display_key(&[serde_json::json!("x"), serde_json::json!(1)]),
        r#"["x",1]"#
    );
    assert_eq!(dump::display_key(&[serde_json::json!(7)]), "7");
    assert!(matches!(
        dump::read(&MemoryBackend::new()),
        Err(StateError::NotAState { .. })
    ));
}

/// Txids restarting at 1 against a redb state that holds batch 5 (a commit record that
/// was lost or not durable): with the transactional rule, batch 1 on a key last written
/// by batch 5 would be applied again on top; now it is refused, naming the store.
#[test]
fn a_durable_state_refuses_a_batch_older_than_the_last_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.redb");
    for kind in [StateKind::Transactional, StateKind::Opaque] {
        std::fs::remove_file(&path).ok();
        {
            let s: MapState<_, i64> =
                MapState::open(RedbBackend::open(&path).unwrap(), kind).unwrap();
            count(&s, 4, &["a"]).unwrap();
            count(&s, 5, &["b"]).unwrap();
            // A replay of the last batch is still recognised (and skipped/recomputed).
            count(&s, 5, &["b"]).unwrap();
        }
        // The txid went with the batch, in its own transaction: a reopened store knows it.
        let backend = RedbBackend::open(&path).unwrap();
        assert_eq!(backend.applied_txid().unwrap(), Some(5), "{kind}");
        let s: MapState<_, i64> = MapState::open(backend, kind).unwrap();
        let e = count(&s, 1, &["a", "c"]).unwrap_err();
        assert!(
            matches!(
                e,
                StateError::TxidBehind {
                    txid: 1,
                    applied: 5,
                    ..
                }
            ),
            "{kind}: {e}"
        );
        assert!(e.to_string().contains("counts.redb"), "{e}");
        assert_eq!(
            (get(&s, "a"), get(&s, "b"), get(&s, "c")),
            (Some(1), Some(1), None),
            "{kind}: nothing of the refused batch written"
        );
        count(&s, 6, &["a"]).unwrap();
        assert_eq!(get(&s, "a"), Some(2), "{kind}");
    }
    // A non-transactional state counts every batch anyway: no txid rule to protect.
    let s = state(StateKind::NonTransactional);
    count(&s, 5, &["a"]).unwrap();
    count(&s, 1, &["a"]).unwrap();
    assert_eq!(get(&s, "a"), Some(2));
}
