//! Nimbus's HTTP server against slow and greedy clients (issue 11 item 9): a client that
//! sends nothing or trickles its request head is cut after the header timeout, a
//! stalled or trickled body is refused with 408, and past the connection limit a new
//! connection is answered 503 — while `/api/v1/health` keeps answering.

mod common;

use std::time::{Duration, Instant};

use common::TestNimbus;
use squall_nimbus::api::serve::HttpLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any single step below may take before the test fails.
const BOUND: Duration = Duration::from_secs(10);

async fn nimbus(dir: &std::path::Path, limits: HttpLimits) -> TestNimbus {
    TestNimbus::start_with(dir, |o| o.http = limits).await
}

fn limits(header_ms: u64, body_ms: u64, max_connections: usize) -> HttpLimits {
    HttpLimits {
        header_timeout: Duration::from_millis(header_ms),
        body_timeout: Duration::from_millis(body_ms),
        max_connections,
    }
}

/// Read until the server closes the connection; what it sent. Fails after [`BOUND`].
async fn until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open for {BOUND:?}; it sent {:?}",
                String::from_utf8_lossy(&out)
            ),
            Ok(Ok(0) | Err(_)) => return String::from_utf8_lossy(&out).into_owned(),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// `/health` answers 200, on a new connection: a pooled one may be an idle keep-alive
/// connection the server is closing at its header timeout right now.
#[allow(clippy::unwrap_used)]
async fn health_ok(n: &TestNimbus) {
    let tls = squall_runtime::cluster::auth::tls::ClientTrust::System
        .rustls_config()
        .unwrap();
    let fresh = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let r = fresh.get(n.url("/api/v1/health")).send().await.unwrap();
    let status = r.status();
    assert_eq!(status, 200, "{}", r.text().await.unwrap_or_default());
}

#[tokio::test]
async fn a_silent_client_is_cut_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let n = nimbus(dir.path(), limits(500, 5_000, 64)).await;
    let start = Instant::now();
    let mut silent = TcpStream::connect(n.handle.addr()).await.unwrap();
    // Nimbus answers others meanwhile.
    health_ok(&n).await;
    until_closed(&mut silent).await;
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
    health_ok(&n).await;
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_trickled_request_head_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let n = nimbus(dir.path(), limits(500, 5_000, 64)).await;
    let mut slow = TcpStream::connect(n.handle.addr()).await.unwrap();
    slow.write_all(b"GET /api/v1/health HTTP/1.1\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    // One header line every 100 ms: each write is progress, but the head never ends.
    let mut cut = false;
    for i in 0..100 {
        if slow
            .write_all(format!("x-slow-{i}: y\r\n").as_bytes())
            .await
            .is_err()
        {
            cut = true;
            break;
        }
        let mut byte = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(100), slow.read(&mut byte)).await
        {
            cut = true;
            break;
        }
    }
    assert!(cut, "a head trickled for 10 s was not cut");
    assert!(start.elapsed() < BOUND, "{:?}", start.elapsed());
    health_ok(&n).await;
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stalled_or_trickled_body_is_refused_with_408() {
    let dir = tempfile::tempdir().unwrap();
    let n = nimbus(dir.path(), limits(5_000, 500, 64)).await;
    // Authenticated (as the admin): the body's timeout is what is tested.
    let head = format!(
        "POST /api/v1/topologies HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         authorization: Bearer {}\r\ncontent-length: 1000\r\n\r\n",
        n.admin.as_ref().unwrap().to_text().expose()
    );
    // Stalled: 10 of the 1000 bytes announced, then nothing.
    let mut stalled = TcpStream::connect(n.handle.addr()).await.unwrap();
    stalled
        .write_all(format!("{head}{{\"name\": ").as_bytes())
        .await
        .unwrap();
    let answer = until_closed(&mut stalled).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request body"), "{answer}");
    // Trickled: a byte every 50 ms never completes within the body timeout.
    let mut trickle = TcpStream::connect(n.handle.addr()).await.unwrap();
    trickle.write_all(head.as_bytes()).await.unwrap();
    let writer = {
        let (mut read, mut write) = trickle.into_split();
        let writer = tokio::spawn(async move {
            for _ in 0..1000 {
                if write.write_all(b" ").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let mut out = Vec::new();
        let got = tokio::time::timeout(BOUND, read.read_to_end(&mut out)).await;
        assert!(
            got.is_ok(),
            "a trickled body held the connection for {BOUND:?}"
        );
        let answer = String::from_utf8_lossy(&out).into_owned();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        writer
    };
    writer.abort();
    health_ok(&n).await;
    n.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn past_the_connection_limit_a_connection_is_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let n = nimbus(dir.path(), limits(30_000, 5_000, 3)).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(n.handle.addr()).await.unwrap());
    }
    let mut extra = TcpStream::connect(n.handle.addr()).await.unwrap();
    let answer = until_closed(&mut extra).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    // A freed slot serves again (the server notices the close on its own time).
    drop(idle.pop());
    let deadline = Instant::now() + BOUND;
    loop {
        let r = n.http.get(n.url("/api/v1/health")).send().await;
        if r.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "no slot freed within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(idle);
    n.handle.shutdown().await.unwrap();
}
