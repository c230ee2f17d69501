//! The checkpoint wiring of a topology with stateful bolts (Storm's
//! `TopologyBuilder.maybeAddCheckpointSpout` / `addCheckPointInputs`), applied to the
//! declaration when it is resolved, so local mode, nimbus and workers all see it:
//!
//! - a spout `$checkpointspout` (class [`CHECKPOINT_SPOUT_CLASS`], parallelism 1);
//! - every bolt subscribes to `$checkpoint` with ALL grouping from each upstream bolt,
//!   and from `$checkpointspout` if it reads from a spout;
//! - in the registry the topology runs with, every bolt that is not stateful is
//!   wrapped in a [`Forwarder`] (stateful ones already run in [`crate::state::bolt::Stateful`]).
//!
//! A bolt that reads `$checkpoint` from a spout other than `$checkpointspout` (wired by
//! hand, e.g. a test driving the protocol) gets no other checkpoint input.
//!
//! A topology without stateful bolts is left exactly as it is: no spout, no stream,
//! no wrapper, no cost. Applying the wiring twice changes nothing (workers re-resolve
//! the declaration nimbus stored, which already has it).

use std::collections::BTreeSet;

use super::forwarder::Forwarder;
use super::spout::{CHECKPOINT_SPOUT_CLASS, CheckpointSpout};
use super::{CHECKPOINT_COMPONENT, CHECKPOINT_STREAM};
use crate::api::registry::Registry;
use crate::topology::config::{Config, TOPOLOGY_BOLTS_WINDOW_PERSISTENT};
use crate::topology::yaml::{ComponentDef, GroupingDef, GroupingKind, StreamDef, TopologyDef};

/// Whether `def` carries the checkpoint wiring (has the `$checkpointspout` spout): then
/// its resolved declaration differs from the submitted one, and nimbus must plan from
/// the resolved one (it numbers the checkpoint spout's task too).
pub fn is_wired(def: &TopologyDef) -> bool {
    def.spouts.iter().any(|s| s.id == CHECKPOINT_COMPONENT)
}

/// Whether `def` has a bolt registered as stateful in `registry`, or a windowed bolt
/// whose config makes its window persistent (it runs the checkpoint protocol too).
pub fn has_stateful_bolt(def: &TopologyDef, registry: &Registry) -> bool {
    def.bolts.iter().any(|b| {
        registry.is_stateful(&b.class_name)
            || (registry.is_windowed(&b.class_name)
                && persistent_window(&Config::merged([&def.config, &b.config])))
    })
}

/// Whether a windowed bolt's merged config makes its window persistent.
pub fn persistent_window(config: &Config) -> bool {
    config.get_bool(TOPOLOGY_BOLTS_WINDOW_PERSISTENT) == Some(true)
}

/// Add the checkpoint spout and streams to `def`, and the forwarders and the
/// checkpoint spout class to `registry`, if `def` has a stateful bolt.
pub fn wire(def: &mut TopologyDef, registry: &mut Registry) {
    if !has_stateful_bolt(def, registry) {
        return;
    }
    wire_declaration(def);
    if registry.checkpoint_wired {
        return;
    }
    registry.checkpoint_wired = true;
    let stateless: BTreeSet<String> = def
        .bolts
        .iter()
        .filter(|b| !registry.is_stateful(&b.class_name))
        .map(|b| b.class_name.clone())
        .collect();
    for class in stateless {
        let base = registry.clone();
        let name = class.clone();
        let windowed = registry.is_windowed(&class);
        registry.bolt(&class, move |args| {
            let inner = base
                .create_bolt(&name, args)
                .map_err(|e| crate::api::error::FactoryError(e.0))?;
            // A persistent window runs the checkpoint protocol itself.
            let own = windowed && persistent_window(args.config());
            Ok(Forwarder::new(inner).passing(own))
        });
        if windowed {
            registry.mark_windowed(&class);
        }
    }
    if !registry.has_spout(CHECKPOINT_SPOUT_CLASS) {
        let opener = registry
            .checkpoint_store()
            .unwrap_or_else(crate::state::open::provider_tx_opener);
        registry.spout(CHECKPOINT_SPOUT_CLASS, move |_| {
            Ok(CheckpointSpout::new(opener.clone()))
        });
    }
}

/// The declaration part of [`wire`].
fn wire_declaration(def: &mut TopologyDef) {
    if !def.spouts.iter().any(|s| s.id == CHECKPOINT_COMPONENT) {
        def.spouts.push(ComponentDef {
            id: CHECKPOINT_COMPONENT.into(),
            class_name: CHECKPOINT_SPOUT_CLASS.into(),
            parallelism: 1,
            num_tasks: Some(1),
            constructor_args: Vec::new(),
            config: Default::default(),
        });
    }
    let spouts: BTreeSet<&str> = def.spouts.iter().map(|s| s.id.as_str()).collect();
    let mut wanted: Vec<(String, String)> = Vec::new();
    for bolt in &def.bolts {
        // A bolt whose `$checkpoint` input was wired by hand is left as it is.
        let by_hand = def.streams.iter().any(|s| {
            s.to == bolt.id
                && s.grouping.stream_id == CHECKPOINT_STREAM
                && s.from != CHECKPOINT_COMPONENT
                && !def.bolts.iter().any(|b| b.id == s.from)
        });
        if by_hand {
            continue;
        }
        for s in def.streams.iter().filter(|s| s.to == bolt.id) {
            if s.grouping.stream_id == CHECKPOINT_STREAM {
                continue;
            }
            let from = if spouts.contains(s.from.as_str()) {
                CHECKPOINT_COMPONENT.to_string()
            } else {
                s.from.clone()
            };
            let pair = (from, bolt.id.clone());
            if !wanted.contains(&pair) {
                wanted.push(pair);
            }
        }
    }
    for (from, to) in wanted {
        let exists = def
            .streams
            .iter()
            .any(|s| s.from == from && s.to == to && s.grouping.stream_id == CHECKPOINT_STREAM);
        if !exists {
            def.streams.push(StreamDef {
                name: None,
                from,
                to,
                grouping: GroupingDef {
                    kind: GroupingKind::All,
                    args: Vec::new(),
                    stream_id: CHECKPOINT_STREAM.into(),
                    custom_class: None,
                },
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::api::collector::BasicCollector;
    use crate::api::component::BasicBolt;
    use crate::api::context::TopologyContext;
    use crate::api::declare::OutputDeclarer;
    use crate::api::error::ComponentError;
    use crate::api::tuple::Tuple;
    use crate::state::bolt::{OpenState, StatefulBolt, StatefulCollector};
    use crate::state::{State, StateError};
    use crate::testing::{FixedSpout, complete_topology, load_yaml};
    use crate::values;

    /// Refuse this many `prepare_commit`s (the recovery test), then accept.
    static REFUSE_PREPARES: AtomicUsize = AtomicUsize::new(0);
    /// The last committed sum of a `Sum` opened for component `flaky`.
    static FLAKY_COMMITTED: AtomicI64 = AtomicI64::new(-1);

    /// A sum whose committed value is what a restart would see.
    struct Sum {
        value: i64,
        prepared: Option<i64>,
        committed: i64,
        flaky: bool,
    }

    impl State for Sum {
        fn prepare_commit(&mut self, txid: u64) -> Result<(), StateError> {
            if self.flaky
                && REFUSE_PREPARES
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                    .is_ok()
            {
                return Err(StateError::Store {
                    namespace: "flaky".into(),
                    message: format!("refusing prepare of txid {txid}"),
                });
            }
            self.prepared = Some(self.value);
            Ok(())
        }
        fn commit(&mut self, _txid: u64) -> Result<(), StateError> {
            if let Some(v) = self.prepared.take() {
                self.committed = v;
                if self.flaky {
                    FLAKY_COMMITTED.store(v, Ordering::Release);
                }
            }
            Ok(())
        }
        fn rollback(&mut self) -> Result<(), StateError> {
            self.value = self.committed;
            Ok(())
        }
    }

    impl OpenState for Sum {
        fn open(_ctx: &TopologyContext, namespace: &str) -> Result<Self, StateError> {
            Ok(Sum {
                value: 0,
                prepared: None,
                committed: 0,
                flaky: namespace.starts_with("flaky-"),
            })
        }
    }

    struct Summer;

    impl StatefulBolt for Summer {
        type State = Sum;

        fn declare_outputs(&self, out: &mut OutputDeclarer) {
            out.declare(&["sum"]);
        }

        fn execute(
            &mut self,
            input: Tuple,
            state: &mut Sum,
            out: &mut StatefulCollector<'_>,
        ) -> Result<(), ComponentError> {
            state.value += input.get_i64(0)?;
            out.emit(&input, values![state.value])?;
            out.ack(&input);
            Ok(())
        }
    }

    struct Pass;

    impl BasicBolt for Pass {
        fn declare_outputs(&self, out: &mut OutputDeclarer) {
            out.declare(&["sum"]);
        }

        fn execute(
            &mut self,
            input: &Tuple,
            out: &mut BasicCollector<'_>,
        ) -> Result<(), ComponentError> {
            out.emit(input.values().clone())?;
            Ok(())
        }
    }

    fn registry() -> Registry {
        let mut r = Registry::new();
        r.spout("Numbers", |_| {
            Ok(FixedSpout::new(
                &["n"],
                (1..=5i64).map(|n| values![n]).collect(),
            ))
        });
        r.stateful_bolt("Summer", |_| Ok(Summer));
        r.basic_bolt("Pass", |_| Ok(Pass));
        r
    }

    const YAML: &str = r#"
name: sums
config: {topology.state.checkpoint.interval.ms: 100}
spouts: [{id: numbers, className: Numbers}]
bolts: [{id: sum, className: Summer}, {id: pass, className: Pass}]
streams:
  - {from: numbers, to: sum, grouping: {type: SHUFFLE}}
  - {from: sum, to: pass, grouping: {type: SHUFFLE}}
"#;

    fn checkpoint_edges(def: &TopologyDef) -> Vec<(String, String)> {
        def.streams
            .iter()
            .filter(|s| s.grouping.stream_id == CHECKPOINT_STREAM)
            .inspect(|s| assert_eq!(s.grouping.kind, GroupingKind::All))
            .map(|s| (s.from.clone(), s.to.clone()))
            .collect()
    }

    #[test]
    fn wiring_adds_the_spout_and_streams_once() {
        let parsed = crate::topology::yaml::parse_str(YAML, None).unwrap();
        let mut def = parsed.def.clone();
        let mut r = registry();
        wire(&mut def, &mut r);
        let cp: Vec<_> = def
            .spouts
            .iter()
            .filter(|s| s.id == CHECKPOINT_COMPONENT)
            .collect();
        assert_eq!(cp.len(), 1);
        assert_eq!(cp[0].parallelism, 1);
        assert_eq!(cp[0].class_name, CHECKPOINT_SPOUT_CLASS);
        let edges = [
            (CHECKPOINT_COMPONENT.to_string(), "sum".to_string()),
            ("sum".to_string(), "pass".to_string()),
        ];
        assert_eq!(checkpoint_edges(&def), edges);
        assert!(r.has_spout(CHECKPOINT_SPOUT_CLASS));
        // Idempotent.
        let before = def.clone();
        wire(&mut def, &mut r);
        assert_eq!(def, before);
        // And it validates.
        let (topo, _) = load_yaml(&registry(), YAML).unwrap();
        assert!(topo.component(CHECKPOINT_COMPONENT).is_some());
    }

    #[test]
    fn no_stateful_bolt_no_wiring() {
        let mut r = registry();
        r.basic_bolt("Summer", |_| Ok(Pass));
        let parsed = crate::topology::yaml::parse_str(YAML, None).unwrap();
        let mut def = parsed.def.clone();
        wire(&mut def, &mut r);
        assert_eq!(def, parsed.def);
        assert!(!r.has_spout(CHECKPOINT_SPOUT_CLASS));
    }

    #[test]
    fn a_stateful_topology_runs_to_completion_in_local_mode() {
        let report = complete_topology(&registry(), YAML, Duration::from_secs(30)).unwrap();
        let sums: Vec<i64> = report
            .emitted("sum", "default")
            .iter()
            .map(|v| v.to_json()[0].as_i64().unwrap_or(-1))
            .collect();
        assert_eq!(sums, [1, 3, 6, 10, 15]);
        assert_eq!(report.emitted("pass", "default").len(), 5);
        // The checkpoint spout's tuples went through both bolts.
        let spout = report.emitted(CHECKPOINT_COMPONENT, CHECKPOINT_STREAM);
        assert!(spout.len() >= 3, "{spout:?}");
        assert!(!report.emitted("sum", CHECKPOINT_STREAM).is_empty());
        assert!(!report.emitted("pass", CHECKPOINT_STREAM).is_empty());
    }

    #[test]
    fn a_failed_prepare_rolls_back_and_the_inputs_are_replayed() {
        REFUSE_PREPARES.store(1, Ordering::Release);
        let yaml = YAML
            .replace("id: sum,", "id: flaky,")
            .replace("to: sum", "to: flaky")
            .replace("from: sum", "from: flaky");
        let report = complete_topology(&registry(), &yaml, Duration::from_secs(60)).unwrap();
        assert_eq!(
            REFUSE_PREPARES.load(Ordering::Acquire),
            0,
            "the refusal happened"
        );
        // The inputs failed by the ROLLBACK were replayed: each counted once in the
        // committed state, though some were emitted twice downstream (at-least-once).
        assert_eq!(FLAKY_COMMITTED.load(Ordering::Acquire), 15);
        let actions: Vec<String> = report
            .emitted(CHECKPOINT_COMPONENT, CHECKPOINT_STREAM)
            .iter()
            .map(|v| v.to_json()[1].as_str().unwrap_or("").to_string())
            .collect();
        assert!(actions.iter().any(|a| a == "ROLLBACK"), "{actions:?}");
        assert!(report.emitted("flaky", "default").len() >= 5);
    }

    #[test]
    fn nimbus_s_resolved_declaration_validates_again_unchanged_in_a_worker() {
        // Nimbus checks and stores the resolved declaration; a worker validates that.
        let checked = crate::topology::check::check_str(YAML, &registry()).unwrap();
        let stored = checked.resolved_yaml().unwrap();
        assert!(stored.contains(CHECKPOINT_COMPONENT), "{stored}");
        let again = crate::topology::check::check_str(&stored, &registry()).unwrap();
        assert_eq!(again.resolved.def, checked.resolved.def);
        let (topo, _) = load_yaml(&registry(), &stored).unwrap();
        assert_eq!(checkpoint_edges(&checked.resolved.def).len(), 2);
        assert!(topo.component(CHECKPOINT_COMPONENT).is_some());
    }
}
