//! A spout task's messages in flight, in a slab: the acker echoes each message's slot
//! index back with its verdict, so completing a message is an array access, not a hash
//! lookup. The root id stored in the slot guards against a verdict for an earlier
//! occupant of the slot (a late ack after a timeout).

use crate::api::ids::MessageId;

/// A tracked spout message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingMsg {
    /// The spout's message id.
    pub(crate) id: MessageId,
    /// Emit time in raw ticks of the spout's [`Ticks`](crate::engine::metrics::ticks::Ticks),
    /// for the sampled ones (complete latency).
    pub(crate) emitted: Option<u64>,
    /// Index of the output stream the root was emitted on (per-stream acked/failed).
    pub(crate) stream: u16,
}

#[derive(Debug)]
struct Slot {
    root: u64,
    epoch: u64,
    msg: Option<PendingMsg>,
}

/// Messages in flight; entries expire on the second rotation after their insert (so
/// between one and two rotation periods, like Storm's two-bucket map).
#[derive(Debug, Default)]
pub(crate) struct PendingSlab {
    slots: Vec<Slot>,
    free: Vec<u32>,
    len: usize,
    epoch: u64,
}

/// Rotations an entry survives.
const BUCKETS: u64 = 2;

impl PendingSlab {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Track `msg` under `root`; returns its slot index.
    #[inline]
    pub(crate) fn insert(&mut self, root: u64, msg: PendingMsg) -> u32 {
        self.len += 1;
        let slot = Slot {
            root,
            epoch: self.epoch,
            msg: Some(msg),
        };
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Remove the message in `slot` if it is still `root`'s.
    #[inline]
    pub(crate) fn remove(&mut self, slot: u32, root: u64) -> Option<PendingMsg> {
        let s = self.slots.get_mut(slot as usize)?;
        if s.root != root {
            return None;
        }
        let msg = s.msg.take()?;
        self.len -= 1;
        self.free.push(slot);
        Some(msg)
    }

    /// Restart the timeout of the message in `slot` if it is still `root`'s.
    pub(crate) fn refresh(&mut self, slot: u32, root: u64) {
        if let Some(s) = self.slots.get_mut(slot as usize)
            && s.root == root
            && s.msg.is_some()
        {
            s.epoch = self.epoch;
        }
    }

    /// One timeout period passed: remove and return the messages that expire now.
    pub(crate) fn rotate(&mut self) -> Vec<PendingMsg> {
        self.epoch += 1;
        let mut expired = Vec::new();
        for (i, s) in self.slots.iter_mut().enumerate() {
            if s.msg.is_some() && self.epoch - s.epoch >= BUCKETS {
                if let Some(m) = s.msg.take() {
                    expired.push(m);
                }
                self.free.push(i as u32);
            }
        }
        self.len -= expired.len();
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: MessageId) -> PendingMsg {
        PendingMsg {
            id,
            emitted: None,
            stream: 0,
        }
    }

    #[test]
    fn remove_checks_the_root_and_slots_are_reused() {
        let mut p = PendingSlab::default();
        let a = p.insert(100, msg(1));
        let b = p.insert(200, msg(2));
        assert_eq!(p.len(), 2);
        assert!(p.remove(a, 999).is_none(), "wrong root");
        assert_eq!(p.remove(a, 100).map(|m| m.id), Some(1));
        assert!(p.remove(a, 100).is_none(), "already removed");
        let c = p.insert(300, msg(3));
        assert_eq!(c, a, "slot reused");
        assert!(
            p.remove(c, 100).is_none(),
            "a late verdict for the old root is ignored"
        );
        assert_eq!(p.remove(b, 200).map(|m| m.id), Some(2));
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn expiry_after_two_rotations_unless_refreshed() {
        let mut p = PendingSlab::default();
        let a = p.insert(1, msg(1));
        let b = p.insert(2, msg(2));
        assert!(p.rotate().is_empty());
        p.refresh(b, 2);
        let expired: Vec<_> = p.rotate().iter().map(|m| m.id).collect();
        assert_eq!(expired, vec![1]);
        assert!(p.remove(a, 1).is_none());
        assert_eq!(p.len(), 1);
        assert_eq!(p.rotate().len(), 1);
        assert!(p.is_empty());
    }
}
