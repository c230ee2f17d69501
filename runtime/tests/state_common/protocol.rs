//! The checkpoint protocol every provider keeps, as checks over a way to open a
//! provider anew (a worker restarted: a new provider, then a new backend).

use std::collections::BTreeMap;

use squall_runtime::state::StateError;
use squall_runtime::state::provider::{KvBackend, MAX_VALUE_LEN, StateProvider};

/// Opens a new provider on the same store each call.
pub type Reopen<'a> = &'a dyn Fn() -> Box<dyn StateProvider>;

fn open(reopen: Reopen<'_>, ns: &str) -> Box<dyn KvBackend> {
    reopen().open(ns).expect("open the state")
}

fn get(s: &dyn KvBackend, k: &str) -> Option<String> {
    s.get(k.as_bytes())
        .expect("get")
        .map(|v| String::from_utf8(v).expect("utf-8"))
}

fn put(s: &mut dyn KvBackend, k: &str, v: &str) {
    s.put(k.into(), v.into()).expect("put");
}

fn all(s: &dyn KvBackend) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in s.iterate().expect("iterate") {
        let (k, v) = e.expect("an entry");
        assert!(out.insert(k.clone(), v).is_none(), "{k:?} iterated twice");
    }
    out
}

/// Pending writes are read back, and committed by prepare + commit.
pub fn pending_writes_commit(reopen: Reopen<'_>, ns: &str) {
    let mut s = open(reopen, ns);
    assert_eq!(s.namespace(), ns);
    put(&mut *s, "a", "1");
    put(&mut *s, "b", "2");
    assert_eq!(get(&*s, "a").as_deref(), Some("1"));
    s.prepare_commit(1).expect("prepare 1");
    assert_eq!(
        get(&*s, "b").as_deref(),
        Some("2"),
        "a prepared value is read"
    );
    s.commit(1).expect("commit 1");
    drop(s);
    let s = open(reopen, ns);
    assert_eq!(get(&*s, "a").as_deref(), Some("1"));
    assert_eq!(get(&*s, "b").as_deref(), Some("2"));
    assert_eq!(get(&*s, "c"), None);
}

/// A committed txid commits again as a no-op; an unprepared one is refused.
pub fn commit_is_idempotent(reopen: Reopen<'_>, ns: &str) {
    let mut s = open(reopen, ns);
    put(&mut *s, "a", "1");
    s.prepare_commit(3).expect("prepare 3");
    s.commit(3).expect("commit 3");
    s.commit(3).expect("commit 3 again");
    s.commit(2).expect("commit of an older txid");
    put(&mut *s, "a", "2");
    assert!(
        matches!(s.commit(4), Err(StateError::NotPrepared { txid: 4, .. })),
        "commit of an unprepared txid"
    );
    assert_eq!(get(&*s, "a").as_deref(), Some("2"), "pending write kept");
    drop(s);
    let mut s = open(reopen, ns);
    s.commit(3).expect("commit 3 after reopen");
    assert_eq!(
        get(&*s, "a").as_deref(),
        Some("1"),
        "the pending write was not kept"
    );
    let e = s
        .prepare_commit(3)
        .expect_err("prepare of a committed txid");
    assert!(e.to_string().contains("already committed"), "{e}");
}

/// A backend opened anew (a restarted worker) finds and commits the prepared set.
pub fn commit_after_reopen(reopen: Reopen<'_>, ns: &str) {
    let mut s = open(reopen, ns);
    put(&mut *s, "kept", "0");
    s.prepare_commit(1).expect("prepare 1");
    s.commit(1).expect("commit 1");
    put(&mut *s, "a", "1");
    s.delete(b"kept".to_vec()).expect("delete");
    s.prepare_commit(2).expect("prepare 2");
    put(&mut *s, "lost", "x");
    drop(s);
    let mut s = open(reopen, ns);
    assert_eq!(
        get(&*s, "a").as_deref(),
        Some("1"),
        "prepared value seen after reopen"
    );
    assert_eq!(get(&*s, "kept"), None, "prepared delete seen after reopen");
    assert_eq!(get(&*s, "lost"), None, "a pending write is not durable");
    s.commit(2).expect("commit 2 after reopen");
    drop(s);
    let s = open(reopen, ns);
    assert_eq!(get(&*s, "a").as_deref(), Some("1"));
    assert_eq!(get(&*s, "kept"), None);
}

/// Rollback after a prepare drops the prepared and pending changes, durably.
pub fn rollback_after_prepare(reopen: Reopen<'_>, ns: &str) {
    let mut s = open(reopen, ns);
    put(&mut *s, "x", "1");
    s.prepare_commit(1).expect("prepare 1");
    s.commit(1).expect("commit 1");
    put(&mut *s, "x", "2");
    put(&mut *s, "y", "2");
    s.prepare_commit(2).expect("prepare 2");
    put(&mut *s, "z", "3");
    s.rollback().expect("rollback");
    assert_eq!(get(&*s, "x").as_deref(), Some("1"));
    assert_eq!(get(&*s, "y"), None);
    assert_eq!(get(&*s, "z"), None);
    assert!(matches!(s.commit(2), Err(StateError::NotPrepared { .. })));
    drop(s);
    let mut s = open(reopen, ns);
    assert_eq!(get(&*s, "y"), None, "the prepared set is gone after reopen");
    assert!(matches!(s.commit(2), Err(StateError::NotPrepared { .. })));
    put(&mut *s, "w", "4");
    s.rollback().expect("rollback of pending only");
    assert_eq!(get(&*s, "w"), None);
    s.prepare_commit(2).expect("prepare 2 again");
    s.commit(2).expect("commit 2");
    assert_eq!(get(&*s, "x").as_deref(), Some("1"));
}

/// A prepare over an uncommitted prepared set keeps both.
pub fn prepare_merges(reopen: Reopen<'_>, ns: &str) {
    let mut s = open(reopen, ns);
    put(&mut *s, "a", "1");
    put(&mut *s, "b", "1");
    s.prepare_commit(1).expect("prepare 1");
    put(&mut *s, "b", "2");
    put(&mut *s, "c", "2");
    s.prepare_commit(2).expect("prepare 2");
    assert!(matches!(s.commit(1), Err(StateError::NotPrepared { .. })));
    s.commit(2).expect("commit 2");
    drop(s);
    let s = open(reopen, ns);
    let got: Vec<_> = ["a", "b", "c"].iter().map(|k| get(&*s, k)).collect();
    assert_eq!(got, [Some("1".into()), Some("2".into()), Some("2".into())]);
}

/// Iteration sees committed data (over several pages), the prepared set and the
/// pending writes, each layer over the one below.
pub fn iterate_merges_layers(reopen: Reopen<'_>, ns: &str) {
    let mut s = open(reopen, ns);
    let mut want = BTreeMap::new();
    for i in 0..2500u32 {
        let (k, v) = (format!("k{i:05}").into_bytes(), i.to_le_bytes().to_vec());
        s.put(k.clone(), v.clone()).expect("put");
        want.insert(k, v);
    }
    s.prepare_commit(1).expect("prepare 1");
    s.commit(1).expect("commit 1");
    assert_eq!(all(&*s), want);
    // prepared: overwrite 10, delete 10, add 1
    for i in 0..10u32 {
        let k = format!("k{i:05}").into_bytes();
        s.put(k.clone(), b"p".to_vec()).expect("put");
        want.insert(k, b"p".to_vec());
        let d = format!("k{:05}", 100 + i).into_bytes();
        s.delete(d.clone()).expect("delete");
        want.remove(&d);
    }
    s.put(b"prepared".to_vec(), vec![]).expect("put");
    want.insert(b"prepared".to_vec(), vec![]);
    s.prepare_commit(2).expect("prepare 2");
    // pending: resurrect a prepared delete, delete a prepared put, delete a committed one
    s.put(b"k00100".to_vec(), b"back".to_vec()).expect("put");
    want.insert(b"k00100".to_vec(), b"back".to_vec());
    s.delete(b"k00000".to_vec()).expect("delete");
    want.remove(b"k00000".as_slice());
    s.delete(b"k02000".to_vec()).expect("delete");
    want.remove(b"k02000".as_slice());
    s.put(vec![0, 255], vec![1, 2, 3]).expect("put binary");
    want.insert(vec![0, 255], vec![1, 2, 3]);
    assert_eq!(all(&*s), want);
    s.prepare_commit(3).expect("prepare 3");
    s.commit(3).expect("commit 3");
    drop(s);
    let s = open(reopen, ns);
    assert_eq!(all(&*s), want, "after commit and reopen");
}

/// A value over the limit is refused on write.
pub fn oversize_value_refused(reopen: Reopen<'_>, ns: &str) {
    let mut s = open(reopen, ns);
    let e = s
        .put(b"big".to_vec(), vec![0; MAX_VALUE_LEN + 1])
        .expect_err("an oversize value");
    assert!(e.to_string().contains("over the limit"), "{e}");
    assert!(s.put(b"ok".to_vec(), vec![7; 1024]).is_ok());
}

/// A state committed past INITSTATE's checkpoint (its checkpoint spout's state was lost)
/// keeps its contents and takes the next txids after the checkpoint, durably; one at or
/// behind the checkpoint is left as it is.
pub fn init_aligns_a_state_ahead_of_the_checkpoint(reopen: Reopen<'_>, ns: &str) {
    let mut s = open(reopen, ns);
    put(&mut *s, "a", "1");
    s.prepare_commit(7).expect("prepare 7");
    s.commit(7).expect("commit 7");
    s.init(Some(7)).expect("init at its own txid");
    s.init(Some(9)).expect("init past it (state behind)");
    put(&mut *s, "b", "2");
    s.prepare_commit(8)
        .expect("prepare 8 after an init that changed nothing");
    s.commit(8).expect("commit 8");
    drop(s);
    // The checkpoint spout starts again from nothing committed (txid -1).
    let mut s = open(reopen, ns);
    put(&mut *s, "c", "pending");
    s.prepare_commit(9).expect("prepare 9");
    s.init(None).expect("init with nothing committed");
    assert_eq!(get(&*s, "a").as_deref(), Some("1"), "contents kept");
    assert_eq!(get(&*s, "b").as_deref(), Some("2"), "contents kept");
    assert_eq!(get(&*s, "c"), None, "the prepared set was dropped");
    put(&mut *s, "c", "3");
    s.prepare_commit(0)
        .expect("prepare 0: the txids start again");
    s.commit(0).expect("commit 0");
    drop(s);
    let mut s = open(reopen, ns);
    assert_eq!(get(&*s, "c").as_deref(), Some("3"));
    s.prepare_commit(1)
        .expect("the new numbering survived a reopen");
    s.commit(1).expect("commit 1");
}

/// One `#[test]` per protocol check, each on a fresh [`super::Setup`].
#[macro_export]
macro_rules! protocol_tests {
    ($setup:expr) => {
        protocol_tests!(@each $setup;
            pending_writes_commit, commit_is_idempotent, commit_after_reopen,
            rollback_after_prepare, prepare_merges, iterate_merges_layers,
            oversize_value_refused, init_aligns_a_state_ahead_of_the_checkpoint);
    };
    (@each $setup:expr; $($check:ident),*) => {
        $(
            #[test]
            fn $check() {
                let setup = $setup;
                let reopen = setup.reopen();
                $crate::state_common::protocol::$check(
                    &*reopen,
                    concat!(stringify!($check), "-1"),
                );
            }
        )*
    };
}
