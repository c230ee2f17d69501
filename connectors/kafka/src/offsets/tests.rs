//! The offset manager's tests: the examples it always had, and random emits, acks,
//! commits and skips against a reference model (the plain set-based manager it
//! replaced).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

fn emit_all(m: &mut OffsetManager, offsets: impl IntoIterator<Item = i64>) {
    for o in offsets {
        m.emitted(o);
    }
}

#[test]
fn commits_only_contiguous_acked_offsets() {
    let mut m = OffsetManager::new(0);
    emit_all(&mut m, 0..5);
    m.acked(1);
    m.acked(2);
    assert_eq!(m.next_commit(), None, "0 is still in flight");
    m.acked(0);
    assert_eq!(m.next_commit(), Some(3));
    assert_eq!(m.commit(3), 3);
    assert_eq!(m.committed(), 3);
    assert_eq!(m.uncommitted(), 2);
    assert_eq!(m.next_commit(), None);
    m.acked(4);
    assert_eq!(m.next_commit(), None, "3 is still in flight");
    m.acked(3);
    assert_eq!(m.next_commit(), Some(5));
}

#[test]
fn a_gap_of_never_emitted_offsets_is_skipped() {
    // Offsets 2..=4 were compacted or deleted: the consumer never saw them.
    let mut m = OffsetManager::new(0);
    emit_all(&mut m, [0, 1, 5, 6]);
    for o in [0, 1, 5, 6] {
        m.acked(o);
    }
    assert_eq!(m.next_commit(), Some(7));
}

#[test]
fn a_gap_at_the_commit_point_is_skipped() {
    // Committed at 10, but records 10..20 were deleted before they were read.
    let mut m = OffsetManager::new(10);
    emit_all(&mut m, [20, 21]);
    m.acked(20);
    assert_eq!(m.next_commit(), Some(21));
    m.acked(21);
    assert_eq!(m.next_commit(), Some(22));
}

#[test]
fn a_gap_before_an_in_flight_offset_is_not_skipped_past_it() {
    let mut m = OffsetManager::new(0);
    emit_all(&mut m, [0, 3, 4]);
    m.acked(0);
    m.acked(4);
    // 1..=2 never emitted, 3 in flight: commit through 0 only.
    assert_eq!(m.next_commit(), Some(1));
    m.commit(1);
    assert_eq!(m.next_commit(), None);
    m.acked(3);
    assert_eq!(m.next_commit(), Some(5));
}

#[test]
fn nth_uncommitted_is_the_limit_offset() {
    let mut m = OffsetManager::new(0);
    emit_all(&mut m, [1, 2, 8, 10]);
    assert_eq!(m.nth_uncommitted(3), Some(8));
    assert_eq!(m.nth_uncommitted(5), None);
    assert_eq!(m.nth_uncommitted(0), None);
}

#[test]
fn stale_acks_and_emits_below_the_commit_point_are_ignored() {
    let mut m = OffsetManager::new(5);
    m.emitted(3);
    m.acked(3);
    assert_eq!(m.uncommitted(), 0);
    assert_eq!(m.next_commit(), None);
    m.acked(7); // never emitted
    assert_eq!(m.next_commit(), None);
    assert!(m.is_done(4));
    assert!(!m.is_done(5));
    assert_eq!(m.commit(4), 0, "a commit backwards changes nothing");
    assert_eq!(m.committed(), 5);
    assert!(m.has_committed());
}

#[test]
fn skip_to_moves_past_deleted_records() {
    let mut m = OffsetManager::new(0);
    emit_all(&mut m, [0, 1]);
    m.acked(1);
    m.skip_to(50);
    assert_eq!(m.committed(), 50);
    assert_eq!(m.uncommitted(), 0);
    assert_eq!(m.next_commit(), None);
    assert_eq!(m.latest_emitted(), Some(1));
}

/// Whatever the order of emits and acks, the commit point never passes an emitted,
/// un-acked offset and reaches the end once everything is acked.
#[test]
fn commit_point_never_passes_an_unacked_offset() {
    let offsets: Vec<i64> = (0..40).filter(|o| o % 7 != 3).collect();
    // A fixed pseudo-random ack order.
    let mut order = offsets.clone();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = usize::try_from(x % (i as u64 + 1)).unwrap_or(0);
        order.swap(i, j);
    }
    let mut m = OffsetManager::new(0);
    emit_all(&mut m, offsets.iter().copied());
    let mut acked = BTreeSet::new();
    for (n, o) in order.iter().enumerate() {
        m.acked(*o);
        acked.insert(*o);
        if let Some(c) = m.next_commit() {
            for e in offsets.iter().filter(|e| **e < c) {
                assert!(acked.contains(e), "commit {c} passes un-acked {e}");
            }
            if n % 3 == 0 {
                m.commit(c);
            }
        }
    }
    let end = m.next_commit().unwrap_or(m.committed());
    assert_eq!(end, 40);
}

/// The manager as it was: every emitted and acked offset in a set until a commit. Slow,
/// plainly right: the model the compact one is checked against.
#[derive(Debug, Default)]
struct Reference {
    committed: i64,
    emitted: BTreeSet<i64>,
    acked: BTreeSet<i64>,
    has_committed: bool,
    latest_emitted: Option<i64>,
}

impl Reference {
    fn new(committed: i64) -> Reference {
        Reference {
            committed,
            ..Reference::default()
        }
    }

    fn emitted(&mut self, offset: i64) {
        if offset < self.committed {
            return;
        }
        self.emitted.insert(offset);
        self.latest_emitted = Some(self.latest_emitted.map_or(offset, |l| l.max(offset)));
    }

    fn acked(&mut self, offset: i64) {
        if offset >= self.committed && self.emitted.contains(&offset) {
            self.acked.insert(offset);
        }
    }

    fn nth_uncommitted(&self, n: usize) -> Option<i64> {
        self.emitted.iter().nth(n.checked_sub(1)?).copied()
    }

    /// The walk over every acked offset the manager used to make.
    fn next_commit(&self) -> Option<i64> {
        let mut next = self.committed;
        let mut found = false;
        for &acked in &self.acked {
            if acked < next {
                continue;
            }
            if acked == next {
                next = acked + 1;
                found = true;
                continue;
            }
            match self.emitted.range(next..).next() {
                Some(&first_emitted) if first_emitted == acked => {
                    next = acked + 1;
                    found = true;
                }
                _ => break,
            }
        }
        found.then_some(next)
    }

    fn commit(&mut self, offset: i64) -> usize {
        self.has_committed = true;
        if offset <= self.committed {
            return 0;
        }
        let covered = self.acked.range(..offset).count();
        self.skip_to(offset);
        covered
    }

    fn skip_to(&mut self, offset: i64) {
        if offset > self.committed {
            self.committed = offset;
            self.acked = self.acked.split_off(&offset);
            self.emitted = self.emitted.split_off(&offset);
        }
    }
}

/// Every answer of the manager equals the model's.
fn same(m: &OffsetManager, r: &Reference, probes: impl IntoIterator<Item = i64>, what: &str) {
    assert_eq!(
        m.next_commit(),
        r.next_commit(),
        "next_commit after {what}: {m:?}"
    );
    assert_eq!(m.committed(), r.committed, "committed after {what}");
    assert_eq!(m.uncommitted(), r.emitted.len(), "uncommitted after {what}");
    assert_eq!(
        m.has_committed(),
        r.has_committed,
        "has_committed after {what}"
    );
    assert_eq!(
        m.latest_emitted(),
        r.latest_emitted,
        "latest_emitted after {what}"
    );
    assert_eq!(
        m.to_string(),
        format!(
            "committed {}, {} uncommitted emitted, {} acked",
            r.committed,
            r.emitted.len(),
            r.acked.len()
        ),
        "after {what}"
    );
    let n = r.emitted.len();
    for k in [0, 1, n / 2, n, n + 1] {
        assert_eq!(
            m.nth_uncommitted(k),
            r.nth_uncommitted(k),
            "nth {k} after {what}"
        );
    }
    for o in probes {
        assert_eq!(
            m.is_emitted(o),
            r.emitted.contains(&o),
            "is_emitted {o} after {what}"
        );
        assert_eq!(
            m.is_acked(o),
            r.acked.contains(&o),
            "is_acked {o} after {what}"
        );
        assert_eq!(
            m.is_done(o),
            o < r.committed || r.acked.contains(&o),
            "is_done {o} after {what}"
        );
    }
}

/// Random runs in the spout's order — records emitted ascending with gaps (compacted
/// offsets), acked a little out of order, some failed and emitted again, commits of
/// `next_commit` — mixed with what the spout never does (emits below acked offsets,
/// acks of unknown offsets, commits anywhere, skips): the manager answers every query
/// exactly as the model does after every step.
#[test]
fn matches_the_reference_model() {
    for seed in 0..200u64 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let start = rng.random_range(0..5);
        let (mut m, mut r) = (OffsetManager::new(start), Reference::new(start));
        let mut next = start;
        let mut in_flight: Vec<i64> = Vec::new();
        let odd = seed % 4 == 0; // a quarter of the runs also do unusual things
        for step in 0..300 {
            let what = match rng.random_range(0..20) {
                // Emit the next record (sometimes past a gap).
                0..8 => {
                    if rng.random_bool(0.15) {
                        next += rng.random_range(1..4);
                    }
                    m.emitted(next);
                    r.emitted(next);
                    in_flight.push(next);
                    next += 1;
                    format!("emit {next}")
                }
                // Ack one of the oldest in flight.
                8..14 if !in_flight.is_empty() => {
                    let i = rng.random_range(0..in_flight.len().min(6));
                    let o = in_flight.remove(i);
                    m.acked(o);
                    r.acked(o);
                    format!("ack {o}")
                }
                // Fail one and emit it again (a retry).
                14 if !in_flight.is_empty() => {
                    let o = in_flight[rng.random_range(0..in_flight.len())];
                    m.emitted(o);
                    r.emitted(o);
                    format!("re-emit {o}")
                }
                // The periodic commit.
                15 | 16 => match m.next_commit() {
                    Some(c) => {
                        assert_eq!(m.commit(c), r.commit(c), "commit {c}");
                        format!("commit {c}")
                    }
                    None => continue,
                },
                17 if odd => {
                    let o = rng.random_range(start - 2..next + 3);
                    m.emitted(o);
                    r.emitted(o);
                    if !in_flight.contains(&o) {
                        in_flight.insert(rng.random_range(0..=in_flight.len().min(6)), o);
                    }
                    format!("odd emit {o}")
                }
                18 if odd => {
                    let o = rng.random_range(start - 2..next + 3);
                    m.acked(o);
                    r.acked(o);
                    in_flight.retain(|x| *x != o);
                    format!("odd ack {o}")
                }
                19 if odd => {
                    let o = rng.random_range(start - 2..next + 3);
                    if rng.random_bool(0.5) {
                        assert_eq!(m.commit(o), r.commit(o), "odd commit {o}");
                        format!("odd commit {o}")
                    } else {
                        m.skip_to(o);
                        r.skip_to(o);
                        format!("skip to {o}")
                    }
                }
                _ => continue,
            };
            let what = format!("step {step} ({what}), seed {seed}");
            let probes = (0..4).map(|_| rng.random_range(start - 2..next + 3));
            same(&m, &r, probes, &what);
        }
        same(
            &m,
            &r,
            start - 2..next + 3,
            &format!("the end, seed {seed}"),
        );
        // Everything acked: committable to the last emitted record.
        for o in std::mem::take(&mut in_flight) {
            m.acked(o);
            r.acked(o);
        }
        same(&m, &r, [], &format!("acking all, seed {seed}"));
    }
}

/// 200 000 records emitted and acked in order, never committed: the manager holds one
/// run and an empty window.
#[test]
fn in_order_acks_stay_compact() {
    let mut m = OffsetManager::new(0);
    for o in 0..200_000 {
        m.emitted(o);
        if o >= 100 {
            m.acked(o - 100);
        }
    }
    assert_eq!(m.next_commit(), Some(199_900));
    assert_eq!(m.done.len(), 1);
    assert_eq!(m.window.len(), 100);
    assert_eq!(m.uncommitted(), 200_000);
    assert_eq!(m.nth_uncommitted(199_950), Some(199_949));
    assert_eq!(m.commit(100_000), 100_000);
    assert_eq!(m.uncommitted(), 100_000);
}
