//! YAML bombs submitted to a real nimbus (issue 11 item 1): each is refused with a clear,
//! located 400 within a bounded time, `/health` keeps answering in under 100 ms
//! throughout, and the process's peak memory stays bounded.
//!
//! One test in its own test binary, so the process's peak RSS (`VmHWM`, which includes
//! this nimbus, the client and the generated bombs) is an honest bound on what nimbus
//! took.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{TestNimbus, VALID_ARTIFACT};
use reqwest::StatusCode;
use serde_json::json;

/// Most time a refusal may take.
const REFUSE_WITHIN: Duration = Duration::from_secs(10);
/// Slowest acceptable `/health` answer while a bomb is being refused.
const HEALTH_WITHIN: Duration = Duration::from_millis(100);
/// Most memory the whole test process may have used at its peak.
const MAX_PEAK_RSS_KB: u64 = 300 * 1024;

/// A flow list of `n` one-letter items, no spaces.
fn flow_list(n: usize) -> String {
    let mut s = String::with_capacity(2 * n + 2);
    s.push('[');
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push('a');
    }
    s.push(']');
    s
}

/// "Billion laughs": each line repeats the previous one ten times.
fn laughs() -> String {
    let mut laughs = String::from("name: x\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = format!("*a{}", i - 1);
        laughs.push_str(&format!("a{i}: &a{i} [{}]\n", [p.as_str(); 10].join(", ")));
    }
    laughs
}

/// A bomb's name, its text (made when needed), and what the refusal must say.
type Bomb = (&'static str, Box<dyn Fn() -> String>, &'static str);

/// The bombs.
fn bombs() -> Vec<Bomb> {
    vec![
        (
            // The report: an explicit key of 1 MiB over a list of 1.3M items, 3.6 MiB.
            "complex key over a 1.3M item list",
            Box::new(|| format!("? {}\n: {}\n", "k".repeat(1 << 20), flow_list(1_300_000))),
            "topology.yaml:1:3: refused: a YAML node longer than 65536 characters",
        ),
        (
            "alias bomb (billion laughs)",
            Box::new(laughs),
            "topology.yaml:6:",
        ),
        (
            "alias bomb within serde_yaml's repetition limit",
            Box::new(|| {
                let aliases = vec!["*a"; 99].join(", ");
                format!("name: x\na: &a {}\nb: [{aliases}]\n", flow_list(10_000))
            }),
            "topology.yaml:3:",
        ),
        (
            "deep nesting (block)",
            // 2000 sequences, each one space deeper (2 MB).
            Box::new(|| (0..2000).map(|i| format!("{}-\n", " ".repeat(i))).collect()),
            "nested more than 64 levels deep",
        ),
        (
            "deep nesting (flow)",
            Box::new(|| {
                format!(
                    "name: x\nconfig: {}{}\n",
                    "[".repeat(200_000),
                    "]".repeat(200_000)
                )
            }),
            "topology.yaml:2:",
        ),
        (
            "a million-item list",
            Box::new(|| format!("name: x\nspouts: {}\n", flow_list(1_000_000))),
            "more than 100000 nodes",
        ),
    ]
}

/// `VmHWM` (peak resident memory) of this process, in kB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_bombs_are_refused_quickly_while_health_answers() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start_with(dir.path(), |o| o.max_request_bytes = 8 << 20).await;
    let artifact = n.upload(VALID_ARTIFACT).await;
    let health_url = n.url("/api/v1/health");
    let mut worst_peak = 0;
    for (what, make, expected) in bombs() {
        let yaml = make();
        // Poll /health for as long as the submission takes, keeping the slowest answer.
        let done = Arc::new(AtomicBool::new(false));
        let poller = {
            let (http, url, done) = (n.http.clone(), health_url.clone(), done.clone());
            tokio::spawn(async move {
                let (mut slowest, mut count) = (Duration::ZERO, 0u32);
                while !done.load(Ordering::SeqCst) {
                    let start = Instant::now();
                    let r = http.get(&url).send().await.unwrap();
                    assert_eq!(r.status(), StatusCode::OK);
                    slowest = slowest.max(start.elapsed());
                    count += 1;
                }
                (slowest, count)
            })
        };
        let body = json!({ "name": "bomb", "yaml": yaml, "artifact": artifact });
        let start = Instant::now();
        let (status, answer) = n.post("/api/v1/topologies", &body).await;
        let took = start.elapsed();
        done.store(true, Ordering::SeqCst);
        let (slowest, polls) = poller.await.unwrap();
        let peak = peak_rss_kb();
        worst_peak = worst_peak.max(peak);
        println!(
            "{what}: {} bytes refused in {took:?} ({status}); /health slowest {slowest:?} \
             over {polls} requests; peak RSS so far {peak} kB\n  {}",
            yaml.len(),
            answer["details"][0]
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with("the topology YAML is invalid:") && error.contains(expected),
            "{what}: expected {expected:?} in {answer}"
        );
        assert!(took < REFUSE_WITHIN, "{what}: refusing took {took:?}");
        assert!(polls > 0, "{what}: /health was never polled");
        assert!(
            slowest < HEALTH_WITHIN,
            "{what}: /health took {slowest:?} while the bomb was refused"
        );
    }
    assert!(
        worst_peak < MAX_PEAK_RSS_KB,
        "peak RSS {worst_peak} kB passed {MAX_PEAK_RSS_KB} kB"
    );
    // Nothing was stored, and nimbus still takes a sound topology.
    let (status, list) = n.get("/api/v1/topologies").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["topologies"].as_array().map(Vec::len),
        Some(0),
        "{list}"
    );
    let (status, body) = n.submit("wc", common::YAML, &artifact).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    n.handle.shutdown().await.unwrap();
}
