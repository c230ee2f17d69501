//! How a batch is named on the wire: a transaction attempt packed into one integer, and
//! the stream names the compiled topology uses.

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
}
