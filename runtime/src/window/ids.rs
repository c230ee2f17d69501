//! The message ids a persistent window knows, to drop replays of tuples it holds or
//! held: [`IdSet`], the ids of one input as ranges, and [`Retired`], the ids that left
//! the window, kept until no replay of them can come any more.
//!
//! A tuple's ack goes out at the COMMIT after the PREPARE that saved it. If that ack is
//! lost with a worker (the acker's, or the window's own after the commit), the tuple's
//! tree times out and its spout replays it: within two message timeouts of its emit
//! (the spout's pending map expires entries on its second rotation), whether or not the
//! window still holds it. So an id that left the window is kept for at least one more
//! PREPARE (its ack has gone out) *and* a few message timeouts (its replay, if any, has
//! come), up to a cap on the ranges kept.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The message ids of one input held in the window, as ranges `start..=end`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct IdSet {
    ranges: BTreeMap<i64, i64>,
}

impl IdSet {
    pub(crate) fn contains(&self, id: i64) -> bool {
        self.ranges
            .range(..=id)
            .next_back()
            .is_some_and(|(_, end)| id <= *end)
    }

    pub(crate) fn insert(&mut self, id: i64) {
        if self.contains(id) {
            return;
        }
        let below = self
            .ranges
            .range(..id)
            .next_back()
            .filter(|(_, end)| end.checked_add(1) == Some(id))
            .map(|(s, _)| *s);
        let above = id.checked_add(1).and_then(|n| self.ranges.remove(&n));
        match below {
            Some(s) => {
                self.ranges.insert(s, above.unwrap_or(id));
            }
            None => {
                self.ranges.insert(id, above.unwrap_or(id));
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn remove(&mut self, id: i64) {
        let Some((&start, &end)) = self.ranges.range(..=id).next_back() else {
            return;
        };
        if id > end {
            return;
        }
        self.ranges.remove(&start);
        if start < id {
            self.ranges.insert(start, id - 1);
        }
        if id < end {
            self.ranges.insert(id + 1, end);
        }
    }

    /// Remove every id of `other`.
    pub(crate) fn remove_all(&mut self, other: &IdSet) {
        for (&a, &b) in &other.ranges {
            self.remove_range(a, b);
        }
    }

    /// Remove the ids `a..=b`.
    fn remove_range(&mut self, a: i64, b: i64) {
        let hit: Vec<(i64, i64)> = self
            .ranges
            .range(..=b)
            .rev()
            .take_while(|(_, end)| **end >= a)
            .map(|(s, e)| (*s, *e))
            .collect();
        for (start, end) in hit {
            self.ranges.remove(&start);
            if start < a {
                self.ranges.insert(start, a - 1);
            }
            if end > b {
                self.ranges.insert(b + 1, end);
            }
        }
    }

    pub(crate) fn max(&self) -> Option<i64> {
        self.ranges.values().next_back().copied()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// The ids held, by source task and stream.
pub(crate) type Ids = HashMap<u32, HashMap<String, IdSet>>;

/// The ids of one input as saved: (source task, stream, ranges `start..=end`).
pub(crate) type SavedIds = (u32, String, Vec<(i64, i64)>);

/// Every id of `ids`, as saved.
pub(crate) fn to_saved(ids: &Ids) -> Vec<SavedIds> {
    ids.iter()
        .flat_map(|(task, streams)| {
            streams
                .iter()
                .filter(|(_, s)| !s.is_empty())
                .map(|(stream, s)| {
                    (
                        *task,
                        stream.clone(),
                        s.ranges.iter().map(|(a, b)| (*a, *b)).collect(),
                    )
                })
        })
        .collect()
}

/// Add saved ids to `ids`.
pub(crate) fn add_saved(ids: &mut Ids, saved: Vec<SavedIds>) {
    for (task, stream, ranges) in saved {
        let set = ids.entry(task).or_default().entry(stream).or_default();
        for (a, b) in ranges {
            set.remove_range(a, b);
            set.ranges.insert(a, b);
        }
    }
}

/// The ranges held in `ids`.
fn range_count(ids: &Ids) -> usize {
    ids.values()
        .flat_map(|streams| streams.values())
        .map(|s| s.ranges.len())
        .sum()
}

/// Remove every id of `gone` from `ids`.
pub(crate) fn remove_all(ids: &mut Ids, gone: &Ids) {
    for (task, streams) in gone {
        for (stream, set) in streams {
            if let Some(held) = ids.get_mut(task).and_then(|m| m.get_mut(stream)) {
                held.remove_all(set);
            }
        }
    }
}

/// The ids that left the window, in generations (one per PREPARE), oldest first.
#[derive(Debug)]
pub(crate) struct Retired {
    generations: VecDeque<Generation>,
    /// Ranges in all generations.
    ranges: usize,
    /// PREPAREs seen.
    prepares: u64,
    /// How long an id is kept after it left.
    keep: Duration,
    /// The most ranges kept: past it, the oldest generations go early.
    max_ranges: usize,
    /// Generations that went before their time.
    early: u64,
}

/// The ids that left the window before one PREPARE.
#[derive(Debug)]
struct Generation {
    ids: Ids,
    ranges: usize,
    /// The PREPARE that saw them gone.
    prepare: u64,
    /// When they may be forgotten.
    until: Instant,
}

impl Retired {
    /// Keep ids `keep` after they left the window, at most `max_ranges` ranges.
    pub(crate) fn new(keep: Duration, max_ranges: usize) -> Self {
        Retired {
            generations: VecDeque::new(),
            ranges: 0,
            prepares: 0,
            keep,
            max_ranges,
            early: 0,
        }
    }

    /// A PREPARE at `now`: `gone` (the ids that left since the last one) starts its
    /// wait; returns the ids whose wait is over (at least one PREPARE, whose COMMIT sent
    /// their acks, and `keep`), or that go early to stay under the cap.
    pub(crate) fn prepare(&mut self, gone: Ids, now: Instant) -> Vec<Ids> {
        self.prepares += 1;
        let mut forget = Vec::new();
        while let Some(g) = self.generations.front() {
            let due = g.prepare < self.prepares && now >= g.until;
            let over = self.ranges > self.max_ranges;
            if !due && !over {
                break;
            }
            if !due {
                self.early += 1;
                if self.early.is_power_of_two() {
                    tracing::warn!(
                        max_ranges = self.max_ranges,
                        generations = self.early,
                        "persistent window: more message id ranges left the window than \
                         are kept; ids are forgotten before a replay of their tuples \
                         could be dropped (it would count again)"
                    );
                }
            }
            if let Some(g) = self.generations.pop_front() {
                self.ranges -= g.ranges;
                forget.push(g.ids);
            }
        }
        self.start(gone, now);
        forget
    }

    /// `ids` start their wait at `now` (nothing if empty).
    fn start(&mut self, ids: Ids, now: Instant) {
        let ranges = range_count(&ids);
        if ranges > 0 {
            self.ranges += ranges;
            self.generations.push_back(Generation {
                ids,
                ranges,
                prepare: self.prepares,
                until: now + self.keep,
            });
        }
    }

    /// Every id kept, as saved (with the window).
    pub(crate) fn to_saved(&self) -> Vec<SavedIds> {
        self.generations
            .iter()
            .flat_map(|g| to_saved(&g.ids))
            .collect()
    }

    /// After a restore at `now`: only `saved` is kept, for `keep` from now (a restart
    /// is when acks are lost).
    pub(crate) fn restore(&mut self, saved: Vec<SavedIds>, now: Instant) {
        self.generations.clear();
        self.ranges = 0;
        let mut ids = Ids::new();
        add_saved(&mut ids, saved);
        self.start(ids, now);
    }

    /// Ranges kept.
    #[cfg(test)]
    pub(crate) fn ranges(&self) -> usize {
        self.ranges
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn id_sets_merge_split_and_answer_membership() {
        let mut s = IdSet::default();
        for id in [1, 2, 3, 7, 5, 6, 4] {
            s.insert(id);
        }
        assert_eq!(s.ranges.len(), 1);
        assert!(s.contains(4) && !s.contains(8) && !s.contains(0));
        s.remove(4);
        assert_eq!(
            s.ranges.iter().map(|(a, b)| (*a, *b)).collect::<Vec<_>>(),
            [(1, 3), (5, 7)]
        );
        s.remove(1);
        s.remove(7);
        assert_eq!(
            s.ranges.iter().map(|(a, b)| (*a, *b)).collect::<Vec<_>>(),
            [(2, 3), (5, 6)]
        );
        assert_eq!(s.max(), Some(6));
        s.insert(4);
        assert_eq!(s.ranges.len(), 1);
        let mut gone = IdSet::default();
        for id in [2, 3, 4, 9] {
            gone.insert(id);
        }
        let mut t = s.clone();
        t.remove_all(&gone);
        assert_eq!(
            t.ranges.iter().map(|(a, b)| (*a, *b)).collect::<Vec<_>>(),
            [(5, 6)]
        );
        s.insert(i64::MAX);
        s.insert(i64::MIN);
        assert!(s.contains(i64::MAX) && s.contains(i64::MIN));
    }

    fn one(task: u32, ids: &[i64]) -> Ids {
        let mut set = IdSet::default();
        for id in ids {
            set.insert(*id);
        }
        let mut m = Ids::new();
        m.entry(task).or_default().insert("default".into(), set);
        m
    }

    fn flat(forget: &[Ids]) -> Vec<i64> {
        let mut out: Vec<i64> = forget
            .iter()
            .flat_map(to_saved)
            .flat_map(|(_, _, r)| r)
            .flat_map(|(a, b)| a..=b)
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn retired_ids_wait_for_a_prepare_and_the_keep_time() {
        let t0 = Instant::now();
        let keep = Duration::from_secs(15);
        let mut r = Retired::new(keep, 1000);
        assert!(r.prepare(one(1, &[1, 2, 3]), t0).is_empty());
        // A PREPARE later but before the keep time: still kept (a lost ack's replay
        // comes after a message timeout, many PREPAREs later).
        assert!(
            r.prepare(one(1, &[4]), t0 + Duration::from_secs(1))
                .is_empty()
        );
        assert!(
            r.prepare(Ids::new(), t0 + Duration::from_secs(14))
                .is_empty()
        );
        assert_eq!(flat(&r.prepare(Ids::new(), t0 + keep)), [1, 2, 3]);
        assert_eq!(r.ranges(), 1);
        // The keep time passed but no PREPARE since the ids left: kept.
        let mut q = Retired::new(Duration::ZERO, 1000);
        assert!(q.prepare(one(1, &[7]), t0).is_empty());
        assert_eq!(flat(&q.prepare(Ids::new(), t0)), [7]);
    }

    #[test]
    fn past_the_cap_the_oldest_retired_ids_go_early() {
        let t0 = Instant::now();
        let mut r = Retired::new(Duration::from_secs(60), 2);
        assert!(r.prepare(one(1, &[1, 3]), t0).is_empty());
        assert!(r.prepare(one(1, &[5]), t0).is_empty());
        assert_eq!(r.ranges(), 3);
        assert_eq!(flat(&r.prepare(one(2, &[9]), t0)), [1, 3]);
        assert_eq!(r.ranges(), 2);
    }

    #[test]
    fn restored_retired_ids_are_kept_the_keep_time_from_the_restore() {
        let t0 = Instant::now();
        let keep = Duration::from_secs(15);
        let mut r = Retired::new(keep, 1000);
        r.prepare(one(1, &[1, 2]), t0);
        r.prepare(one(2, &[5]), t0);
        let saved = r.to_saved();
        let mut back = Retired::new(keep, 1000);
        let later = t0 + Duration::from_secs(100);
        back.restore(saved, later);
        assert_eq!(back.ranges(), 2);
        assert!(back.prepare(Ids::new(), later).is_empty());
        assert_eq!(flat(&back.prepare(Ids::new(), later + keep)), [1, 2, 5]);
        let mut ids = one(1, &[1, 2, 3]);
        remove_all(&mut ids, &one(1, &[2]));
        assert!(ids[&1]["default"].contains(1) && !ids[&1]["default"].contains(2));
    }
}
