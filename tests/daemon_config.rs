//! The daemons' command line and config file through the real binary: `squall --help`
//! lists them, a bad config file stops a daemon with exit code 2 and the file and line
//! before it does anything, and one file serves nimbus and a supervisor alike.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{SQUALL, squall};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn help_lists_every_command_including_the_daemons() {
    let run = squall(&["--help"], TIMEOUT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for command in [
        "validate",
        "local",
        "submit",
        "worker",
        "nimbus",
        "supervisor",
    ] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(command)),
            "`{command}` missing from:\n{}",
            run.stdout
        );
    }
    // each daemon still shows its own flags
    let run = squall(&["nimbus", "--help"], TIMEOUT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("--listen"), "{}", run.stdout);
    assert!(run.stdout.contains("--config"), "{}", run.stdout);
    let run = squall(&["supervisor", "--help"], TIMEOUT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("--slots"), "{}", run.stdout);
    // and refuses flags it does not have
    let run = squall(&["nimbus", "--slots", "1"], TIMEOUT);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn nimbus_refuses_an_unknown_key_with_file_and_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.yaml");
    std::fs::write(
        &config,
        "nimbus.listen: 127.0.0.1:0\n# a typo below\nnimbus.supervisor.timeout.sec: 3\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let run = squall(
        &[
            "nimbus",
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
        TIMEOUT,
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let expected = format!(
        "{}:3:1: unknown key 'nimbus.supervisor.timeout.sec' (did you mean \
         'nimbus.supervisor.timeout.secs'?)",
        config.display()
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // refused before doing anything: no data directory
    assert!(!data.exists());
}

#[test]
fn supervisor_refuses_a_wrong_type_with_file_line_and_expected_type() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.yaml");
    std::fs::write(
        &config,
        "nimbus.url: http://127.0.0.1:1\nsupervisor.worker.timeout.secs: soon\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let run = squall(
        &[
            "supervisor",
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
        TIMEOUT,
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let at = format!("{}:2:33: supervisor.worker.timeout.secs:", config.display());
    assert!(run.stderr.contains(&at), "{}", run.stderr);
    assert!(
        run.stderr.contains("expected a positive number of seconds"),
        "{}",
        run.stderr
    );
    assert!(!data.exists());
}

#[test]
fn nimbus_refuses_infinite_and_huge_seconds_instead_of_panicking() {
    // Before the bound, 18446744073709551615 was accepted and nimbus panicked at its first
    // deadline ("overflow when multiplying duration by scalar").
    for value in ["18446744073709551615", ".inf", "1e300"] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("bad.yaml");
        std::fs::write(
            &config,
            format!("nimbus.listen: 127.0.0.1:0\nnimbus.supervisor.timeout.secs: {value}\n"),
        )
        .unwrap();
        let data = dir.path().join("data");
        let run = squall(
            &[
                "nimbus",
                "--config",
                config.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
            ],
            TIMEOUT,
        );
        assert_eq!(run.code, Some(2), "{value}: {}", run.stderr);
        let at = format!("{}:2:33: nimbus.supervisor.timeout.secs:", config.display());
        assert!(run.stderr.contains(&at), "{value}: {}", run.stderr);
        assert!(
            run.stderr.contains("at most 1000000000"),
            "{value}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{value}: {}", run.stderr);
        assert!(!data.exists());
    }
}

/// A daemon process, SIGTERMed and reaped when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // Only the process this test started, by its id.
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str], log: &Path) -> Daemon {
    start_with_token(args, log, None)
}

/// [`start`] with `SQUALL_TOKEN_FILE` set to `token`.
fn start_with_token(args: &[&str], log: &Path, token: Option<&Path>) -> Daemon {
    let mut cmd = Command::new(SQUALL);
    if let Some(t) = token {
        cmd.env("SQUALL_TOKEN_FILE", t);
    }
    let child = cmd
        .args(args)
        .env_remove("SQUALL_NIMBUS")
        .env("SQUALL_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .expect("starting a daemon");
    Daemon(child)
}

/// Wait (bounded) until `ready` holds.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: not within {TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn one_file_serves_nimbus_and_a_supervisor() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let slot = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let local = dir.path().join("local");
    let config = dir.path().join("squall.yaml");
    std::fs::write(
        &config,
        format!(
            "storm.local.dir: {}\nnimbus.listen: 127.0.0.1:{port}\nnimbus.monitor.freq.secs: 0.5\n\
             nimbus.url: http://127.0.0.1:{port}\nsupervisor.slots.ports: [{slot}]\n\
             supervisor.heartbeat.frequency.secs: 0.2\ntopology.workers: 2\n",
            local.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let mut nimbus = start(
        &["nimbus", "--config", config],
        &dir.path().join("nimbus.log"),
    );
    let out = nimbus.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(TIMEOUT)
        .expect("nimbus reports where it listens");
    assert_eq!(line, format!("nimbus listening on http://127.0.0.1:{port}"));
    // nimbus keeps its state in the file's storm.local.dir
    assert!(local.join("nimbus.redb").exists());

    // the supervisor takes nimbus.url, storm.local.dir and its slots from the same file
    // (with the admin token nimbus wrote: the simplest credential for one machine)
    let _supervisor = start_with_token(
        &["supervisor", "--config", config],
        &dir.path().join("supervisor.log"),
        Some(&local.join("admin.token")),
    );
    wait_for("the supervisor's id in storm.local.dir", || {
        local.join("supervisor-id").exists()
    });
    let id = std::fs::read_to_string(local.join("supervisor-id")).unwrap();
    assert!(id.contains(&format!("-{slot}-")), "{id}");
}
