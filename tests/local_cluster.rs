//! The cluster in one process (`squall::local_cluster`): scheduling, reassignment and
//! worker restarts on a manual clock, deterministic and fast. The real-process versions
//! are in `cluster.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use squall::local_cluster::{LocalCluster, SIMULATED_CRASH, stock_registry};
use squall_runtime::cluster::protocol::{SlotState, TopologyInfo};

/// Bound of every wait on the cluster (real time); each is normally over in well
/// under a second or two.
const LIMIT: Duration = Duration::from_secs(8);
/// Nimbus's supervisor timeout in these tests (on the manual clock).
const SUPERVISOR_TIMEOUT: Duration = Duration::from_secs(10);

/// A word count fed at a bounded rate (200 tuples/s), on `workers` workers.
fn wordcount(name: &str, workers: u32) -> String {
    format!(
        r#"name: {name}
config:
  topology.workers: {workers}
  topology.max.spout.pending: 200
spouts:
  - id: spout
    className: ConstSpout
    constructorArgs: [0, 200]
bolts:
  - id: split
    className: SplitSentenceBolt
    parallelism: 2
  - id: count
    className: WordCountBolt
    parallelism: 2
streams:
  - from: spout
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: ["word"]}}
"#
    )
}

async fn cluster(supervisors: usize, slots: usize) -> LocalCluster {
    LocalCluster::builder()
        .supervisors(supervisors)
        .slots_per_supervisor(slots)
        .registry(stock_registry())
        .supervisor_timeout(SUPERVISOR_TIMEOUT)
        .start()
        .await
        .expect("local cluster")
}

/// Tuples the `count` bolt executed, summed over its tasks.
fn counted(info: &TopologyInfo) -> u64 {
    info.components
        .get("count")
        .map_or(0, |c| c.counters.executed)
}

/// Supervisors of the assignment, one entry per worker.
fn assigned_supervisors(info: &TopologyInfo) -> Vec<String> {
    info.assignment
        .iter()
        .map(|w| w.supervisor.clone())
        .collect()
}

/// Whether every assigned worker reports `running`.
fn all_running(info: &TopologyInfo) -> bool {
    !info.assignment.is_empty()
        && info.assignment.iter().all(|a| {
            info.workers.iter().any(|w| {
                w.supervisor == a.supervisor
                    && w.report.port == a.port
                    && w.report.state == SlotState::Running
            })
        })
}

/// Wait until the `count` bolt has executed more than `above` tuples; returns how many.
async fn counts_above(c: &LocalCluster, name: &str, above: u64) -> u64 {
    let info = c
        .wait_for_status(name, &format!("count to execute > {above}"), LIMIT, |t| {
            counted(t) > above
        })
        .await
        .expect("counters grow");
    counted(&info)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topology_is_spread_one_worker_per_supervisor_and_counts() {
    let c = cluster(2, 2).await;
    let submitted = c.submit(&wordcount("spread", 2)).await.expect("submit");
    assert_eq!(submitted.name, "spread");

    let info = c
        .wait_for_status("spread", "2 running workers", LIMIT, |t| {
            t.assignment.len() == 2 && all_running(t)
        })
        .await
        .unwrap();
    let on: BTreeSet<String> = assigned_supervisors(&info).into_iter().collect();
    let both: BTreeSet<String> = [0, 1]
        .map(|i| c.supervisor_id(i).unwrap().to_string())
        .into();
    assert_eq!(
        on, both,
        "one worker on each supervisor: {:?}",
        info.assignment
    );
    for w in &info.workers {
        assert!(
            c.slots(if w.supervisor == c.supervisor_id(0).unwrap() {
                0
            } else {
                1
            })
            .contains(&w.report.port),
            "a worker on a port of its supervisor: {w:?}"
        );
        assert_eq!(w.report.restarts, 0);
    }

    let first = counts_above(&c, "spread", 0).await;
    counts_above(&c, "spread", first).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_supervisor_loses_its_worker_only_once_the_clock_passes_the_timeout() {
    let mut c = cluster(2, 2).await;
    c.submit(&wordcount("moving", 2)).await.expect("submit");
    c.wait_for_status("moving", "2 running workers", LIMIT, |t| {
        t.assignment.len() == 2 && all_running(t)
    })
    .await
    .unwrap();
    let (silent, other) = (
        c.supervisor_id(0).unwrap().to_string(),
        c.supervisor_id(1).unwrap().to_string(),
    );

    c.pause_heartbeats(0, true).unwrap();
    // Real time passes (many monitor passes and supervisor ticks), the clock does not:
    // nothing moves.
    let before = c.status("moving").await.unwrap().assignment;
    let moved = c
        .wait_for_status(
            "moving",
            "(must not happen) a worker to move",
            Duration::from_millis(600),
            |t| t.assignment != before,
        )
        .await;
    assert!(
        moved.is_err(),
        "the assignment changed without the clock moving: {moved:?}"
    );
    let sups = c.nimbus().supervisors().await.unwrap();
    assert!(
        sups.supervisors.iter().all(|s| s.alive),
        "no supervisor is dead before the timeout: {sups:?}"
    );

    // Just short of the timeout: still nothing.
    c.advance(SUPERVISOR_TIMEOUT - Duration::from_secs(1))
        .await
        .unwrap();
    let still = c.status("moving").await.unwrap();
    assert_eq!(still.assignment, before, "moved before the timeout");

    c.advance(Duration::from_secs(2)).await.unwrap();
    let info = c
        .wait_for_status(
            "moving",
            "both workers on the live supervisor, running",
            LIMIT,
            |t| {
                t.assignment.len() == 2
                    && assigned_supervisors(t).iter().all(|s| *s == other)
                    && all_running(t)
            },
        )
        .await
        .unwrap();
    let sups = c.nimbus().supervisors().await.unwrap();
    assert!(
        sups.supervisors.iter().any(|s| s.id == silent && !s.alive),
        "the silent supervisor is dead: {sups:?}"
    );
    let now = counts_above(&c, "moving", 0).await.max(counted(&info));
    counts_above(&c, "moving", now).await;

    // Reconnected, the supervisor learns it has nothing left and stops its worker.
    c.pause_heartbeats(0, false).unwrap();
    c.wait_until(
        "the reconnected supervisor to report no worker",
        LIMIT,
        || async {
            let sups = c.nimbus().supervisors().await.ok()?;
            sups.supervisors
                .iter()
                .any(|s| s.id == silent && s.alive && s.workers.is_empty())
                .then_some(())
        },
    )
    .await
    .unwrap();
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_supervisor_has_its_worker_moved_after_the_timeout() {
    let mut c = cluster(2, 2).await;
    c.submit(&wordcount("machine-down", 2))
        .await
        .expect("submit");
    c.wait_for_status("machine-down", "2 running workers", LIMIT, |t| {
        t.assignment.len() == 2 && all_running(t)
    })
    .await
    .unwrap();
    let other = c.supervisor_id(1).unwrap().to_string();
    c.stop_supervisor(0).await.unwrap();
    c.advance(SUPERVISOR_TIMEOUT + Duration::from_secs(1))
        .await
        .unwrap();
    c.wait_for_status(
        "machine-down",
        "both workers on the live supervisor, running",
        LIMIT,
        |t| {
            t.assignment.len() == 2
                && assigned_supervisors(t).iter().all(|s| *s == other)
                && all_running(t)
        },
    )
    .await
    .unwrap();
    let now = counts_above(&c, "machine-down", 0).await;
    counts_above(&c, "machine-down", now).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_worker_is_restarted_then_backs_off_until_the_clock_moves() {
    let c = cluster(1, 2).await;
    c.submit(&wordcount("crashy", 1)).await.expect("submit");
    let info = c
        .wait_for_status("crashy", "a running worker", LIMIT, all_running)
        .await
        .unwrap();
    let port = info.assignment[0].port;
    let report = |t: &TopologyInfo| {
        t.workers
            .iter()
            .find(|w| w.report.port == port)
            .map(|w| w.report.clone())
    };

    // First crash: restarted at once.
    c.crash_worker(0, port).unwrap();
    let info = c
        .wait_for_status("crashy", "the worker restarted once", LIMIT, |t| {
            report(t).is_some_and(|r| r.restarts == 1 && r.state == SlotState::Running)
        })
        .await
        .unwrap();
    let r = report(&info).unwrap();
    assert_eq!(r.last_exit.as_deref(), Some(SIMULATED_CRASH), "{r:?}");

    // Second crash soon after (no time passed on the clock): backoff.
    c.crash_worker(0, port).unwrap();
    c.wait_for_status("crashy", "the slot restarting", LIMIT, |t| {
        report(t).is_some_and(|r| r.restarts == 2 && r.state == SlotState::Restarting)
    })
    .await
    .unwrap();
    let relaunched = c
        .wait_for_status(
            "crashy",
            "(must not happen) a relaunch before the backoff",
            Duration::from_millis(600),
            |t| report(t).is_some_and(|r| r.state != SlotState::Restarting),
        )
        .await;
    assert!(
        relaunched.is_err(),
        "relaunched without the clock moving: {relaunched:?}"
    );

    c.advance(Duration::from_secs(1)).await.unwrap();
    let info = c
        .wait_for_status("crashy", "the worker running again", LIMIT, |t| {
            report(t).is_some_and(|r| r.restarts == 2 && r.state == SlotState::Running)
        })
        .await
        .unwrap();
    let now = counts_above(&c, "crashy", 0).await.max(counted(&info));
    counts_above(&c, "crashy", now).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_worker_is_restarted_once_the_worker_timeout_passes() {
    let c = LocalCluster::builder()
        .supervisors(1)
        .slots_per_supervisor(1)
        .registry(stock_registry())
        .worker_timeout(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    c.submit(&wordcount("hangs", 1)).await.expect("submit");
    let info = c
        .wait_for_status("hangs", "a running worker", LIMIT, all_running)
        .await
        .unwrap();
    let port = info.assignment[0].port;
    c.hang_worker(0, port, true).unwrap();
    c.advance(Duration::from_secs(6)).await.unwrap();
    let info = c
        .wait_for_status("hangs", "the hung worker restarted", LIMIT, |t| {
            t.workers
                .iter()
                .any(|w| w.report.restarts == 1 && w.report.state == SlotState::Running)
        })
        .await
        .unwrap();
    assert_eq!(info.workers[0].report.restarts, 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_topology_is_refused_by_the_in_process_validator() {
    let c = cluster(1, 1).await;
    let bad = wordcount("bad", 1).replace("WordCountBolt", "NoSuchBolt");
    let err = c.submit(&bad).await.expect_err("refused").to_string();
    assert!(err.contains("NoSuchBolt"), "{err}");
    assert!(
        c.crash_worker(0, c.slots(0)[0]).is_err(),
        "no worker to crash"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topology_source_is_resolved_in_process_and_runs() {
    let c = cluster(1, 1).await;
    let yaml = include_str!("../topologies/exclamation-source.yaml");
    let submitted = c.submit(yaml).await.expect("submit");
    assert_eq!(submitted.name, "exclamation-source");
    let info = c
        .wait_for_status("exclamation-source", "a running worker", LIMIT, all_running)
        .await
        .unwrap();
    // Planned from the builder's declaration, which only the registry knows.
    assert!(
        info.components.len() > 1,
        "the built components are planned: {:?}",
        info.components.keys().collect::<Vec<_>>()
    );
    c.wait_for_status("exclamation-source", "tuples executed", LIMIT, |t| {
        t.components.values().any(|s| {
            s.kind == squall_runtime::cluster::protocol::ComponentRole::Bolt
                && s.counters.executed > 0
        })
    })
    .await
    .unwrap();
    c.shutdown().await;
}

/// The last txid the Trident master committed, from its record at nimbus.
async fn committed_txid(c: &LocalCluster, name: &str) -> u64 {
    let url = format!(
        "{}/api/v1/topologies/{name}/trident/coordinator",
        c.nimbus_url()
    );
    let trust = squall_runtime::cluster::auth::tls::ClientTrust::System;
    let Ok(token) =
        squall_runtime::cluster::auth::credentials::read_file(&c.admin_token_file(), "test")
    else {
        return 0;
    };
    let Ok(http) =
        squall_runtime::cluster::http::client(Duration::from_secs(10), Some(&token), &trust)
    else {
        return 0;
    };
    let Ok(resp) = http.get(&url).send().await else {
        return 0;
    };
    let Ok(body) = resp.json::<serde_json::Value>().await else {
        return 0;
    };
    body["value"]
        .as_str()
        .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
        .and_then(|v| v["committed"].as_u64())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trident_batches_start_only_when_the_clock_passes_the_emit_interval() {
    let c = cluster(1, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("lines.txt");
    let lines: String = (0..2000).map(|i| format!("w{} x\n", i % 7)).collect();
    std::fs::write(&input, lines).unwrap();
    let store = dir.path().join("counts.redb");
    let yaml = format!(
        "name: tw\ntopologySource:\n  className: TridentWordCount\n  constructorArgs: [{:?}, {:?}, 0, transactional]\n\
         config:\n  topology.workers: 1\n  topology.trident.batch.emit.interval.millis: 60000\n  squall.trident.file.batch.lines: 100\n",
        input.display().to_string(),
        store.display().to_string()
    );
    c.submit(&yaml).await.expect("submit");
    // The first batch starts at once and commits; the next waits for the interval.
    c.wait_until("the first committed batch", LIMIT, || async {
        let t = committed_txid(&c, "tw").await;
        (t >= 1).then_some(t)
    })
    .await
    .unwrap();
    let held = committed_txid(&c, "tw").await;
    // Bounded observation window on real time while the manual clock stands still: a
    // batch started by wall time would commit within it (a batch takes milliseconds).
    let quiet_until = tokio::time::Instant::now() + Duration::from_millis(800);
    while tokio::time::Instant::now() < quiet_until {
        assert_eq!(
            committed_txid(&c, "tw").await,
            held,
            "no batch may start before the manual clock passes the emit interval"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.advance(Duration::from_secs(61)).await.unwrap();
    c.wait_until(
        "a batch after the clock passed the interval",
        LIMIT,
        || async {
            let t = committed_txid(&c, "tw").await;
            (t > held).then_some(t)
        },
    )
    .await
    .unwrap();
    c.shutdown().await;
}
