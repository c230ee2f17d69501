//! A stand-in nimbus on 127.0.0.1:0 for supervisor tests: a tiny HTTP/1.1 server on a
//! tokio TCP listener that answers heartbeats with the assignments the test sets, records
//! every heartbeat and artifact request, and serves artifacts as the test says: whole,
//! held at a gate part-way, stalled for ever part-way, or without a length.
//!
//! Worker artifacts are shell scripts ([`worker_script`]) run by the real launcher: they
//! write a counter to their heartbeat file until they are stopped.

// Helpers of tests: a failed unwrap is a failed test, and not every suite uses every helper.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use squall_runtime::cluster::protocol::{
    ArtifactHash, AssignmentVersion, Heartbeat, HeartbeatResponse, PROTOCOL_VERSION,
    SlotAssignment, SlotRef, SlotState, SupervisorAssignments, TopologyAssignment, VERSION_HEADER,
    WorkerLocation, WorkerReport,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Largest request head or body the fake reads.
const MAX_REQUEST: usize = 1 << 20;

/// How an artifact is served.
#[derive(Debug, Clone)]
pub enum Serve {
    /// All of it, with its length, at once.
    Whole(Vec<u8>),
    /// The first `first` bytes, then nothing until the gate opens, then the rest.
    Gated {
        /// The artifact.
        bytes: Vec<u8>,
        /// Bytes sent before waiting.
        first: usize,
        /// Opens the gate (true).
        gate: watch::Receiver<bool>,
    },
    /// The first `first` bytes, then the connection stays open and silent.
    Stall {
        /// The artifact.
        bytes: Vec<u8>,
        /// Bytes sent before stalling.
        first: usize,
    },
    /// All of it without a length: the body ends when the connection closes.
    NoLength(Vec<u8>),
}

/// What the fake has seen and will answer.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every heartbeat, with when it arrived.
    pub heartbeats: Vec<(Instant, Heartbeat)>,
    /// Every artifact request (hash), with when it arrived.
    pub gets: Vec<(Instant, String)>,
    /// Assignments answered on each heartbeat.
    pub assignments: Vec<SlotAssignment>,
    /// Their version (moves with every [`FakeNimbus::assign`]).
    pub version: u64,
    /// Artifacts by hash.
    pub artifacts: HashMap<String, Serve>,
    /// Requests refused for a missing or wrong bearer token (401).
    pub unauthorized: Vec<String>,
}

/// A running fake nimbus.
#[derive(Debug, Clone)]
pub struct FakeNimbus {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The one token it accepts (as nimbus does with authentication on): every request
    /// without it is answered 401 and recorded in [`Seen::unauthorized`].
    pub token: squall_runtime::cluster::auth::token::Token,
    seen: Arc<Mutex<Seen>>,
}

impl FakeNimbus {
    /// Listen on 127.0.0.1:0 and serve until the runtime ends.
    pub async fn start() -> FakeNimbus {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        let token = squall_runtime::cluster::auth::token::Token::generate().unwrap();
        let bearer = format!("Bearer {}", token.to_text().expose());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, shared.clone(), bearer.clone()));
            }
        });
        FakeNimbus { addr, token, seen }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it has seen (and will answer).
    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }

    /// Serve `hash` as `how`.
    pub fn serve(&self, hash: ArtifactHash, how: Serve) {
        self.seen().artifacts.insert(hash.to_string(), how);
    }

    /// Answer heartbeats with these assignments.
    pub fn assign(&self, assignments: Vec<SlotAssignment>) {
        let mut seen = self.seen();
        seen.assignments = assignments;
        seen.version += 1;
    }

    /// Requests for artifact `hash` so far, with when they arrived.
    pub fn gets_of(&self, hash: &ArtifactHash) -> Vec<Instant> {
        let hash = hash.to_string();
        self.seen()
            .gets
            .iter()
            .filter(|(_, h)| *h == hash)
            .map(|(t, _)| *t)
            .collect()
    }

    /// The latest report of slot `port`, if the latest heartbeat has one.
    pub fn report(&self, port: u16) -> Option<WorkerReport> {
        let seen = self.seen();
        let (_, hb) = seen.heartbeats.last()?;
        hb.workers.iter().find(|w| w.port == port).cloned()
    }

    /// Poll (every 20 ms, at most `limit`) until `f` gives a value; panic naming `what`.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut f: impl FnMut(&FakeNimbus) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Wait until slot `port` reports `state`; returns the report.
    pub async fn wait_state(&self, port: u16, state: SlotState, limit: Duration) -> WorkerReport {
        self.wait_for(&format!("slot {port} to be {state}"), limit, |n| {
            n.report(port).filter(|r| r.state == state)
        })
        .await
    }
}

/// Serve one connection: one request, one answer, then close.
async fn serve(conn: TcpStream, seen: Arc<Mutex<Seen>>, bearer: String) {
    let mut conn = BufReader::new(conn);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        match conn.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push(line);
        if head.len() > 100 {
            return;
        }
    }
    let Some(request_line) = head.first() else {
        return;
    };
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let length: usize = head
        .iter()
        .find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = vec![0u8; length];
    if conn.read_exact(&mut body).await.is_err() {
        return;
    }
    let mut conn = conn.into_inner();
    let authorized = head.iter().any(|h| {
        h.split_once(':')
            .is_some_and(|(k, v)| k.eq_ignore_ascii_case("authorization") && v.trim() == bearer)
    });
    if !authorized {
        seen.lock()
            .unwrap()
            .unauthorized
            .push(format!("{method} {path}"));
        let _ = answer(
            &mut conn,
            "401 Unauthorized",
            b"{\"error\":\"no token\"}",
            true,
        )
        .await;
        return;
    }
    match (method, path) {
        ("POST", "/api/v1/supervisors/heartbeat") => {
            let Ok(hb) = serde_json::from_slice::<Heartbeat>(&body) else {
                let _ = answer(&mut conn, "400 Bad Request", b"{}", true).await;
                return;
            };
            let response = {
                let mut s = seen.lock().unwrap();
                let version = AssignmentVersion {
                    epoch: 1,
                    seq: s.version,
                };
                let held = hb.assignment_version;
                s.heartbeats.push((Instant::now(), hb));
                HeartbeatResponse {
                    version,
                    assignments: (held != Some(version)).then(|| wire_form(&s.assignments)),
                }
            };
            let json = serde_json::to_vec(&response).unwrap();
            let _ = answer(&mut conn, "200 OK", &json, true).await;
        }
        ("GET", p) if p.starts_with("/api/v1/artifacts/") => {
            let hash = p.trim_start_matches("/api/v1/artifacts/").to_string();
            let how = {
                let mut s = seen.lock().unwrap();
                s.gets.push((Instant::now(), hash.clone()));
                s.artifacts.get(&hash).cloned()
            };
            let _ = send_artifact(&mut conn, how).await;
        }
        _ => {
            let _ = answer(&mut conn, "404 Not Found", b"{}", true).await;
        }
    }
}

async fn answer(
    conn: &mut TcpStream,
    status: &str,
    body: &[u8],
    with_length: bool,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\n{VERSION_HEADER}: {PROTOCOL_VERSION}\r\nConnection: close\r\n"
    );
    if with_length {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body).await?;
    conn.flush().await
}

async fn send_artifact(conn: &mut TcpStream, how: Option<Serve>) -> std::io::Result<()> {
    let head = |len: usize| {
        format!(
            "HTTP/1.1 200 OK\r\n{VERSION_HEADER}: {PROTOCOL_VERSION}\r\nConnection: close\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n"
        )
    };
    match how {
        None => answer(conn, "404 Not Found", b"{}", true).await,
        Some(Serve::Whole(bytes)) => {
            conn.write_all(head(bytes.len()).as_bytes()).await?;
            conn.write_all(&bytes).await
        }
        Some(Serve::NoLength(bytes)) => answer(conn, "200 OK", &bytes, false).await,
        Some(Serve::Gated {
            bytes,
            first,
            mut gate,
        }) => {
            conn.write_all(head(bytes.len()).as_bytes()).await?;
            conn.write_all(&bytes[..first]).await?;
            conn.flush().await?;
            let _ = gate.wait_for(|open| *open).await;
            conn.write_all(&bytes[first..]).await
        }
        Some(Serve::Stall { bytes, first }) => {
            conn.write_all(head(bytes.len()).as_bytes()).await?;
            conn.write_all(&bytes[..first]).await?;
            conn.flush().await?;
            // Silent, with the connection open, until the client gives up.
            let mut sink = [0u8; 64];
            while conn.read(&mut sink).await? > 0 {}
            Ok(())
        }
    }
}

/// A worker artifact: a shell script that writes a rising counter to its heartbeat file
/// every 50 ms until it is stopped, then `padding` bytes it never reads (to make it
/// large); `tag` makes artifacts differ.
pub fn worker_script(tag: &str, padding: usize) -> Vec<u8> {
    let mut s = format!(
        "#!/bin/sh\n# {tag}\ni=0\nwhile :; do i=$((i+1)); echo $i > heartbeat.tmp; \
         mv heartbeat.tmp heartbeat; sleep 0.05; done\nexit 0\n"
    )
    .into_bytes();
    if padding > 0 {
        s.extend_from_slice(b"# ");
        s.resize(s.len() + padding, b'x');
        s.push(b'\n');
    }
    s
}

/// `slots` as nimbus sends them: each topology once, its workers on 127.0.0.1.
fn wire_form(slots: &[SlotAssignment]) -> SupervisorAssignments {
    let mut topologies: Vec<TopologyAssignment> = Vec::new();
    for a in slots {
        let worker = WorkerLocation {
            host: "127.0.0.1".to_string(),
            port: a.port,
            executors: a.executors.clone(),
        };
        match topologies.iter_mut().find(|t| t.topology == a.topology) {
            Some(t) => t.workers.push(worker),
            None => topologies.push(TopologyAssignment {
                topology: a.topology.clone(),
                topology_id: a.topology_id.clone(),
                status: a.status,
                artifact: a.artifact,
                resources: a.resources,
                yaml: a.yaml.clone(),
                topology_secret: a.topology_secret.clone(),
                workers: vec![worker],
            }),
        }
    }
    SupervisorAssignments {
        slots: slots
            .iter()
            .map(|a| SlotRef {
                port: a.port,
                topology: a.topology.clone(),
                executors: a.executors.clone(),
            })
            .collect(),
        topologies: topologies.into_iter().map(Arc::new).collect(),
    }
}

/// An assignment of `artifact` to `port`, as nimbus would send it.
pub fn assignment(topology: &str, port: u16, artifact: ArtifactHash) -> SlotAssignment {
    let json = serde_json::json!({
        "topology": topology,
        "topology_id": format!("{topology}-1"),
        "status": "ACTIVE",
        "port": port,
        "artifact": artifact.to_string(),
        "yaml": "",
        "executors": [[1, 1]],
        "task_locations": {},
        "workers_total": 1,
        "topology_secret": "5a".repeat(32),
    });
    serde_json::from_value(json).unwrap()
}

/// Kills, when dropped, the worker process groups whose pids the supervisor recorded in
/// `data_dir/workers/*/pid` (so a failed test leaves no worker behind).
pub struct ReapWorkers<'a>(pub &'a Path);

impl Drop for ReapWorkers<'_> {
    fn drop(&mut self) {
        let Ok(dirs) = std::fs::read_dir(self.0.join("workers")) else {
            return;
        };
        for dir in dirs.flatten() {
            let pid = std::fs::read_to_string(dir.path().join("pid"))
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
                .filter(|p| *p > 0);
            let Some(pid) = pid else { continue };
            // Only a process that still runs a spec file of this directory.
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&*self.0.to_string_lossy()) {
                squall_supervisor::process::kill_group(pid);
            }
        }
    }
}
