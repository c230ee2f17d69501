//! How a batch is named on the wire: a transaction attempt packed into one integer, how
//! the master numbers attempts so that a later one is always newer, and the stream names
//! the compiled topology uses.
//!
//! A wire attempt is 24 bits: the master's epoch (how many times it started, and
//! whenever one run used up its attempts) in the high 12 bits, the attempt of the txid
//! within that epoch in the low 12. Bolts keep the newest attempt of each txid and
//! compare attempts in serial-number arithmetic ([`is_newer`]), so the epoch field
//! wrapping from 4095 to 0 is still "newer"; a run that would start a 4097th attempt of
//! one txid starts a new epoch first ([`WireAttempts`]), so the low field never wraps.
//! What remains bounded: a bolt must not hold a stale attempt of an uncommitted txid for
//! 2048 epochs without seeing a newer one.

use std::collections::HashMap;

use super::coordinator::TransactionAttempt;
use crate::Value;

/// Stream of the master coordinator that starts a batch: `[$tx, $meta]`.
pub const BATCH_STREAM: &str = "$batch";
/// Stream of the master coordinator that commits a batch: `[$tx]`.
pub const COMMIT_STREAM: &str = "$commit";
/// Direct stream on which a task tells each downstream task how many tuples of a batch
/// it sent it: `[$tx, $count]`.
pub const COORD_STREAM: &str = "$coord";
/// Name of the first field of every Trident tuple: the packed batch id.
pub const TX_FIELD: &str = "$tx";
/// Component id of the master batch coordinator spout.
pub const MASTER_ID: &str = "$mastercoord";

const ATTEMPT_BITS: u32 = 24;
const ATTEMPT_MASK: u64 = (1 << ATTEMPT_BITS) - 1;

/// Pack a transaction attempt into a tuple value (txid in the high bits).
pub fn pack(ta: TransactionAttempt) -> Value {
    Value::Int(((ta.txid << ATTEMPT_BITS) | (u64::from(ta.attempt) & ATTEMPT_MASK)) as i64)
}

/// Unpack a value made by [`pack`]; `None` if it is not an integer.
pub fn unpack(v: &Value) -> Option<TransactionAttempt> {
    let raw = v.as_i64()? as u64;
    Some(TransactionAttempt {
        txid: raw >> ATTEMPT_BITS,
        attempt: (raw & ATTEMPT_MASK) as u32,
    })
}

/// Largest attempt number that survives packing.
pub const MAX_ATTEMPT: u32 = ATTEMPT_MASK as u32;

/// Bits of a wire attempt that count attempts within one epoch.
const LOW_BITS: u32 = 12;
/// Attempts of one txid one epoch can name.
const ATTEMPTS_PER_EPOCH: u32 = 1 << LOW_BITS;
const EPOCH_MASK: u32 = (1 << (ATTEMPT_BITS - LOW_BITS)) - 1;

/// Whether wire attempt `a` is newer than `b` (of the same txid): serial-number
/// arithmetic over the 24 bits (RFC 1982), so the epoch field wrapping round is newer.
pub fn is_newer(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b) & MAX_ATTEMPT;
    d != 0 && d < (1 << (ATTEMPT_BITS - 1))
}

/// The master's numbering of attempts on the wire: `(epoch << 12) | n` for the `n`th
/// start of a txid in the current epoch.
#[derive(Debug, Default)]
pub(crate) struct WireAttempts {
    epoch: u32,
    /// Starts of each txid in the current epoch.
    used: HashMap<u64, u32>,
    /// The latest wire attempt of each txid not yet committed.
    latest: HashMap<u64, u32>,
}

impl WireAttempts {
    /// Numbering in `epoch` (the durable start count of the master).
    pub fn new(epoch: u32) -> WireAttempts {
        WireAttempts {
            epoch,
            ..WireAttempts::default()
        }
    }

    /// The current epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The wire attempt of a new start of `txid`, or `None` when this epoch has named
    /// all the attempts of `txid` it can: the caller then records a new epoch durably
    /// and calls [`set_epoch`](Self::set_epoch).
    pub fn start(&mut self, txid: u64) -> Option<u32> {
        let n = self.used.get(&txid).copied().unwrap_or(0);
        if n >= ATTEMPTS_PER_EPOCH {
            return None;
        }
        self.used.insert(txid, n + 1);
        let wire = ((self.epoch & EPOCH_MASK) << LOW_BITS) | n;
        self.latest.insert(txid, wire);
        Some(wire)
    }

    /// Move to `epoch` (newer than the current one): every txid has all its attempts
    /// again, each newer than any named before.
    pub fn set_epoch(&mut self, epoch: u32) {
        self.epoch = epoch;
        self.used.clear();
    }

    /// The latest wire attempt of `txid` (what its commit names).
    pub fn latest(&self, txid: u64) -> Option<u32> {
        self.latest.get(&txid).copied()
    }

    /// `txid` committed: forget it.
    pub fn done(&mut self, txid: u64) {
        self.used.remove(&txid);
        self.latest.remove(&txid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips() {
        for (txid, attempt) in [(1, 0), (7, 3), (1 << 30, MAX_ATTEMPT)] {
            let ta = TransactionAttempt { txid, attempt };
            assert_eq!(unpack(&pack(ta)), Some(ta));
        }
        assert_eq!(unpack(&Value::from("x")), None);
    }

    /// The attempts of one txid, in order, across the epoch field wrapping round and an
    /// epoch that runs out of attempts: each is newer than every one before it.
    #[test]
    fn wire_attempts_never_wrap_into_older() {
        let mut named = Vec::new();
        // Epoch 4095 is the last the 12-bit field holds; 4096 and u32::MAX wrap it.
        let mut w = WireAttempts::new(4095);
        for _ in 0..3 {
            named.push(w.start(7).unwrap());
        }
        w.set_epoch(4096);
        named.push(w.start(7).unwrap());
        // One epoch can name 4096 attempts of a txid, then asks for a new epoch.
        while let Some(a) = w.start(7) {
            named.push(a);
        }
        assert_eq!(named.len(), 3 + 4096);
        assert_eq!(w.latest(7), named.last().copied());
        w.set_epoch(4097);
        named.push(w.start(7).unwrap());
        // The durable epoch counter itself wrapping (u32::MAX + 1 = 0) is newer too.
        let mut last = WireAttempts::new(u32::MAX);
        let before = last.start(7).unwrap();
        last.set_epoch(u32::MAX.wrapping_add(1));
        assert!(is_newer(last.start(7).unwrap(), before));
        for (i, a) in named.iter().enumerate() {
            for b in &named[..i] {
                assert!(is_newer(*a, *b), "attempt {a:#x} must be newer than {b:#x}");
                assert!(!is_newer(*b, *a), "{b:#x} must be older than {a:#x}");
            }
            let ta = TransactionAttempt {
                txid: 7,
                attempt: *a,
            };
            assert_eq!(unpack(&pack(ta)), Some(ta), "survives packing");
        }
        assert!(!is_newer(5, 5));
        w.done(7);
        assert_eq!(w.latest(7), None);
    }
}
