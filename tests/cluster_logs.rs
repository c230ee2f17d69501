//! Worker logs through nimbus with real processes: `squall nimbus` (token
//! authentication on), two `squall supervisor`s long-polling it for log requests, worker
//! processes writing `worker.log`, and `squall logs` reading them (`--component`,
//! `--follow`), with the API's authentication, caps and path checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cluster_common::*;

/// A plain HTTP request to nimbus with `token` (none: no Authorization header); the
/// status and body.
fn request(url: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {}\r\n", t.trim()))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn get(url: &str, path: &str, token: Option<&str>) -> (u16, String) {
    request(url, "GET", path, token, "")
}

fn admin_token(c: &Cluster) -> String {
    std::fs::read_to_string(token_file(&c.url).unwrap()).unwrap()
}

/// `squall ARGS --nimbus URL` with the token in `token_file`.
fn squall_as(url: &str, token_file: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(SQUALL)
        .args(args)
        .args(["--nimbus", url])
        .env("SQUALL_TOKEN_FILE", token_file)
        .env_remove("SQUALL_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A new token of `role`, written to a 0600 file under the cluster's root.
fn new_token(c: &Cluster, role: &str, name: &str) -> PathBuf {
    let (code, out, err) = cli(&c.url, &["token", "create", "--role", role, "--name", name]);
    assert_eq!(code, 0, "{out}{err}");
    let path = c.root.join(format!("{name}.token"));
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(out.as_bytes()))
        .unwrap();
    path
}

/// The `host:port` of the worker running component `component`'s only task, its
/// supervisor id and slot port (from the status once the task reported).
fn worker_of(c: &Cluster, name: &str, component: &str) -> (String, String, u16) {
    wait_for(LONG, &format!("a task of {component} reporting"), || {
        let st = status(&c.url, name)?;
        let task = st["tasks"]
            .as_array()?
            .iter()
            .find(|t| t["component"] == component)?["task"]
            .as_u64()?;
        st["assignment"].as_array()?.iter().find_map(|w| {
            let runs = w["executors"].as_array()?.iter().any(|e| {
                let (first, last) = (e[0].as_u64().unwrap(), e[1].as_u64().unwrap());
                (first..=last).contains(&task)
            });
            let port = w["port"].as_u64()? as u16;
            runs.then(|| {
                (
                    format!("{}:{port}", w["host"].as_str().unwrap()),
                    w["supervisor"].as_str().unwrap().to_string(),
                    port,
                )
            })
        })
    })
}

/// The directory of the worker in slot `port` of supervisor `supervisor`.
fn worker_dir(c: &Cluster, supervisor: &str, port: u16) -> PathBuf {
    let i = c
        .supervisor_ids()
        .iter()
        .position(|s| s == supervisor)
        .unwrap();
    c.root
        .join(["sup1", "sup2"][i])
        .join("workers")
        .join(port.to_string())
}

/// The topology: a file's lines (each holding `marker`) to a `LogInfoBolt`, which logs
/// every tuple at info, ticks (one a second) included; two workers.
fn topology(c: &Cluster, marker: &str) -> String {
    let input = c.root.join("marked.txt");
    let lines: String = (0..3).map(|i| format!("{marker} line {i}\n")).collect();
    std::fs::write(&input, lines).unwrap();
    format!(
        r#"name: logged
config:
  topology.workers: 2
spouts:
  - id: lines
    className: LineFileSpout
    constructorArgs: ["{}"]
bolts:
  - id: log
    className: LogInfoBolt
    parallelism: 1
    config:
      topology.tick.tuple.freq.secs: 1
streams:
  - from: lines
    to: log
    grouping: {{type: SHUFFLE}}
"#,
        input.display()
    )
}

#[test]
fn squall_logs_reads_and_follows_a_bolts_log_through_nimbus() {
    let c = cluster("");
    let marker = format!(
        "logs-marker-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    submit(&c, &topology(&c, &marker));
    wait_running(&c, "logged", 2);
    let (worker, supervisor, port) = worker_of(&c, "logged", "log");

    // --component: the bolt's worker only, its lines unprefixed.
    let out = wait_for(LONG, "the marker in `squall logs --component log`", || {
        let (code, out, _) = cli(&c.url, &["logs", "logged", "--component", "log"]);
        (code == 0 && out.contains(&marker)).then_some(out)
    });
    let line = out.lines().find(|l| l.contains(&marker)).unwrap();
    assert!(line.contains("LogInfoBolt"), "{line}");
    assert!(!line.starts_with(&worker), "one worker: no prefix: {line}");
    let (code, _, err) = cli(&c.url, &["logs", "logged", "--component", "nope"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no component 'nope' (its components: "),
        "{err}"
    );
    // Every worker: each line prefixed with its worker.
    let (code, out, err) = cli(&c.url, &["logs", "logged", "--tail", "10000"]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.contains(&marker)).expect(&out);
    assert!(line.starts_with(&format!("{worker} ")), "{line}");

    let admin = admin_token(&c);
    let admin = Some(admin.as_str());
    let path = |query: &str| format!("/api/v1/topology/logged/logs?{query}");

    // The API: JSON with offsets; by topology id too; `offset=end_offset` continues.
    let (code, body) = get(&c.url, &path(&format!("worker={worker}&tail=100")), admin);
    assert_eq!(code, 200, "{body}");
    let log: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(log["worker"], worker.as_str());
    assert_eq!(log["file"], "log");
    assert_eq!(log["end_offset"], log["file_size"]);
    let end = log["end_offset"].as_u64().unwrap();
    assert!(log["start_offset"].as_u64().unwrap() < end, "{log}");
    let id = status(&c.url, "logged").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_sup = format!("{supervisor}:{port}");
    let (code, body) = get(
        &c.url,
        &format!("/api/v1/topology/{id}/logs?worker={by_sup}&offset={end}"),
        admin,
    );
    assert_eq!(code, 200, "{body}");
    let next: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(next["start_offset"].as_u64(), Some(end), "{next}");
    assert_eq!(next["rotated"], false);

    // Time to fetch a 100-line tail (for the report).
    let mut times: Vec<Duration> = (0..10)
        .map(|_| {
            let t = Instant::now();
            let (code, _) = get(&c.url, &path(&format!("worker={worker}&tail=100")), admin);
            assert_eq!(code, 200);
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "100-line tail through nimbus: median {:?}, max {:?}",
        times[5], times[9]
    );

    check_tokens(&c, &marker, &worker, &path);
    check_limits_and_paths(&c, &worker, &supervisor, port, &path);
    check_follow(&c, &worker, &supervisor, port);
    check_silent_supervisor(c, &worker, &supervisor);
}

/// A supervisor that stops polling (killed, its workers left running) makes a log
/// request fail after the answer timeout with a 504 naming it.
fn check_silent_supervisor(mut c: Cluster, worker: &str, supervisor: &str) {
    let i = c
        .supervisor_ids()
        .iter()
        .position(|s| s == supervisor)
        .unwrap();
    c.sups[i].kill9();
    let admin = admin_token(&c);
    let started = Instant::now();
    let (code, body) = get(
        &c.url,
        &format!("/api/v1/topology/logged/logs?worker={worker}"),
        Some(&admin),
    );
    assert_eq!(code, 504, "{body}");
    assert!(
        body.contains(&format!("supervisor {supervisor} did not")),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // Its workers, orphaned, would exit after the orphan grace: stopped now.
    kill_processes_under(&c.root.join(["sup1", "sup2"][i]));
}

/// A viewer token reads; no token is 401; a supervisor token cannot fetch or answer
/// another supervisor's log requests (403), nor can a viewer fetch any.
fn check_tokens(c: &Cluster, marker: &str, worker: &str, path: &dyn Fn(&str) -> String) {
    let viewer = new_token(c, "viewer", "log-reader");
    let (code, out, err) = squall_as(&c.url, &viewer, &["logs", "logged", "--component", "log"]);
    assert_eq!(code, 0, "a viewer reads logs: {err}");
    assert!(out.contains(marker), "{out}");

    let (code, body) = get(&c.url, &path(&format!("worker={worker}")), None);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("authentication required"), "{body}");

    let ids = c.supervisor_ids();
    let sup1_token = std::fs::read_to_string(c.root.join("sup1/supervisor.token")).unwrap();
    let (code, body) = get(
        &c.url,
        &format!("/api/v1/supervisors/{}/log-requests?wait_secs=0", ids[1]),
        Some(&sup1_token),
    );
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains(&format!("bound to supervisor {}", ids[0])),
        "{body}"
    );
    let (code, body) = request(
        &c.url,
        "POST",
        &format!("/api/v1/supervisors/{}/log-responses/1", ids[1]),
        Some(&sup1_token),
        r#"{"chunk":{"start_offset":0,"end_offset":0,"file_size":0,"text":"forged","truncated":false}}"#,
    );
    assert_eq!(code, 403, "{body}");
    let viewer_text = std::fs::read_to_string(&viewer).unwrap();
    let (code, body) = get(
        &c.url,
        &format!("/api/v1/supervisors/{}/log-requests?wait_secs=0", ids[0]),
        Some(&viewer_text),
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("supervisor's own token"), "{body}");
    // Its own: allowed (nothing is queued now, and the wait is 0).
    let (code, body) = get(
        &c.url,
        &format!("/api/v1/supervisors/{}/log-requests?wait_secs=0", ids[0]),
        Some(&sup1_token),
    );
    assert_eq!(code, 200, "{body}");
}

/// Caps are refused (API) or clamped (CLI) saying the limit; a file outside the
/// worker's log files cannot be asked for, and a link in the worker's directory is not
/// followed.
fn check_limits_and_paths(
    c: &Cluster,
    worker: &str,
    supervisor: &str,
    port: u16,
    path: &dyn Fn(&str) -> String,
) {
    let admin = admin_token(c);
    let admin = Some(admin.as_str());
    let (code, body) = get(&c.url, &path(&format!("worker={worker}&tail=20000")), admin);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("over the limit of 10000 lines"), "{body}");
    let (code, body) = get(
        &c.url,
        &path(&format!("worker={worker}&max_bytes=2000000")),
        admin,
    );
    assert_eq!(code, 400, "{body}");
    let (code, out, err) = cli(
        &c.url,
        &["logs", "logged", "--worker", worker, "--tail", "20000"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("over the limit of 10000 lines"), "{err}");
    assert!(!out.is_empty());

    // Traversal: the file is `log` or `out`, never a path; the worker one of the
    // topology's.
    let (code, body) = get(
        &c.url,
        &path(&format!("worker={worker}&file=../../../../etc/passwd")),
        admin,
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("file must be `log`"), "{body}");
    let (code, body) = get(&c.url, &path("worker=..%2F..%2Fetc:1"), admin);
    assert_eq!(code, 400, "{body}");
    let (code, body) = get(&c.url, &path("worker=127.0.0.1:1"), admin);
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("no worker at 127.0.0.1:1"), "{body}");

    // A link the worker's uid could plant at worker.out is not followed.
    let secret = c.root.join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-LOG-TEST\n").unwrap();
    let dir = worker_dir(c, supervisor, port);
    std::fs::rename(dir.join("worker.out"), dir.join("worker.out.moved")).unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("worker.out")).unwrap();
    let (code, body) = get(&c.url, &path(&format!("worker={worker}&file=out")), admin);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("symbolic link"), "{body}");
    assert!(!body.contains("TOP-SECRET"), "{body}");
    std::fs::remove_file(dir.join("worker.out")).unwrap();
    std::fs::rename(dir.join("worker.out.moved"), dir.join("worker.out")).unwrap();
}

/// `squall logs --follow` prints a line the bolt logged after it started.
fn check_follow(c: &Cluster, worker: &str, supervisor: &str, port: u16) {
    let mut child = Command::new(SQUALL)
        .args([
            "logs",
            "logged",
            "--component",
            "log",
            "--follow",
            "--tail",
            "1",
        ])
        .args(["--nimbus", &c.url])
        .env("SQUALL_TOKEN_FILE", token_file(&c.url).unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30));
    let first = match first {
        Ok(l) => l,
        Err(e) => {
            let _ = child.kill();
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("no first line from squall logs --follow ({e}): {err}");
        }
    };
    // Lines written from here on (the file's size now) were logged after the CLI
    // printed its first line; one of them must reach its output.
    let log = worker_dir(c, supervisor, port).join("worker.log");
    let since = std::fs::metadata(&log).unwrap().len() as usize;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = vec![first];
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            break None;
        };
        let text = std::fs::read(&log).unwrap();
        let later = String::from_utf8_lossy(&text[since.min(text.len())..]).into_owned();
        if !line.is_empty() && later.contains(&line) {
            break Some(line);
        }
        seen.push(line);
    };
    let _ = child.kill();
    let _ = child.wait();
    let line = found.unwrap_or_else(|| {
        panic!("squall logs --follow printed no line logged after it started; it printed {seen:?}")
    });
    assert!(line.contains("LogInfoBolt"), "{line} (worker {worker})");
}
