//! The validation subprocess: a chatty artifact is answered without waiting for the
//! timeout, and nothing it starts outlives the validation.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::sandbox::{LIMITS, Sandbox};
use super::validate_with_artifact;

/// The validation user's process budget (RLIMIT_NPROC counts per uid) is shared by
/// every run: a fork-bomb test takes it alone (write), every other run shares (read).
pub(super) static NPROC: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The sandbox nimbus would use: as `nobody` when the tests run as root.
pub(super) fn sandbox() -> Sandbox {
    Sandbox::for_user("nobody", LIMITS).unwrap()
}

/// A temporary directory the validation run (maybe `nobody`) may write to, as /tmp.
pub(super) fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    dir
}

pub(super) fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

pub(super) fn alive(pid: i32) -> bool {
    // A zombie still answers kill(0); its /proc status says so.
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

/// The pid a script wrote to `file`, waiting (bounded) for it to appear.
pub(super) fn pid_in(file: &Path) -> i32 {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        assert!(Instant::now() < until, "no pid in {}", file.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub(super) fn assert_gone(pid: i32) {
    let until = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        assert!(
            Instant::now() < until,
            "process {pid} outlived the validation"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn a_chatty_artifact_is_answered_without_waiting_for_the_timeout() {
    let _budget = NPROC.read().await;
    let dir = tempfile::tempdir().unwrap();
    // 2 MB of stderr, far past what nimbus keeps, then a failure.
    let artifact = script(
        dir.path(),
        "chatty",
        "head -c 2000000 /dev/zero | tr '\\000' e >&2\nexit 1",
    );
    let started = Instant::now();
    let e = validate_with_artifact(
        &artifact,
        "hash",
        "name: x\n",
        dir.path(),
        Duration::from_secs(20),
        false,
        &sandbox(),
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}: the pipe was not drained",
        started.elapsed()
    );
    let msg = e.to_string();
    assert!(
        msg.contains("the topology is invalid") && msg.len() < 200_000,
        "{}",
        &msg[..200]
    );
}

#[tokio::test]
async fn nothing_the_artifact_starts_outlives_the_validation() {
    let _budget = NPROC.read().await;
    let dir = shared_dir();
    // Exits at once but leaves a child behind (holding the stderr pipe).
    let left = dir.path().join("left.pid");
    let artifact = script(
        dir.path(),
        "leaves",
        &format!("sleep 300 &\necho $! > {}\nexit 0", left.display()),
    );
    let started = Instant::now();
    validate_with_artifact(
        &artifact,
        "hash",
        "name: x\n",
        dir.path(),
        Duration::from_secs(20),
        false,
        &sandbox(),
    )
    .await
    .expect("it exited 0");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_gone(pid_in(&left));

    // Hangs, with a child of its own: both go at the timeout.
    let hung = dir.path().join("hung.pid");
    let artifact = script(
        dir.path(),
        "hangs",
        &format!("sleep 300 &\necho $! > {}\nexec sleep 300", hung.display()),
    );
    let e = validate_with_artifact(
        &artifact,
        "hash",
        "name: x\n",
        dir.path(),
        Duration::from_secs(1),
        false,
        &sandbox(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("did not finish"), "{e}");
    assert_gone(pid_in(&hung));
}
