//! Persistent windows in the real engine (local mode, redb state): a window far larger
//! than its in-memory cap gives exact results with at most the cap in memory, its
//! tuples are acked by the checkpoints, and the topology-level refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::api::collector::SpoutCollector;
use crate::api::component::Spout;
use crate::api::declare::OutputDeclarer;
use crate::api::error::ComponentError;
use crate::api::ids::MessageId;
use crate::api::registry::Registry;
use crate::testing::{complete_topology, validate_yaml};
use crate::values;
use crate::window::persistent::MAX_RESIDENT;
use crate::window::{TupleWindow, WindowedBolt, WindowedCollector};

/// Emits `[id, n]` = `[i, i]` for `i` in `0..total`, message id `i`; replays failures.
struct Numbers {
    total: u64,
    next: u64,
    replay: Vec<u64>,
    acked: &'static AtomicUsize,
    failed: &'static AtomicUsize,
}

impl Spout for Numbers {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["id", "n"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        let i = match self.replay.pop() {
            Some(i) => i,
            None if self.next < self.total => {
                self.next += 1;
                self.next - 1
            }
            None => return Ok(()),
        };
        out.emit_id(values![i as i64, i as i64], i as MessageId)?;
        Ok(())
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.total && self.replay.is_empty()
    }

    fn ack(&mut self, _id: MessageId) {
        self.acked.fetch_add(1, Ordering::Relaxed);
    }

    fn fail(&mut self, id: MessageId) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.replay.push(id);
    }
}

/// Emits `[count, sum of n, new]` per window, reading it with the iterators.
struct IterSum;

impl WindowedBolt for IterSum {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["count", "sum", "new"]);
    }

    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        out: &mut WindowedCollector<'_>,
    ) -> Result<(), ComponentError> {
        assert!(window.is_paged());
        let mut count = 0i64;
        let mut sum = 0i64;
        for t in window.get_iter() {
            count += 1;
            sum += t.i64_by_field("n")?;
        }
        assert_eq!(count as usize, window.len());
        let new = window.get_new_iter().count() as i64;
        out.emit(values![count, sum, new])?;
        Ok(())
    }
}

fn registry(total: u64, acked: &'static AtomicUsize, failed: &'static AtomicUsize) -> Registry {
    let mut r = Registry::new();
    r.spout("Numbers", move |_| {
        Ok(Numbers {
            total,
            next: 0,
            replay: Vec::new(),
            acked,
            failed,
        })
    });
    r.windowed_bolt("IterSum", |_| Ok(IterSum));
    r
}

fn yaml(name: &str, topology: &str, window: &str) -> String {
    format!(
        "name: {name}\nconfig: {{{topology}}}\n\
         spouts: [{{id: numbers, className: Numbers}}]\n\
         bolts: [{{id: sum, className: IterSum, config: {{{window}}}}}]\n\
         streams: [{{from: numbers, to: sum, grouping: {{type: SHUFFLE}}}}]\n"
    )
}

fn redb(dir: &std::path::Path) -> String {
    format!(
        "topology.state.provider: redb, topology.state.provider.config: '{{\"path\": \"{}\"}}', \
         topology.state.checkpoint.interval.ms: 100, topology.max.spout.pending: 4000",
        dir.display()
    )
}

#[test]
fn a_window_far_larger_than_its_memory_cap_is_exact_and_acked_at_the_commits() {
    static ACKED: AtomicUsize = AtomicUsize::new(0);
    static FAILED: AtomicUsize = AtomicUsize::new(0);
    let dir = tempfile::tempdir().unwrap();
    // Count windows of 5000 sliding every 1000, at most 256 events in memory.
    let total = 20_000u64;
    let w = "topology.bolts.window.length.count: 5000, \
             topology.bolts.window.sliding.interval.count: 1000, \
             topology.bolts.window.persistent: true, \
             topology.bolts.window.max.events.in.memory: 256, \
             topology.bolts.message.id.field.name: id";
    let report = complete_topology(
        &registry(total, &ACKED, &FAILED),
        &yaml("pwindow-big", &redb(dir.path()), w),
        Duration::from_secs(60),
    )
    .unwrap();
    let rows: Vec<(i64, i64, i64)> = report
        .emitted("sum", "default")
        .iter()
        .map(|v| {
            (
                v[0].as_i64().unwrap(),
                v[1].as_i64().unwrap(),
                v[2].as_i64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(i64, i64, i64)> = (1..=20i64)
        .map(|k| {
            let end = 1000 * k;
            let len = end.min(5000);
            let first = end - len;
            (len, (first..end).sum(), 1000)
        })
        .collect();
    assert_eq!(rows, want);
    // Every input acked (by the commits), none failed.
    assert_eq!(ACKED.load(Ordering::Relaxed), total as usize);
    assert_eq!(FAILED.load(Ordering::Relaxed), 0);
    // Never more than the cap in memory (a window read's page included).
    let resident = MAX_RESIDENT.lock().unwrap();
    let max = resident
        .iter()
        .filter(|(ns, _)| ns.starts_with("sum-"))
        .map(|(_, n)| *n)
        .max()
        .unwrap();
    assert!(max <= 256, "{max} events in memory");
    assert!(max >= 64, "{max}: the window was not paged through memory");
}

#[test]
fn persistent_windows_without_a_provider_acking_or_persistence_are_refused() {
    static ACKED: AtomicUsize = AtomicUsize::new(0);
    static FAILED: AtomicUsize = AtomicUsize::new(0);
    let r = registry(1, &ACKED, &FAILED);
    let w = "topology.bolts.window.length.count: 5, topology.bolts.window.persistent: true";
    let err = |topology: &str, w: &str| {
        validate_yaml(&r, &yaml("pwindow-bad", topology, w))
            .unwrap_err()
            .to_string()
    };
    let e = err("x: 1", w);
    assert!(e.contains("bolts[0]"), "{e}");
    assert!(
        e.contains(
            "topology.bolts.window.persistent is true but topology.state.provider is not set"
        ),
        "{e}"
    );
    let e = err(
        "topology.state.provider: redb, topology.acker.executors: 0",
        w,
    );
    assert!(e.contains("topology.acker.executors is 0"), "{e}");
    let e = err(
        "topology.state.provider: redb, topology.state.checkpoint.interval.ms: 40000",
        w,
    );
    assert!(
        e.contains("topology.state.checkpoint.interval.ms 40000 is more than topology.message.timeout.secs 30"),
        "{e}"
    );
    let e = err(
        "x: 1",
        "topology.bolts.window.length.count: 5, topology.bolts.message.id.field.name: id",
    );
    assert!(
        e.contains("topology.bolts.message.id.field.name is set but topology.bolts.window.persistent is not true"),
        "{e}"
    );
    // A persistent count window is not bound by the spouts' pending limit (acks come
    // with the commits), and it adds the checkpoint wiring.
    let ok = validate_yaml(
        &r,
        &yaml(
            "pwindow-ok",
            "topology.state.provider: memory, topology.max.spout.pending: 10",
            w,
        ),
    )
    .unwrap();
    assert!(
        ok.component("$checkpointspout").is_some(),
        "no checkpoint spout"
    );
}

#[test]
fn flux_config_methods_make_a_window_persistent_and_checkpointed() {
    static ACKED: AtomicUsize = AtomicUsize::new(0);
    static FAILED: AtomicUsize = AtomicUsize::new(0);
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"name: pwindow-flux
components:
  - id: len
    className: "org.apache.storm.topology.base.BaseWindowedBolt$Count"
    constructorArgs: [1000]
config: {{{}}}
spouts: [{{id: numbers, className: Numbers}}]
bolts:
  - id: sum
    className: IterSum
    configMethods:
      - name: withTumblingWindow
        args: [ref: len]
      - name: withPersistence
      - name: withMaxEventsInMemory
        args: [100]
      - name: withMessageIdField
        args: ["id"]
streams: [{{from: numbers, to: sum, grouping: {{type: SHUFFLE}}}}]
"#,
        redb(dir.path())
    );
    let report = complete_topology(
        &registry(3000, &ACKED, &FAILED),
        &yaml,
        Duration::from_secs(60),
    )
    .unwrap();
    let sums: Vec<i64> = report
        .emitted("sum", "default")
        .iter()
        .map(|v| v[1].as_i64().unwrap())
        .collect();
    assert_eq!(
        sums,
        [
            (0..1000).sum::<i64>(),
            (1000..2000).sum(),
            (2000..3000).sum()
        ]
    );
    assert_eq!(ACKED.load(Ordering::Relaxed), 3000);
}
