//! Stateful bolts on a cluster (in one process, `squall::local_cluster`): the checkpoint
//! wiring is added when nimbus checks the topology and again when each worker resolves
//! it, checkpoints cross workers (through a forwarding bolt with two tasks), and the
//! stateful bolt's inputs are acked only at COMMIT.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use squall::local_cluster::{LocalCluster, stock_registry};
use squall_runtime::cluster::protocol::TopologyInfo;
use squall_runtime::state::bolt::{OpenState, StatefulBolt, StatefulCollector};
use squall_runtime::state::{State, StateError};
use squall_runtime::{ComponentError, OutputDeclarer, TopologyContext, Tuple, values};

/// Bound of every wait (real time).
const LIMIT: Duration = Duration::from_secs(20);

/// Word counts in memory, committed at COMMIT.
#[derive(Default)]
struct Counts {
    live: HashMap<String, i64>,
    prepared: Option<HashMap<String, i64>>,
    committed: HashMap<String, i64>,
}

impl State for Counts {
    fn prepare_commit(&mut self, _txid: u64) -> Result<(), StateError> {
        self.prepared = Some(self.live.clone());
        Ok(())
    }
    fn commit(&mut self, _txid: u64) -> Result<(), StateError> {
        if let Some(p) = self.prepared.take() {
            self.committed = p;
        }
        Ok(())
    }
    fn rollback(&mut self) -> Result<(), StateError> {
        self.prepared = None;
        self.live = self.committed.clone();
        Ok(())
    }
}

impl OpenState for Counts {
    fn open(_ctx: &TopologyContext, _namespace: &str) -> Result<Self, StateError> {
        Ok(Counts::default())
    }
}

struct StatefulWordCount;

impl StatefulBolt for StatefulWordCount {
    type State = Counts;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["word", "count"]);
    }

    fn execute(
        &mut self,
        input: Tuple,
        state: &mut Counts,
        out: &mut StatefulCollector<'_>,
    ) -> Result<(), ComponentError> {
        let word = input.get_str(0)?.to_string();
        let n = state.live.entry(word.clone()).or_insert(0);
        *n += 1;
        let n = *n;
        out.emit(&input, values![word, n])?;
        out.ack(&input);
        Ok(())
    }
}

const YAML: &str = r#"name: stateful
config:
  topology.workers: 2
  topology.max.spout.pending: 200
  topology.state.checkpoint.interval.ms: 100
spouts:
  - id: spout
    className: ConstSpout
    constructorArgs: [0, 200]
bolts:
  - id: split
    className: SplitSentenceBolt
    parallelism: 2
  - id: count
    className: StatefulWordCount
    parallelism: 2
streams:
  - from: spout
    to: split
    grouping: {type: SHUFFLE}
  - from: split
    to: count
    grouping: {type: FIELDS, args: ["word"]}
"#;

fn counter(
    info: &TopologyInfo,
    component: &str,
    f: fn(&squall_runtime::stats::Counters) -> u64,
) -> u64 {
    info.components.get(component).map_or(0, |c| f(&c.counters))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_commit_a_stateful_bolt_across_two_workers() {
    let mut registry = stock_registry();
    registry.stateful_bolt("StatefulWordCount", |_| Ok(StatefulWordCount));
    let c = LocalCluster::builder()
        .supervisors(2)
        .slots_per_supervisor(1)
        .registry(registry)
        .start()
        .await
        .expect("local cluster");
    c.submit(YAML).await.expect("submit");
    // The stateful bolt acks its inputs at COMMIT only: its acks beyond the first
    // three checkpoint tuples per task, and the spout's completed trees, prove that
    // checkpoints complete across the workers. The cluster runs on a manual clock: move
    // it so the checkpoint interval (and the spout's rate limit) elapse.
    let done = |t: &TopologyInfo| {
        counter(t, "spout", |c| c.acked) > 0 && counter(t, "count", |c| c.acked) > 20
    };
    let info = c
        .wait_until("commits acking the spout's tuples", LIMIT, || async {
            c.advance(Duration::from_millis(150)).await.ok()?;
            let info = c.status("stateful").await.ok()?;
            done(&info).then_some(info)
        })
        .await;
    let info = match info {
        Ok(info) => info,
        Err(e) => {
            let now = c.status("stateful").await.expect("status");
            let counts: Vec<_> = now
                .components
                .iter()
                .map(|(k, v)| (k.clone(), v.counters))
                .collect();
            panic!("checkpoints did not complete: {e:?}\ncounters: {counts:#?}");
        }
    };
    assert_eq!(info.assignment.len(), 2, "{:?}", info.assignment);
    assert_eq!(counter(&info, "spout", |c| c.failed), 0);
    c.shutdown().await;
}
