//! The checkpoint spout's state machine (Storm's `CheckPointState` and the logic of
//! `CheckpointSpout`), pure: the caller feeds it the time, acks and fails, and emits
//! the [`Checkpoint`]s it returns, anchored with the txid as message id.
//!
//! Normal mode: `COMMITTED` --interval elapsed--> `txid+1 PREPARING`, emit PREPARE;
//! ack → `COMMITTING`, emit COMMIT; ack → `COMMITTED`. Any fail (or a failed save) →
//! recovery. Recovery (at start and after a failure): from `PREPARING` emit ROLLBACK,
//! ack → `txid-1 COMMITTED`; from `COMMITTING` emit COMMIT, ack → `COMMITTED`; from
//! `COMMITTED` emit INITSTATE, ack → recovery ends. Every state change is saved
//! through a [`TxStateStore`] before anything is emitted for it.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Action, Checkpoint};
use crate::state::StateError;

/// Where a transaction is (Storm's `CheckPointState.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxPhase {
    /// The txid is committed everywhere (or none was ever started).
    #[serde(rename = "COMMITTED")]
    Committed,
    /// PREPARE was (or is being) sent for the txid.
    #[serde(rename = "PREPARING")]
    Preparing,
    /// Every bolt prepared the txid; COMMIT was (or is being) sent.
    #[serde(rename = "COMMITTING")]
    Committing,
}

/// The checkpoint spout's persisted state (Storm's `CheckPointState`): a txid and its
/// phase. Serialized with serde (`{"txid":-1,"phase":"COMMITTED"}` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxState {
    /// The transaction; `-1` before the first one (Storm's initial value).
    pub txid: i64,
    /// Its phase.
    pub phase: TxPhase,
}

impl Default for TxState {
    fn default() -> Self {
        TxState::INITIAL
    }
}

impl TxState {
    /// The state of a spout that never checkpointed: `{txid: -1, COMMITTED}`.
    pub const INITIAL: TxState = TxState {
        txid: -1,
        phase: TxPhase::Committed,
    };

    /// The state after the current action is acked (Storm's `nextState`).
    pub fn next_state(self, recovering: bool) -> TxState {
        let TxState { txid, phase } = self;
        match phase {
            TxPhase::Preparing if recovering => TxState {
                txid: txid - 1,
                phase: TxPhase::Committed,
            },
            TxPhase::Preparing => TxState {
                txid,
                phase: TxPhase::Committing,
            },
            TxPhase::Committing => TxState {
                txid,
                phase: TxPhase::Committed,
            },
            TxPhase::Committed if recovering => self,
            TxPhase::Committed => TxState {
                txid: txid + 1,
                phase: TxPhase::Preparing,
            },
        }
    }

    /// The action to emit in this state (Storm's `nextAction`).
    pub fn next_action(self, recovering: bool) -> Action {
        match self.phase {
            TxPhase::Preparing if recovering => Action::Rollback,
            TxPhase::Preparing => Action::Prepare,
            TxPhase::Committing => Action::Commit,
            TxPhase::Committed if recovering => Action::InitState,
            TxPhase::Committed => Action::Prepare,
        }
    }
}

/// Where the checkpoint spout keeps its [`TxState`]: in Squall, a typed key-value
/// state of the topology's provider, namespace `$checkpointspout-<task>`, key
/// [`super::SPOUT_STATE_KEY`]. A save must be durable when it returns (the provider's
/// `prepare_commit` and `commit`).
pub trait TxStateStore: Send {
    /// The saved state, `None` if none was ever saved.
    fn load(&mut self) -> Result<Option<TxState>, StateError>;
    /// Save `state` durably.
    fn save(&mut self, state: TxState) -> Result<(), StateError>;
}

/// A [`TxStateStore`] in memory (tests; a topology without a persistent provider).
#[derive(Debug, Default, Clone)]
pub struct MemoryTxStore {
    /// What was saved last.
    pub saved: Option<TxState>,
    /// Make the next saves fail (tests).
    pub fail_saves: bool,
}

impl TxStateStore for MemoryTxStore {
    fn load(&mut self) -> Result<Option<TxState>, StateError> {
        Ok(self.saved)
    }

    fn save(&mut self, state: TxState) -> Result<(), StateError> {
        if self.fail_saves {
            return Err(StateError::Store {
                namespace: super::spout_namespace(0),
                message: "save refused (test)".into(),
            });
        }
        self.saved = Some(state);
        Ok(())
    }
}

/// The checkpoint spout's logic (Storm's `CheckpointSpout`), without the engine: one
/// step in progress at a time, either a recovery step or a checkpoint step.
#[derive(Debug, Clone)]
pub struct CheckpointSpoutState {
    current: TxState,
    interval: Duration,
    /// When the last PREPARE of a new txid was started (`None`: never, so the first
    /// checkpoint starts at once after recovery).
    last_checkpoint: Option<Instant>,
    recovering: bool,
    step_in_progress: bool,
}

impl CheckpointSpoutState {
    /// Load the saved state from `store` (saving [`TxState::INITIAL`] if there is none)
    /// and start in recovery, as every (re)started checkpoint spout does.
    pub fn open(store: &mut dyn TxStateStore, interval: Duration) -> Result<Self, StateError> {
        let current = match store.load()? {
            Some(s) => s,
            None => {
                store.save(TxState::INITIAL)?;
                TxState::INITIAL
            }
        };
        Ok(CheckpointSpoutState {
            current,
            interval,
            last_checkpoint: None,
            recovering: true,
            step_in_progress: false,
        })
    }

    /// The current (saved) state.
    pub fn current(&self) -> TxState {
        self.current
    }

    /// Whether the spout is recovering (no new checkpoint starts until INITSTATE is acked).
    pub fn recovering(&self) -> bool {
        self.recovering
    }

    /// Whether an emitted checkpoint tuple awaits its ack or fail.
    pub fn in_progress(&self) -> bool {
        self.step_in_progress
    }

    /// Called from `next_tuple`: what to emit now, if anything. In recovery, the
    /// recovery action of the current state; otherwise a COMMIT of a prepared txid, or
    /// the PREPARE of the next txid once the interval has elapsed (saving `PREPARING`
    /// first). A failed save enters recovery and is returned.
    pub fn poll(
        &mut self,
        now: Instant,
        store: &mut dyn TxStateStore,
    ) -> Result<Option<Checkpoint>, StateError> {
        if self.step_in_progress {
            return Ok(None);
        }
        if self.recovering {
            self.step_in_progress = true;
            return Ok(Some(self.emit(true)));
        }
        if self.current.phase == TxPhase::Committed {
            let elapsed = self
                .last_checkpoint
                .is_none_or(|t| now.saturating_duration_since(t) >= self.interval);
            if !elapsed {
                return Ok(None);
            }
            self.save(self.current.next_state(false), store)?;
            self.last_checkpoint = Some(now);
        }
        self.step_in_progress = true;
        Ok(Some(self.emit(false)))
    }

    /// How long until [`CheckpointSpoutState::poll`] may emit a new PREPARE (zero if it
    /// may now, or if a step waits for its ack): lets the spout sleep precisely.
    pub fn until_next(&self, now: Instant) -> Duration {
        match self.last_checkpoint {
            Some(t) if !self.recovering && !self.step_in_progress => {
                (t + self.interval).saturating_duration_since(now)
            }
            _ => Duration::ZERO,
        }
    }

    /// The checkpoint tuple of `txid` was acked by every task. In recovery, moves to the
    /// next recovery state (INITSTATE acked ends recovery); otherwise to the next
    /// checkpoint state. An ack of another txid is ignored (returns `false`). A failed
    /// save enters recovery and is returned.
    pub fn ack(&mut self, txid: i64, store: &mut dyn TxStateStore) -> Result<bool, StateError> {
        self.step_in_progress = false;
        if txid != self.current.txid {
            tracing::warn!(
                txid,
                current = self.current.txid,
                "checkpoint ack of another txid, ignored"
            );
            return Ok(false);
        }
        let next = self.current.next_state(self.recovering);
        if self.recovering && next == self.current {
            tracing::debug!(state = ?self.current, "checkpoint recovery complete");
            self.recovering = false;
            return Ok(true);
        }
        self.save(next, store)?;
        Ok(true)
    }

    /// The checkpoint tuple of `txid` failed or timed out: recover.
    pub fn fail(&mut self, _txid: i64) {
        self.step_in_progress = false;
        if !self.recovering {
            tracing::debug!(state = ?self.current, "checkpoint failed, recovering");
            self.recovering = true;
        }
    }

    fn emit(&self, recovering: bool) -> Checkpoint {
        Checkpoint {
            txid: self.current.txid,
            action: self.current.next_action(recovering),
        }
    }

    fn save(&mut self, next: TxState, store: &mut dyn TxStateStore) -> Result<(), StateError> {
        match store.save(next) {
            Ok(()) => {
                self.current = next;
                Ok(())
            }
            Err(e) => {
                self.recovering = true;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn st(txid: i64, phase: TxPhase) -> TxState {
        TxState { txid, phase }
    }

    fn cp(txid: i64, action: Action) -> Option<Checkpoint> {
        Some(Checkpoint { txid, action })
    }

    #[test]
    fn pure_transitions_match_storm() {
        use TxPhase::*;
        // (state, recovering) -> (action, next state)
        let cases = [
            (st(4, Committed), false, Action::Prepare, st(5, Preparing)),
            (st(4, Committed), true, Action::InitState, st(4, Committed)),
            (st(5, Preparing), false, Action::Prepare, st(5, Committing)),
            (st(5, Preparing), true, Action::Rollback, st(4, Committed)),
            (st(5, Committing), false, Action::Commit, st(5, Committed)),
            (st(5, Committing), true, Action::Commit, st(5, Committed)),
            (st(0, Preparing), true, Action::Rollback, st(-1, Committed)),
        ];
        for (s, rec, action, next) in cases {
            assert_eq!(s.next_action(rec), action, "{s:?} recovering={rec}");
            assert_eq!(s.next_state(rec), next, "{s:?} recovering={rec}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let s = st(-1, TxPhase::Committed);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"txid":-1,"phase":"COMMITTED"}"#);
        assert_eq!(serde_json::from_str::<TxState>(&json).unwrap(), s);
        let p: TxState = serde_json::from_str(r#"{"txid":7,"phase":"COMMITTING"}"#).unwrap();
        assert_eq!(p, st(7, TxPhase::Committing));
    }

    #[test]
    fn fresh_spout_saves_initial_then_initstate_then_checkpoints() {
        let t0 = Instant::now();
        let mut store = MemoryTxStore::default();
        let mut s = CheckpointSpoutState::open(&mut store, 100 * MS).unwrap();
        assert_eq!(store.saved, Some(TxState::INITIAL));
        assert!(s.recovering());
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(-1, Action::InitState));
        // One step at a time.
        assert_eq!(s.poll(t0, &mut store).unwrap(), None);
        assert!(s.ack(-1, &mut store).unwrap());
        assert!(!s.recovering());
        // No checkpoint yet: the first one starts at once.
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(0, Action::Prepare));
        assert_eq!(store.saved, Some(st(0, TxPhase::Preparing)));
        assert!(s.ack(0, &mut store).unwrap());
        assert_eq!(store.saved, Some(st(0, TxPhase::Committing)));
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(0, Action::Commit));
        assert!(s.ack(0, &mut store).unwrap());
        assert_eq!(store.saved, Some(st(0, TxPhase::Committed)));
        // The interval has not elapsed.
        assert_eq!(s.poll(t0 + 99 * MS, &mut store).unwrap(), None);
        assert_eq!(s.until_next(t0 + 99 * MS), MS);
        assert_eq!(
            s.poll(t0 + 100 * MS, &mut store).unwrap(),
            cp(1, Action::Prepare)
        );
        assert_eq!(store.saved, Some(st(1, TxPhase::Preparing)));
    }

    #[test]
    fn fail_in_prepare_rolls_back_then_initstate() {
        let t0 = Instant::now();
        let mut store = MemoryTxStore {
            saved: Some(st(3, TxPhase::Committed)),
            fail_saves: false,
        };
        let mut s = CheckpointSpoutState::open(&mut store, 100 * MS).unwrap();
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(3, Action::InitState));
        s.ack(3, &mut store).unwrap();
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(4, Action::Prepare));
        s.fail(4);
        assert!(s.recovering());
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(4, Action::Rollback));
        s.ack(4, &mut store).unwrap();
        assert_eq!(store.saved, Some(st(3, TxPhase::Committed)));
        assert!(s.recovering());
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(3, Action::InitState));
        s.ack(3, &mut store).unwrap();
        assert!(!s.recovering());
    }

    #[test]
    fn fail_in_commit_recommits_then_initstate() {
        let t0 = Instant::now();
        let mut store = MemoryTxStore::default();
        let mut s = CheckpointSpoutState::open(&mut store, 100 * MS).unwrap();
        s.poll(t0, &mut store).unwrap();
        s.ack(-1, &mut store).unwrap();
        s.poll(t0, &mut store).unwrap();
        s.ack(0, &mut store).unwrap();
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(0, Action::Commit));
        s.fail(0);
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(0, Action::Commit));
        s.ack(0, &mut store).unwrap();
        assert_eq!(store.saved, Some(st(0, TxPhase::Committed)));
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(0, Action::InitState));
        // A failed INITSTATE is sent again.
        s.fail(0);
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(0, Action::InitState));
        s.ack(0, &mut store).unwrap();
        assert!(!s.recovering());
    }

    #[test]
    fn restart_recovers_from_each_saved_state() {
        let t0 = Instant::now();
        let cases = [
            (
                st(5, TxPhase::Preparing),
                Action::Rollback,
                st(4, TxPhase::Committed),
            ),
            (
                st(5, TxPhase::Committing),
                Action::Commit,
                st(5, TxPhase::Committed),
            ),
        ];
        for (saved, first, after) in cases {
            let mut store = MemoryTxStore {
                saved: Some(saved),
                fail_saves: false,
            };
            let mut s = CheckpointSpoutState::open(&mut store, 100 * MS).unwrap();
            assert_eq!(s.poll(t0, &mut store).unwrap(), cp(saved.txid, first));
            s.ack(saved.txid, &mut store).unwrap();
            assert_eq!(store.saved, Some(after));
            assert_eq!(
                s.poll(t0, &mut store).unwrap(),
                cp(after.txid, Action::InitState)
            );
            s.ack(after.txid, &mut store).unwrap();
            assert!(!s.recovering());
            assert_eq!(
                s.poll(t0, &mut store).unwrap(),
                cp(after.txid + 1, Action::Prepare)
            );
        }
    }

    #[test]
    fn ack_of_another_txid_is_ignored() {
        let t0 = Instant::now();
        let mut store = MemoryTxStore::default();
        let mut s = CheckpointSpoutState::open(&mut store, 100 * MS).unwrap();
        s.poll(t0, &mut store).unwrap();
        assert!(!s.ack(9, &mut store).unwrap());
        assert!(s.recovering());
        assert_eq!(store.saved, Some(TxState::INITIAL));
        // The step is no longer in progress: INITSTATE is sent again.
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(-1, Action::InitState));
    }

    #[test]
    fn failed_save_enters_recovery() {
        let t0 = Instant::now();
        let mut store = MemoryTxStore::default();
        let mut s = CheckpointSpoutState::open(&mut store, 100 * MS).unwrap();
        s.poll(t0, &mut store).unwrap();
        s.ack(-1, &mut store).unwrap();
        store.fail_saves = true;
        assert!(s.poll(t0, &mut store).is_err());
        assert!(s.recovering());
        assert_eq!(s.current(), TxState::INITIAL);
        store.fail_saves = false;
        assert_eq!(s.poll(t0, &mut store).unwrap(), cp(-1, Action::InitState));
    }
}
