//! The user API of stateful bolts (Storm's `IStatefulBolt`): [`StatefulBolt`], the
//! collector it emits through ([`StatefulCollector`]), the executor that runs it as a
//! plain [`Bolt`] ([`Stateful`]) and the topology rule it needs ([`check_acking`]).
//!
//! # Ownership of the state
//! In Storm the bolt keeps the state object `initState` hands it, and the executor
//! keeps another reference to commit it. Rust has one owner per value: here the
//! executor owns the state and lends it (`&mut`) to every call that may use it —
//! `init_state`, `execute` and the three hooks. A bolt caching values may write them
//! into the state in `pre_prepare`, as in Storm.
//!
//! # Anchoring
//! Storm throws on an unanchored emit from a stateful bolt. Here the bolt only sees a
//! [`StatefulCollector`]: it has no unanchored `emit`, and an emit with an empty anchor
//! list returns [`EmitError::Unanchored`] before anything is sent. The collector knows
//! it is a stateful bolt's by its type; nothing is checked per tuple elsewhere.
//!
//! # Acks
//! An input the bolt acks is not acked at once: the ack is deferred until its state
//! change is committed (see [`crate::state::checkpoint::bolt_state`]). A fail is not
//! deferred.

use async_trait::async_trait;

use crate::api::collector::BoltCollector;
use crate::api::component::Bolt;
use crate::api::context::TopologyContext;
use crate::api::declare::OutputDeclarer;
use crate::api::error::{ComponentError, EmitError};
use crate::api::ids::TaskId;
use crate::api::registry::Registry;
use crate::api::tuple::{Tuple, Values};
use crate::state::checkpoint::bolt_state::{
    CheckpointTarget, Disposition, InputAction, StatefulBoltState,
};
use crate::state::checkpoint::forwarder::{checkpoint_sources, parse_checkpoint};
use crate::state::checkpoint::{
    Action, CHECKPOINT_STREAM, Checkpoint, FIELD_ACTION, FIELD_TXID, bolt_namespace,
};
use crate::state::{State, StateError};
use crate::topology::config::{Config, TOPOLOGY_ACKER_EXECUTORS};
use crate::topology::yaml::{KeyPath, ParsedSpec, SpecError};

/// Inputs a stateful bolt task keeps before its state is initialised; later ones are
/// failed (and replayed by their spouts).
pub const MAX_BUFFERED_BEFORE_INIT: usize = 10_000;

/// A state a stateful bolt task can open for itself: the task's namespace is
/// `<component>-<task>`; the provider comes from `topology.state.provider` in the
/// context's config (`KeyValueState` implements this over the configured provider).
pub trait OpenState: State + Sized + 'static {
    /// Open the last committed version of the state of `namespace`.
    fn open(ctx: &TopologyContext, namespace: &str) -> Result<Self, StateError>;
}

/// A bolt whose state is checkpointed (Storm's `IStatefulBolt`): the runtime hands it
/// its last committed state before the first tuple, commits the state with the
/// checkpoint protocol, and on a failure rolls it back and replays the inputs since.
///
/// Register it with [`Registry::stateful_bolt`]. A topology using one needs acking
/// (`topology.acker.executors` not 0); its emits must be anchored.
#[async_trait]
pub trait StatefulBolt: Send + 'static {
    /// The state type (in practice a `KeyValueState<K, V>`).
    type State: OpenState;

    /// Declare the output streams (none by default: a sink).
    fn declare_outputs(&self, _out: &mut OutputDeclarer) {}

    /// Called once before the state is handed over.
    async fn prepare(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        Ok(())
    }

    /// The state, as last committed, before any tuple is executed; called once.
    fn init_state(&mut self, _state: &mut Self::State) {}

    /// Process one input. Ack it (or fail it) through `out`; the ack is deferred until
    /// the state changes made here are committed.
    fn execute(
        &mut self,
        input: Tuple,
        state: &mut Self::State,
        out: &mut StatefulCollector<'_>,
    ) -> Result<(), ComponentError>;

    /// Before the state is prepared for commit under `txid`.
    fn pre_prepare(&mut self, _txid: u64, _state: &mut Self::State) {}

    /// Before the state prepared under `txid` is committed.
    fn pre_commit(&mut self, _txid: u64, _state: &mut Self::State) {}

    /// Before the state is rolled back to its last committed version.
    fn pre_rollback(&mut self, _state: &mut Self::State) {}

    /// Called once when the topology stops.
    async fn cleanup(&mut self) {}
}

/// The collector of a [`StatefulBolt`]: anchored emits only, deferred acks.
#[derive(Debug)]
pub struct StatefulCollector<'a> {
    inner: &'a mut BoltCollector,
    acked: &'a mut Vec<Tuple>,
    component: &'a str,
}

impl StatefulCollector<'_> {
    fn unanchored(&self, stream: &str) -> EmitError {
        EmitError::Unanchored {
            component: self.component.to_string(),
            stream: stream.to_string(),
        }
    }

    /// Emit on the default stream, anchored to `anchor`.
    pub fn emit(&mut self, anchor: &Tuple, values: impl Into<Values>) -> Result<(), EmitError> {
        self.inner.emit_anchored(anchor, values)
    }

    /// Emit on a named stream, anchored to every tuple in `anchors` (at least one).
    pub fn emit_stream(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        if stream == CHECKPOINT_STREAM {
            // The executor's own stream: not the bolt's to write.
            return Err(EmitError::UnknownStream {
                component: self.component.to_string(),
                stream: stream.to_string(),
            });
        }
        if anchors.is_empty() {
            return Err(self.unanchored(stream));
        }
        self.inner.emit_stream(stream, anchors, values)
    }

    /// Emit on a direct stream to one task, anchored to `anchors` (at least one).
    pub fn emit_direct(
        &mut self,
        task: TaskId,
        stream: &str,
        anchors: &[&Tuple],
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        if anchors.is_empty() {
            return Err(self.unanchored(stream));
        }
        self.inner.emit_direct(task, stream, anchors, values)
    }

    /// The input was processed: acked for real once the state is committed.
    pub fn ack(&mut self, input: &Tuple) {
        self.acked.push(input.ack_handle());
    }

    /// The input failed: failed at once (its spout replays it).
    pub fn fail(&mut self, input: &Tuple) {
        self.inner.fail(input);
    }

    /// Restart the message timeout of the input's trees.
    pub fn reset_timeout(&mut self, input: &Tuple) {
        self.inner.reset_timeout(input);
    }

    /// Report an error: counted in the component's statistics and logged.
    pub fn report_error(&mut self, error: &dyn std::fmt::Display) {
        self.inner.report_error(error)
    }
}

/// Runs a [`StatefulBolt`] as a [`Bolt`] (Storm's `StatefulBoltExecutor`): handles the
/// `$checkpoint` tuples, defers acks, buffers inputs until INITSTATE, forwards the
/// checkpoint tuples downstream.
pub struct Stateful<B: StatefulBolt> {
    bolt: B,
    state: Option<B::State>,
    machine: StatefulBoltState<Tuple>,
    component: String,
    /// The state's namespace (`<component>-<task>`), for the logs.
    namespace: String,
    /// Acks made during the current call, moved into `machine` after it.
    acked: Vec<Tuple>,
}

impl<B: StatefulBolt> Stateful<B> {
    /// Wrap `bolt`.
    pub fn new(bolt: B) -> Self {
        Stateful {
            bolt,
            state: None,
            machine: StatefulBoltState::new(1, MAX_BUFFERED_BEFORE_INIT),
            component: String::new(),
            namespace: String::new(),
            acked: Vec::new(),
        }
    }

    fn run(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let Some(state) = self.state.as_mut() else {
            return Err(ComponentError::msg("stateful bolt without its state"));
        };
        let mut sc = StatefulCollector {
            inner: out,
            acked: &mut self.acked,
            component: &self.component,
        };
        let result = self.bolt.execute(input, state, &mut sc);
        for t in self.acked.drain(..) {
            self.machine.user_ack(t);
        }
        result
    }

    fn checkpoint(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let cp = match parse_checkpoint(&input) {
            Ok(cp) => cp,
            Err(e) => {
                out.fail(&input);
                return Err(e);
            }
        };
        let Some(state) = self.state.as_mut() else {
            out.fail(&input);
            return Err(ComponentError::msg("stateful bolt without its state"));
        };
        let mut target = Target {
            bolt: &mut self.bolt,
            state,
        };
        let was_initialized = self.machine.initialized();
        let outcome = self.machine.checkpoint(cp, &mut target);
        if matches!(outcome.tuple, Disposition::Forward) {
            log_recovery(&self.namespace, cp, was_initialized, outcome.fail.len());
        }
        for t in &outcome.ack {
            out.ack(t);
        }
        for t in &outcome.fail {
            out.fail(t);
        }
        let mut errors = Vec::new();
        for t in outcome.execute {
            if let Err(e) = self.run(t, out) {
                errors.push(e);
            }
        }
        settle_checkpoint(out, input, cp, &errors, outcome.tuple)
    }
}

/// The end of a checkpoint tuple's handling in any stateful executor: report the
/// `errors` of the inputs executed meanwhile, then dispose of the checkpoint tuple as
/// `tuple` says (forward it on `$checkpoint` anchored to itself and ack it, ack it, or
/// fail it and return the error).
pub(crate) fn settle_checkpoint(
    out: &mut BoltCollector,
    input: Tuple,
    cp: Checkpoint,
    errors: &[ComponentError],
    tuple: Disposition,
) -> Result<(), ComponentError> {
    for e in errors {
        out.report_error(e);
    }
    match tuple {
        Disposition::Forward => {
            let values = crate::values![cp.txid, cp.action.as_str()];
            let sent = out.emit_stream(CHECKPOINT_STREAM, &[&input], values);
            out.ack(&input);
            sent.map_err(ComponentError::from)
        }
        Disposition::Ack => {
            out.ack(&input);
            Ok(())
        }
        Disposition::Fail(e) => {
            out.fail(&input);
            Err(ComponentError::msg(e.to_string()))
        }
    }
}

/// Log the rare checkpoint actions an operator looks for after a crash: the state handed
/// to the bolt (the first INITSTATE: its last commit, plus what a recovery COMMIT
/// applied) and a ROLLBACK (the inputs since the last commit are failed and replayed).
fn log_recovery(namespace: &str, cp: Checkpoint, was_initialized: bool, failed: usize) {
    match cp.action {
        Action::InitState if !was_initialized => {
            tracing::info!(
                namespace,
                txid = cp.txid,
                "state initialised from its last committed checkpoint"
            );
        }
        Action::Rollback => {
            tracing::info!(
                namespace,
                txid = cp.txid,
                failed,
                "state rolled back to its last committed checkpoint; inputs since are replayed"
            );
        }
        _ => {}
    }
}

struct Target<'a, B: StatefulBolt> {
    bolt: &'a mut B,
    state: &'a mut B::State,
}

impl<B: StatefulBolt> CheckpointTarget for Target<'_, B> {
    fn pre_prepare(&mut self, txid: u64) {
        self.bolt.pre_prepare(txid, self.state);
    }
    fn pre_commit(&mut self, txid: u64) {
        self.bolt.pre_commit(txid, self.state);
    }
    fn pre_rollback(&mut self) {
        self.bolt.pre_rollback(self.state);
    }
    fn init_state(&mut self) {
        self.bolt.init_state(self.state);
    }
    fn state(&mut self) -> &mut dyn State {
        self.state
    }
}

#[async_trait]
impl<B: StatefulBolt> Bolt for Stateful<B> {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        self.bolt.declare_outputs(out);
        out.declare_stream(CHECKPOINT_STREAM, &[FIELD_TXID, FIELD_ACTION]);
    }

    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.component = ctx.this_component().to_string();
        self.bolt.prepare(ctx).await?;
        let namespace = bolt_namespace(ctx.this_component(), ctx.this_task().0);
        let state = B::State::open(ctx, &namespace)
            .map_err(|e| ComponentError::msg(format!("opening state: {e}")))?;
        self.state = Some(state);
        self.namespace = namespace;
        self.machine = StatefulBoltState::new(checkpoint_sources(ctx), MAX_BUFFERED_BEFORE_INIT);
        Ok(())
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        if input.source_stream() == CHECKPOINT_STREAM {
            return self.checkpoint(input, out);
        }
        match self.machine.input(input) {
            InputAction::Execute(t) => self.run(t, out),
            InputAction::Buffered => Ok(()),
            InputAction::Fail(t) => {
                out.fail(&t);
                Ok(())
            }
        }
    }

    async fn cleanup(&mut self) {
        self.bolt.cleanup().await
    }
}

/// The rule [`crate::topology::check`] applies: a topology with a stateful bolt needs
/// acking (the checkpoint spout learns that a checkpoint completed from acks). Returns
/// one error per stateful bolt when `topology.acker.executors` is 0.
pub fn check_acking(spec: &ParsedSpec, registry: &Registry) -> Vec<SpecError> {
    let config = Config::merged([&spec.def.config]);
    if config.settings().acker_executors != Some(0) {
        return Vec::new();
    }
    spec.def
        .bolts
        .iter()
        .enumerate()
        .filter(|(_, b)| registry.is_stateful(&b.class_name))
        .map(|(i, b)| {
            spec.error_at(
                &KeyPath::root().key("bolts").index(i).key("className"),
                format!(
                    "bolt '{}' is stateful ('{}') and needs acking, but {TOPOLOGY_ACKER_EXECUTORS} is 0: \
                     set it to null (one acker per worker) or a positive number",
                    b.id, b.class_name
                ),
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::api::collector::SpoutCollector;
    use crate::api::component::Spout;
    use crate::api::ids::MessageId;
    use crate::testing::{complete_topology, validate_yaml};
    use crate::values;

    /// Every call a [`Counter`] state received, per test run (tests use distinct tags).
    static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn log(s: String) {
        LOG.lock().unwrap_or_else(|p| p.into_inner()).push(s);
    }

    /// A counter: `value` changes in `execute`, `committed` at commit.
    struct Counter {
        value: i64,
        prepared: Option<(u64, i64)>,
        committed: i64,
    }

    impl State for Counter {
        fn prepare_commit(&mut self, txid: u64) -> Result<(), StateError> {
            log(format!("prepare_commit {txid}"));
            self.prepared = Some((txid, self.value));
            Ok(())
        }
        fn commit(&mut self, txid: u64) -> Result<(), StateError> {
            log(format!("commit {txid}"));
            if let Some((t, v)) = self.prepared.take()
                && t == txid
            {
                self.committed = v;
            }
            Ok(())
        }
        fn rollback(&mut self) -> Result<(), StateError> {
            log("rollback".into());
            self.value = self.committed;
            Ok(())
        }
    }

    impl OpenState for Counter {
        fn open(_ctx: &TopologyContext, namespace: &str) -> Result<Self, StateError> {
            log(format!("open {namespace}"));
            Ok(Counter {
                value: 0,
                prepared: None,
                committed: 0,
            })
        }
    }

    struct Count;

    impl StatefulBolt for Count {
        type State = Counter;

        fn declare_outputs(&self, out: &mut OutputDeclarer) {
            out.declare(&["count"]);
        }

        fn init_state(&mut self, state: &mut Counter) {
            log(format!("init_state {}", state.value));
        }

        fn execute(
            &mut self,
            input: Tuple,
            state: &mut Counter,
            out: &mut StatefulCollector<'_>,
        ) -> Result<(), ComponentError> {
            let unanchored = out.emit_stream("default", &[], values![0i64]);
            assert!(matches!(unanchored, Err(EmitError::Unanchored { .. })));
            let reserved = out.emit_stream(CHECKPOINT_STREAM, &[&input], values![0i64, "x"]);
            assert!(matches!(reserved, Err(EmitError::UnknownStream { .. })));
            state.value += input.get_i64(0)?;
            out.emit(&input, values![state.value])?;
            out.ack(&input);
            Ok(())
        }

        fn pre_prepare(&mut self, txid: u64, _state: &mut Counter) {
            log(format!("pre_prepare {txid}"));
        }

        fn pre_commit(&mut self, txid: u64, _state: &mut Counter) {
            log(format!("pre_commit {txid}"));
        }
    }

    /// Emits, in order on one channel: data 1 and 2 (before INITSTATE: buffered),
    /// INITSTATE -1, data 3, PREPARE 0, data 4, COMMIT 0, PREPARE 1, COMMIT 1. Data on
    /// `default`, checkpoints on `$checkpoint`, each with a message id.
    struct Script {
        next: usize,
        acked: usize,
    }

    const SCRIPT: &[(&str, i64, &str)] = &[
        ("default", 1, ""),
        ("default", 2, ""),
        (CHECKPOINT_STREAM, -1, "INITSTATE"),
        ("default", 3, ""),
        (CHECKPOINT_STREAM, 0, "PREPARE"),
        ("default", 4, ""),
        (CHECKPOINT_STREAM, 0, "COMMIT"),
        (CHECKPOINT_STREAM, 1, "PREPARE"),
        (CHECKPOINT_STREAM, 1, "COMMIT"),
    ];

    impl Spout for Script {
        fn declare_outputs(&self, out: &mut OutputDeclarer) {
            out.declare(&["n"]);
            out.declare_stream(CHECKPOINT_STREAM, &[FIELD_TXID, FIELD_ACTION]);
        }

        fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
            let Some(&(stream, n, action)) = SCRIPT.get(self.next) else {
                return Ok(());
            };
            let id = self.next as MessageId;
            self.next += 1;
            if stream == CHECKPOINT_STREAM {
                out.emit_stream(stream, values![n, action], Some(id))?;
            } else {
                out.emit_stream(stream, values![n], Some(id))?;
            }
            Ok(())
        }

        fn is_exhausted(&self) -> bool {
            self.next >= SCRIPT.len()
        }

        fn ack(&mut self, id: MessageId) {
            self.acked += 1;
            log(format!("acked {id}"));
        }

        fn fail(&mut self, id: MessageId) {
            log(format!("failed {id}"));
        }
    }

    fn registry() -> Registry {
        let mut r = Registry::new();
        r.spout("Script", |_| Ok(Script { next: 0, acked: 0 }));
        r.stateful_bolt("Count", |_| Ok(Count));
        r
    }

    const YAML: &str = r#"
name: stateful
spouts: [{id: script, className: Script}]
bolts: [{id: count, className: Count}]
streams:
  - {from: script, to: count, grouping: {type: SHUFFLE}}
  - {from: script, to: count, grouping: {type: ALL, streamId: "$checkpoint"}}
"#;

    #[test]
    fn stateful_bolt_needs_acking() {
        let yaml = format!("{YAML}config: {{topology.acker.executors: 0}}\n");
        let errors = validate_yaml(&registry(), &yaml).unwrap_err().to_string();
        assert!(errors.contains("bolts[0].className"), "{errors}");
        assert!(errors.contains("'count' is stateful"), "{errors}");
        assert!(errors.contains("topology.acker.executors is 0"), "{errors}");
        validate_yaml(&registry(), YAML).unwrap();
        // A plain bolt of the same name is not stateful.
        let mut r = registry();
        r.bolt("Count", |_| Ok(Stateful::new(Count)));
        assert!(!r.is_stateful("Count"));
        validate_yaml(&r, &yaml).unwrap();
    }

    #[test]
    fn stateful_executor_runs_the_protocol_in_the_engine() {
        LOG.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let report = complete_topology(&registry(), YAML, Duration::from_secs(20)).unwrap();
        let counts: Vec<i64> = report
            .emitted("count", "default")
            .iter()
            .map(|v| v.to_json()[0].as_i64().unwrap_or(-99))
            .collect();
        assert_eq!(counts, [1, 3, 6, 10]);
        // Every checkpoint handled is forwarded downstream.
        assert_eq!(report.emitted("count", CHECKPOINT_STREAM).len(), 5);
        let log = LOG.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let calls: Vec<&str> = log
            .iter()
            .map(String::as_str)
            .filter(|s| !s.starts_with("acked"))
            .collect();
        // The namespace is `<component>-<task>`.
        assert!(calls[0].starts_with("open count-"), "{calls:?}");
        assert_eq!(
            calls[1..],
            [
                "init_state 0",
                "pre_prepare 0",
                "prepare_commit 0",
                "pre_commit 0",
                "commit 0",
                "pre_prepare 1",
                "prepare_commit 1",
                "pre_commit 1",
                "commit 1",
            ]
        );
        // Every message completed (the deferred acks were made at the COMMITs; their
        // order against the commits is covered by `bolt_state`'s tests), none failed.
        let acked: Vec<&str> = log
            .iter()
            .map(String::as_str)
            .filter(|s| s.starts_with("acked"))
            .collect();
        assert_eq!(acked.len(), SCRIPT.len(), "{log:?}");
        assert!(!log.iter().any(|l| l.starts_with("failed")), "{log:?}");
    }
}
