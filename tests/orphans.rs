//! No orphans (Storm's model), with real `squall nimbus`, `squall supervisor` and worker
//! processes on loopback: workers outlive a supervisor crash, a supervisor restarted on
//! the same data directory within the orphan grace adopts them, and a worker exits by
//! itself once its supervisor has been gone longer than the grace, its directory is
//! deleted, or nimbus says its assignment is gone. Every test ends with no process left
//! under its directory (checked, not reaped).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::path::PathBuf;
use std::time::Duration;

use cluster_common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Bound of each wait once the topology runs.
const WAIT: Duration = Duration::from_secs(15);
/// Bound of the wait for the topology to run (a submission is validated by running the
/// artifact: slow on a loaded machine).
const SETUP: Duration = Duration::from_secs(60);

/// An endless topology of two workers.
const ENDLESS: &str = "name: endless\nconfig:\n  topology.workers: 2\n  topology.max.spout.pending: 100\nspouts:\n  - id: words\n    className: WordSpout\nbolts:\n  - id: exclaim\n    className: ExclamationBolt\nstreams:\n  - from: words\n    to: exclaim\n    grouping: {type: SHUFFLE}\n";

/// Nimbus and one supervisor with two slots, running [`ENDLESS`].
struct Cluster {
    root: PathBuf,
    url: String,
    sup_dir: PathBuf,
    ports: Vec<u16>,
    sup_config: String,
    sup: Daemon,
    nimbus: Daemon,
    /// The topology's two worker pids.
    pids: Vec<i32>,
    _reaper: Reaper,
    _dir: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// One cluster at a time: each starts five processes on a small machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cluster(orphan_grace_secs: u32) -> Cluster {
    let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let ports = free_ports(3);
    let (nimbus, url) = start_nimbus(&root.join("nimbus"), ports[0], &[]);
    let sup_dir = root.join("sup");
    let sup_config = format!("supervisor.worker.orphan.grace.secs: {orphan_grace_secs}\n");
    let sup = start_supervisor_with(&url, &sup_dir, &ports[1..], &sup_config);
    wait_supervisors(&url, 1);
    let file = root.join("endless.yaml");
    std::fs::write(&file, ENDLESS).unwrap();
    let (code, out, err) = cli(&url, &["submit", file.to_str().unwrap()]);
    assert_eq!(code, 0, "submit failed: {out}{err}");
    let pids = running_workers(&url, 2);
    Cluster {
        _reaper: Reaper(root.clone()),
        _dir: dir,
        _serial: serial,
        root,
        url,
        sup_dir,
        ports: ports[1..].to_vec(),
        sup_config,
        sup,
        nimbus,
        pids,
    }
}

/// Wait until nimbus lists `n` running workers; their pids.
fn running_workers(url: &str, n: usize) -> Vec<i32> {
    wait_for(SETUP, &format!("{n} running workers"), || {
        let pids = worker_pids(&status(url, "endless")?);
        (pids.len() == n).then_some(pids)
    })
}

/// Tuples the topology's bolt executed so far.
fn executed(url: &str) -> Option<f64> {
    status(url, "endless")?["components"]["exclaim"]["executed"].as_f64()
}

impl Cluster {
    /// Stop the daemons and check that nothing is left running under the directory.
    fn finish(mut self) {
        self.sup.stop();
        self.nimbus.stop();
        assert_no_processes_under(&self.root, WAIT);
    }

    /// Wait until none of the topology's workers runs (exited by itself).
    fn wait_workers_gone(&self, why: &str) {
        wait_for(WAIT, why, || {
            self.pids.iter().all(|p| !running(*p)).then_some(())
        });
    }
}

#[test]
fn a_supervisor_restarted_within_the_grace_adopts_its_running_workers() {
    let mut c = cluster(30);
    let uids: Vec<_> = c.pids.iter().map(|p| uid_gid_of(*p).unwrap()).collect();
    if is_root() {
        // Never root: the topology's own uid (one for both of its workers).
        assert!(uids.iter().all(|(u, g)| *u >= 20000 && u == g), "{uids:?}");
        assert!(uids.iter().all(|u| *u == uids[0]), "{uids:?}");
    }
    c.sup.kill9();
    assert!(
        c.pids.iter().all(|p| running(*p)),
        "workers outlive their supervisor"
    );
    let restarted = std::time::Instant::now();
    c.sup = start_supervisor_with(&c.url, &c.sup_dir, &c.ports, &c.sup_config);
    // Once nimbus has heard from the new supervisor (the old one is dead): the same
    // processes, reported running, no restart counted.
    wait_for(WAIT, "a heartbeat of the restarted supervisor", || {
        let body = http_get(&c.url, "/api/v1/supervisors");
        let list: serde_json::Value = serde_json::from_str(&body).ok()?;
        let ago = list["supervisors"][0]["last_heartbeat_secs_ago"].as_f64()?;
        (ago < restarted.elapsed().as_secs_f64()).then_some(())
    });
    let st = wait_for(
        WAIT,
        "the new supervisor to report the same workers",
        || {
            let st = status(&c.url, "endless")?;
            let mut pids = worker_pids(&st);
            pids.sort_unstable();
            let mut before = c.pids.clone();
            before.sort_unstable();
            (pids == before).then_some(st)
        },
    );
    for w in st["workers"].as_array().unwrap() {
        assert_eq!(w["restarts"], 0, "adopted, not restarted: {st}");
    }
    let after: Vec<_> = c.pids.iter().map(|p| uid_gid_of(*p).unwrap()).collect();
    assert_eq!(after, uids, "the adopted workers keep their uid");
    let log = std::fs::read_to_string(c.sup_dir.join("supervisor.log")).unwrap();
    assert_eq!(
        log.matches("adopting the worker a previous run left running")
            .count(),
        2,
        "{log}"
    );
    let before = executed(&c.url).unwrap_or(0.0);
    wait_for(WAIT, "the topology to keep processing", || {
        (executed(&c.url)? > before + 100.0).then_some(())
    });
    assert!(c.pids.iter().all(|p| running(*p)), "{st}");
    c.finish();
}

#[test]
fn workers_exit_by_themselves_once_their_supervisor_is_gone_longer_than_the_grace() {
    let mut c = cluster(2);
    c.sup.kill9();
    let killed = std::time::Instant::now();
    assert!(c.pids.iter().all(|p| running(*p)));
    c.wait_workers_gone("the workers to exit after the 2 s grace");
    // Not sooner than the grace (nimbus, whose supervisor timeout is 10 s, has not
    // moved them either: they exit for their supervisor alone).
    assert!(
        killed.elapsed() >= Duration::from_secs(2),
        "{:?}",
        killed.elapsed()
    );
    c.finish();
}

#[test]
fn workers_exit_when_their_data_directory_is_deleted() {
    let mut c = cluster(60);
    c.sup.kill9();
    assert!(c.pids.iter().all(|p| running(*p)));
    std::fs::remove_dir_all(&c.sup_dir).unwrap();
    // Well within the 60 s grace.
    c.wait_workers_gone("the workers to exit once their directory is gone");
    c.finish();
}

#[test]
fn a_worker_exits_when_nimbus_says_it_is_no_longer_assigned() {
    let c = cluster(60);
    // A frozen supervisor holds its lock (so its workers do not count as orphans) but
    // stops nothing: only nimbus can tell the workers their topology is gone.
    kill(Pid::from_raw(c.sup.pid()), Signal::SIGSTOP).unwrap();
    let (code, out, err) = cli(&c.url, &["kill", "endless", "-w", "0"]);
    assert_eq!(code, 0, "{out}{err}");
    c.wait_workers_gone("the workers to exit on nimbus's not_assigned answers");
    kill(Pid::from_raw(c.sup.pid()), Signal::SIGCONT).unwrap();
    c.finish();
}
