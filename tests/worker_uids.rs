//! Workers under uids of their own, with real `squall nimbus`, `squall supervisor` and
//! worker processes: a supervisor running as root (as the tests do) runs two topologies'
//! workers under two different non-root uids, each worker directory is owned by its
//! topology's uid (mode 0700) and unreadable by the other's, and a crashed worker is
//! restarted under the same uid; a topology's redb state files live in its own state
//! directory, owned by its uid, unreadable by another topology's. Skipped, saying so,
//! when the tests do not run as root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cluster_common::*;
use squall_supervisor::process::TMP_DIR;

/// An endless topology of one worker named `name`.
fn endless(name: &str) -> String {
    format!(
        "name: {name}\nconfig:\n  topology.workers: 1\n  topology.max.spout.pending: 100\n\
         spouts:\n  - id: words\n    className: WordSpout\nbolts:\n  - id: exclaim\n    \
         className: ExclamationBolt\nstreams:\n  - from: words\n    to: exclaim\n    \
         grouping: {{type: SHUFFLE}}\n"
    )
}

/// The worker directory of process `pid`: where its `--spec` file is.
fn worker_dir(pid: i32) -> PathBuf {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let spec = args
        .iter()
        .skip_while(|a| *a != "--spec")
        .nth(1)
        .expect("a worker names its spec");
    Path::new(spec).parent().unwrap().to_path_buf()
}

/// Run `cat FILE` as `uid`/`gid` (no other group): its exit code and stderr.
fn cat_as(uid: u32, file: &Path) -> (i32, String) {
    let out = Command::new("/bin/cat")
        .arg(file)
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one running worker of topology `name`.
fn the_worker(c: &Cluster, name: &str) -> i32 {
    let st = wait_running(c, name, 1);
    worker_pids(&st)[0]
}

#[test]
fn two_topologies_run_under_different_uids_and_cannot_read_each_other() {
    if !is_root() {
        println!(
            "skipped two_topologies_run_under_different_uids_and_cannot_read_each_other: it \
             needs root (a supervisor not running as root runs workers as itself)"
        );
        return;
    }
    let c = cluster("");
    submit(&c, &endless("alpha"));
    submit(&c, &endless("beta"));
    let (a, b) = (the_worker(&c, "alpha"), the_worker(&c, "beta"));
    let (ua, ga) = uid_gid_of(a).unwrap();
    let (ub, gb) = uid_gid_of(b).unwrap();
    for (uid, gid) in [(ua, ga), (ub, gb)] {
        assert!(
            (20000..=29999).contains(&uid),
            "uid {uid} is not from the range"
        );
        assert_eq!(uid, gid, "gid the same number");
    }
    assert_ne!(ua, ub, "two topologies share a uid");
    let (da, db) = (worker_dir(a), worker_dir(b));
    for (dir, uid) in [
        (&da, ua),
        (&db, ub),
        (&da.join(TMP_DIR), ua),
        (&db.join(TMP_DIR), ub),
    ] {
        let meta = std::fs::metadata(dir).unwrap();
        assert_eq!(meta.uid(), uid, "{}", dir.display());
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o700,
            "{}",
            dir.display()
        );
    }
    // Each worker's TMPDIR is its own directory's tmp/.
    for (pid, dir) in [(a, &da), (b, &db)] {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let want = format!("TMPDIR={}", dir.join(TMP_DIR).display());
        assert!(
            environ.split(|b| *b == 0).any(|v| v == want.as_bytes()),
            "worker {pid} has no {want}"
        );
    }
    // Each reads its own spec (which holds its assignment), not the other's.
    assert_eq!(cat_as(ua, &da.join("worker.json")).0, 0);
    assert_eq!(cat_as(ub, &db.join("worker.json")).0, 0);
    for (uid, other) in [(ua, &db), (ub, &da)] {
        let (code, err) = cat_as(uid, &other.join("worker.json"));
        assert!(
            code != 0 && err.contains("Permission denied"),
            "uid {uid} read {}: {err}",
            other.display()
        );
    }

    // A crashed worker comes back under the same uid.
    kill_worker(a);
    let restarted = wait_for(Duration::from_secs(20), "alpha's worker restarted", || {
        let pid = worker_pids(&status(&c.url, "alpha")?).first().copied()?;
        (pid != a).then_some(pid)
    });
    assert_eq!(uid_gid_of(restarted).unwrap(), (ua, ga));
}

#[test]
fn a_topology_s_redb_state_lives_in_its_private_state_directory() {
    if !is_root() {
        println!(
            "skipped a_topology_s_redb_state_lives_in_its_private_state_directory: it needs \
             root (a supervisor not running as root runs workers as itself)"
        );
        return;
    }
    let c = cluster("");
    // A stateful word count on redb without a `path`: its files go to the state
    // directory the supervisor gives the topology.
    submit(
        &c,
        "name: gamma\nconfig:\n  topology.workers: 1\n  topology.max.spout.pending: 100\n  \
         topology.state.provider: redb\n  topology.state.checkpoint.interval.ms: 100\n\
         spouts:\n  - id: words\n    className: WordSpout\nbolts:\n  - id: count\n    \
         className: StatefulWordCountBolt\nstreams:\n  - from: words\n    to: count\n    \
         grouping: {type: FIELDS, args: [word]}\n",
    );
    submit(&c, &endless("delta"));
    let (g, d) = (the_worker(&c, "gamma"), the_worker(&c, "delta"));
    let (ug, _) = uid_gid_of(g).unwrap();
    let (ud, _) = uid_gid_of(d).unwrap();
    assert_ne!(ug, ud, "two topologies share a uid");
    let data = worker_dir(g)
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let file = wait_for(
        Duration::from_secs(20),
        "gamma's count state file in <data>/state/<topology id>/",
        || {
            let entry = std::fs::read_dir(data.join("state"))
                .ok()?
                .filter_map(Result::ok)
                .find(|e| e.file_name().to_string_lossy().starts_with("gamma-"))?;
            // `count-<task>.redb`, the namespace of the count task.
            std::fs::read_dir(entry.path())
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("count-"))
                })
        },
    );
    let dir = file.parent().unwrap();
    let meta = std::fs::metadata(dir).unwrap();
    assert_eq!(meta.uid(), ug, "{} is the topology's", dir.display());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o700,
        "{}",
        dir.display()
    );
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), ug);
    let (code, err) = cat_as(ud, &file);
    assert!(
        code != 0 && err.contains("Permission denied"),
        "another topology's uid read {}: {err}",
        file.display()
    );
    // A worker restarted finds its directory (and its uid still owns it).
    kill_worker(g);
    let restarted = wait_for(Duration::from_secs(20), "gamma's worker restarted", || {
        let pid = worker_pids(&status(&c.url, "gamma")?).first().copied()?;
        (pid != g).then_some(pid)
    });
    assert_eq!(uid_gid_of(restarted).unwrap().0, ug);
    assert_eq!(std::fs::metadata(dir).unwrap().uid(), ug);
}
