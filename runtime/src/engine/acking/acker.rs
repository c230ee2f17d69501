//! The acker's state machine: one XOR value per tree, pure and synchronous (the acker
//! executor feeds it messages and sends out the completions it returns).

use super::table::TreeTable;
use super::{AckMsg, Completion, Outcome};
use crate::api::ids::TaskId;

/// Rotations an acker entry survives: a tree the spouts gave up on is dropped between 2
/// and 3 timeout periods after the acker first saw it (or last saw it fail or reset);
/// the spout fails it after 1 to 2.
const BUCKETS: u32 = 3;

/// Pending trees of one acker task.
#[derive(Debug)]
pub(crate) struct AckerState {
    pending: TreeTable,
}

impl Default for AckerState {
    fn default() -> Self {
        AckerState {
            pending: TreeTable::new(BUCKETS),
        }
    }
}

impl AckerState {
    /// Trees being tracked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Apply one message; returns the verdict when the tree is decided. Inlined into
    /// the acker loop (its hot path): left to itself the compiler may not.
    #[inline]
    pub(crate) fn handle(&mut self, msg: AckMsg) -> Option<Completion> {
        let root = msg.root();
        // Init and ack update in place; fail and reset also restart the entry's expiry
        // (as Storm's acker does).
        let refresh = matches!(msg, AckMsg::Fail { .. } | AckMsg::Reset { .. });
        let i = self.pending.find_or_insert(root, refresh);
        let e = self.pending.at(i);
        let mut reset = false;
        match msg {
            AckMsg::Init {
                xor,
                spout_task,
                slot,
                ..
            } => {
                e.val ^= xor;
                e.set_spout(spout_task.0, slot);
            }
            AckMsg::Ack { xor, .. } => e.val ^= xor,
            AckMsg::Fail { .. } => e.set_failed(),
            AckMsg::Reset { .. } => reset = true,
        }
        let (task, slot) = e.spout()?;
        let spout_task = TaskId(task);
        let outcome = if e.val == 0 {
            Outcome::Acked
        } else if e.failed() {
            Outcome::Failed
        } else if reset {
            return Some(Completion {
                spout_task,
                root,
                slot,
                outcome: Outcome::ResetTimeout,
            });
        } else {
            return None;
        };
        self.pending.remove_at(i);
        Some(Completion {
            spout_task,
            root,
            slot,
            outcome,
        })
    }

    /// Apply a batch of messages, calling `verdict` for each tree decided. The homes of
    /// a few messages ahead are loaded first, so the table's cache misses overlap.
    #[inline]
    pub(crate) fn handle_batch(&mut self, msgs: &[AckMsg], mut verdict: impl FnMut(Completion)) {
        const AHEAD: usize = 16;
        for chunk in msgs.chunks(AHEAD) {
            let mut sink = 0u64;
            for m in chunk {
                sink ^= self.pending.touch(m.root());
            }
            std::hint::black_box(sink);
            for &m in chunk {
                if let Some(c) = self.handle(m) {
                    verdict(c);
                }
            }
        }
    }

    /// One timeout period passed: forget the oldest trees (the spouts time them out).
    pub(crate) fn rotate(&mut self) -> usize {
        self.pending.rotate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPOUT: TaskId = TaskId(7);

    fn init(root: u64, xor: u64) -> AckMsg {
        AckMsg::Init {
            root,
            xor,
            spout_task: SPOUT,
            slot: root as u32,
        }
    }

    fn ack(root: u64, xor: u64) -> AckMsg {
        AckMsg::Ack { root, xor }
    }

    fn done(root: u64, outcome: Outcome) -> Option<Completion> {
        Some(Completion {
            spout_task: SPOUT,
            root,
            slot: root as u32,
            outcome,
        })
    }

    #[test]
    fn chain_completes_only_at_the_last_ack() {
        // spout -(e1)-> a -(e2)-> b -(e3)-> c
        let (r, e1, e2, e3) = (1, 0x11, 0x2200, 0x330000);
        let mut a = AckerState::default();
        assert_eq!(a.handle(init(r, e1)), None);
        assert_eq!(a.handle(ack(r, e1 ^ e2)), None);
        assert_eq!(a.handle(ack(r, e2 ^ e3)), None);
        assert_eq!(a.handle(ack(r, e3)), done(r, Outcome::Acked));
        assert_eq!(a.len(), 0);
    }

    #[test]
    fn fan_out_needs_every_branch() {
        // spout -> a (e1); a -> b (e2), a -> c (e3)
        let (r, e1, e2, e3) = (2, 5, 6 << 8, 7 << 16);
        let mut a = AckerState::default();
        a.handle(init(r, e1));
        assert_eq!(a.handle(ack(r, e1 ^ e2 ^ e3)), None);
        assert_eq!(a.handle(ack(r, e3)), None);
        assert_eq!(a.handle(ack(r, e2)), done(r, Outcome::Acked));
    }

    #[test]
    fn diamond_split_and_rejoined() {
        // spout -> a (e1); a -> b (e2), a -> c (e3); b -> d (e4), c -> d (e5)
        let (r, e1, e2, e3, e4, e5) = (3, 1 << 1, 1 << 9, 1 << 17, 1 << 25, 1 << 33);
        let mut a = AckerState::default();
        a.handle(init(r, e1));
        assert_eq!(a.handle(ack(r, e1 ^ e2 ^ e3)), None);
        assert_eq!(a.handle(ack(r, e2 ^ e4)), None);
        assert_eq!(a.handle(ack(r, e3 ^ e5)), None);
        assert_eq!(a.handle(ack(r, e4)), None);
        assert_eq!(a.handle(ack(r, e5)), done(r, Outcome::Acked));
    }

    #[test]
    fn acks_before_init_are_fine() {
        let (r, e1, e2) = (4, 0xabc, 0xdef000);
        let mut a = AckerState::default();
        assert_eq!(a.handle(ack(r, e1 ^ e2)), None);
        assert_eq!(a.handle(ack(r, e2)), None);
        assert_eq!(a.handle(init(r, e1)), done(r, Outcome::Acked));
    }

    #[test]
    fn multi_anchoring_joins_two_trees() {
        // Two spout tuples (roots r1, r2) anchor one joined tuple j.
        // r1: spout -> a (e1); r2: spout -> a (e2)
        // j anchored to both: edge x for anchor 1 (root r1), y for anchor 2 (root r2).
        let (r1, r2, e1, e2, x, y) = (10, 20, 1 << 3, 1 << 13, 1 << 23, 1 << 43);
        let mut a = AckerState::default();
        a.handle(init(r1, e1));
        a.handle(init(r2, e2));
        // a acks both inputs: each ack carries its edge XOR the edge it created.
        assert_eq!(a.handle(ack(r1, e1 ^ x)), None);
        assert_eq!(a.handle(ack(r2, e2 ^ y)), None);
        // j is acked: it carries {r1: x, r2: y}, one ack per root.
        assert_eq!(a.handle(ack(r1, x)), done(r1, Outcome::Acked));
        assert_eq!(a.handle(ack(r2, y)), done(r2, Outcome::Acked));
    }

    #[test]
    fn fail_in_the_middle_fails_the_tree_once() {
        let (r, e1, e2) = (5, 0x10, 0x2000);
        let mut a = AckerState::default();
        a.handle(init(r, e1));
        a.handle(ack(r, e1 ^ e2));
        assert_eq!(a.handle(AckMsg::Fail { root: r }), done(r, Outcome::Failed));
        // The tree is gone: later acks do not revive or complete it.
        assert_eq!(a.handle(ack(r, e2)), None);
        assert_eq!(
            a.len(),
            1,
            "a late ack leaves an orphan entry until rotation"
        );
        for _ in 0..BUCKETS {
            a.rotate();
        }
        assert_eq!(a.len(), 0);
    }

    #[test]
    fn fail_before_init_is_reported_at_init() {
        let mut a = AckerState::default();
        assert_eq!(a.handle(AckMsg::Fail { root: 6 }), None);
        assert_eq!(a.handle(init(6, 9)), done(6, Outcome::Failed));
    }

    #[test]
    fn ack_after_timeout_is_dropped() {
        let (r, e1) = (7, 0x77);
        let mut a = AckerState::default();
        a.handle(init(r, e1));
        for _ in 0..BUCKETS {
            a.rotate();
        }
        assert_eq!(a.len(), 0, "the tree expired");
        // The late ack finds no init: it completes nothing.
        assert_eq!(a.handle(ack(r, e1)), None);
    }

    #[test]
    fn reset_keeps_the_tree_and_tells_the_spout() {
        let mut a = AckerState::default();
        a.handle(init(8, 1));
        assert_eq!(
            a.handle(AckMsg::Reset { root: 8 }),
            done(8, Outcome::ResetTimeout)
        );
        assert_eq!(a.handle(ack(8, 1)), done(8, Outcome::Acked));
    }
}
