//! Property tests: random tuples, acker messages and completions round-trip exactly;
//! random bytes never panic the decoder.

use std::sync::Arc;

use proptest::prelude::*;

use super::tests::{schema, table};
use super::*;
use crate::api::ids::TaskId;
use crate::api::tuple::{Anchors, StreamSchema, Tuple, Values};
use crate::api::value::Value;
use crate::engine::acking::{AckMsg, Completion, Outcome};
use crate::engine::transfer::Envelope;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(|b| Value::Float(f64::from_bits(b))),
        ".{0,40}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        proptest::collection::vec(inner, 0..6).prop_map(|l| Value::List(Arc::from(l)))
    })
}

/// Equal values, floats compared by bits (NaN included).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Int(_), Value::Float(_)) | (Value::Float(_), Value::Int(_)) => false,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

fn schemas() -> Vec<&'static StreamSchema> {
    table().schemas().to_vec()
}

fn anchors() -> impl Strategy<Value = Anchors> {
    prop_oneof![
        Just(Anchors::None),
        any::<(u64, u64)>().prop_map(Anchors::One),
        proptest::collection::vec(any::<(u64, u64)>(), 2..5)
            .prop_map(|v| Anchors::Many(Arc::from(v))),
    ]
}

fn tuple() -> impl Strategy<Value = Tuple> {
    (0..schemas().len(), any::<u32>(), anchors()).prop_flat_map(|(i, source, anchors)| {
        let s = schemas()[i];
        proptest::collection::vec(value(), s.fields.len()).prop_map(move |vals| {
            let values: Values = vals.into_iter().collect();
            Tuple::with_anchors(values, s, TaskId(source), anchors.clone())
        })
    })
}

fn ack_msg() -> impl Strategy<Value = AckMsg> {
    prop_oneof![
        (any::<u64>(), any::<u64>(), any::<u32>(), any::<u32>()).prop_map(
            |(root, xor, t, slot)| {
                AckMsg::Init {
                    root,
                    xor,
                    spout_task: TaskId(t),
                    slot,
                }
            }
        ),
        (any::<u64>(), any::<u64>()).prop_map(|(root, xor)| AckMsg::Ack { root, xor }),
        any::<u64>().prop_map(|root| AckMsg::Fail { root }),
        any::<u64>().prop_map(|root| AckMsg::Reset { root }),
    ]
}

fn completion() -> impl Strategy<Value = Completion> {
    let outcome = prop_oneof![
        Just(Outcome::Acked),
        Just(Outcome::Failed),
        Just(Outcome::ResetTimeout)
    ];
    (any::<u32>(), any::<u64>(), any::<u32>(), outcome).prop_map(|(t, root, slot, outcome)| {
        Completion {
            spout_task: TaskId(t),
            root,
            slot,
            outcome,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn tuple_batches_round_trip(task in any::<u32>(), tuples in proptest::collection::vec(tuple(), 0..20)) {
        let t = table();
        let mut frame = Vec::new();
        encode_tuples(TaskId(task), &tuples, &t, &mut frame).unwrap();
        let (got_task, got) = decode_tuples(&frame, &t).unwrap();
        prop_assert_eq!(got_task, TaskId(task));
        prop_assert_eq!(got.len(), tuples.len());
        for (g, w) in got.iter().zip(&tuples) {
            prop_assert!(std::ptr::eq(g.schema(), w.schema()));
            prop_assert_eq!(g.source_task(), w.source_task());
            prop_assert_eq!(g.anchors(), w.anchors());
            prop_assert_eq!(g.len(), w.len());
            for (a, b) in g.values().iter().zip(w.values().iter()) {
                prop_assert!(same(a, b), "{:?} != {:?}", a, b);
            }
        }
        // Re-encoding the decoded tuples gives the same bytes.
        let mut again = Vec::new();
        encode_tuples(TaskId(task), &got, &t, &mut again).unwrap();
        prop_assert_eq!(again, frame);
    }

    #[test]
    fn acker_batches_round_trip(task in any::<u32>(), msgs in proptest::collection::vec(ack_msg(), 0..50)) {
        let t = table();
        let mut frame = Vec::new();
        encode(&Envelope::Acks { task: TaskId(task), msgs: msgs.clone() }, &t, &mut frame).unwrap();
        match decode(&frame, &t).unwrap() {
            Envelope::Acks { task: got_task, msgs: got } => {
                prop_assert_eq!(got_task, TaskId(task));
                prop_assert_eq!(got, msgs);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn completions_round_trip(msgs in proptest::collection::vec(completion(), 0..50)) {
        let t = table();
        let mut frame = Vec::new();
        encode(&Envelope::Completions(msgs.clone()), &t, &mut frame).unwrap();
        match decode(&frame, &t).unwrap() {
            Envelope::Completions(got) => prop_assert_eq!(got, msgs),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn random_payloads_never_panic(kind in 0u8..6, payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let t = table();
        let mut frame = (payload.len() as u32).to_le_bytes().to_vec();
        frame.push(kind);
        frame.extend_from_slice(&payload);
        let _ = decode(&frame, &t);
        let _ = decode_handshake(&frame);
        let _ = decode(&payload, &t);
    }
}

#[test]
fn word_schema_helper_is_in_the_table() {
    assert!(
        table()
            .index_of(schema("split", "default", &["word"]))
            .is_some()
    );
}
