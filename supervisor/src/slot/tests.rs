//! The slot's transitions, without processes or real clocks: time is an `Instant` moved
//! by hand.

use super::*;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const WORKER_TIMEOUT: Duration = Duration::from_secs(10);
const GRACE: Duration = Duration::from_secs(3);
const SIGKILL: &str = "killed by signal 9 (SIGKILL)";
/// The cause of a worker killed as hung.
const HUNG: &str = "hung (no heartbeat), killed by signal 9 (SIGKILL)";

fn cfg() -> SlotConfig {
    SlotConfig::new(WORKER_TIMEOUT, START_TIMEOUT, GRACE)
}

fn assignment(id: &str) -> SlotAssignment {
    with_status(id, "ACTIVE")
}

/// Built from JSON, as nimbus sends it.
fn with_status(id: &str, status: &str) -> SlotAssignment {
    let json = serde_json::json!({
        "topology": "t",
        "topology_id": id,
        "status": status,
        "port": 6700,
        "artifact": "a".repeat(64),
        "yaml": "",
        "executors": [[1, 2]],
        "task_locations": {},
        "workers_total": 1,
    });
    match serde_json::from_value(json) {
        Ok(a) => a,
        Err(e) => panic!("test assignment: {e}"),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A slot and a hand-moved clock; `feed` applies one event and returns the actions.
struct Harness {
    slot: Option<Slot>,
    t0: Instant,
    now: Instant,
}

impl Harness {
    fn new() -> Harness {
        let t0 = Instant::now();
        Harness {
            slot: Some(Slot::new(6700, cfg())),
            t0,
            now: t0,
        }
    }

    fn slot(&self) -> &Slot {
        self.slot.as_ref().expect("slot present between steps")
    }

    fn feed(&mut self, event: Event) -> Vec<Action> {
        let slot = self.slot.take().expect("slot present between steps");
        let (slot, actions) = slot.next(event, self.now);
        self.slot = Some(slot);
        actions
    }

    fn advance(&mut self, d: Duration) -> Vec<Action> {
        self.now += d;
        self.feed(Event::Tick)
    }

    fn state(&self) -> SlotState {
        self.slot().reported_state()
    }

    /// Assign `a` and answer download and launch: the worker runs with `pid`.
    fn start(&mut self, a: SlotAssignment, pid: u32) {
        let actions = self.feed(Event::Assigned(Some(a.clone())));
        assert_eq!(actions, vec![Action::Download(a.clone())]);
        self.relaunch(a, pid);
    }

    /// Answer a pending download and launch of `a` with `pid`.
    fn relaunch(&mut self, a: SlotAssignment, pid: u32) {
        assert_eq!(self.state(), SlotState::Downloading);
        let actions = self.feed(Event::Downloaded {
            artifact: a.artifact,
        });
        assert_eq!(actions, vec![Action::Launch(a)]);
        assert_eq!(self.state(), SlotState::Starting);
        assert!(self.feed(Event::Launched { pid }).is_empty());
        assert_eq!(self.slot().pid(), Some(pid));
    }

    /// The worker crashes; returns the actions (a download when restarting at once).
    fn crash(&mut self) -> Vec<Action> {
        self.feed(Event::Exited(SIGKILL.into()))
    }
}

#[test]
fn an_assignment_is_downloaded_launched_then_running_on_its_first_heartbeat() {
    let mut h = Harness::new();
    assert_eq!(h.state(), SlotState::Empty);
    assert!(h.feed(Event::Assigned(None)).is_empty());
    h.start(assignment("t-1"), 42);
    assert_eq!(h.state(), SlotState::Starting);
    h.now += secs(1);
    h.feed(Event::Heartbeat(1000));
    assert_eq!(h.state(), SlotState::Running);
    assert_eq!(h.slot().uptime(h.now), secs(1));
    assert_eq!((h.slot().restarts(), h.slot().last_exit()), (0, None));
}

#[test]
fn a_crash_restarts_at_once_then_backs_off_doubling_and_a_stable_run_resets() {
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.start(a.clone(), 1);
    // First crash: restarted at once.
    assert_eq!(h.crash(), vec![Action::Download(a.clone())]);
    assert_eq!(h.slot().restarts(), 1);
    assert_eq!(h.slot().last_exit(), Some(SIGKILL));
    h.relaunch(a.clone(), 2);
    // Further quick crashes: 0.5 s, 1 s, 2 s, … in Backoff (reported Restarting).
    let mut waits = Vec::new();
    for pid in 3..9 {
        h.now += Duration::from_millis(100);
        assert!(h.crash().is_empty());
        assert_eq!(h.state(), SlotState::Restarting);
        let Phase::Backoff { until, .. } = h.slot().phase().clone() else {
            panic!("expected Backoff, got {:?}", h.slot().phase());
        };
        waits.push((until - h.now).as_millis());
        // Not before the deadline…
        h.now = until - Duration::from_millis(1);
        assert!(h.feed(Event::Tick).is_empty(), "backoff not over yet");
        // …then relaunched.
        assert_eq!(
            h.advance(Duration::from_millis(1)),
            vec![Action::Download(a.clone())]
        );
        h.relaunch(a.clone(), pid);
    }
    assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 16000]);
    assert_eq!(h.slot().restarts(), 7);
    // A worker that ran 30 s is restarted at once again; the count goes on.
    h.now += secs(30);
    assert_eq!(h.crash(), vec![Action::Download(a.clone())]);
    assert_eq!(h.slot().restarts(), 8);
    assert_eq!(h.slot().last_exit(), Some(SIGKILL));
}

#[test]
fn a_worker_without_a_first_heartbeat_is_killed_and_relaunched() {
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.start(a.clone(), 1);
    assert!(
        h.advance(START_TIMEOUT).is_empty(),
        "the timeout is not over yet"
    );
    let actions = h.advance(Duration::from_millis(1));
    assert_eq!(actions, vec![Action::Kill(StopReason::NoFirstHeartbeat)]);
    assert_eq!(h.state(), SlotState::Restarting);
    assert_eq!(
        h.crash(),
        vec![Action::Download(a.clone())],
        "a hang counts as a crash"
    );
    assert_eq!(h.slot().restarts(), 1);
}

#[test]
fn a_hung_worker_is_killed_and_relaunched() {
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.start(a.clone(), 1);
    h.feed(Event::Heartbeat(100));
    // Beats that change keep it alive, however long it runs.
    for v in 1..=30 {
        h.now += secs(1);
        h.feed(Event::Heartbeat(100 + v * 1000));
        assert!(h.feed(Event::Tick).is_empty());
    }
    // The same value over and over is a hang (a stopped process leaves its file as is).
    for _ in 0..10 {
        h.now += secs(1);
        h.feed(Event::Heartbeat(30_100));
        assert!(
            h.feed(Event::Tick).is_empty(),
            "silent for {:?} only",
            h.now
        );
    }
    h.now += Duration::from_millis(1);
    let actions = h.feed(Event::Tick);
    assert_eq!(
        actions,
        vec![Action::Kill(StopReason::HeartbeatTimeout {
            silent: WORKER_TIMEOUT + Duration::from_millis(1)
        })]
    );
    assert_eq!(h.state(), SlotState::Restarting);
    assert_eq!(
        h.slot().pid(),
        Some(1),
        "the process is there until it exits"
    );
    assert_eq!(h.crash(), vec![Action::Download(a.clone())]);
    assert_eq!(
        (h.slot().restarts(), h.slot().last_exit()),
        (1, Some(HUNG)),
        "the cause says it hung"
    );
    h.relaunch(a, 2);
}

#[test]
fn a_removed_assignment_terminates_then_kills_after_the_grace_then_empties() {
    let mut h = Harness::new();
    h.start(assignment("t-1"), 1);
    h.feed(Event::Heartbeat(1));
    let actions = h.feed(Event::Assigned(None));
    assert_eq!(
        actions,
        vec![Action::Terminate(StopReason::AssignmentRemoved)]
    );
    assert_eq!(h.state(), SlotState::Stopping);
    assert!(h.feed(Event::Assigned(None)).is_empty(), "asked once");
    assert!(h.advance(GRACE - Duration::from_millis(1)).is_empty());
    assert_eq!(
        h.advance(Duration::from_millis(1)),
        vec![Action::Kill(StopReason::GraceOver)]
    );
    assert!(h.advance(GRACE).is_empty(), "killed once");
    assert!(h.crash().is_empty());
    assert_eq!(h.state(), SlotState::Empty);
    assert_eq!(h.slot().assignment(), None);
    assert_eq!((h.slot().restarts(), h.slot().last_exit()), (0, None));
}

#[test]
fn a_requested_stop_is_not_a_crash() {
    let mut h = Harness::new();
    h.start(assignment("t-1"), 1);
    h.feed(Event::Assigned(None));
    assert!(
        h.feed(Event::Exited("exited with code 0".into()))
            .is_empty()
    );
    assert_eq!(h.state(), SlotState::Empty);
    assert_eq!(h.slot().restarts(), 0);
}

#[test]
fn a_changed_assignment_kills_and_relaunches_with_a_fresh_count() {
    let mut h = Harness::new();
    let (a, b) = (assignment("t-1"), assignment("t-2"));
    h.start(a.clone(), 1);
    h.crash();
    h.relaunch(a.clone(), 2);
    assert_eq!(h.slot().restarts(), 1);
    let actions = h.feed(Event::Assigned(Some(b.clone())));
    assert_eq!(
        actions,
        vec![Action::Terminate(StopReason::AssignmentChanged)]
    );
    assert_eq!(h.state(), SlotState::Stopping);
    assert_eq!(
        h.feed(Event::Exited("exited with code 0".into())),
        vec![Action::Download(b.clone())]
    );
    assert_eq!((h.slot().restarts(), h.slot().last_exit()), (0, None));
    h.relaunch(b.clone(), 3);
    assert_eq!(h.slot().assignment(), Some(&b));
}

#[test]
fn a_status_only_change_does_not_restart() {
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.start(a.clone(), 1);
    h.feed(Event::Heartbeat(1));
    h.crash();
    h.relaunch(a.clone(), 2);
    h.feed(Event::Heartbeat(2));
    let inactive = with_status("t-1", "INACTIVE");
    assert!(!a.needs_restart_for(&inactive));
    assert!(h.feed(Event::Assigned(Some(inactive.clone()))).is_empty());
    assert_eq!(h.state(), SlotState::Running);
    assert_eq!(
        h.slot().assignment(),
        Some(&inactive),
        "the status is taken"
    );
    assert_eq!(
        (h.slot().restarts(), h.slot().last_exit()),
        (1, Some(SIGKILL))
    );
}

#[test]
fn download_and_launch_failures_retry_after_a_delay_without_counting_restarts() {
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.feed(Event::Assigned(Some(a.clone())));
    assert!(
        h.feed(Event::DownloadFailed("nimbus: 404".into()))
            .is_empty()
    );
    assert_eq!(h.state(), SlotState::Restarting);
    assert_eq!(h.slot().last_exit(), Some("download failed: nimbus: 404"));
    let first = RETRY_BACKOFF.delay(1);
    assert!(h.advance(first - Duration::from_millis(1)).is_empty());
    assert_eq!(
        h.advance(Duration::from_millis(1)),
        vec![Action::Download(a.clone())]
    );
    h.feed(Event::Downloaded {
        artifact: a.artifact,
    });
    assert!(
        h.feed(Event::LaunchFailed("exec format error".into()))
            .is_empty()
    );
    assert_eq!(h.state(), SlotState::Restarting);
    assert_eq!(
        h.slot().last_exit(),
        Some("launch failed: exec format error")
    );
    assert_eq!(h.slot().restarts(), 0);
    // The assignment goes away meanwhile: nothing to retry.
    assert!(h.feed(Event::Assigned(None)).is_empty());
    assert_eq!(h.state(), SlotState::Empty);
}

/// The instant after a failed start at which the slot retries (the first `Download`).
fn retry_after_failure(h: &mut Harness, a: &SlotAssignment) -> Duration {
    assert!(h.feed(Event::DownloadFailed("stalled".into())).is_empty());
    let failed = h.now;
    let step = Duration::from_millis(250);
    for _ in 0..1000 {
        if h.advance(step) == vec![Action::Download(a.clone())] {
            return h.now - failed;
        }
    }
    panic!("no retry within 250 s of a failed download");
}

#[test]
fn failed_downloads_back_off_exponentially_until_a_worker_runs() {
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.feed(Event::Assigned(Some(a.clone())));
    let delays: Vec<Duration> = (0..8).map(|_| retry_after_failure(&mut h, &a)).collect();
    let expected: Vec<Duration> = (1..=8).map(|n| RETRY_BACKOFF.delay(n)).collect();
    assert_eq!(delays, expected);
    assert_eq!(expected[..3], [secs(1), secs(2), secs(4)]);
    assert_eq!(*expected.last().unwrap_or(&secs(0)), RETRY_BACKOFF.max());
    assert_eq!(h.slot().restarts(), 0, "failed starts are not restarts");
    // A worker that heartbeats resets the backoff.
    h.feed(Event::Downloaded {
        artifact: a.artifact,
    });
    h.feed(Event::Launched { pid: 7 });
    h.feed(Event::Heartbeat(1));
    assert_eq!(h.state(), SlotState::Running);
    h.feed(Event::Exited("exited with code 1".into()));
    if h.slot().phase()
        != &(Phase::Downloading {
            assignment: a.clone(),
        })
    {
        h.advance(secs(60));
    }
    assert_eq!(retry_after_failure(&mut h, &a), secs(1));
}

#[test]
fn a_new_assignment_does_not_wait_for_the_old_backoff() {
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.start(a.clone(), 1);
    h.crash();
    h.relaunch(a, 2);
    h.crash();
    assert_eq!(h.state(), SlotState::Restarting);
    let b = assignment("t-2");
    assert_eq!(
        h.feed(Event::Assigned(Some(b.clone()))),
        vec![Action::Download(b)]
    );
    assert_eq!(h.slot().restarts(), 0);
}

#[test]
fn changes_during_a_download_wait_for_its_outcome() {
    let mut h = Harness::new();
    let (a, b) = (assignment("t-1"), assignment("t-2"));
    h.feed(Event::Assigned(Some(a.clone())));
    assert!(h.feed(Event::Assigned(Some(b.clone()))).is_empty());
    // A stale download result is ignored.
    let mut other = a.clone();
    other.artifact = squall_runtime::cluster::protocol::ArtifactHash::of_bytes(b"other");
    assert!(
        h.feed(Event::Downloaded {
            artifact: other.artifact
        })
        .is_empty()
    );
    h.relaunch(a, 1);
    // The next feed of nimbus's assignment replaces the worker.
    assert_eq!(
        h.feed(Event::Assigned(Some(b))),
        vec![Action::Terminate(StopReason::AssignmentChanged)]
    );
}

#[test]
fn shutdown_stops_the_worker_and_relaunches_nothing() {
    let mut h = Harness::new();
    h.start(assignment("t-1"), 1);
    assert_eq!(
        h.feed(Event::Shutdown),
        vec![Action::Terminate(StopReason::Shutdown)]
    );
    assert_eq!(h.advance(GRACE), vec![Action::Kill(StopReason::GraceOver)]);
    assert!(h.crash().is_empty());
    assert_eq!(h.state(), SlotState::Empty);
    // A slot waiting in backoff just empties.
    let mut h = Harness::new();
    h.start(assignment("t-1"), 1);
    h.crash();
    h.relaunch(assignment("t-1"), 2);
    h.crash();
    assert!(h.feed(Event::Shutdown).is_empty());
    assert_eq!(h.state(), SlotState::Empty);
}

#[test]
fn a_hung_worker_reassigned_elsewhere_is_not_relaunched() {
    let mut h = Harness::new();
    h.start(assignment("t-1"), 1);
    h.advance(START_TIMEOUT + secs(1));
    assert_eq!(h.state(), SlotState::Restarting);
    assert!(h.feed(Event::Assigned(None)).is_empty());
    assert_eq!(h.state(), SlotState::Stopping);
    assert!(h.crash().is_empty());
    assert_eq!(h.state(), SlotState::Empty);
}

#[test]
fn deadlines_tell_when_to_tick() {
    let mut h = Harness::new();
    assert_eq!(h.slot().next_deadline(), None);
    h.start(assignment("t-1"), 1);
    assert_eq!(h.slot().next_deadline(), Some(h.t0 + START_TIMEOUT));
    h.now += secs(2);
    h.feed(Event::Heartbeat(7));
    assert_eq!(
        h.slot().next_deadline(),
        Some(h.t0 + secs(2) + WORKER_TIMEOUT)
    );
    h.feed(Event::Assigned(None));
    assert_eq!(h.slot().next_deadline(), Some(h.now + GRACE));
}

#[test]
fn transitions_are_fast() {
    // Hundreds of microseconds per scenario: no processes, no sleeps.
    let begin = Instant::now();
    for _ in 0..100 {
        let mut h = Harness::new();
        h.start(assignment("t-1"), 1);
        h.feed(Event::Heartbeat(1));
        h.feed(Event::Assigned(None));
        h.advance(GRACE);
        h.crash();
    }
    assert!(begin.elapsed() < secs(1), "took {:?}", begin.elapsed());
}

#[test]
fn a_wall_clock_step_in_the_heartbeat_file_is_not_a_hang() {
    // The worker writes wall-clock millis; NTP steps them back an hour. Only a change
    // matters, judged on the supervisor's monotonic time.
    let mut h = Harness::new();
    h.start(assignment("t-1"), 1);
    let wall = 1_700_000_000_000u64;
    h.feed(Event::Heartbeat(wall));
    for step in 1..=20u64 {
        h.now += secs(1);
        h.feed(Event::Heartbeat(wall - 3_600_000 + step * 1000));
        assert!(h.feed(Event::Tick).is_empty());
    }
    assert_eq!(h.state(), SlotState::Running);
}

#[test]
fn an_adopted_worker_keeps_running_when_nimbus_assigns_the_same_and_is_replaced_otherwise() {
    // Same assignment (a status change aside): it runs on, no launch, no restart.
    let mut h = Harness::new();
    let a = assignment("t-1");
    let adopted = Event::Adopted {
        assignment: a.clone(),
        pid: 77,
    };
    assert!(h.feed(adopted.clone()).is_empty());
    assert_eq!((h.state(), h.slot().pid()), (SlotState::Starting, Some(77)));
    assert!(h.feed(Event::Heartbeat(5)).is_empty());
    assert_eq!(h.state(), SlotState::Running);
    let paused = with_status("t-1", "INACTIVE");
    assert!(h.feed(Event::Assigned(Some(paused.clone()))).is_empty());
    assert_eq!(h.slot().assignment(), Some(&paused));
    assert_eq!((h.slot().pid(), h.slot().restarts()), (Some(77), 0));

    // A new submission since: stopped, then the new one is downloaded afresh.
    let mut h = Harness::new();
    h.feed(adopted.clone());
    let b = assignment("t-2");
    assert_eq!(
        h.feed(Event::Assigned(Some(b.clone()))),
        vec![Action::Terminate(StopReason::AssignmentChanged)]
    );
    assert_eq!(
        h.feed(Event::Exited("ended".into())),
        vec![Action::Download(b)]
    );
    assert_eq!(h.slot().restarts(), 0);

    // Nothing assigned any more: stopped, the slot empties.
    let mut h = Harness::new();
    h.feed(adopted.clone());
    assert_eq!(
        h.feed(Event::Assigned(None)),
        vec![Action::Terminate(StopReason::AssignmentRemoved)]
    );
    assert!(h.feed(Event::Exited("ended".into())).is_empty());
    assert_eq!(h.state(), SlotState::Empty);

    // Only an empty slot adopts.
    let mut h = Harness::new();
    h.start(a, 1);
    assert!(h.feed(adopted).is_empty());
    assert_eq!(h.slot().pid(), Some(1));
}

const OVER: &str =
    "killed: memory 612 MiB over the limit of 512 MiB (topology.worker.max.memory.mb)";

#[test]
fn a_worker_over_its_memory_limit_is_killed_and_restarted_with_the_cause_as_last_exit() {
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.start(a.clone(), 1);
    h.feed(Event::Heartbeat(1));
    assert_eq!(
        h.feed(Event::OverMemory(OVER.into())),
        vec![Action::Kill(StopReason::MemoryLimit)]
    );
    assert_eq!(h.state(), SlotState::Restarting);
    assert_eq!(h.slot().pid(), Some(1), "there until it exits");
    assert!(
        h.feed(Event::OverMemory(OVER.into())).is_empty(),
        "killed once"
    );
    // Nimbus's same assignment while it dies changes nothing.
    assert!(h.feed(Event::Assigned(Some(a.clone()))).is_empty());
    assert!(h.advance(GRACE).is_empty(), "no grace: SIGKILL was sent");
    // Its exit status says SIGKILL; the slot says why.
    assert_eq!(h.crash(), vec![Action::Download(a.clone())]);
    assert_eq!((h.slot().restarts(), h.slot().last_exit()), (1, Some(OVER)));
    h.relaunch(a.clone(), 2);
    // Killed again soon after: a crash like any other, with the backoff.
    h.feed(Event::OverMemory(OVER.into()));
    h.now += Duration::from_millis(100);
    assert!(h.crash().is_empty());
    assert!(matches!(h.slot().phase(), Phase::Backoff { .. }));
    assert_eq!((h.slot().restarts(), h.slot().last_exit()), (2, Some(OVER)));
}

#[test]
fn a_stopping_worker_over_its_memory_limit_is_killed_at_once_and_stops_as_planned() {
    let mut h = Harness::new();
    h.start(assignment("t-1"), 1);
    assert_eq!(
        h.feed(Event::Assigned(None)),
        vec![Action::Terminate(StopReason::AssignmentRemoved)]
    );
    assert_eq!(
        h.feed(Event::OverMemory(OVER.into())),
        vec![Action::Kill(StopReason::MemoryLimit)]
    );
    assert!(h.advance(GRACE).is_empty(), "killed already");
    assert!(h.crash().is_empty());
    assert_eq!(h.state(), SlotState::Empty);
    // A hung worker (SIGKILL sent) over its limit: nothing more to send.
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.start(a.clone(), 1);
    h.advance(START_TIMEOUT + Duration::from_millis(1));
    assert!(h.feed(Event::OverMemory(OVER.into())).is_empty());
    assert_eq!(h.crash(), vec![Action::Download(a)]);
    assert_eq!(h.slot().last_exit(), Some(HUNG));
    // No process: nothing to kill.
    let mut h = Harness::new();
    assert!(h.feed(Event::OverMemory(OVER.into())).is_empty());
    assert_eq!(h.state(), SlotState::Empty);
}

#[test]
fn an_adopted_worker_over_its_memory_limit_is_killed_and_relaunched() {
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.feed(Event::Adopted {
        assignment: a.clone(),
        pid: 7,
    });
    assert_eq!(
        h.feed(Event::OverMemory(OVER.into())),
        vec![Action::Kill(StopReason::MemoryLimit)]
    );
    assert_eq!(h.crash(), vec![Action::Download(a)]);
    assert_eq!(h.slot().last_exit(), Some(OVER));
}

#[test]
fn restarts_are_remembered_with_time_and_cause_the_last_ten_only_and_a_new_assignment_forgets_them()
{
    use squall_runtime::cluster::protocol::MAX_RESTARTS_REPORTED;
    let mut h = Harness::new();
    let a = assignment("t-1");
    h.start(a.clone(), 1);
    h.feed(Event::Heartbeat(1));
    h.feed(Event::OverMemory(OVER.into()));
    let killed_at = h.now;
    h.crash();
    let history: Vec<(Instant, &str)> = h.slot().restart_history().collect();
    assert_eq!(history, vec![(killed_at, OVER)]);
    for pid in 2..(MAX_RESTARTS_REPORTED as u32 + 5) {
        // Each ran a minute: restarted at once, no backoff.
        h.relaunch(a.clone(), pid);
        h.now += secs(60);
        h.crash();
    }
    let history: Vec<(Instant, &str)> = h.slot().restart_history().collect();
    assert_eq!(history.len(), MAX_RESTARTS_REPORTED);
    assert!(
        history.iter().all(|(_, how)| *how == SIGKILL),
        "{history:?}"
    );
    assert_eq!(history.last().map(|(at, _)| *at), Some(h.now));
    assert!(history.windows(2).all(|w| w[0].0 < w[1].0), "oldest first");
    assert_eq!(h.slot().restarts(), MAX_RESTARTS_REPORTED as u32 + 4);
    // A new assignment starts a new history, as the restart count does.
    h.relaunch(a, 99);
    h.feed(Event::Assigned(Some(assignment("t-2"))));
    h.crash();
    assert_eq!(h.slot().restarts(), 0);
    assert_eq!(h.slot().restart_history().count(), 0);
}
