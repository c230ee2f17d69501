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
        &format!("supervisor.worker.log.max.bytes: {cap}\nsupervisor.worker.log.files: 2\n"),
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
