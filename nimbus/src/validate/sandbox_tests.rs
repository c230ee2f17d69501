//! The validation sandbox, with real hostile artifacts: a fork bomb and a 100 GB
//! allocation are stopped with a clear error and leave nothing behind; the run is
//! `nobody` when nimbus is root; a symlink it leaves is not followed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::unistd::{Uid, User};

use super::subprocess_tests::{NPROC, alive, sandbox, script, shared_dir};
use super::validate_with_artifact;

/// A topology binary stand-in whose `validate` does what the first word of the
/// topology file says: `fork-bomb PIDFILE` forks (children wait) until fork fails or
/// 5000 children (the machine is spared if the limit does not work), writing each pid;
/// `alloc` maps 100 GB (MAP_NORESERVE: only an address-space limit refuses it, not the
/// kernel's overcommit heuristics).
const HOSTILE: &str = r#"
use std::io::Write;
extern "C" {
    fn fork() -> i32;
    fn pause() -> i32;
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let yaml = std::fs::read_to_string(&args[2]).unwrap_or_default();
    let words: Vec<&str> = yaml.split_whitespace().collect();
    match words.first().copied() {
        Some("fork-bomb") => {
            let mut pids = std::fs::OpenOptions::new().append(true).create(true)
                .open(words[1]).unwrap();
            for n in 0..5000 {
                let pid = unsafe { fork() };
                if pid == 0 {
                    loop { unsafe { pause(); } }
                }
                if pid < 0 {
                    eprintln!("fork failed after {n} processes: {}", std::io::Error::last_os_error());
                    std::process::exit(1);
                }
                writeln!(pids, "{pid}").unwrap();
            }
            eprintln!("forked 5000 processes: not stopped");
        }
        Some("alloc") => {
            // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE
            let p = unsafe { mmap(std::ptr::null_mut(), 100 << 30, 3, 0x02 | 0x20 | 0x4000, -1, 0) };
            if p as isize == -1 {
                eprintln!("cannot allocate 100 GB: {}", std::io::Error::last_os_error());
                std::process::exit(1);
            }
            eprintln!("allocated 100 GB: not stopped");
        }
        _ => eprintln!("unknown behaviour"),
    }
}
"#;

/// The hostile binary, compiled with `rustc` once (kept in the temporary directory
/// under a name that changes with its source, put in place by a rename).
fn hostile() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let hash = HOSTILE.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let bin = std::env::temp_dir().join(format!("squall-test-hostile-{hash:016x}"));
        if bin.is_file() {
            return bin;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hostile.rs"), HOSTILE).unwrap();
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let out = std::process::Command::new(rustc)
            .args(["--edition", "2021", "-o"])
            .arg(dir.path().join("hostile"))
            .arg(dir.path().join("hostile.rs"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rustc: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(dir.path().join("hostile"), &bin).unwrap();
        bin
    })
}

/// Whether the test must be skipped because it needs root; says so.
fn needs_root(test: &str) -> bool {
    if Uid::effective().is_root() {
        return false;
    }
    println!(
        "skipped {test}: it needs root (nimbus validates as an unprivileged user only when root)"
    );
    true
}

async fn run(artifact: &Path, yaml: &str, tmp: &Path, timeout: Duration) -> String {
    validate_with_artifact(artifact, "hash", yaml, tmp, timeout, false, &sandbox())
        .await
        .expect_err("the hostile artifact must be refused")
        .to_string()
}

#[tokio::test]
async fn a_fork_bomb_is_stopped_with_a_clear_error_and_leaves_nothing_behind() {
    let _alone = NPROC.write().await;
    let dir = shared_dir();
    let pids = dir.path().join("pids");
    let started = Instant::now();
    let e = run(
        hostile(),
        &format!("fork-bomb {}\n", pids.display()),
        dir.path(),
        Duration::from_secs(20),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        e.contains("fork failed after") && e.contains("Resource temporarily unavailable"),
        "{e}"
    );
    let pids: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert!(pids.len() <= 300, "{} processes were started", pids.len());
    let until = Instant::now() + Duration::from_secs(5);
    while let Some(pid) = pids.iter().find(|p| alive(**p)) {
        assert!(
            Instant::now() < until,
            "process {pid} outlived the validation"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn a_100_gb_allocation_is_refused_with_a_clear_error() {
    let _budget = NPROC.read().await;
    let dir = shared_dir();
    let e = run(hostile(), "alloc\n", dir.path(), Duration::from_secs(20)).await;
    assert!(
        e.contains("cannot allocate 100 GB") && e.contains("Cannot allocate memory"),
        "{e}"
    );
}

#[tokio::test]
async fn a_run_killed_by_a_limit_names_the_limits() {
    let _budget = NPROC.read().await;
    let dir = shared_dir();
    // Writes past the file size limit: SIGXFSZ.
    let artifact = script(
        dir.path(),
        "big-file",
        "exec head -c 100000000 /dev/zero > big",
    );
    let e = run(&artifact, "name: x\n", dir.path(), Duration::from_secs(20)).await;
    assert!(
        e.contains("killed by signal 25 (SIGXFSZ)") && e.contains("files up to 64 MiB"),
        "{e}"
    );
}

#[tokio::test]
async fn validation_runs_as_nobody_with_its_groups_only_when_root() {
    let _budget = NPROC.read().await;
    if needs_root("validation_runs_as_nobody_with_its_groups_only_when_root") {
        return;
    }
    let nobody = User::from_name("nobody").unwrap().unwrap();
    let dir = shared_dir();
    let artifact = script(
        dir.path(),
        "whoami",
        "echo \"uid=$(id -u) gid=$(id -g) groups=$(id -G)\" >&2\nexit 1",
    );
    let e = run(&artifact, "name: x\n", dir.path(), Duration::from_secs(20)).await;
    let expect = format!(
        "uid={} gid={} groups={}",
        nobody.uid, nobody.gid, nobody.gid
    );
    assert!(e.contains(&expect), "expected {expect}: {e}");
}

#[tokio::test]
async fn a_symlink_left_for_the_resolved_declaration_is_not_followed() {
    let _budget = NPROC.read().await;
    let dir = shared_dir();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "canary-9f2c").unwrap();
    let artifact = script(
        dir.path(),
        "links",
        &format!("ln -s {} \"$4\"\nexit 0", secret.display()),
    );
    let e = validate_with_artifact(
        &artifact,
        "hash",
        "name: x\n",
        dir.path(),
        Duration::from_secs(20),
        true,
        &sandbox(),
    )
    .await
    .expect_err("a symlink is no resolved declaration")
    .to_string();
    assert!(
        e.contains("did not write its resolved declaration") && !e.contains("canary-9f2c"),
        "{e}"
    );
}

#[tokio::test]
async fn a_process_that_leaves_the_group_does_not_outlive_the_validation_when_root() {
    let _budget = NPROC.read().await;
    if needs_root("a_process_that_leaves_the_group_does_not_outlive_the_validation_when_root") {
        return;
    }
    let dir = shared_dir();
    let pid_file = dir.path().join("escaped.pid");
    // A session (and process group) of its own, orphaned at once: the group kill
    // misses it.
    let artifact = script(
        dir.path(),
        "escapes",
        &format!(
            "setsid sleep 300 </dev/null >/dev/null 2>&1 &\necho $! > {}\nexit 0",
            pid_file.display()
        ),
    );
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
    let pid = super::subprocess_tests::pid_in(&pid_file);
    super::subprocess_tests::assert_gone(pid);
}
