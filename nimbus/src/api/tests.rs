//! The API's handlers never wait for the cluster state on an async thread.

use std::sync::Arc;
use std::time::Duration;

use squall_runtime::Registry;
use squall_runtime::engine::clock::SystemClock;
use std::io::{Read, Write};
use std::net::TcpStream;

use super::{AppState, router};
use crate::artifacts::ArtifactStore;
use crate::cluster::Cluster;
use crate::store::Store;
use crate::validate::RegistryValidator;

/// Requests that wait for the state's lock (held here as an operation stuck in a slow
/// commit would hold it) must not stall the runtime: with one async worker thread,
/// `/health` still answers while topology list, status and supervisor list requests wait.
#[test]
fn requests_waiting_for_a_held_cluster_lock_do_not_stall_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(SystemClock);
    let store = Store::open(&dir.path().join("nimbus.redb")).expect("store");
    let artifacts = ArtifactStore::open(
        &dir.path().join("artifacts"),
        clock.clone(),
        Duration::from_secs(3600),
    )
    .expect("artifacts");
    let cluster =
        Arc::new(Cluster::load(store, artifacts, Duration::from_secs(10), clock).expect("cluster"));
    let state = AppState {
        cluster: cluster.clone(),
        wake: Arc::new(tokio::sync::Notify::new()),
        validator: Arc::new(RegistryValidator::new(Registry::new())),
        max_request_bytes: 1 << 16,
        max_artifact_bytes: 1 << 20,
        parsers: Arc::new(tokio::sync::Semaphore::new(super::MAX_CONCURRENT_PARSES)),
        body_timeout: Duration::from_secs(30),
        auth: crate::auth::Auth::open(
            dir.path(),
            crate::auth::AuthOpts {
                mode: squall_runtime::daemon::Authentication::None,
                ..Default::default()
            },
            0,
            None,
        )
        .expect("auth"),
        ca_pin: None,
        logs: Arc::new(crate::logs::LogBroker::new(
            tokio::sync::watch::channel(false).1,
        )),
        polls: Arc::new(crate::assignment_polls::AssignmentPolls::new(
            cluster.board(),
            crate::assignment_polls::MAX_PARKED_POLLS,
            tokio::sync::watch::channel(false).1,
        )),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        axum::serve(listener, router(state)).await
    });
    // The test talks plain blocking HTTP from this thread, so a stalled runtime shows as
    // a read timeout here instead of stalling the test.
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let cluster = cluster.clone();
        std::thread::spawn(move || {
            cluster.while_locked(|| {
                let _ = held_tx.send(());
                let _ = release_rx.recv_timeout(Duration::from_secs(20));
            })
        })
    };
    held_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the lock is held");
    // Requests that need the state, each written whole before the next is sent.
    let waiting: Vec<TcpStream> = [
        "/api/v1/topologies",
        "/api/v1/topologies/wc",
        "/api/v1/supervisors",
    ]
    .into_iter()
    .map(|path| send(addr, path))
    .collect();
    for n in 0..10 {
        let answer = answer(send(addr, "/api/v1/health")).unwrap_or_else(|e| {
            panic!("health request {n} got no answer while the state was locked: {e}")
        });
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let _ = release_tx.send(());
    for conn in waiting {
        let answer = answer(conn).expect("an answer once the lock is released");
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    }
    holder.join().expect("lock holder");
}

/// Send `GET path` on a new connection.
fn send(addr: std::net::SocketAddr, path: &str) -> TcpStream {
    let mut conn = TcpStream::connect(addr).expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: nimbus\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).expect("write");
    conn
}

/// The whole answer on `conn` (read within 2 s).
fn answer(mut conn: TcpStream) -> std::io::Result<String> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut text = String::new();
    conn.read_to_string(&mut text)?;
    Ok(text)
}
