//! Limits of a real cluster against floods and hostile input (issue 11 item 9 and
//! "garbage on every listening port"): `squall nimbus`, `squall supervisor` and worker
//! processes on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cluster_common::*;

const LONG: Duration = Duration::from_secs(90);

/// These tests run one at a time: each starts several processes on a small machine.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The fixture scripts (shipped to the workers as the topology's resources).
fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/multilang")
}

/// Sizes of the files of `dir` whose name starts with `prefix`, by name.
fn log_files(dir: &Path, prefix: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let len = e.metadata().ok()?.len();
                    name.starts_with(prefix).then_some((name, len))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn a_subprocess_writing_50_mb_to_stderr_leaves_at_most_the_log_cap_on_disk() {
    if std::process::Command::new("python3")
        .arg("--version")
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        panic!("python3 is needed for the multi-lang fixture (.ci/run installs it)");
    }
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let _reaper = Reaper(root.clone());
    let ports = free_ports(2);
    let (_nimbus, url) = start_nimbus(&root.join("nimbus"), ports[0], &[]);
    let cap: u64 = 1 << 20;
    let _sup = start_supervisor_with(
        &url,
        &root.join("sup"),
        &ports[1..2],
        &format!(
            "supervisor.worker.log.max.bytes: {cap}\nsupervisor.worker.log.files: 2\n{}",
            python_workers_config()
        ),
    );
    wait_supervisors(&url, 1);

    let (input, counts) = word_file(&root, 200);
    let sink = root.join("sink.txt");
    let yaml = format!(
        r#"name: chatty
config:
  topology.workers: 1
  topology.subprocess.timeout.secs: 60
  test.stderr.bytes: 50000000
spouts:
  - id: lines
    className: LineFileSpout
    constructorArgs: ["{input}"]
bolts:
  - id: split
    className: ShellBolt
    constructorArgs: [["python3", "chatty_split.py"], ["word"]]
  - id: sink
    className: FileSinkBolt
    constructorArgs: ["{sink}"]
streams:
  - from: lines
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: sink
    grouping: {{type: SHUFFLE}}
"#,
        input = input.display(),
        sink = sink.display()
    );
    let file = root.join("chatty.yaml");
    std::fs::write(&file, yaml).unwrap();
    let (code, out, err) = cli(
        &url,
        &[
            "submit",
            file.to_str().unwrap(),
            "--resources",
            scripts().to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "submit failed: {out}{err}");

    // The topology still works after the flood: every word reaches the sink.
    wait_for(
        LONG,
        "every word in the sink after the stderr flood",
        || {
            let got = sink_word_totals(&sink);
            counts
                .iter()
                .all(|(w, n)| got.get(w).copied().unwrap_or(0) >= *n)
                .then_some(())
        },
    );
    let worker_dir = root.join("sup/workers").join(ports[1].to_string());
    // The subprocess's last line reached the log (the latest lines are kept).
    let done = wait_for(
        LONG,
        "the subprocess's last stderr line in worker.log",
        || {
            log_files(&worker_dir, "worker.log")
                .iter()
                .find_map(|(name, _)| {
                    let text = std::fs::read_to_string(worker_dir.join(name)).ok()?;
                    text.lines()
                        .rev()
                        .find(|l| l.contains("CHATTY DONE after"))
                        .map(str::to_string)
                })
        },
    );
    let lines: u64 = done
        .rsplit("CHATTY DONE after ")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line count in {done:?}"));
    assert!(lines > 400_000, "{done}");
    let files = log_files(&worker_dir, "worker.log");
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["worker.log", "worker.log.1", "worker.log.2"],
        "{files:?}"
    );
    assert!(files.iter().all(|(_, len)| *len <= cap), "{files:?}");
    let total: u64 = files.iter().map(|(_, len)| len).sum();
    assert!(total <= 3 * cap, "{total} bytes of worker.log*: {files:?}");
    // The newest of the subprocess's numbered lines is there too.
    let newest = format!("chatty {:09} ", lines - 1);
    assert!(
        files
            .iter()
            .any(|(name, _)| std::fs::read_to_string(worker_dir.join(name))
                .unwrap_or_default()
                .contains(&newest)),
        "{newest:?} not in {files:?}"
    );
    let (code, out, err) = cli(&url, &["kill", "chatty", "--wait", "0"]);
    assert_eq!(code, 0, "{out}{err}");
}

/// `n` free ports on the IPv6 loopback, or `None` when it is unavailable.
fn free_ipv6_ports(n: usize) -> Option<Vec<u16>> {
    let holders: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("[::1]:0"))
        .collect::<Result<_, _>>()
        .ok()?;
    holders
        .iter()
        .map(|l| l.local_addr().ok().map(|a| a.port()))
        .collect()
}

#[test]
fn a_cluster_on_the_ipv6_loopback_counts_exactly() {
    let Some(ports) = free_ipv6_ports(4) else {
        println!("skipped: the IPv6 loopback [::1] is not available on this machine");
        return;
    };
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let _reaper = Reaper(root.clone());
    // nimbus on [::1], supervisors reached at host ::1 (task locations `[::1]:port`).
    let nimbus_dir = root.join("nimbus");
    std::fs::create_dir_all(&nimbus_dir).unwrap();
    let listen = format!("[::1]:{}", ports[0]);
    let nimbus = std::process::Command::new(SQUALL)
        .args(["nimbus", "--data"])
        .arg(&nimbus_dir)
        .args(["--listen", &listen])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(root.join("nimbus.log")).unwrap())
        .spawn()
        .unwrap();
    let _nimbus = Daemon {
        child: nimbus,
        name: "nimbus".into(),
    };
    let url = format!("http://{listen}");
    wait_for(LONG, "nimbus answering on [::1]", || {
        http_get(&url, "/api/v1/health")
            .contains("ok")
            .then_some(())
    });
    register_token(&url, &nimbus_dir.join("admin.token"));
    let sups: Vec<Daemon> = [("sup1", ports[2]), ("sup2", ports[3])]
        .into_iter()
        .map(|(name, port)| {
            start_supervisor_with(
                &url,
                &root.join(name),
                &[port],
                "supervisor.host: \"::1\"\n",
            )
        })
        .collect();
    wait_supervisors(&url, 2);
    let (input, counts) = word_file(&root, 300);
    let sink = root.join("sink.txt");
    let file = root.join("wc.yaml");
    std::fs::write(&file, wordcount_yaml("wc6", &input, &sink, 2)).unwrap();
    let (code, out, err) = cli(&url, &["submit", file.to_str().unwrap()]);
    assert_eq!(code, 0, "submit over IPv6 failed: {out}{err}");
    let got = wait_for(LONG, "exact counts across two workers over [::1]", || {
        let got = sink_counts(&sink);
        (got == counts).then_some(got)
    });
    assert_eq!(got, counts);
    let st = status(&url, "wc6").expect("status over IPv6");
    assert_eq!(worker_pids(&st).len(), 2, "{st}");
    drop(sups);
}

/// A small seeded generator (xorshift64*), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One hostile payload for a worker data port or nimbus's HTTP port.
fn garbage(rng: &mut Rng, http: bool) -> Vec<u8> {
    let kind = rng.below(6);
    let mut out = match kind {
        // Random bytes.
        0 => {
            let n = 1 + rng.below(64 * 1024) as usize;
            rng.bytes(n)
        }
        // A length prefix far past any limit.
        1 => {
            let mut v = vec![0xff, 0xff, 0xff, 0xff, rng.next() as u8];
            v.extend(rng.bytes(64));
            v
        }
        // Half a frame, then close.
        2 => {
            let mut v = vec![200, 0, 0, 0, 1];
            v.extend(rng.bytes(100));
            v
        }
        // A handshake-sized frame of garbage.
        3 => {
            let mut v = vec![64, 0, 0, 0, 1];
            v.extend(rng.bytes(64));
            v
        }
        // Nothing at all.
        4 => Vec::new(),
        // Something that starts like HTTP.
        _ => {
            let mut v = b"POST /api/v1/topologies HTTP/1.1\r\ncontent-length: ".to_vec();
            v.extend(rng.bytes(16));
            v.extend(b"\r\n\r\n");
            v
        }
    };
    if http && rng.below(4) == 0 {
        // A header line over hyper's limit.
        out = b"GET /api/v1/health HTTP/1.1\r\nx: ".to_vec();
        out.extend(std::iter::repeat_n(b'a', 512 * 1024));
    }
    out
}

/// Connect to `addr`, write `payload` (a failed write is fine: the peer may cut us
/// short), then close.
fn throw(addr: &str, payload: &[u8]) {
    use std::io::Write;
    if let Ok(mut s) = std::net::TcpStream::connect(addr) {
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        let _ = s.write_all(payload);
    }
}

#[test]
fn garbage_on_every_listening_port_leaves_the_cluster_serving() {
    let seed: u64 = std::env::var("SQUALL_GARBAGE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0f9a_7ba9_e5e5);
    println!("garbage seed {seed} (set SQUALL_GARBAGE_SEED to replay)");
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let _reaper = Reaper(root.clone());
    let ports = free_ports(3);
    let (nimbus, url) = start_nimbus(&root.join("nimbus"), ports[0], &[]);
    let sups = [
        start_supervisor(&url, &root.join("sup1"), &ports[1..2]),
        start_supervisor(&url, &root.join("sup2"), &ports[2..3]),
    ];
    wait_supervisors(&url, 2);
    let (input, counts) = word_file(&root, 2000);
    let sink = root.join("sink.txt");
    let file = root.join("wc.yaml");
    std::fs::write(&file, split_sink_yaml("wc", &input, &sink, 2)).unwrap();
    let (code, out, err) = cli(&url, &["submit", file.to_str().unwrap()]);
    assert_eq!(code, 0, "submit failed: {out}{err}");
    let mut pids = wait_for(LONG, "2 running workers", || {
        let pids = worker_pids(&status(&url, "wc")?);
        (pids.len() == 2).then_some(pids)
    });
    pids.sort();

    // Every listening port: nimbus's HTTP port and both workers' data ports.
    let targets = [
        (format!("127.0.0.1:{}", ports[0]), true),
        (format!("127.0.0.1:{}", ports[1]), false),
        (format!("127.0.0.1:{}", ports[2]), false),
    ];
    let mut rng = Rng(seed | 1);
    for round in 0..40 {
        for (addr, http) in &targets {
            throw(addr, &garbage(&mut rng, *http));
        }
        if round % 10 == 0 {
            assert!(
                http_get(&url, "/api/v1/health").contains("ok"),
                "nimbus stopped answering /health after {round} rounds of garbage"
            );
        }
    }

    // Every word of the input reaches the sink (at least once: a replay on a loaded
    // machine may repeat one), with the same two workers (none restarted).
    wait_for(LONG, "every word in the sink after the garbage", || {
        let got = sink_word_totals(&sink);
        counts
            .iter()
            .all(|(w, n)| got.get(w).copied().unwrap_or(0) >= *n)
            .then_some(())
    });
    let mut now = worker_pids(&status(&url, "wc").expect("status"));
    now.sort();
    assert_eq!(now, pids, "a worker was restarted");
    assert!(http_get(&url, "/api/v1/health").contains("ok"));
    for d in sups.iter().chain([&nimbus]) {
        assert!(alive(d.pid()), "{} died", d.name);
    }
    // Each garbage connection was logged as such.
    let worker_logs: String = ["sup1", "sup2"]
        .iter()
        .zip(&ports[1..])
        .map(|(s, p)| {
            let dir = root.join(s).join("workers").join(p.to_string());
            std::fs::read_to_string(dir.join("worker.log")).unwrap_or_default()
        })
        .collect();
    assert!(
        worker_logs.contains("refusing connection: handshake failed"),
        "no handshake error logged by the workers:\n{}",
        &worker_logs[..worker_logs.len().min(4000)]
    );
    let nimbus_log = std::fs::read_to_string(root.join("nimbus.nimbus.log")).unwrap_or_default();
    assert!(
        nimbus_log.contains("malformed request"),
        "no malformed-request warning in nimbus's log"
    );
    let (code, out, err) = cli(&url, &["kill", "wc", "--wait", "0"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_worker_process_writes_its_output_into_its_rotated_log_files() {
    // A spec with log settings but no assignment: the worker fails at once, and its
    // last words ("error: worker spec ...") must be in worker.log, not on the stderr
    // the supervisor gave it.
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let spec = dir.path().join("worker.json");
    std::fs::write(
        &spec,
        format!(
            r#"{{"logs": {{"dir": "{}", "max_bytes": 4096, "files": 1}}}}"#,
            logs.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(SQUALL)
        .args(["worker", "--spec"])
        .arg(&spec)
        .env("SQUALL_LOG", "info")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "output escaped the log files: {stderr}");
    let log = std::fs::read_to_string(logs.join("worker.log")).unwrap_or_default();
    assert!(
        log.contains("error: worker spec") && log.contains("missing field"),
        "worker.log: {log:?}"
    );
    assert!(logs.join("worker.out").exists());
}
