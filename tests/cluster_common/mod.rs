//! A real cluster for the cluster tests: `squall nimbus` and `squall supervisor`
//! processes on loopback with temp dirs, driven through the `squall` CLI.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

mod harness;
#[allow(unused_imports)]
pub use harness::*;

/// The `squall` binary.
pub const SQUALL: &str = env!("CARGO_BIN_EXE_squall");

/// The CA file of each HTTPS nimbus these tests started (by URL): the CLI, the
/// supervisors and [`http_get`] trust it (`SQUALL_CA_FILE`).
static CA_FILES: std::sync::Mutex<BTreeMap<String, PathBuf>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The CA file to trust for nimbus at `url` (an HTTPS nimbus these tests started).
pub fn ca_file(url: &str) -> Option<PathBuf> {
    let files = CA_FILES.lock().unwrap_or_else(|p| p.into_inner());
    files.get(url.trim_end_matches('/')).cloned()
}

/// `cmd` trusts nimbus at `url` as its CA file says (if it is an HTTPS nimbus).
fn trusting(cmd: &mut Command, url: &str) {
    if let Some(ca) = ca_file(url) {
        cmd.env("SQUALL_CA_FILE", ca);
    }
}

/// A port nobody listens on right now (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `n` distinct free ports.
pub fn free_ports(n: usize) -> Vec<u16> {
    let holders: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    holders
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

/// Poll `f` every 100 ms until it returns `Some`, or panic after `timeout` with `what`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A daemon process, killed (with its process group) when dropped.
pub struct Daemon {
    pub child: Child,
    pub name: String,
}

impl Daemon {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM the daemon and wait for it to exit.
    pub fn stop(&mut self) {
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
        let _ = self.child.wait();
    }

    /// SIGKILL the daemon only.
    pub fn kill9(&mut self) {
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// How long a dropped daemon gets to stop after SIGTERM before SIGKILL: more than a
/// supervisor's own shutdown (its workers' stop grace, 3 s, plus 2 s), so it is never
/// killed while it still stops its workers.
const DAEMON_STOP_WAIT: Duration = Duration::from_secs(10);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
        let deadline = Instant::now() + DAEMON_STOP_WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Start `squall nimbus` on a free port; returns it and its URL.
pub fn start_nimbus(dir: &Path, port: u16, extra: &[&str]) -> (Daemon, String) {
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(SQUALL)
        .args(["nimbus", "--data"])
        .arg(dir)
        .args(["--listen", &listen])
        .args(extra)
        .env("SQUALL_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(dir.with_extension("nimbus.log")).expect("log file"),
        ))
        .spawn()
        .expect("starting nimbus");
    let mut url = format!("http://{listen}");
    // nimbus prints its URL once it listens (https:// when it serves HTTPS).
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains("listening") => {
                if let Some(printed) = line.split_whitespace().last() {
                    url = printed.trim_end_matches('/').to_string();
                }
                if url.starts_with("https://") {
                    let mut files = CA_FILES.lock().unwrap_or_else(|p| p.into_inner());
                    files.insert(url.clone(), dir.join("tls").join("ca.pem"));
                }
                break;
            }
            Ok(_) => {}
            Err(_) => panic!("nimbus did not report listening on {listen} within 30 s"),
        }
    }
    // Token authentication is on: every client command and HTTP read of this nimbus
    // authenticates with the admin token it wrote.
    let admin = dir.join("admin.token");
    if admin.exists() {
        register_token(&url, &admin);
    }
    (
        Daemon {
            child,
            name: "nimbus".into(),
        },
        url,
    )
}

/// Let workers read and write `dir` (the test's root: inputs, sinks, Trident stores) as
/// they would `/tmp` (mode 1777): a supervisor running as root, as the tests do, runs
/// each topology's workers under a uid of their own.
pub fn open_to_workers(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))
        .expect("opening the test directory to workers");
}

/// The token file each nimbus URL's clients use (its admin token).
static TOKENS: std::sync::Mutex<BTreeMap<String, PathBuf>> = std::sync::Mutex::new(BTreeMap::new());

/// Use the token in `file` for every `cli`/`http_get` call to nimbus at `url`.
pub fn register_token(url: &str, file: &Path) {
    TOKENS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(url.to_string(), file.to_path_buf());
}

/// The token file registered for nimbus at `url`.
pub fn token_file(url: &str) -> Option<PathBuf> {
    TOKENS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(url)
        .cloned()
}

/// A supervisor token for the supervisor in `dir` (made once through `squall token
/// create`, kept in `dir/supervisor.token` for restarts); `None` when nimbus at `url`
/// has no admin token registered (it runs open).
pub fn supervisor_token(url: &str, dir: &Path) -> Option<PathBuf> {
    token_file(url)?;
    let path = dir.join("supervisor.token");
    if !path.exists() {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("sup-{}-{n}", std::process::id());
        let (code, out, err) = cli(
            url,
            &["token", "create", "--role", "supervisor", "--name", &name],
        );
        assert_eq!(code, 0, "token create failed: {out}{err}");
        // 0600 from creation: the supervisor's data directory is traversable by its
        // workers (other uids), which must not read the token.
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(out.as_bytes()))
            .expect("supervisor token file");
    }
    Some(path)
}

/// Start `squall supervisor` with these slots.
pub fn start_supervisor(nimbus: &str, dir: &Path, slots: &[u16]) -> Daemon {
    start_supervisor_with(nimbus, dir, slots, "")
}

/// Start `squall supervisor` with these slots and a YAML config (if not empty).
pub fn start_supervisor_with(nimbus: &str, dir: &Path, slots: &[u16], config: &str) -> Daemon {
    start_supervisor_env(nimbus, dir, slots, config, &[])
}

/// [`start_supervisor_with`], with these environment variables set for the supervisor
/// (and so for its workers).
pub fn start_supervisor_env(
    nimbus: &str,
    dir: &Path,
    slots: &[u16],
    config: &str,
    env: &[(&str, &str)],
) -> Daemon {
    let slots: Vec<String> = slots.iter().map(|p| p.to_string()).collect();
    std::fs::create_dir_all(dir).expect("supervisor dir");
    if let Some(root) = dir.parent() {
        open_to_workers(root);
    }
    let mut cmd = Command::new(SQUALL);
    if !config.is_empty() {
        let path = dir.join("supervisor.yaml");
        std::fs::write(&path, config).expect("supervisor config");
        cmd.arg("supervisor").arg("--config").arg(path);
    } else {
        cmd.arg("supervisor");
    }
    // A supervisor token is a join token when nimbus has its own CA: the supervisor
    // pins the CA through it. Without a token (an open nimbus), it trusts the CA file.
    match supervisor_token(nimbus, dir) {
        Some(token) => {
            cmd.arg("--token-file").arg(token);
        }
        None => trusting(&mut cmd, nimbus),
    }
    let child = cmd
        .args(["--nimbus", nimbus, "--data"])
        .arg(dir)
        .args(["--slots", &slots.join(",")])
        .envs(env.iter().copied())
        .env("SQUALL_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("supervisor.log"))
                .expect("log file"),
        ))
        .spawn()
        .expect("starting a supervisor");
    Daemon {
        child,
        name: format!("supervisor {}", dir.display()),
    }
}

/// Run a `squall` client command; returns (exit code, stdout, stderr).
pub fn cli(nimbus: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(SQUALL);
    trusting(&mut cmd, nimbus);
    cmd.args(args).args(["--nimbus", nimbus]);
    if let Some(token) = token_file(nimbus) {
        cmd.env("SQUALL_TOKEN_FILE", token);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("running squall");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `squall status NAME --json`, parsed (None if it failed).
pub fn status(nimbus: &str, name: &str) -> Option<serde_json::Value> {
    let (code, out, _) = cli(nimbus, &["status", name, "--json"]);
    if code != 0 {
        return None;
    }
    serde_json::from_str(&out).ok()
}

/// The real uid and gid process `pid` runs under (`/proc/PID/status`).
pub fn uid_gid_of(pid: i32) -> Option<(u32, u32)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let first = |key: &str| -> Option<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((first("Uid:")?, first("Gid:")?))
}

/// Supervisor config for a test whose workers run `python3`: none, unless the tests run
/// as root and `python3` (e.g. pyenv's, under /root) is out of reach of other users;
/// workers then run as root (`supervisor.worker.run.as.root`), and the test says so.
pub fn python_workers_config() -> &'static str {
    use std::os::unix::fs::PermissionsExt;
    if !is_root() {
        return "";
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("python3"))
        .find(|p| p.is_file());
    // The interpreter and every directory above it must be usable by others.
    let reachable = found.is_some_and(|p| {
        p.ancestors()
            .all(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
    });
    if reachable {
        return "";
    }
    println!(
        "python3 is not reachable by other users here: this test's workers run as root \
         (supervisor.worker.run.as.root)"
    );
    "supervisor.worker.run.as.root: true\n"
}

/// Whether the tests run as root (workers then run under uids of their own).
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// `text` without its ANSI colour sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every line of the worker logs under `dir`, without colours.
pub fn worker_logs(dir: &Path) -> String {
    let mut text = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("worker.log"))
            {
                text.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    strip_ansi(&text)
}

/// Pids of the running workers in a status.
pub fn worker_pids(st: &serde_json::Value) -> Vec<i32> {
    st["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["state"] == "running")
        .filter_map(|w| w["pid"].as_i64())
        .map(|p| p as i32)
        .collect()
}

/// Where a topology's tasks run, read from its status.
pub struct TaskLayout {
    /// The component of every task.
    pub component_of: BTreeMap<u64, String>,
    /// The components of each running worker, by pid.
    pub workers: BTreeMap<i32, BTreeSet<String>>,
}

/// The layout of a status once `workers` workers run and every task reports; `None`
/// before.
pub fn task_layout(st: &serde_json::Value, workers: usize) -> Option<TaskLayout> {
    let total: u64 = st["components"]
        .as_object()?
        .values()
        .filter_map(|c| c["tasks"].as_u64())
        .sum();
    let tasks = st["tasks"].as_array()?;
    if worker_pids(st).len() != workers || tasks.len() as u64 != total {
        return None;
    }
    let component_of: BTreeMap<u64, String> = tasks
        .iter()
        .filter_map(|t| Some((t["task"].as_u64()?, t["component"].as_str()?.to_string())))
        .collect();
    let mut by_pid = BTreeMap::new();
    for a in st["assignment"].as_array()? {
        let (sup, port) = (a["supervisor"].as_str()?, a["port"].as_u64()?);
        let view = st["workers"].as_array()?.iter().find(|w| {
            w["supervisor"] == sup && w["port"].as_u64() == Some(port) && w["state"] == "running"
        })?;
        let mut components = BTreeSet::new();
        for e in a["executors"].as_array()? {
            for task in e[0].as_u64()?..=e[1].as_u64()? {
                components.insert(component_of.get(&task)?.clone());
            }
        }
        by_pid.insert(view["pid"].as_i64()? as i32, components);
    }
    Some(TaskLayout {
        component_of,
        workers: by_pid,
    })
}

/// Pids of the workers a status lists for one supervisor.
pub fn worker_pids_of(st: &serde_json::Value, supervisor: &str) -> Vec<i32> {
    st["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["supervisor"] == supervisor)
        .filter_map(|w| w["pid"].as_i64())
        .map(|p| p as i32)
        .collect()
}

/// Whether a process exists.
pub fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

/// SIGKILL a worker's process group.
pub fn kill_worker(pid: i32) {
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
}

/// A word file of `lines` lines from a fixed vocabulary, and the exact word counts.
pub fn word_file(dir: &Path, lines: usize) -> (PathBuf, BTreeMap<String, u64>) {
    const VOCAB: [&str; 12] = [
        "storm", "squall", "tuple", "bolt", "spout", "acker", "nimbus", "worker", "slot", "stream",
        "grouping", "task",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let mut counts = BTreeMap::new();
    let mut text = String::new();
    for _ in 0..lines {
        let n = 1 + next() % 8;
        let words: Vec<&str> = (0..n).map(|_| VOCAB[next() % VOCAB.len()]).collect();
        for w in &words {
            *counts.entry(w.to_string()).or_insert(0) += 1;
        }
        text.push_str(&words.join(" "));
        text.push('\n');
    }
    let path = dir.join("words.txt");
    std::fs::write(&path, text).expect("word file");
    (path, counts)
}

/// A finite topology over `input` writing each word (`[word]`) to `sink`, with no
/// state in memory: at least once means every word reaches the file at least as often
/// as it is in the input, whatever process dies.
pub fn split_sink_yaml(name: &str, input: &Path, sink: &Path, workers: u32) -> String {
    format!(
        r#"name: {name}
config:
  topology.workers: {workers}
  topology.message.timeout.secs: 5
  topology.max.spout.pending: 500
spouts:
  - id: lines
    className: LineFileSpout
    constructorArgs: ["{input}"]
bolts:
  - id: split
    className: SplitSentenceBolt
    parallelism: 2
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
    )
}

/// The JSON arrays a `FileSinkBolt` wrote to `sink` (none if it does not exist yet).
fn sink_rows(sink: &Path) -> Vec<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(sink).unwrap_or_default();
    text.lines()
        .filter_map(|line| match serde_json::from_str(line) {
            Ok(serde_json::Value::Array(v)) => Some(v),
            _ => None,
        })
        .collect()
}

/// How often each word is in the files written by sinks of `[word]` lines.
pub fn sink_word_totals(sink: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for v in sink_rows(sink) {
        if let Some(w) = v.first().and_then(|w| w.as_str()) {
            *out.entry(w.to_string()).or_insert(0) += 1;
        }
    }
    out
}

/// A finite word-count topology over `input` writing `[word, count]` lines to `sink`.
pub fn wordcount_yaml(name: &str, input: &Path, sink: &Path, workers: u32) -> String {
    format!(
        r#"name: {name}
config:
  topology.workers: {workers}
  topology.message.timeout.secs: 5
  topology.max.spout.pending: 500
spouts:
  - id: lines
    className: LineFileSpout
    constructorArgs: ["{input}"]
bolts:
  - id: split
    className: SplitSentenceBolt
    parallelism: 2
  - id: count
    className: WordCountBolt
    parallelism: 2
  - id: sink
    className: FileSinkBolt
    constructorArgs: ["{sink}"]
    config:
      topology.tick.tuple.freq.secs: 1
streams:
  - from: lines
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: ["word"]}}
  - from: count
    to: sink
    grouping: {{type: GLOBAL}}
"#,
        input = input.display(),
        sink = sink.display()
    )
}

/// The highest count per word in a sink file of `[word, count]` lines.
pub fn sink_counts(sink: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for v in sink_rows(sink) {
        if let (Some(w), Some(c)) = (
            v.first().and_then(|w| w.as_str()),
            v.get(1).and_then(|c| c.as_u64()),
        ) {
            let e = out.entry(w.to_string()).or_insert(0);
            *e = (*e).max(c);
        }
    }
    out
}

/// A plain HTTP GET against nimbus; the response body (empty on any failure).
pub fn http_get(url: &str, path: &str) -> String {
    use std::io::{Read, Write};
    if let Some(ca) = ca_file(url) {
        return https_get(url, path, &ca);
    }
    let addr = url.trim_start_matches("http://");
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let auth = token_file(url)
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|t| format!("Authorization: Bearer {}\r\n", t.trim()))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return String::new();
    }
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

/// GET `path` of an HTTPS nimbus trusting its CA file, with its registered token; the
/// body ("" on any failure).
fn https_get(url: &str, path: &str, ca: &Path) -> String {
    use squall_runtime::cluster::auth::tls::ClientTrust;
    use squall_runtime::cluster::auth::token::Token;
    let Ok(trust) = ClientTrust::from_ca_file(ca) else {
        return String::new();
    };
    let token = token_file(url)
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| Token::parse(t.trim()).ok());
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return String::new();
    };
    rt.block_on(async {
        let Ok(http) =
            squall_runtime::cluster::http::client(Duration::from_secs(5), token.as_ref(), &trust)
        else {
            return String::new();
        };
        match http.get(format!("{url}{path}")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    })
}

/// Wait until nimbus sees `n` live supervisors.
pub fn wait_supervisors(url: &str, n: usize) {
    wait_for(
        Duration::from_secs(60),
        &format!("{n} live supervisors"),
        || {
            let body = http_get(url, "/api/v1/supervisors");
            (body.matches("\"alive\":true").count() >= n).then_some(())
        },
    );
}

/// Whether a process exists and is not a zombie (an exited worker whose parent, a
/// stopped supervisor say, has not reaped it yet).
pub fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// Every running process (but this one) whose command line names a path under `root`:
/// (pid, command line).
pub fn processes_under(root: &Path) -> Vec<(i32, String)> {
    let root = root.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (pid != std::process::id() as i32 && cmdline.contains(&root) && running(pid))
                .then_some((pid, cmdline))
        })
        .collect()
}

/// SIGKILL every process running from under `dir` (the workers of a supervisor whose
/// machine "died"); returns their pids.
pub fn kill_processes_under(dir: &Path) -> Vec<i32> {
    let found = processes_under(dir);
    for (pid, _) in &found {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    found.into_iter().map(|(pid, _)| pid).collect()
}

/// Wait (bounded) until no process runs from under `root`; panics naming those left.
pub fn assert_no_processes_under(root: &Path, timeout: Duration) {
    let start = Instant::now();
    loop {
        let left = processes_under(root);
        if left.is_empty() {
            return;
        }
        if start.elapsed() > timeout {
            panic!("processes left running under {}: {left:?}", root.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills, when dropped, every process whose command line names a path under its root:
/// the last line of defence against worker orphans of a test cluster (workers exit by
/// themselves once their supervisor is gone for the orphan grace, so normally there is
/// nothing to kill). What it had to kill is printed.
pub struct Reaper(pub PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        for (pid, cmdline) in processes_under(&self.0) {
            eprintln!("reaping a process left behind by the test cluster: {pid} {cmdline}");
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}
