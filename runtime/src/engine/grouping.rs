//! Groupings: which task(s) of a subscriber get each tuple. One [`Grouper`] per
//! (sender task, subscription), so per-sender state (round-robin position, partial-key
//! counts) needs no synchronisation.

use std::hash::Hasher;

use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

use crate::api::ids::TaskId;
use crate::api::value::Value;
use crate::topology::yaml::Grouping;

/// Where one tuple goes for one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// Nowhere (no targets, or a direct subscription reached by a plain emit).
    Nowhere,
    /// One task.
    One(TaskId),
    /// Every task listed.
    Many(&'a [TaskId]),
}

/// Per-sender grouping state for one subscription.
#[derive(Debug)]
pub struct Grouper {
    kind: Kind,
    /// The subscriber's sorted tasks (restricted to local ones for local-or-shuffle).
    targets: Vec<TaskId>,
}

#[derive(Debug)]
enum Kind {
    Shuffle {
        next: usize,
    },
    Fields {
        indices: Vec<usize>,
    },
    /// Fields grouping on one field (the common case, hashed without a loop).
    Field {
        index: usize,
    },
    PartialKey {
        indices: Vec<usize>,
        counts: Vec<u64>,
    },
    All,
    Global,
    Random {
        rng: SmallRng,
    },
    Direct,
}

/// 64-bit finaliser (from MurmurHash3) so that every output bit depends on every input
/// bit; FxHash alone leaves the high bits weak for short keys.
#[inline]
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Map a hash onto `0..n` using its high bits (multiply-shift, no division).
#[inline]
pub(crate) fn reduce(h: u64, n: usize) -> usize {
    ((u128::from(h) * n as u128) >> 64) as usize
}

/// Deterministic hash of the selected fields: equal values give equal hashes in every
/// process and on every run.
pub fn fields_hash(values: &[Value], indices: &[usize]) -> u64 {
    hash_selected(indices.iter().map(|&i| values.get(i)))
}

/// [`fields_hash`] over values picked by the caller (`None`: a missing field).
pub(crate) fn hash_selected<'v>(values: impl Iterator<Item = Option<&'v Value>>) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    for v in values {
        match v {
            Some(v) => v.stable_hash(&mut h),
            None => h.write_u8(0xff),
        }
    }
    mix(h.finish())
}

/// [`hash_selected`] of one field, equal to it, with a string's hashing inlined: a
/// fields grouping on one word hashes one short string per tuple.
#[inline]
fn field_hash(value: Option<&Value>) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    match value {
        Some(Value::Str(s)) => h.write(s.as_bytes()),
        Some(v) => v.stable_hash(&mut h),
        None => h.write_u8(0xff),
    }
    mix(h.finish())
}

impl Grouper {
    /// A grouper for `grouping` over the subscriber's `targets` (sorted).
    /// `is_local` says which tasks run in the sender's process; `seed` varies the
    /// shuffle order between senders.
    pub fn new(
        grouping: &Grouping,
        mut targets: Vec<TaskId>,
        is_local: impl Fn(TaskId) -> bool,
        seed: u64,
    ) -> Grouper {
        targets.sort_unstable();
        let mut rng = SmallRng::seed_from_u64(seed);
        let kind = match grouping {
            Grouping::Shuffle => {
                targets.shuffle(&mut rng);
                Kind::Shuffle {
                    next: rng.random_range(0..targets.len().max(1)),
                }
            }
            Grouping::LocalOrShuffle => {
                if targets.iter().any(|t| is_local(*t)) {
                    targets.retain(|t| is_local(*t));
                }
                targets.shuffle(&mut rng);
                Kind::Shuffle {
                    next: rng.random_range(0..targets.len().max(1)),
                }
            }
            Grouping::Fields(indices) => match indices.as_slice() {
                &[index] => Kind::Field { index },
                _ => Kind::Fields {
                    indices: indices.clone(),
                },
            },
            Grouping::PartialKey(indices) => Kind::PartialKey {
                indices: indices.clone(),
                counts: vec![0; targets.len()],
            },
            Grouping::All => Kind::All,
            Grouping::Global => Kind::Global,
            Grouping::None => Kind::Random { rng },
            Grouping::Direct => Kind::Direct,
        };
        Grouper { kind, targets }
    }

    /// The target tasks this grouper chooses among.
    pub fn targets(&self) -> &[TaskId] {
        &self.targets
    }

    /// Whether this is a direct subscription (reached only by `emit_direct`).
    pub fn is_direct(&self) -> bool {
        matches!(self.kind, Kind::Direct)
    }

    /// Choose the destination(s) of a tuple with these values.
    #[inline]
    pub fn route(&mut self, values: &[Value]) -> Route<'_> {
        let n = self.targets.len();
        if n == 0 {
            return Route::Nowhere;
        }
        match &mut self.kind {
            Kind::Shuffle { next } => {
                let t = self.targets[*next];
                *next += 1;
                if *next == n {
                    *next = 0;
                }
                Route::One(t)
            }
            Kind::Field { index } => {
                Route::One(self.targets[reduce(field_hash(values.get(*index)), n)])
            }
            Kind::Fields { indices } => {
                Route::One(self.targets[reduce(fields_hash(values, indices), n)])
            }
            Kind::PartialKey { indices, counts } => {
                let h = fields_hash(values, indices);
                let a = reduce(h, n);
                let mut b = reduce(mix(h ^ 0x9e37_79b9_7f4a_7c15), n);
                if b == a && n > 1 {
                    b = (a + 1) % n;
                }
                let pick = if counts[b] < counts[a] { b } else { a };
                counts[pick] += 1;
                Route::One(self.targets[pick])
            }
            Kind::All => Route::Many(&self.targets),
            Kind::Global => Route::One(self.targets[0]),
            Kind::Random { rng } => Route::One(self.targets[rng.random_range(0..n)]),
            Kind::Direct => Route::Nowhere,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values;

    fn tasks(ids: &[u32]) -> Vec<TaskId> {
        ids.iter().map(|i| TaskId(*i)).collect()
    }

    fn one(r: Route<'_>) -> TaskId {
        match r {
            Route::One(t) => t,
            other => panic!("expected one task, got {other:?}"),
        }
    }

    #[test]
    fn fields_grouping_is_consistent_across_senders_and_spreads_keys() {
        let mut a = Grouper::new(
            &Grouping::Fields(vec![0]),
            tasks(&[1, 2, 3, 4]),
            |_| true,
            1,
        );
        let mut b = Grouper::new(
            &Grouping::Fields(vec![0]),
            tasks(&[4, 3, 2, 1]),
            |_| true,
            99,
        );
        let mut used = std::collections::BTreeSet::new();
        for i in 0..1000 {
            let v = values![format!("word{i}"), i];
            let ta = one(a.route(&v));
            assert_eq!(ta, one(b.route(&values![format!("word{i}"), 7])));
            used.insert(ta);
        }
        assert_eq!(used.len(), 4, "1000 keys should reach all 4 tasks");
    }

    #[test]
    fn shuffle_is_exactly_even_per_sender() {
        let mut g = Grouper::new(&Grouping::Shuffle, tasks(&[5, 6, 7]), |_| true, 3);
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..300 {
            *counts.entry(one(g.route(&values![1]))).or_insert(0) += 1;
        }
        assert_eq!(
            counts.values().copied().collect::<Vec<_>>(),
            vec![100, 100, 100]
        );
    }

    #[test]
    fn all_reaches_every_task_and_global_the_lowest() {
        let mut all = Grouper::new(&Grouping::All, tasks(&[3, 1, 2]), |_| true, 0);
        assert_eq!(all.route(&values![1]), Route::Many(&tasks(&[1, 2, 3])));
        let mut global = Grouper::new(&Grouping::Global, tasks(&[9, 4, 6]), |_| true, 0);
        for _ in 0..10 {
            assert_eq!(one(global.route(&values![1])), TaskId(4));
        }
    }

    #[test]
    fn local_or_shuffle_stays_local_when_it_can() {
        let is_local = |t: TaskId| t.0.is_multiple_of(2);
        let mut g = Grouper::new(&Grouping::LocalOrShuffle, tasks(&[1, 2, 3, 4]), is_local, 7);
        for _ in 0..100 {
            assert!(is_local(one(g.route(&values![1]))));
        }
        let mut remote_only = Grouper::new(&Grouping::LocalOrShuffle, tasks(&[1, 3]), is_local, 7);
        let seen: std::collections::BTreeSet<_> = (0..10)
            .map(|_| one(remote_only.route(&values![1])))
            .collect();
        assert_eq!(seen.len(), 2, "with no local task it shuffles over all");
    }

    #[test]
    fn partial_key_uses_at_most_two_tasks_per_key_and_balances() {
        let mut g = Grouper::new(
            &Grouping::PartialKey(vec![0]),
            tasks(&[1, 2, 3, 4]),
            |_| true,
            0,
        );
        let seen: std::collections::BTreeMap<TaskId, usize> =
            (0..100).fold(Default::default(), |mut m, _| {
                *m.entry(one(g.route(&values!["hot"]))).or_insert(0) += 1;
                m
            });
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(seen.values().all(|c| *c == 50), "{seen:?}");
    }

    #[test]
    fn none_and_direct() {
        let mut none = Grouper::new(&Grouping::None, tasks(&[1, 2]), |_| true, 0);
        assert!(matches!(none.route(&values![1]), Route::One(_)));
        let mut direct = Grouper::new(&Grouping::Direct, tasks(&[1, 2]), |_| true, 0);
        assert!(direct.is_direct());
        assert_eq!(direct.route(&values![1]), Route::Nowhere);
    }

    #[test]
    fn one_field_hashes_as_the_general_path() {
        let vals = [
            Value::from("word"),
            Value::from("a string longer than twenty-four bytes"),
            Value::from(""),
            Value::Int(-7),
            Value::Float(3.0),
            Value::Null,
            Value::from(vec![Value::from("x"), Value::Int(1)]),
        ];
        for v in &vals {
            assert_eq!(
                field_hash(Some(v)),
                fields_hash(std::slice::from_ref(v), &[0]),
                "{v:?}"
            );
        }
        assert_eq!(field_hash(None), fields_hash(&[], &[0]));
    }
}
