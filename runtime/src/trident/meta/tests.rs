use std::sync::Arc;

use super::*;
use crate::cluster::protocol::trident::MAX_META_VALUE_BYTES;

#[test]
fn a_file_store_round_trips_records_below_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileMetaStore::new(dir.path().join("meta"));
    let key = MetaKey::spout("lines", "offsets").unwrap();
    assert_eq!(store.get(&key).unwrap(), None);
    store.put(&key, "{\"a\":1}").unwrap();
    store.put(&key, "{\"a\":2}").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some("{\"a\":2}"));
    let file = dir.path().join("meta/spouts/lines/offsets");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"a\":2}");
    assert!(store.describe(&key).ends_with("spouts/lines/offsets"));
    assert!(
        !file.with_file_name("offsets.tmp").exists(),
        "no temporary file left"
    );
}

/// A put is durable: the new file is synced before the rename, its directory after, and
/// every directory created on the way is synced into its parent (else a crash can lose
/// the new directory, and the record in it, after the put returned).
#[test]
fn a_file_put_syncs_the_file_its_directory_and_every_new_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("meta");
    let store = FileMetaStore::new(&root);
    let key = MetaKey::spout("lines", "offsets").unwrap();
    file::synced::take();
    store.put(&key, "{}").unwrap();
    let lines = root.join("spouts/lines");
    assert_eq!(
        file::synced::take(),
        vec![
            dir.path().to_path_buf(),
            root.clone(),
            root.join("spouts"),
            lines.join("offsets.tmp"),
            lines.clone(),
        ]
    );
    store.put(&key, "{\"a\":1}").unwrap();
    assert_eq!(
        file::synced::take(),
        vec![lines.join("offsets.tmp"), lines.clone()],
        "a replacement syncs the new file, then its directory"
    );
}

#[test]
fn values_past_the_cluster_limit_are_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(MAX_META_VALUE_BYTES + 1);
    let key = MetaKey::coordinator();
    let stores: Vec<Box<dyn MetaStore>> = vec![
        Box::new(FileMetaStore::new(dir.path())),
        Box::new(MemoryMetaStore::new()),
    ];
    for store in stores {
        let e = store.put(&key, &big).unwrap_err();
        assert!(matches!(e, MetaError::TooLarge { .. }), "{e}");
        assert_eq!(store.get(&key).unwrap(), None);
    }
}

#[test]
fn slots_read_back_json_and_name_the_place_of_a_corrupt_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coord");
    let slot = MetaSlot::file(&path).unwrap();
    slot.put_json(&vec![1, 2]).unwrap();
    assert_eq!(slot.get_json::<Vec<u32>>().unwrap(), Some(vec![1, 2]));
    std::fs::write(&path, "garbage").unwrap();
    let e = slot.get_json::<Vec<u32>>().unwrap_err();
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
}

#[test]
fn a_memory_store_is_shared_by_its_clones() {
    let a = MemoryMetaStore::new();
    let b: Arc<dyn MetaStore> = Arc::new(a.clone());
    b.put(&MetaKey::coordinator(), "1").unwrap();
    assert_eq!(
        a.get(&MetaKey::coordinator()).unwrap().as_deref(),
        Some("1")
    );
    assert_eq!(a.keys(), vec![MetaKey::coordinator()]);
}

#[test]
fn spout_keys_refuse_names_that_would_escape_their_place() {
    assert!(MetaKey::spout("..", "offsets").is_err());
    assert!(
        MetaKey::spout("a/b", "offsets").is_ok(),
        "nested, still below spouts/"
    );
    assert_eq!(
        MetaKey::spout("lines", "offsets").unwrap().as_str(),
        "spouts/lines/offsets"
    );
}

#[test]
fn a_nimbus_store_that_cannot_reach_nimbus_fails_within_its_bounds() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = NimbusMetaStore::new(&format!("http://127.0.0.1:{port}"), "t", "t-1-0")
        .with_policy(RetryPolicy {
            attempts: 2,
            timeout: std::time::Duration::from_secs(2),
            backoff: std::time::Duration::from_millis(10),
        });
    let t0 = std::time::Instant::now();
    let e = store.put(&MetaKey::coordinator(), "{}").unwrap_err();
    assert!(
        matches!(e, MetaError::Unreachable { attempts: 2, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("/api/v1/topologies/t/trident/coordinator"),
        "{e}"
    );
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
}

/// A one-shot HTTP server on loopback: answers each connection with the next of
/// `answers` (status line and body), records each request's first line (with ` +v` when
/// it carried the protocol version header).
fn fake_nimbus(
    answers: Vec<(&'static str, &'static str)>,
) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (status, body) in answers {
            let Ok((conn, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(conn);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut length = 0;
            let mut versioned = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                versioned |= lower.starts_with(&format!(
                    "squall-protocol: {}",
                    crate::cluster::protocol::PROTOCOL_VERSION
                ));
            }
            let mut body_in = vec![0; length];
            let _ = reader.read_exact(&mut body_in);
            let mark = if versioned { " +v" } else { "" };
            let _ = tx.send(format!("{}{mark}", first.trim()));
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = reader.get_mut().write_all(answer.as_bytes());
        }
    });
    (url, rx)
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        timeout: std::time::Duration::from_secs(5),
        backoff: std::time::Duration::from_millis(10),
    }
}

#[test]
fn a_nimbus_store_retries_server_errors_and_stops_at_a_refusal() {
    let (url, requests) = fake_nimbus(vec![
        ("503 Service Unavailable", "{\"error\":\"storage failure\"}"),
        ("204 No Content", ""),
        (
            "409 Conflict",
            "{\"error\":\"topology 't' is now t-2-0, not t-1-0\"}",
        ),
        (
            "200 OK",
            "{\"topology_id\":\"t-1-0\",\"key\":\"coordinator\",\"value\":\"{}\"}",
        ),
    ]);
    let store = NimbusMetaStore::new(&url, "t", "t-1-0").with_policy(quick());
    store.put(&MetaKey::coordinator(), "{}").unwrap();
    let first = requests.recv().unwrap();
    assert_eq!(
        first,
        "PUT /api/v1/topologies/t/trident/coordinator HTTP/1.1 +v"
    );
    assert_eq!(requests.recv().unwrap(), first, "retried after the 503");
    let e = store.put(&MetaKey::coordinator(), "{}").unwrap_err();
    assert!(matches!(e, MetaError::Refused { status: 409, .. }), "{e}");
    assert!(e.to_string().contains("t-2-0"), "{e}");
    requests.recv().unwrap();
    assert_eq!(
        store.get(&MetaKey::coordinator()).unwrap().as_deref(),
        Some("{}"),
        "the 409 was final: a retry would have taken this answer"
    );
    assert_eq!(
        requests.recv().unwrap(),
        "GET /api/v1/topologies/t/trident/coordinator?topology_id=t-1-0 HTTP/1.1 +v"
    );
}
