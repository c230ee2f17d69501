//! Codec round trips and decode errors.

use std::sync::Arc;

use super::*;
use crate::api::ids::TaskId;
use crate::api::tuple::{Anchors, Fields, StreamSchema, Tuple, Values};
use crate::api::value::Value;
use crate::engine::acking::{AckMsg, Completion, Outcome};
use crate::engine::transfer::Envelope;

pub(super) fn schema(component: &str, stream: &str, fields: &[&str]) -> &'static StreamSchema {
    StreamSchema::intern(component, stream, &Fields::new(fields.iter().copied()))
}

pub(super) fn table() -> SchemaTable {
    SchemaTable::from_schemas([
        schema("split", "default", &["word"]),
        multi(),
        schema("empty", "e", &[]),
        schema("spout", "default", &["word"]),
    ])
    .unwrap()
}

pub(super) fn frame_of(env: &Envelope, t: &SchemaTable) -> Vec<u8> {
    let mut out = Vec::new();
    encode(env, t, &mut out).unwrap();
    out
}

fn round_trip(env: &Envelope, t: &SchemaTable) -> Envelope {
    decode(&frame_of(env, t), t).unwrap()
}

pub(super) fn every_value() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Bool(false),
        Value::Bool(true),
        Value::Int(0),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::Float(-1.5e300),
        Value::from("short"),
        Value::from("a string longer than twenty-four bytes, héhé ✓"),
        Value::Bytes(Arc::from(&[0u8, 255, 7][..])),
        Value::List(Arc::from(vec![
            Value::Int(-3),
            Value::List(Arc::from(vec![
                Value::from(""),
                Value::Bytes(Arc::from(&[][..])),
            ])),
        ])),
    ]
}

fn multi() -> &'static StreamSchema {
    schema(
        "multi",
        "s",
        &["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
    )
}

/// A tuple on the 10-field stream whose values come from `vals`.
pub(super) fn multi_tuple(vals: &[Value], anchors: Anchors) -> Tuple {
    let values: Values = vals.iter().cloned().collect();
    Tuple::with_anchors(values, multi(), TaskId(7), anchors)
}

#[test]
fn every_value_variant_and_anchor_shape_round_trips() {
    let t = table();
    let vals = every_value();
    let many: Arc<[(u64, u64)]> = Arc::from(vec![(1, 2), (u64::MAX, 0), (5, 6)]);
    let tuples = vec![
        multi_tuple(&vals[..10], Anchors::None),
        multi_tuple(&vals[1..], Anchors::One((42, u64::MAX))),
        multi_tuple(&vals[..10], Anchors::Many(many)),
        Tuple::new(Values::new(), schema("empty", "e", &[]), TaskId::SYSTEM),
    ];
    let env = Envelope::Batch {
        task: TaskId(u32::MAX - 1),
        tuples,
    };
    let Envelope::Batch { task, tuples: got } = round_trip(&env, &t) else {
        panic!("not a batch")
    };
    let Envelope::Batch { tuples: want, .. } = env else {
        unreachable!()
    };
    assert_eq!(task, TaskId(u32::MAX - 1));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!(
            std::ptr::eq(g.schema(), w.schema()),
            "schema is the interned one"
        );
        assert_eq!(g.values(), w.values());
        assert_eq!(g.source_task(), w.source_task());
        assert_eq!(g.anchors(), w.anchors());
    }
}

#[test]
fn float_bits_survive() {
    let t = table();
    let nan = f64::from_bits(0x7ff8_0000_dead_beef);
    let tuple = Tuple::new(
        Values::from(Value::Float(nan)),
        schema("split", "default", &["word"]),
        TaskId(1),
    );
    let env = Envelope::Batch {
        task: TaskId(2),
        tuples: vec![tuple],
    };
    let Envelope::Batch { tuples, .. } = round_trip(&env, &t) else {
        panic!()
    };
    let Value::Float(f) = tuples[0].values()[0] else {
        panic!()
    };
    assert_eq!(f.to_bits(), nan.to_bits());
}

#[test]
fn acker_and_completion_batches_round_trip() {
    let t = table();
    let msgs = vec![
        AckMsg::Init {
            root: u64::MAX,
            xor: 3,
            spout_task: TaskId(9),
            slot: u32::MAX,
        },
        AckMsg::Ack { root: 1, xor: 0 },
        AckMsg::Fail { root: 77 },
        AckMsg::Reset { root: 0 },
    ];
    let env = Envelope::Acks {
        task: TaskId(4),
        msgs: msgs.clone(),
    };
    match round_trip(&env, &t) {
        Envelope::Acks { task, msgs: got } => {
            assert_eq!(task, TaskId(4));
            assert_eq!(got, msgs);
        }
        other => panic!("{other:?}"),
    }
    let done: Vec<Completion> = [Outcome::Acked, Outcome::Failed, Outcome::ResetTimeout]
        .into_iter()
        .enumerate()
        .map(|(i, outcome)| Completion {
            spout_task: TaskId(i as u32),
            root: u64::MAX - i as u64,
            slot: i as u32 * 1000,
            outcome,
        })
        .collect();
    match round_trip(&Envelope::Completions(done.clone()), &t) {
        Envelope::Completions(got) => assert_eq!(got, done),
        other => panic!("{other:?}"),
    }
}

#[test]
fn handshake_round_trips_and_checks_magic_and_version() {
    let h = Handshake {
        topology_id: "wordcount-7".into(),
        worker_id: "w1:6700".into(),
        schema_digest: table().digest(),
        nonce: [7; super::NONCE_LEN],
        frame_mac: true,
    };
    let mut out = Vec::new();
    encode_handshake(&h, &mut out).unwrap();
    let mut proof = Vec::new();
    super::encode_proof(&[5; super::PROOF_LEN], &mut proof).unwrap();
    assert_eq!(super::decode_proof(&proof).unwrap(), [5; super::PROOF_LEN]);
    assert!(super::decode_proof(&out).is_err());
    assert!(decode_handshake(&proof).is_err());
    assert_eq!(decode_handshake(&out).unwrap(), h);
    let mut bad = out.clone();
    bad[HEADER_LEN] = b'X';
    assert!(matches!(
        decode_handshake(&bad),
        Err(WireError::BadMagic { .. })
    ));
    let mut bad = out.clone();
    bad[HEADER_LEN + 4] = 9;
    assert!(matches!(
        decode_handshake(&bad),
        Err(WireError::Version { theirs: 9, .. })
    ));
    // A handshake is not data, and data is not a handshake.
    assert!(matches!(
        decode(&out, &table()),
        Err(WireError::UnexpectedKind { .. })
    ));
}

#[test]
fn schema_table_is_deterministic() {
    let a = table();
    let b = SchemaTable::from_schemas(
        a.schemas()
            .iter()
            .rev()
            .copied()
            .chain([StreamSchema::tick(), schema("split", "default", &["word"])]),
    )
    .unwrap();
    assert_eq!(a.schemas(), b.schemas());
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.len(), 4);
    assert_eq!(a.get(0).unwrap().component, "empty");
    let c = SchemaTable::from_schemas([schema("split", "default", &["other"])]).unwrap();
    assert_ne!(a.digest(), c.digest());
}

#[test]
fn local_only_envelopes_and_unknown_streams_are_refused() {
    let t = table();
    let mut out = vec![1, 2, 3];
    let refuse = |env: Envelope, out: &mut Vec<u8>| encode(&env, &t, out).unwrap_err();
    assert!(matches!(
        refuse(Envelope::Stop, &mut out),
        WireError::NotSendable { what: "stop" }
    ));
    assert!(matches!(
        refuse(Envelope::Tick { freq_secs: 1 }, &mut out),
        WireError::NotSendable { .. }
    ));
    let tick = Envelope::Batch {
        task: TaskId(1),
        tuples: vec![Tuple::tick(1)],
    };
    assert!(matches!(
        refuse(tick, &mut out),
        WireError::NotSendable { .. }
    ));
    let other = Tuple::new(
        Values::from(Value::Null),
        schema("nope", "x", &["a"]),
        TaskId(1),
    );
    let env = Envelope::Batch {
        task: TaskId(1),
        tuples: vec![other],
    };
    assert!(matches!(
        refuse(env, &mut out),
        WireError::SchemaNotInTable { .. }
    ));
    let arity = Tuple::new(
        Values::new(),
        schema("split", "default", &["word"]),
        TaskId(1),
    );
    let env = Envelope::Batch {
        task: TaskId(1),
        tuples: vec![arity],
    };
    assert!(matches!(refuse(env, &mut out), WireError::Arity { .. }));
    assert_eq!(
        out,
        [1, 2, 3],
        "a failed encode leaves the buffer as it was"
    );
}

#[test]
fn schema_table_from_a_topology_lists_every_declared_stream() {
    use crate::api::registry::Registry;
    use crate::engine::testing::{FixedSpout, validate_yaml};
    let mut registry = Registry::new();
    registry.spout("Words", |_| Ok(FixedSpout::new(&["word"], vec![])));
    registry.spout("Pairs", |_| Ok(FixedSpout::new(&["k", "v"], vec![])));
    let yaml =
        "name: t\nspouts:\n  - {id: words, className: Words}\n  - {id: pairs, className: Pairs}\n";
    let topo = validate_yaml(&registry, yaml).unwrap();
    let a = SchemaTable::from_topology(&topo).unwrap();
    let b = SchemaTable::from_topology(&topo).unwrap();
    assert_eq!(a.digest(), b.digest());
    let names: Vec<_> = a
        .schemas()
        .iter()
        .map(|s| (s.component.as_str(), s.stream.as_str(), s.fields.len()))
        .collect();
    assert_eq!(names, [("pairs", "default", 2), ("words", "default", 1)]);
    assert!(std::ptr::eq(
        a.get(1).unwrap(),
        schema("words", "default", &["word"])
    ));
}
