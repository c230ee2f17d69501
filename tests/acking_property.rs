//! Property: whatever the DAG shape, parallelism and groupings, and whichever of its
//! bolts fails or drops inputs (on the first attempt of a message only), a reliable
//! finite spout ends up with every message acked exactly once, none lost, and a replay
//! for every failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use squall_runtime::testing::complete_topology;
use squall_runtime::{
    Bolt, BoltCollector, ComponentError, MessageId, OutputDeclarer, Registry, Spout,
    SpoutCollector, TopologyContext, Tuple, values,
};

/// Generous: a case with drops needs 1 to 2 s (one message timeout) plus replays.
const TIMEOUT: Duration = Duration::from_secs(40);

#[derive(Debug, Clone, Copy)]
enum Grouping {
    Shuffle,
    Fields,
    All,
}

impl Grouping {
    fn yaml(self) -> &'static str {
        match self {
            Grouping::Shuffle => "{type: SHUFFLE}",
            Grouping::Fields => "{type: FIELDS, args: [n]}",
            Grouping::All => "{type: ALL}",
        }
    }
}

/// One bolt of the DAG: its parallelism and the components it reads (0 = the spout,
/// k = bolt k-1).
#[derive(Debug, Clone)]
struct BoltShape {
    parallelism: u32,
    inputs: Vec<(usize, Grouping)>,
}

/// A generated topology.
#[derive(Debug, Clone)]
struct Shape {
    messages: i64,
    /// In topological order.
    bolts: Vec<BoltShape>,
    /// Index of the flaky bolt.
    flaky: usize,
    fail: f64,
    drop: f64,
    seed: u64,
}

fn component_id(k: usize) -> String {
    if k == 0 {
        "src".into()
    } else {
        format!("b{}", k - 1)
    }
}

impl Shape {
    fn yaml(&self) -> String {
        let mut y = String::from(
            "name: property\nconfig: {topology.message.timeout.secs: 1}\n\
             spouts: [{id: src, className: Seq}]\nbolts:\n",
        );
        for (i, b) in self.bolts.iter().enumerate() {
            let class = if i == self.flaky { "Flaky" } else { "Relay" };
            y.push_str(&format!(
                "  - {{id: b{i}, className: {class}, parallelism: {}}}\n",
                b.parallelism
            ));
        }
        y.push_str("streams:\n");
        for (i, b) in self.bolts.iter().enumerate() {
            for &(from, g) in &b.inputs {
                y.push_str(&format!(
                    "  - {{from: {}, to: b{i}, grouping: {}}}\n",
                    component_id(from),
                    g.yaml()
                ));
            }
        }
        y
    }

    /// What the flaky bolt does to the first copy of message `n` it sees.
    fn decision(&self, n: i64) -> Decision {
        decide(self.seed, n, self.fail, self.drop)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Pass,
    Fail,
    Drop,
}

fn decide(seed: u64, n: i64, fail: f64, drop: f64) -> Decision {
    // splitmix64
    let mut z = seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let u = (z >> 11) as f64 / (1u64 << 53) as f64;
    if u < fail {
        Decision::Fail
    } else if u < fail + drop {
        Decision::Drop
    } else {
        Decision::Pass
    }
}

fn grouping() -> impl Strategy<Value = Grouping> {
    prop_oneof![
        Just(Grouping::Shuffle),
        Just(Grouping::Fields),
        Just(Grouping::All)
    ]
}

/// Per bolt: parallelism, pick of its main input (in the layer before), grouping, and
/// maybe a second input from any earlier layer.
type RawBolt = (u32, u8, Grouping, Option<(u8, Grouping)>);

fn build(
    messages: i64,
    widths: Vec<usize>,
    raw: Vec<RawBolt>,
    flaky: u8,
    fail: f64,
    drop: f64,
    seed: u64,
) -> Shape {
    let mut bolts = Vec::new();
    // Component numbers (0 = spout) of the previous layer and of every earlier one.
    let mut previous = vec![0usize];
    let mut earlier = vec![0usize];
    let mut raw = raw.into_iter();
    for width in widths {
        let mut layer = Vec::new();
        for _ in 0..width {
            let (parallelism, pick, g, extra) = raw.next().expect("enough raw bolts");
            let main = previous[pick as usize % previous.len()];
            let mut inputs = vec![(main, g)];
            if let Some((pick, g)) = extra {
                let others: Vec<usize> = earlier.iter().copied().filter(|c| *c != main).collect();
                if !others.is_empty() {
                    inputs.push((others[pick as usize % others.len()], g));
                }
            }
            bolts.push(BoltShape {
                parallelism,
                inputs,
            });
            layer.push(bolts.len());
        }
        earlier.extend(&layer);
        previous = layer;
    }
    let flaky = flaky as usize % bolts.len();
    Shape {
        messages,
        bolts,
        flaky,
        fail,
        drop,
        seed,
    }
}

/// 1 to 3 layers of 1 or 2 bolts each.
fn shape(drop: BoxedStrategy<f64>) -> impl Strategy<Value = Shape> {
    (
        20i64..200,
        prop::collection::vec(1usize..=2, 1..=3),
        prop::collection::vec(
            (
                1u32..=3,
                any::<u8>(),
                grouping(),
                prop::option::of((any::<u8>(), grouping())),
            ),
            6,
        ),
        any::<u8>(),
        0.0..0.3f64,
        drop,
        any::<u64>(),
    )
        .prop_map(|(m, w, r, f, fail, drop, seed)| build(m, w, r, f, fail, drop, seed))
}

/// What the components saw.
#[derive(Debug, Default)]
struct Log {
    acked: Mutex<Vec<i64>>,
    failed: Mutex<Vec<i64>>,
    /// Messages each bolt saw at least once.
    seen: Mutex<BTreeMap<String, BTreeSet<i64>>>,
    /// Messages the flaky bolt has seen (any task).
    first: Mutex<HashSet<i64>>,
}

/// `0..count` (field `n`) with message id `n`; failed ids are replayed.
struct Seq {
    count: i64,
    next: i64,
    replay: Vec<i64>,
    log: Arc<Log>,
}

impl Spout for Seq {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        let id = match self.replay.pop() {
            Some(id) => id,
            None if self.next < self.count => {
                self.next += 1;
                self.next - 1
            }
            None => return Ok(()),
        };
        out.emit_id(values![id], id as MessageId)?;
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.count && self.replay.is_empty()
    }

    fn ack(&mut self, id: MessageId) {
        self.log.acked.lock().unwrap().push(id as i64);
    }

    fn fail(&mut self, id: MessageId) {
        self.log.failed.lock().unwrap().push(id as i64);
        self.replay.push(id as i64);
    }
}

/// Passes `n` on anchored and acks; as the flaky bolt, the first copy of each message
/// it ever sees is failed or dropped (neither acked nor failed) as `decide` says.
struct Relay {
    component: String,
    flaky: Option<(u64, f64, f64)>,
    log: Arc<Log>,
}

#[squall_runtime::async_trait]
impl Bolt for Relay {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n"]);
    }

    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.component = ctx.this_component().to_string();
        Ok(())
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let n = input.get_i64(0)?;
        self.log
            .seen
            .lock()
            .unwrap()
            .entry(self.component.clone())
            .or_default()
            .insert(n);
        if let Some((seed, fail, drop)) = self.flaky
            && self.log.first.lock().unwrap().insert(n)
        {
            match decide(seed, n, fail, drop) {
                Decision::Fail => {
                    out.fail(&input);
                    return Ok(());
                }
                Decision::Drop => return Ok(()),
                Decision::Pass => {}
            }
        }
        out.emit_anchored(&input, values![n])?;
        out.ack(&input);
        Ok(())
    }
}

fn registry(shape: &Shape, log: &Arc<Log>) -> Registry {
    let mut reg = Registry::new();
    let (l, count) = (log.clone(), shape.messages);
    reg.spout("Seq", move |_| {
        Ok(Seq {
            count,
            next: 0,
            replay: Vec::new(),
            log: l.clone(),
        })
    });
    let l = log.clone();
    reg.bolt("Relay", move |_| {
        Ok(Relay {
            component: String::new(),
            flaky: None,
            log: l.clone(),
        })
    });
    let l = log.clone();
    let flaky = (shape.seed, shape.fail, shape.drop);
    reg.bolt("Flaky", move |_| {
        Ok(Relay {
            component: String::new(),
            flaky: Some(flaky),
            log: l.clone(),
        })
    });
    reg
}

fn check(shape: &Shape) -> Result<(), TestCaseError> {
    let log = Arc::new(Log::default());
    let reg = registry(shape, &log);
    let yaml = shape.yaml();
    let report = complete_topology(&reg, &yaml, TIMEOUT)
        .map_err(|e| TestCaseError::fail(format!("did not complete: {e}\n{yaml}")))?;
    let n = shape.messages;
    let all: Vec<i64> = (0..n).collect();
    let mut acked = log.acked.lock().unwrap().clone();
    acked.sort_unstable();
    prop_assert_eq!(&acked, &all, "every message acked exactly once\n{}", yaml);
    let src = &report.components["src"];
    prop_assert_eq!(src.acked, n as u64, "{:?}", src);
    prop_assert_eq!(src.failed, src.replayed, "a replay per failure: {:?}", src);
    prop_assert_eq!(src.emitted, n as u64 + src.replayed, "{:?}", src);
    prop_assert_eq!(src.failed, log.failed.lock().unwrap().len() as u64);
    let disrupted = (0..n)
        .filter(|&m| shape.decision(m) != Decision::Pass)
        .count() as u64;
    prop_assert!(
        src.failed >= disrupted,
        "{} messages were failed or dropped, the spout saw {} failures\n{}",
        disrupted,
        src.failed,
        yaml
    );
    let full: BTreeSet<i64> = all.iter().copied().collect();
    let seen = log.seen.lock().unwrap();
    for i in 0..shape.bolts.len() {
        let id = format!("b{i}");
        prop_assert_eq!(seen.get(&id), Some(&full), "messages {} saw\n{}", id, yaml);
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 16,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(16))]

    /// Failures only: replays are immediate, so cases are fast.
    #[test]
    fn failed_first_attempts_are_replayed_until_acked(shape in shape(Just(0.0).boxed())) {
        check(&shape)?;
    }
}

proptest! {
    #![proptest_config(config(8))]

    /// Drops too: each such case waits for one message timeout (1 to 2 s).
    #[test]
    fn dropped_first_attempts_time_out_and_are_replayed(
        shape in shape((0.01..0.2f64).boxed())
    ) {
        check(&shape)?;
    }
}

#[test]
fn shapes_cover_fan_in_and_every_grouping() {
    // The generator reaches what the property is about.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut fan_in, mut deep) = (false, false);
    let mut groupings = BTreeSet::new();
    for _ in 0..200 {
        let s = shape((0.0..0.2f64).boxed())
            .new_tree(&mut runner)
            .unwrap()
            .current();
        fan_in |= s.bolts.iter().any(|b| b.inputs.len() > 1);
        deep |= s.bolts.iter().any(|b| b.inputs.iter().all(|(f, _)| *f > 0));
        for b in &s.bolts {
            for (_, g) in &b.inputs {
                groupings.insert(format!("{g:?}"));
            }
        }
        assert!(s.yaml().contains("className: Flaky"));
    }
    assert!(fan_in && deep);
    assert_eq!(groupings.len(), 3, "{groupings:?}");
}
