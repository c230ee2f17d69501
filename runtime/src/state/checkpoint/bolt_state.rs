//! The stateful bolt executor's logic (Storm's `StatefulBoltExecutor`), pure and
//! generic over an opaque tuple type `T` (the engine's `Tuple`, an integer in tests).
//!
//! - Input tuples wait in a bounded buffer until INITSTATE; then they are executed.
//! - An input the user acks is not acked: it waits in the "acked" list. PREPARE moves
//!   the acked list to the "prepared" list; COMMIT acks the prepared tuples for real;
//!   ROLLBACK fails the prepared and the acked ones (their spouts replay them).
//! - Hooks run in Storm's order: `pre_prepare` → `prepare_commit(txid)`;
//!   `pre_commit` → `commit(txid)`; `pre_rollback` → `rollback()`; `init_state` once.
//! - A handled checkpoint tuple is forwarded downstream (anchored) and acked; one that
//!   waits for other upstream tasks, or is stale, is only acked; one whose handling
//!   failed (or a PREPARE before INITSTATE) is failed, which makes the checkpoint
//!   spout recover.

use std::collections::VecDeque;

use thiserror::Error;

use super::barrier::{Arrival, Barrier};
use super::{Action, Checkpoint};
use crate::state::{State, StateError};

/// Why a checkpoint action could not be handled (its tuple is failed).
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// The state refused `prepare_commit`, `commit` or `rollback`.
    #[error("checkpoint {checkpoint}: {source}")]
    State {
        /// The action being handled.
        checkpoint: Checkpoint,
        /// The state's error.
        source: StateError,
    },
    /// PREPARE, COMMIT or ROLLBACK of a negative txid (only INITSTATE may carry -1).
    #[error("checkpoint {0}: negative txid")]
    NegativeTxid(Checkpoint),
    /// PREPARE arrived before INITSTATE (the spout recovers and initialises first).
    #[error("checkpoint {0}: the bolt's state is not initialised yet")]
    NotInitialized(Checkpoint),
}

/// The bolt and its state as the executor drives them at a checkpoint.
pub trait CheckpointTarget {
    /// The user's `pre_prepare(txid)` hook.
    fn pre_prepare(&mut self, txid: u64);
    /// The user's `pre_commit(txid)` hook.
    fn pre_commit(&mut self, txid: u64);
    /// The user's `pre_rollback()` hook.
    fn pre_rollback(&mut self);
    /// Hand the bolt its state (the user's `init_state`); called once.
    fn init_state(&mut self);
    /// The bolt's state.
    fn state(&mut self) -> &mut dyn State;
}

/// What to do with the checkpoint tuple itself.
#[derive(Debug)]
pub enum Disposition {
    /// Emit it on `$checkpoint` anchored to itself, then ack it (after executing
    /// [`CheckpointOutcome::execute`]).
    Forward,
    /// Ack it only (waiting for the other upstream tasks, or stale).
    Ack,
    /// Fail it and report the error: the checkpoint spout recovers.
    Fail(CheckpointError),
}

/// What the engine must do after a checkpoint tuple, in this order: ack `ack`, fail
/// `fail`, execute `execute` (the tuples buffered before INITSTATE, in arrival order),
/// then dispose of the checkpoint tuple as `tuple` says.
#[derive(Debug)]
pub struct CheckpointOutcome<T> {
    /// Inputs to ack for real now (the prepared ones, at COMMIT).
    pub ack: Vec<T>,
    /// Inputs to fail now (prepared and acked ones, at ROLLBACK).
    pub fail: Vec<T>,
    /// Buffered inputs to execute now (at the first INITSTATE).
    pub execute: Vec<T>,
    /// The checkpoint tuple's fate.
    pub tuple: Disposition,
}

impl<T> CheckpointOutcome<T> {
    fn only(tuple: Disposition) -> Self {
        CheckpointOutcome {
            ack: Vec::new(),
            fail: Vec::new(),
            execute: Vec::new(),
            tuple,
        }
    }
}

/// What to do with an arriving input tuple.
#[derive(Debug, PartialEq, Eq)]
pub enum InputAction<T> {
    /// The state is initialised: execute it now.
    Execute(T),
    /// Kept until INITSTATE.
    Buffered,
    /// The buffer is full: fail it (its spout replays it later).
    Fail(T),
}

/// The bookkeeping of one stateful bolt task.
#[derive(Debug)]
pub struct StatefulBoltState<T> {
    barrier: Barrier,
    initialized: bool,
    /// Inputs received before INITSTATE.
    buffered: VecDeque<T>,
    max_buffered: usize,
    /// Inputs the user acked since the last PREPARE (acks deferred).
    acked: Vec<T>,
    /// Inputs acked before the last PREPARE: acked at COMMIT, failed at ROLLBACK.
    prepared: Vec<T>,
}

impl<T> StatefulBoltState<T> {
    /// The state of a task reading `$checkpoint` from `sources` upstream tasks, which
    /// buffers at most `max_buffered` inputs before INITSTATE (later ones are failed:
    /// every queue is bounded).
    pub fn new(sources: usize, max_buffered: usize) -> Self {
        StatefulBoltState {
            barrier: Barrier::new(sources),
            initialized: false,
            buffered: VecDeque::new(),
            max_buffered,
            acked: Vec::new(),
            prepared: Vec::new(),
        }
    }

    /// Whether INITSTATE was handled (the bolt has its state).
    pub fn initialized(&self) -> bool {
        self.initialized
    }

    /// Inputs buffered until INITSTATE.
    pub fn buffered(&self) -> usize {
        self.buffered.len()
    }

    /// Inputs acked by the user whose acks wait for a PREPARE then COMMIT.
    pub fn deferred(&self) -> usize {
        self.acked.len() + self.prepared.len()
    }

    /// An input tuple (not a checkpoint) arrived.
    pub fn input(&mut self, tuple: T) -> InputAction<T> {
        if self.initialized {
            return InputAction::Execute(tuple);
        }
        if self.buffered.len() >= self.max_buffered {
            return InputAction::Fail(tuple);
        }
        self.buffered.push_back(tuple);
        InputAction::Buffered
    }

    /// The user acked `tuple`: its real ack waits for the next PREPARE and COMMIT.
    /// (A user's fail is not deferred: the engine fails the tuple at once.)
    pub fn user_ack(&mut self, tuple: T) {
        self.acked.push(tuple);
    }

    /// A checkpoint tuple `cp` arrived from one upstream task.
    pub fn checkpoint(
        &mut self,
        cp: Checkpoint,
        target: &mut dyn CheckpointTarget,
    ) -> CheckpointOutcome<T> {
        match self.barrier.arrive(cp) {
            Arrival::Wait | Arrival::Stale => CheckpointOutcome::only(Disposition::Ack),
            Arrival::Handle => {
                let outcome = self.handle(cp, target);
                // As Storm: a handled action moves the barrier on, even a PREPARE
                // refused before INITSTATE; one the state refused does not.
                let refused = matches!(
                    outcome.tuple,
                    Disposition::Fail(
                        CheckpointError::State { .. } | CheckpointError::NegativeTxid(_)
                    )
                );
                if !refused {
                    self.barrier.handled(cp);
                }
                outcome
            }
        }
    }

    fn handle(
        &mut self,
        cp: Checkpoint,
        target: &mut dyn CheckpointTarget,
    ) -> CheckpointOutcome<T> {
        let state_err = |source| {
            CheckpointOutcome::only(Disposition::Fail(CheckpointError::State {
                checkpoint: cp,
                source,
            }))
        };
        // Only INITSTATE may carry txid -1 (nothing committed yet).
        let txid = match (cp.action, u64::try_from(cp.txid)) {
            (Action::InitState, _) => return self.init_state(cp, target),
            (_, Ok(txid)) => txid,
            (_, Err(_)) => {
                return CheckpointOutcome::only(Disposition::Fail(CheckpointError::NegativeTxid(
                    cp,
                )));
            }
        };
        match cp.action {
            Action::InitState => self.init_state(cp, target),
            Action::Prepare => {
                if !self.initialized {
                    return CheckpointOutcome::only(Disposition::Fail(
                        CheckpointError::NotInitialized(cp),
                    ));
                }
                target.pre_prepare(txid);
                if let Err(e) = target.state().prepare_commit(txid) {
                    return state_err(e);
                }
                self.prepared.append(&mut self.acked);
                CheckpointOutcome::only(Disposition::Forward)
            }
            Action::Commit => {
                target.pre_commit(txid);
                if let Err(e) = target.state().commit(txid) {
                    return state_err(e);
                }
                let mut out = CheckpointOutcome::only(Disposition::Forward);
                out.ack = std::mem::take(&mut self.prepared);
                out
            }
            Action::Rollback => {
                target.pre_rollback();
                if let Err(e) = target.state().rollback() {
                    return state_err(e);
                }
                let mut out = CheckpointOutcome::only(Disposition::Forward);
                out.fail = std::mem::take(&mut self.prepared);
                out.fail.append(&mut self.acked);
                out
            }
        }
    }

    /// INITSTATE: the state learns the topology's checkpoint (see [`State::init`]); the
    /// first one hands the bolt its state and releases the buffered inputs; later ones
    /// (after a recovery) change nothing else.
    fn init_state(
        &mut self,
        cp: Checkpoint,
        target: &mut dyn CheckpointTarget,
    ) -> CheckpointOutcome<T> {
        if let Err(source) = target.state().init(u64::try_from(cp.txid).ok()) {
            return CheckpointOutcome::only(Disposition::Fail(CheckpointError::State {
                checkpoint: cp,
                source,
            }));
        }
        let mut out = CheckpointOutcome::only(Disposition::Forward);
        if self.initialized {
            tracing::debug!("INITSTATE of an initialised bolt");
        } else {
            target.init_state();
            self.initialized = true;
            out.execute = self.buffered.drain(..).collect();
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    struct RecState<'a>(&'a mut Vec<String>, Option<&'static str>);

    impl RecState<'_> {
        fn call(&mut self, name: String) -> Result<(), StateError> {
            let refuse = self.1.is_some_and(|f| name.starts_with(f));
            self.0.push(name);
            if refuse {
                return Err(StateError::Store {
                    namespace: "b-1".into(),
                    message: "down".into(),
                });
            }
            Ok(())
        }
    }

    /// The bolt and its state, logging every call in order; can make the state refuse.
    struct OwnedTarget {
        state: LogState,
    }

    struct LogState {
        calls: Vec<String>,
        fail: Option<&'static str>,
    }

    impl State for LogState {
        fn prepare_commit(&mut self, txid: u64) -> Result<(), StateError> {
            RecState(&mut self.calls, self.fail).call(format!("prepare_commit {txid}"))
        }
        fn commit(&mut self, txid: u64) -> Result<(), StateError> {
            RecState(&mut self.calls, self.fail).call(format!("commit {txid}"))
        }
        fn rollback(&mut self) -> Result<(), StateError> {
            RecState(&mut self.calls, self.fail).call("rollback".into())
        }
        fn init(&mut self, checkpoint: Option<u64>) -> Result<(), StateError> {
            let txid = checkpoint.map_or(-1, |t| t as i64);
            RecState(&mut self.calls, self.fail).call(format!("init {txid}"))
        }
    }

    impl OwnedTarget {
        fn new(fail: Option<&'static str>) -> Self {
            OwnedTarget {
                state: LogState {
                    calls: Vec::new(),
                    fail,
                },
            }
        }

        /// Hook calls and state calls, in call order (and clear them).
        fn log(&mut self) -> Vec<String> {
            std::mem::take(&mut self.state.calls)
        }
    }

    impl CheckpointTarget for OwnedTarget {
        fn pre_prepare(&mut self, txid: u64) {
            self.state.calls.push(format!("pre_prepare {txid}"));
        }
        fn pre_commit(&mut self, txid: u64) {
            self.state.calls.push(format!("pre_commit {txid}"));
        }
        fn pre_rollback(&mut self) {
            self.state.calls.push("pre_rollback".into());
        }
        fn init_state(&mut self) {
            self.state.calls.push("init_state".into());
        }
        fn state(&mut self) -> &mut dyn State {
            &mut self.state
        }
    }

    fn cp(txid: i64, action: Action) -> Checkpoint {
        Checkpoint { txid, action }
    }

    fn forwarded<T>(o: &CheckpointOutcome<T>) -> bool {
        matches!(o.tuple, Disposition::Forward)
    }

    fn initialised(t: &mut OwnedTarget) -> StatefulBoltState<u32> {
        let mut s = StatefulBoltState::new(1, 10);
        let o = s.checkpoint(cp(-1, Action::InitState), t);
        assert!(forwarded(&o));
        t.log();
        s
    }

    #[test]
    fn tuples_wait_for_initstate_then_run_in_order() {
        let mut t = OwnedTarget::new(None);
        let mut s = StatefulBoltState::new(1, 2);
        assert_eq!(s.input(1), InputAction::Buffered);
        assert_eq!(s.input(2), InputAction::Buffered);
        // Bounded: the third is failed.
        assert_eq!(s.input(3), InputAction::Fail(3));
        assert!(!s.initialized());
        let o = s.checkpoint(cp(-1, Action::InitState), &mut t);
        assert!(forwarded(&o));
        assert_eq!(o.execute, vec![1, 2]);
        assert!(o.ack.is_empty() && o.fail.is_empty());
        assert_eq!(t.log(), ["init -1", "init_state"]);
        assert_eq!(s.input(4), InputAction::Execute(4));
        assert_eq!(s.buffered(), 0);
        // A second INITSTATE (after a recovery) does not initialise the bolt again, but
        // its state learns the checkpoint (the spout may have started again from nothing).
        let o = s.checkpoint(cp(4, Action::InitState), &mut t);
        assert!(forwarded(&o) && o.execute.is_empty());
        assert_eq!(t.log(), ["init 4"]);
    }

    #[test]
    fn a_state_that_cannot_learn_the_checkpoint_fails_initstate_and_keeps_the_inputs() {
        let mut t = OwnedTarget::new(Some("init"));
        let mut s = StatefulBoltState::new(1, 4);
        assert_eq!(s.input(1), InputAction::Buffered);
        let o = s.checkpoint(cp(3, Action::InitState), &mut t);
        assert!(matches!(
            o.tuple,
            Disposition::Fail(CheckpointError::State { .. })
        ));
        assert!(o.execute.is_empty());
        assert!(!s.initialized(), "not initialised on a failed INITSTATE");
        assert_eq!(s.buffered(), 1);
        assert_eq!(t.log(), ["init 3"]);
    }

    #[test]
    fn prepare_before_initstate_fails_the_checkpoint() {
        let mut t = OwnedTarget::new(None);
        let mut s: StatefulBoltState<u32> = StatefulBoltState::new(1, 10);
        let o = s.checkpoint(cp(0, Action::Prepare), &mut t);
        assert!(matches!(
            o.tuple,
            Disposition::Fail(CheckpointError::NotInitialized(_))
        ));
        assert!(t.log().is_empty());
    }

    #[test]
    fn acks_are_deferred_to_commit() {
        let mut t = OwnedTarget::new(None);
        let mut s = initialised(&mut t);
        s.user_ack(1);
        s.user_ack(2);
        let o = s.checkpoint(cp(0, Action::Prepare), &mut t);
        assert!(forwarded(&o) && o.ack.is_empty());
        assert_eq!(t.log(), ["pre_prepare 0", "prepare_commit 0"]);
        // Acked after the PREPARE: belongs to the next checkpoint.
        s.user_ack(3);
        assert_eq!(s.deferred(), 3);
        let o = s.checkpoint(cp(0, Action::Commit), &mut t);
        assert!(forwarded(&o));
        assert_eq!(o.ack, vec![1, 2]);
        assert_eq!(t.log(), ["pre_commit 0", "commit 0"]);
        let o = s.checkpoint(cp(1, Action::Prepare), &mut t);
        assert!(forwarded(&o));
        let o = s.checkpoint(cp(1, Action::Commit), &mut t);
        assert_eq!(o.ack, vec![3]);
        assert_eq!(s.deferred(), 0);
    }

    #[test]
    fn rollback_fails_prepared_and_acked() {
        let mut t = OwnedTarget::new(None);
        let mut s = initialised(&mut t);
        s.user_ack(1);
        s.checkpoint(cp(0, Action::Prepare), &mut t);
        s.user_ack(2);
        t.log();
        let o = s.checkpoint(cp(0, Action::Rollback), &mut t);
        assert!(forwarded(&o));
        assert_eq!(o.fail, vec![1, 2]);
        assert!(o.ack.is_empty());
        assert_eq!(t.log(), ["pre_rollback", "rollback"]);
        // Then the spout re-initialises from txid -1: not stale after the rollback.
        let o = s.checkpoint(cp(-1, Action::InitState), &mut t);
        assert!(forwarded(&o));
        assert_eq!(s.deferred(), 0);
    }

    #[test]
    fn state_errors_fail_the_checkpoint_and_keep_the_tuples() {
        let mut t = OwnedTarget::new(Some("prepare_commit"));
        let mut s = initialised(&mut t);
        s.user_ack(1);
        let o = s.checkpoint(cp(0, Action::Prepare), &mut t);
        assert!(matches!(
            o.tuple,
            Disposition::Fail(CheckpointError::State { .. })
        ));
        // Not moved to prepared: still acked-not-prepared; the rollback fails it.
        t.state.fail = None;
        let o = s.checkpoint(cp(0, Action::Rollback), &mut t);
        assert_eq!(o.fail, vec![1]);

        let mut t = OwnedTarget::new(None);
        let mut s = initialised(&mut t);
        s.user_ack(1);
        s.checkpoint(cp(0, Action::Prepare), &mut t);
        t.state.fail = Some("commit");
        let o = s.checkpoint(cp(0, Action::Commit), &mut t);
        assert!(matches!(o.tuple, Disposition::Fail(_)));
        assert!(o.ack.is_empty());
        // The spout's recovery sends COMMIT again.
        t.state.fail = None;
        let o = s.checkpoint(cp(0, Action::Commit), &mut t);
        assert_eq!(o.ack, vec![1]);
    }

    #[test]
    fn negative_txid_is_refused() {
        let mut t = OwnedTarget::new(None);
        let mut s = initialised(&mut t);
        for a in [Action::Prepare, Action::Commit, Action::Rollback] {
            let o = s.checkpoint(cp(-1, a), &mut t);
            assert!(matches!(
                o.tuple,
                Disposition::Fail(CheckpointError::NegativeTxid(_))
            ));
        }
        assert!(t.log().is_empty());
    }

    #[test]
    fn barrier_waits_for_every_upstream_task_and_ignores_old_txids() {
        let mut t = OwnedTarget::new(None);
        let mut s: StatefulBoltState<u32> = StatefulBoltState::new(2, 10);
        let o = s.checkpoint(cp(-1, Action::InitState), &mut t);
        assert!(matches!(o.tuple, Disposition::Ack));
        assert!(!s.initialized());
        assert_eq!(s.input(7), InputAction::Buffered);
        let o = s.checkpoint(cp(-1, Action::InitState), &mut t);
        assert!(forwarded(&o));
        assert_eq!(o.execute, vec![7]);
        s.user_ack(7);
        for _ in 0..2 {
            s.checkpoint(cp(3, Action::Prepare), &mut t);
        }
        let first = s.checkpoint(cp(3, Action::Commit), &mut t);
        assert!(matches!(first.tuple, Disposition::Ack) && first.ack.is_empty());
        let second = s.checkpoint(cp(3, Action::Commit), &mut t);
        assert!(forwarded(&second));
        assert_eq!(second.ack, vec![7]);
        // An older txid, complete: acked, nothing done.
        t.log();
        for _ in 0..2 {
            let o = s.checkpoint(cp(2, Action::Commit), &mut t);
            assert!(matches!(o.tuple, Disposition::Ack));
        }
        assert!(t.log().is_empty());
    }
}
