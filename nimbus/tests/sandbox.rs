//! The validation sandbox through a real nimbus: a submitted artifact that prints its
//! environment and tries to read nimbus's data directory gets nothing, and what it
//! printed reaches the submitter; a fork bomb is refused in bounded time and leaves no
//! process; a nimbus whose validation user does not exist refuses to start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestNimbus, YAML};
use reqwest::StatusCode;

/// The validation user's process budget (RLIMIT_NPROC counts per uid) is shared by
/// every run: the fork-bomb test takes it alone (write), other validations share it.
static NPROC: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Whether the test must be skipped because it needs root; says so.
fn needs_root(test: &str) -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return false;
    }
    println!(
        "skipped {test}: it needs root (nimbus validates as an unprivileged user only when \
         root; as its own user the artifact could read the data directory)"
    );
    true
}

#[tokio::test]
async fn an_artifact_sees_neither_nimbus_environment_nor_its_data_directory() {
    let _budget = NPROC.read().await;
    if needs_root("an_artifact_sees_neither_nimbus_environment_nor_its_data_directory") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nimbus");
    // A secret nimbus keeps, readable by anyone were the directory open to them.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("canary.token"), "canary-secret-5d1e\n").unwrap();
    let n = TestNimbus::start(&data).await;
    // The admin token nimbus made at first start (when authentication is on).
    let admin = std::fs::read_to_string(data.join("admin.token")).unwrap_or_default();
    let data = data.display();
    let artifact = format!(
        "#!/bin/sh
echo '--- env'
env
echo '--- end env'
echo \"uid $(id -u)\"
ls {data} 2>&1
cat {data}/canary.token {data}/nimbus.redb {data}/admin.token 2>&1 | head -c 300
ls {data}/artifacts 2>&1
echo \"cwd $(pwd)\"
exit 1
"
    );
    let hash = n.upload(artifact.as_bytes()).await;
    let (status, body) = n.submit("wc", YAML, &hash).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let error = body["error"].as_str().unwrap();
    // Its output reaches the submitter.
    assert!(
        error.contains("--- env") && error.contains("cwd /"),
        "{error}"
    );
    // The environment is the sandbox's only.
    let env: Vec<&str> = error
        .split("--- env\n")
        .nth(1)
        .and_then(|rest| rest.split("\n--- end env").next())
        .unwrap()
        .lines()
        .map(|l| l.split('=').next().unwrap())
        .collect();
    for name in &env {
        assert!(
            [
                "PATH",
                "HOME",
                "TMPDIR",
                "SQUALL_VALIDATE",
                "PWD",
                "OLDPWD",
                "SHLVL",
                "_"
            ]
            .contains(name),
            "nimbus's environment leaked ({name}): {error}"
        );
    }
    assert!(error.contains("PATH=/usr/bin:/bin") && error.contains("SQUALL_VALIDATE=1"));
    // Nothing of the data directory: not listed, not read.
    assert!(!error.contains("canary-secret-5d1e"), "{error}");
    let admin = admin.trim();
    assert!(
        admin.is_empty() || !error.contains(admin),
        "the admin token leaked"
    );
    assert!(!error.contains("nimbus.redb\n"), "{error}");
    assert!(error.contains("Permission denied"), "{error}");
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    assert!(error.contains(&format!("uid {}", nobody.uid)), "{error}");
    // The scratch directory is outside the data directory and gone.
    let cwd = error.lines().find_map(|l| l.strip_prefix("cwd ")).unwrap();
    assert!(!cwd.starts_with(&data.to_string()), "{cwd}");
    assert!(!std::path::Path::new(cwd).exists(), "{cwd} was left behind");
    n.handle.shutdown().await.unwrap();
}

/// Pids of the processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

#[tokio::test]
async fn a_fork_bomb_submission_is_refused_in_bounded_time_leaving_no_process() {
    let _alone = NPROC.write().await;
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(&dir.path().join("nimbus")).await;
    // Up to 3000 background processes (bounded, so that a missing limit fails the test
    // without harming the machine), each marked by its unusual argument.
    let marker = format!("3{}.5", std::process::id());
    let artifact = format!(
        "#!/bin/sh
i=0
while [ $i -lt 3000 ]; do
  sleep {marker} &
  i=$((i + 1))
done
echo \"started 3000 processes: not stopped\" >&2
exit 0
"
    );
    let hash = n.upload(artifact.as_bytes()).await;
    let started = std::time::Instant::now();
    let (status, body) = n.submit("wc", YAML, &hash).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The shell's own words: "...: Cannot fork".
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("Cannot fork") && !error.contains("not stopped"),
        "{error}"
    );
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = processes_with(&marker);
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "{} processes outlived the validation",
            left.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn nimbus_refuses_to_start_when_its_validation_user_does_not_exist() {
    if needs_root("nimbus_refuses_to_start_when_its_validation_user_does_not_exist") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut opts = common::opts(dir.path());
    opts.validate_user = "squall-no-such-user".into();
    let e = squall_nimbus::start(opts).await.unwrap_err().to_string();
    assert!(
        e.contains("nimbus.validate.user 'squall-no-such-user' does not exist"),
        "{e}"
    );
    let mut opts = common::opts(dir.path());
    opts.validate_user = "root".into();
    let e = squall_nimbus::start(opts).await.unwrap_err().to_string();
    assert!(e.contains("must not run as root"), "{e}");
}

#[tokio::test]
async fn the_data_directory_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nimbus");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let n = TestNimbus::start(&data).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("nimbus.redb")), 0o600);
    n.handle.shutdown().await.unwrap();
}
