//! Input for word-count tests: lines of words with known totals, and the records that
//! spread them over a topic's partitions.

use std::collections::BTreeMap;
use std::ops::{AddAssign, Range};

use super::Outgoing;

/// Lines `range` of a word-count input: line `i` has `i % max_words + 1` words, its
/// `j`-th being `words[(i + j * stride) % words.len()]`. Each word is added to
/// `expected` (its total in the input).
pub fn word_lines<N: AddAssign + From<u8> + Default>(
    range: Range<usize>,
    words: &[&str],
    max_words: usize,
    stride: usize,
    expected: &mut BTreeMap<String, N>,
) -> Vec<String> {
    range
        .map(|i| {
            let line: Vec<&str> = (0..=(i % max_words.max(1)))
                .map(|j| words[(i + j * stride) % words.len()])
                .collect();
            for w in &line {
                *expected.entry(w.to_string()).or_default() += N::from(1);
            }
            line.join(" ")
        })
        .collect()
}

/// Records of `values` in order, the `i`-th to partition `i % partitions`, without keys.
pub fn round_robin<S: AsRef<[u8]>>(values: &[S], partitions: i32) -> Vec<Outgoing<'_>> {
    values
        .iter()
        .zip((0..partitions.max(1)).cycle())
        .map(|(v, p)| (Some(p), None, v.as_ref()))
        .collect()
}
