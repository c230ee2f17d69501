//! Nimbus capacity: a load generator that plays many fake supervisors and their workers
//! against a real `squall nimbus` over loopback, through the cluster's own typed
//! contract ([`Heartbeat`], [`HeartbeatResponse`], [`WorkerStats`], [`StatsAck`]) and
//! credentials (a supervisor token each, made through the admin token; workers derive
//! theirs from the topology secret their assignment carries), at the real daemons'
//! periods: a heartbeat per supervisor and a stats report per worker every second.
//!
//! Each step starts a fresh nimbus pinned to one core (`taskset`), the generator pinned
//! to another, registers `n` supervisors of `CAP_WORKERS` slots, submits one topology
//! filling every slot with `CAP_EXECUTORS` executors (spout 20%, split 40%, count 38%,
//! one acker per worker), then runs the load for `CAP_SECS` seconds after a warm-up and
//! measures: heartbeat and stats round trips (p50/p99/max), the bytes of each message
//! (fake supervisors hold their assignment version, as real ones do, so steady-state
//! answers are "unchanged"; the whole answer after the submission is reported apart),
//! nimbus's CPU (share of its core) and RSS, and the generator's own CPU (when its core
//! is saturated, the generator, not nimbus, is the limit). Steps go up
//! (`CAP_SUPERVISORS`, default `10,50,100,200,400,800`) until heartbeat p99 passes
//! 100 ms, requests fail, or the generator is the limit.
//!
//! ```text
//! cargo bench --bench nimbus_capacity
//! CAP_SUPERVISORS=10,100 CAP_SECS=10 CAP_NIMBUS_CPU=1 CAP_GEN_CPU=0 cargo bench --bench nimbus_capacity
//! ```
//! Environment: `CAP_SUPERVISORS`, `CAP_WORKERS` (slots per supervisor, default 4),
//! `CAP_EXECUTORS` (per worker, default 50), `CAP_SECS` (measured seconds per step,
//! default 20), `CAP_WARMUP_SECS` (default 5), `CAP_NIMBUS_CPU` / `CAP_GEN_CPU` (cores,
//! default 1 / 0), `CAP_P99_LIMIT_MS` (default 100), `CAP_KEEP=1` keeps each step's
//! nimbus data directory (its log shows what it did), `CAP_STATS=0` leaves the workers
//! silent (heartbeats only, to tell their cost from the reports'), `CAP_PERF=1` records
//! `perf record -g` of nimbus over each measured window into `DIR/perf.data`,
//! `CAP_POLLS=0` leaves out the supervisors' assignment long polls (on by default, as
//! real supervisors hold one), `CAP_MAX_CONNECTIONS` sets nimbus's
//! `nimbus.http.max.connections` (default 16384 here: each fake supervisor holds 2
//! connections and each worker 1, which passes nimbus's default 1024 from ~170
//! supervisors of 4 workers; a real supervisor holds a third, its log poll).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use squall_runtime::cluster::auth::tls::ClientTrust;
use squall_runtime::cluster::auth::token::{Role, Token};
use squall_runtime::cluster::auth::worker_credential::WorkerCredential;
use squall_runtime::cluster::client::Nimbus;
use squall_runtime::cluster::protocol::{
    AssignmentVersion, Counters, Heartbeat, HeartbeatResponse, Histogram, InputStreamStats,
    OutputStreamStats, QueueStats, SlotAssignment, SlotState, StatsAck, TaskStats, WorkerReport,
    WorkerStats,
};

/// The `squall` binary (nimbus, and the artifact the topology is submitted with).
const SQUALL: &str = env!("CARGO_BIN_EXE_squall");

/// The topology's name.
const TOPOLOGY: &str = "capacity";

/// The generator's settings, from the environment.
#[derive(Debug, Clone)]
struct Settings {
    steps: Vec<usize>,
    workers: usize,
    executors: usize,
    secs: u64,
    warmup: u64,
    nimbus_cpu: String,
    gen_cpu: String,
    p99_limit_ms: f64,
    keep: bool,
    perf: bool,
    stats: bool,
    polls: bool,
    max_connections: u64,
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Settings {
    fn from_env() -> Settings {
        let steps = std::env::var("CAP_SUPERVISORS")
            .unwrap_or_else(|_| "10,50,100,200,400,800".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        Settings {
            steps,
            workers: env_or("CAP_WORKERS", 4),
            executors: env_or("CAP_EXECUTORS", 50),
            secs: env_or("CAP_SECS", 20),
            warmup: env_or("CAP_WARMUP_SECS", 5),
            nimbus_cpu: env_or("CAP_NIMBUS_CPU", "1".to_string()),
            gen_cpu: env_or("CAP_GEN_CPU", "0".to_string()),
            p99_limit_ms: env_or("CAP_P99_LIMIT_MS", 100.0),
            keep: std::env::var("CAP_KEEP").is_ok_and(|v| v == "1"),
            perf: std::env::var("CAP_PERF").is_ok_and(|v| v == "1"),
            stats: std::env::var("CAP_STATS").map_or(true, |v| v != "0"),
            polls: std::env::var("CAP_POLLS").map_or(true, |v| v != "0"),
            max_connections: env_or("CAP_MAX_CONNECTIONS", 16_384),
        }
    }
}

/// Round trips (microseconds), bytes and failures of one kind of request.
#[derive(Debug, Default)]
struct Traffic {
    rtt_us: std::sync::Mutex<Vec<u64>>,
    sent: AtomicU64,
    received: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

impl Traffic {
    fn record(&self, rtt: Duration, sent: usize, received: usize) {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        self.rtt_us.lock().unwrap().push(us);
        self.sent.fetch_add(sent as u64, Ordering::Relaxed);
        self.received.fetch_add(received as u64, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn fail(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap() = Some(e);
    }

    /// p50, p99 and max round trip in ms.
    fn quantiles(&self) -> (f64, f64, f64) {
        let mut v = self.rtt_us.lock().unwrap().clone();
        if v.is_empty() {
            return (f64::NAN, f64::NAN, f64::NAN);
        }
        v.sort_unstable();
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
        (q(0.5), q(0.99), *v.last().unwrap() as f64 / 1000.0)
    }

    fn reset(&self) {
        self.rtt_us.lock().unwrap().clear();
        self.sent.store(0, Ordering::Relaxed);
        self.received.store(0, Ordering::Relaxed);
        self.requests.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
    }
}

/// CPU time (user + system) of process `pid` so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at `) `.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// Resident memory of process `pid`, bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// A nimbus process of one step, killed when dropped.
struct NimbusProc {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Drop for NimbusProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `squall nimbus` pinned to `cpu`, on a free loopback port, plain HTTP, with at
/// most `max_connections` connections.
fn start_nimbus(dir: &Path, cpu: &str, max_connections: u64) -> NimbusProc {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    std::fs::create_dir_all(dir).unwrap();
    let listen = format!("127.0.0.1:{port}");
    let config = dir.join("nimbus.yaml");
    std::fs::write(
        &config,
        // The admin creates a token per supervisor: past nimbus's default rate limit
        // (20/s, burst 40) from a few dozen supervisors.
        format!(
            "nimbus.http.max.connections: {max_connections}\nnimbus.auth.rate.per.sec: 100000\n\
             nimbus.auth.rate.burst: 100000\n"
        ),
    )
    .unwrap();
    let mut child = Command::new("taskset")
        .args(["-c", cpu, SQUALL, "nimbus", "--data"])
        .arg(dir)
        .arg("--config")
        .arg(&config)
        .args(["--listen", &listen, "--tls", "off"])
        .env("SQUALL_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("nimbus.log")).unwrap(),
        ))
        .spawn()
        .expect("starting nimbus under taskset");
    let out = BufReader::new(child.stdout.take().unwrap());
    for line in out.lines().map_while(Result::ok) {
        if line.contains("listening") {
            break;
        }
    }
    NimbusProc {
        child,
        url: format!("http://{listen}"),
        dir: dir.to_path_buf(),
    }
}

/// The topology: `workers` workers of `executors` executors each (one acker a worker).
fn topology_yaml(workers: usize, executors: usize) -> String {
    let spout = (executors / 5).max(1);
    let split = (executors * 2 / 5).max(1);
    let count = executors.saturating_sub(spout + split + 1).max(1);
    format!(
        "name: {TOPOLOGY}
config:
  topology.workers: {workers}
  topology.acker.executors: {workers}
spouts:
  - id: sentences
    className: RandomSentenceSpout
    parallelism: {ps}
bolts:
  - id: split
    className: SplitSentenceBolt
    parallelism: {pb}
  - id: count
    className: WordCountBolt
    parallelism: {pc}
streams:
  - from: sentences
    to: split
    grouping: {{type: LOCAL_OR_SHUFFLE}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: [word]}}
",
        ps = spout * workers,
        pb = split * workers,
        pc = count * workers,
    )
}

/// A histogram as a worker sends one after a second of sampled latencies.
fn latency_histogram(seed: u64) -> Histogram {
    let mut h = Histogram::new();
    for i in 0..20 {
        h.record_n(50 + (seed * 7 + i * 131) % 5000, 1 + i % 3);
    }
    h
}

/// A plausible row for `task` of `component`, with every field a real worker fills.
fn task_row(task: u32, component: &str, upstream: Option<&str>, tick: u64) -> TaskStats {
    let n = tick * 10_000 + u64::from(task);
    let outputs = vec![OutputStreamStats {
        stream: "default".into(),
        emitted: n,
        transferred: n,
        acked: if upstream.is_none() { n } else { 0 },
        failed: 0,
        complete_latency_us: if upstream.is_none() {
            latency_histogram(n)
        } else {
            Histogram::new()
        },
    }];
    let inputs = upstream
        .map(|up| {
            vec![InputStreamStats {
                component: up.into(),
                stream: "default".into(),
                executed: n,
                acked: n,
                failed: 0,
                execute_latency_us: latency_histogram(n),
                process_latency_us: latency_histogram(n + 1),
            }]
        })
        .unwrap_or_default();
    TaskStats {
        task,
        component: component.into(),
        counters: Counters {
            emitted: n,
            transferred: n,
            executed: n,
            acked: n,
            ..Counters::default()
        },
        outputs,
        inputs,
        queue: QueueStats {
            depth: 3,
            capacity: 1024,
            upstream_blocked_ns: 0,
            send_blocked_ns: 0,
        },
        ..TaskStats::default()
    }
}

/// The component of `task` (its parallelism per component in declaration order; any
/// task past the user components is labelled `count`: nimbus checks only that the
/// component exists).
fn component_of(task: u32, parallelism: &[(String, u32)]) -> (&str, Option<&'static str>) {
    let mut end = 0;
    for (name, p) in parallelism {
        end += p;
        if task <= end {
            return match name.as_str() {
                "sentences" => ("sentences", None),
                "split" => ("split", Some("sentences")),
                _ => ("count", Some("split")),
            };
        }
    }
    ("count", Some("split"))
}

/// POST `body` as JSON to `url`; returns the answer's body and the round trip.
async fn post(
    http: &reqwest::Client,
    url: &str,
    auth: Option<&str>,
    body: Vec<u8>,
) -> Result<(Vec<u8>, Duration), String> {
    let t = Instant::now();
    let mut req = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(a) = auth {
        req = req.header(reqwest::header::AUTHORIZATION, a);
    }
    let resp = req.body(body).send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    let rtt = t.elapsed();
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ));
    }
    Ok((bytes.to_vec(), rtt))
}

/// One fake supervisor: its id, slots, token-bearing client, and the assignment version
/// it holds.
struct FakeSupervisor {
    id: String,
    slots: Vec<u16>,
    http: reqwest::Client,
    /// For its assignment long poll (a timeout past the wait).
    poll_http: reqwest::Client,
    held: std::sync::Mutex<Option<AssignmentVersion>>,
}

impl FakeSupervisor {
    /// Take in an answer as the real supervisor does: a whole answer is checked and
    /// expanded into slot assignments, and its version kept; "unchanged" keeps all.
    fn take(&self, bytes: &[u8]) -> Result<Option<Vec<SlotAssignment>>, String> {
        let resp: HeartbeatResponse = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let version = resp.version;
        let slots = resp.into_slots().map_err(|e| e.to_string())?;
        *self.held.lock().unwrap() = Some(version);
        Ok(slots)
    }

    fn heartbeat(&self, running: bool, uptime: u64) -> Heartbeat {
        Heartbeat {
            assignment_version: *self.held.lock().unwrap(),
            id: self.id.clone(),
            host: format!("{}.example", self.id),
            slots: self.slots.clone(),
            workers: if running {
                self.slots
                    .iter()
                    .map(|&port| WorkerReport {
                        port,
                        topology: TOPOLOGY.into(),
                        pid: Some(10_000 + u32::from(port)),
                        state: SlotState::Running,
                        uptime_secs: uptime,
                        restarts: 0,
                        last_exit: None,
                        rss_bytes: Some(120 << 20),
                        cpu_ms: Some(uptime * 900),
                        restart_history: Vec::new(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// The figures of one step.
#[derive(Debug)]
struct StepResult {
    supervisors: usize,
    workers: usize,
    hb: (f64, f64, f64),
    stats: (f64, f64, f64),
    hb_rate: f64,
    stats_rate: f64,
    hb_req_bytes: f64,
    hb_resp_bytes: f64,
    stats_req_bytes: f64,
    stats_resp_bytes: f64,
    errors: u64,
    last_error: Option<String>,
    nimbus_cpu: f64,
    gen_cpu: f64,
    nimbus_rss_idle: u64,
    nimbus_rss: u64,
    submit_secs: f64,
    whole_bytes: usize,
    whole_secs: f64,
    polls_answered: u64,
    polls_parked: bool,
}

async fn run_step(s: &Settings, n: usize) -> StepResult {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nimbus");
    let nimbus = start_nimbus(&dir, &s.nimbus_cpu, s.max_connections);
    let pid = nimbus.child.id();
    let admin_text = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let admin = Token::parse(admin_text.trim()).unwrap();
    let client = Nimbus::with_trust(&nimbus.url, Some(&admin), &ClientTrust::System).unwrap();
    let trust = ClientTrust::System;
    let hb_url = format!("{}/api/v1/supervisors/heartbeat", nimbus.url);

    // n supervisor tokens and clients, each registered by a first heartbeat.
    let mut sups = Vec::with_capacity(n);
    for i in 0..n {
        let created = client
            .create_token(&format!("cap-sup-{i}"), Role::Supervisor)
            .await
            .unwrap();
        let token = Token::parse(&created.text).unwrap();
        let http =
            squall_runtime::cluster::http::client(Duration::from_secs(5), Some(&token), &trust)
                .unwrap();
        let poll_http =
            squall_runtime::cluster::http::client(Duration::from_secs(40), Some(&token), &trust)
                .unwrap();
        sups.push(Arc::new(FakeSupervisor {
            id: format!("cap-sup-{i:04}"),
            slots: (0..s.workers).map(|w| 6700 + w as u16).collect(),
            http,
            poll_http,
            held: std::sync::Mutex::new(None),
        }));
    }
    for sup in &sups {
        let body = serde_json::to_vec(&sup.heartbeat(false, 0)).unwrap();
        let (bytes, _) = post(&sup.http, &hb_url, None, body).await.unwrap();
        sup.take(&bytes).unwrap();
    }
    let nimbus_rss_idle = rss(pid);

    // One topology over every slot.
    let workers = n * s.workers;
    let yaml = topology_yaml(workers, s.executors);
    let t = Instant::now();
    let answer = client
        .submit_yaml(&yaml, Path::new(SQUALL), None, None)
        .await;
    let submit_secs = t.elapsed().as_secs_f64();
    if let Err(e) = answer {
        panic!("submitting {workers} workers: {e}");
    }
    let info = client.status(TOPOLOGY).await.unwrap();
    let parallelism: Vec<(String, u32)> = ["sentences", "split", "count"]
        .iter()
        .map(|c| {
            (
                c.to_string(),
                info.parallelism.get(*c).copied().unwrap_or(0),
            )
        })
        .collect();

    // Each supervisor's assignments (the answer to its next heartbeat: its version
    // moved with the submission), and how big that whole answer is.
    // All at once, as real supervisors do when their polls wake (one after the other,
    // the last would heartbeat after nimbus's 10 s supervisor timeout at 200).
    let whole = Instant::now();
    let fetches: Vec<_> = sups
        .iter()
        .map(|sup| {
            let (sup, url) = (sup.clone(), hb_url.clone());
            tokio::spawn(async move {
                let body = serde_json::to_vec(&sup.heartbeat(false, 0)).unwrap();
                let (bytes, _) = post(&sup.poll_http, &url, None, body).await.unwrap();
                let slots = sup.take(&bytes).unwrap();
                (
                    bytes.len(),
                    slots.expect("a whole answer after the submission"),
                )
            })
        })
        .collect();
    let mut assigned: Vec<Vec<SlotAssignment>> = Vec::with_capacity(n);
    let mut whole_bytes = 0usize;
    for f in fetches {
        let (len, slots) = f.await.unwrap();
        whole_bytes = whole_bytes.max(len);
        assigned.push(slots);
    }
    let whole_secs = whole.elapsed().as_secs_f64();

    let hb = Arc::new(Traffic::default());
    let st = Arc::new(Traffic::default());
    let polled = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let period = Duration::from_secs(1);
    for (i, sup) in sups.iter().enumerate() {
        // Supervisors and workers start spread over the period, as real ones are.
        let phase = period.mul_f64(i as f64 / n as f64);
        let (me, hb, halt, url) = (sup.clone(), hb.clone(), stop.clone(), hb_url.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(phase).await;
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut uptime = 0;
            while !halt.load(Ordering::Relaxed) {
                tick.tick().await;
                uptime += 1;
                let body = serde_json::to_vec(&me.heartbeat(true, uptime)).unwrap();
                let len = body.len();
                match post(&me.http, &url, None, body).await {
                    // Parsed as the real supervisor does (it is "unchanged" now).
                    Ok((bytes, rtt)) => match me.take(&bytes) {
                        Ok(_) => hb.record(rtt, len, bytes.len()),
                        Err(e) => hb.fail(format!("a bad heartbeat answer: {e}")),
                    },
                    Err(e) => hb.fail(e),
                }
            }
        }));
        if s.polls {
            // The supervisor's assignment long poll, parked at nimbus as a real one is.
            let (me, halt, polls) = (sup.clone(), stop.clone(), polled.clone());
            let base = nimbus.url.clone();
            tasks.push(tokio::spawn(async move {
                let mut after = (*me.held.lock().unwrap()).unwrap();
                while !halt.load(Ordering::Relaxed) {
                    let url = format!(
                        "{base}{}",
                        squall_runtime::cluster::protocol::assignment_poll_path(
                            &me.id,
                            Some(after),
                            squall_runtime::cluster::protocol::MAX_ASSIGNMENT_WAIT_SECS,
                        )
                    );
                    match me.poll_http.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let p: squall_runtime::cluster::protocol::AssignmentPoll =
                                r.json().await.unwrap();
                            after = p.version;
                            polls.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => {
                            let status = r.status();
                            panic!(
                                "assignment poll: {status}: {}",
                                r.text().await.unwrap_or_default()
                            )
                        }
                        Err(e) => panic!("assignment poll: {e}"),
                    }
                }
            }));
        }
        let reporting = if s.stats { assigned[i].as_slice() } else { &[] };
        for (w, a) in reporting.iter().enumerate() {
            let secret = a.topology_secret.clone().expect("a topology secret");
            let credential = WorkerCredential::derive(&a.topology_id, &secret).header_value();
            let http = squall_runtime::cluster::http::client(Duration::from_secs(5), None, &trust)
                .unwrap();
            let url = format!("{}/api/v1/topologies/{TOPOLOGY}/stats", nimbus.url);
            let task_ids: Vec<u32> = a.executors.iter().flat_map(|[f, l]| *f..=*l).collect();
            let rows: Vec<(u32, &'static str, Option<&'static str>)> = task_ids
                .iter()
                .map(|&t| {
                    let (c, up) = component_of(t, &parallelism);
                    let c: &'static str = match c {
                        "sentences" => "sentences",
                        "split" => "split",
                        _ => "count",
                    };
                    (t, c, up)
                })
                .collect();
            let (topology_id, supervisor, port) = (a.topology_id.clone(), sup.id.clone(), a.port);
            let phase = period.mul_f64((i * s.workers + w) as f64 / workers as f64);
            let (st, halt) = (st.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(phase).await;
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut n = 0;
                while !halt.load(Ordering::Relaxed) {
                    tick.tick().await;
                    n += 1;
                    let report = WorkerStats {
                        topology_id: topology_id.clone(),
                        supervisor: supervisor.clone(),
                        port,
                        tasks: rows
                            .iter()
                            .map(|(t, c, up)| task_row(*t, c, *up, n))
                            .collect(),
                        started_at_ms: 1,
                    };
                    let body = serde_json::to_vec(&report).unwrap();
                    let len = body.len();
                    match post(&http, &url, Some(&credential), body).await {
                        Ok((bytes, rtt)) => {
                            if serde_json::from_slice::<StatsAck>(&bytes).is_err() {
                                st.fail("a stats answer that is not a StatsAck".into());
                            }
                            st.record(rtt, len, bytes.len());
                        }
                        Err(e) => st.fail(e),
                    }
                }
            }));
        }
    }

    tokio::time::sleep(Duration::from_secs(s.warmup)).await;
    hb.reset();
    st.reset();
    let perf = s.perf.then(|| {
        Command::new("perf")
            .args(["record", "-g", "-o"])
            .arg(nimbus.dir.join("perf.data"))
            .args(["-p", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("perf record")
    });
    let (n0, g0, t0) = (cpu_time(pid), cpu_time(std::process::id()), Instant::now());
    tokio::time::sleep(Duration::from_secs(s.secs)).await;
    let (n1, g1, wall) = (
        cpu_time(pid),
        cpu_time(std::process::id()),
        t0.elapsed().as_secs_f64(),
    );
    let nimbus_rss = rss(pid);
    if let Some(mut p) = perf {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = p.wait();
        println!("perf data: {}", nimbus.dir.join("perf.data").display());
    }
    let hb_q = hb.quantiles();
    let st_q = st.quantiles();
    let (hb_n, st_n) = (
        hb.requests.load(Ordering::Relaxed).max(1) as f64,
        st.requests.load(Ordering::Relaxed).max(1) as f64,
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    let last_error = hb
        .last_error
        .lock()
        .unwrap()
        .clone()
        .or_else(|| st.last_error.lock().unwrap().clone());
    if s.keep {
        let kept = tmp.keep();
        println!("kept {}", kept.display());
    }
    StepResult {
        supervisors: n,
        workers,
        hb: hb_q,
        stats: st_q,
        hb_rate: hb_n / wall,
        stats_rate: st_n / wall,
        hb_req_bytes: hb.sent.load(Ordering::Relaxed) as f64 / hb_n,
        hb_resp_bytes: hb.received.load(Ordering::Relaxed) as f64 / hb_n,
        stats_req_bytes: st.sent.load(Ordering::Relaxed) as f64 / st_n,
        stats_resp_bytes: st.received.load(Ordering::Relaxed) as f64 / st_n,
        errors: hb.errors.load(Ordering::Relaxed) + st.errors.load(Ordering::Relaxed),
        last_error,
        nimbus_cpu: (n1 - n0).as_secs_f64() / wall,
        gen_cpu: (g1 - g0).as_secs_f64() / wall,
        nimbus_rss_idle,
        nimbus_rss,
        submit_secs,
        whole_bytes,
        whole_secs,
        polls_answered: polled.load(Ordering::Relaxed),
        polls_parked: s.polls,
    }
}

fn main() {
    let s = Settings::from_env();
    // Pin the generator (this process, before any thread starts) to its own core.
    let pinned = Command::new("taskset")
        .args(["-p", "-c", &s.gen_cpu, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "nimbus capacity: {} slots x {} executors per supervisor; nimbus on cpu {}, generator on \
         cpu {}{}; {} s measured per step after {} s warm-up",
        s.workers,
        s.executors,
        s.nimbus_cpu,
        s.gen_cpu,
        if pinned {
            ""
        } else {
            " (NOT pinned: taskset failed)"
        },
        s.secs,
        s.warmup
    );
    println!(
        "| supervisors | workers | executors | submit s | heartbeat p50 / p99 / max ms | stats \
         p50 / p99 / max ms | hb/s | stats/s | hb bytes req / resp | stats bytes req / resp | \
         nimbus CPU | generator CPU | nimbus RSS idle → loaded MB | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in &s.steps {
        let r = runtime.block_on(run_step(&s, n));
        println!(
            "| {} | {} | {} | {:.1} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.0} | {:.0} \
             | {:.0} / {:.0} | {:.0} / {:.0} | {:.0}% | {:.0}% | {:.1} → {:.1} | {} |",
            r.supervisors,
            r.workers,
            r.workers * s.executors,
            r.submit_secs,
            r.hb.0,
            r.hb.1,
            r.hb.2,
            r.stats.0,
            r.stats.1,
            r.stats.2,
            r.hb_rate,
            r.stats_rate,
            r.hb_req_bytes,
            r.hb_resp_bytes,
            r.stats_req_bytes,
            r.stats_resp_bytes,
            r.nimbus_cpu * 100.0,
            r.gen_cpu * 100.0,
            r.nimbus_rss_idle as f64 / 1e6,
            r.nimbus_rss as f64 / 1e6,
            r.errors,
        );
        if let Some(e) = &r.last_error {
            println!("  last error: {e}");
        }
        println!(
            "  after the submission: whole answer {:.0} KB per supervisor, {n} answers in {:.2} s",
            r.whole_bytes as f64 / 1e3,
            r.whole_secs
        );
        if r.polls_parked {
            println!(
                "  assignment long polls: one parked per supervisor, {} answered in the step \
                 (each at its {} s wait: no version moved)",
                r.polls_answered,
                squall_runtime::cluster::protocol::MAX_ASSIGNMENT_WAIT_SECS
            );
        }
        let per_sup_rss = r.nimbus_rss.saturating_sub(r.nimbus_rss_idle) as f64 / n as f64;
        println!(
            "  per supervisor: nimbus CPU {:.2} ms/s, RSS {:.0} KB; per stats report: {:.0} µs \
             of nimbus CPU (all of nimbus's CPU over heartbeats + reports)",
            r.nimbus_cpu * 1000.0 / n as f64,
            per_sup_rss / 1e3,
            r.nimbus_cpu * 1e6 / (r.hb_rate + r.stats_rate).max(1.0),
        );
        if r.gen_cpu > 0.9 {
            println!("  stop: the generator's core is saturated: the generator is the limit");
            break;
        }
        if r.hb.1 > s.p99_limit_ms || r.hb.1.is_nan() {
            println!(
                "  stop: heartbeat p99 {:.1} ms passed {} ms",
                r.hb.1, s.p99_limit_ms
            );
            break;
        }
        if r.errors > 0 {
            println!("  stop: requests failed");
            break;
        }
    }
}
