//! Nimbus over HTTPS (issue 12 item 4), in process over real sockets: its own CA minted
//! at first start (key 0600, stable across restarts), HTTPS with `nimbus.tls: on`,
//! clients trusting a join token's CA pin or a CA file, a wrong pin and plain HTTP
//! refused with clear messages, and a client that never finishes its TLS handshake cut
//! at the deadline while others are served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::TestNimbus;
use squall_nimbus::api::serve::HttpLimits;
use squall_runtime::cluster::auth::pin::CaPin;
use squall_runtime::cluster::auth::tls::ClientTrust;
use squall_runtime::cluster::client::Nimbus;
use squall_runtime::daemon::TlsMode;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Longest any single step below may take before the test fails.
const BOUND: Duration = Duration::from_secs(10);

async fn https_nimbus(dir: &std::path::Path) -> TestNimbus {
    TestNimbus::start_with(dir, |o| o.tls.mode = TlsMode::On).await
}

/// `squall list` through the client library, with nimbus `n`'s admin token and `trust`.
async fn list_as(n: &TestNimbus, url: &str, trust: &ClientTrust) -> Result<(), String> {
    let n = Nimbus::with_trust(url, n.admin.as_ref(), trust).map_err(|e| e.to_string())?;
    n.list().await.map(|_| ()).map_err(|e| e.to_string())
}

#[tokio::test]
async fn https_is_served_with_tls_on_and_a_client_pinned_by_a_join_token_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let n = https_nimbus(dir.path()).await;
    let url = n.handle.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let pin = n.handle.ca_pin().expect("nimbus's own CA has a pin");
    let ca_pem = std::fs::read(dir.path().join("tls/ca.pem")).unwrap();
    assert_eq!(
        ClientTrust::from_ca_pem(&ca_pem).unwrap(),
        ClientTrust::CaCerts(std::sync::Arc::new(vec![
            rustls::pki_types::pem::PemObject::from_pem_slice(&ca_pem).unwrap()
        ]))
    );
    // The admin token nimbus wrote is a join token carrying the pin.
    let admin_text = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    assert!(
        admin_text.trim().ends_with(&format!(".{pin}")),
        "a join token"
    );
    let admin = squall_runtime::cluster::auth::token::Token::parse(admin_text.trim()).unwrap();
    assert_eq!(admin.pin, Some(pin.0));
    let trust = ClientTrust::resolve(None, admin.pin.map(CaPin)).unwrap();
    assert_eq!(trust, ClientTrust::Pin(pin));
    list_as(&n, &url, &trust).await.unwrap();
    // By `localhost` too: the certificate names it.
    let by_name = url.replace("127.0.0.1", "localhost");
    list_as(&n, &by_name, &trust).await.unwrap();
}

#[tokio::test]
async fn a_client_with_a_wrong_pin_is_refused_naming_both_pins() {
    let dir = tempfile::tempdir().unwrap();
    let n = https_nimbus(dir.path()).await;
    let real = n.handle.ca_pin().unwrap();
    let wrong = CaPin::of_der(b"another cluster's CA");
    let err = list_as(&n, &n.handle.url(), &ClientTrust::Pin(wrong))
        .await
        .unwrap_err();
    assert!(err.contains(&format!("expected CA pin {wrong}")), "{err}");
    assert!(err.contains(&real.to_string()), "{err}");
    assert!(err.contains("not from the pinned cluster CA"), "{err}");
}

#[tokio::test]
async fn a_ca_file_is_trusted_and_another_clusters_ca_file_is_not() {
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n = https_nimbus(dir.path()).await;
    let ours = ClientTrust::from_ca_file(&dir.path().join("tls/ca.pem")).unwrap();
    list_as(&n, &n.handle.url(), &ours).await.unwrap();
    // Another nimbus's CA.
    let m = https_nimbus(other.path()).await;
    let theirs = ClientTrust::from_ca_file(&other.path().join("tls/ca.pem")).unwrap();
    let err = list_as(&n, &n.handle.url(), &theirs).await.unwrap_err();
    assert!(err.contains("certificate"), "{err}");
    // Without any trust, nimbus's own CA is unknown to the system.
    let err = list_as(&m, &m.handle.url(), &ClientTrust::System)
        .await
        .unwrap_err();
    assert!(err.contains("cannot reach nimbus"), "{err}");
}

#[tokio::test]
async fn plain_http_to_an_https_nimbus_is_told_to_use_https() {
    let dir = tempfile::tempdir().unwrap();
    let n = https_nimbus(dir.path()).await;
    let plain = n.handle.url().replace("https://", "http://");
    let err = list_as(&n, &plain, &ClientTrust::System).await.unwrap_err();
    assert!(
        err.contains("serves HTTPS only: use https://"),
        "a plain HTTP client should be told to use https: {err}"
    );
}

#[tokio::test]
async fn a_token_is_never_sent_in_clear_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let n = https_nimbus(dir.path()).await;
    let token = n.admin.as_ref().unwrap();
    // Refused before any connection: nothing listens there, and no time is spent.
    let start = Instant::now();
    let err = Nimbus::with_trust("http://192.0.2.1:6627", Some(token), &ClientTrust::System)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("refusing to send credentials in clear"),
        "{err}"
    );
    assert!(err.contains("use https://"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(!err.contains(token.to_text().expose().as_str()), "{err}");
    // Loopback in clear, and https anywhere, are fine.
    Nimbus::with_trust("http://127.0.0.1:1", Some(token), &ClientTrust::System).unwrap();
    Nimbus::with_trust("https://192.0.2.1:1", Some(token), &ClientTrust::System).unwrap();
}

#[tokio::test]
async fn auto_serves_plain_http_on_loopback_and_still_mints_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start(dir.path()).await;
    assert!(n.handle.url().starts_with("http://"), "{}", n.handle.url());
    assert!(n.handle.ca_pin().is_some());
    list_as(&n, &n.handle.url(), &ClientTrust::System)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_ca_key_is_0600_and_the_ca_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let n = https_nimbus(dir.path()).await;
    let pin = n.handle.ca_pin().unwrap();
    n.handle.shutdown().await.unwrap();
    let key = dir.path().join("tls/ca.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the CA key must be 0600");
    assert!(!dir.path().join("tls/ca.key.tmp").exists());
    let n = https_nimbus(dir.path()).await;
    assert_eq!(
        n.handle.ca_pin(),
        Some(pin),
        "the CA is kept across restarts"
    );
    // A fresh server certificate, from the same CA: pinned clients still connect.
    list_as(&n, &n.handle.url(), &ClientTrust::Pin(pin))
        .await
        .unwrap();
    n.handle.shutdown().await.unwrap();

    // A CA key others can read is refused, as ssh refuses such a key.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut o = common::opts(dir.path());
    o.tls.mode = TlsMode::On;
    let err = squall_nimbus::start(o).await.unwrap_err().to_string();
    assert!(err.contains("readable by others"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
}

/// Read until the server closes the connection. Fails after [`BOUND`].
async fn until_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => panic!("the server kept a connection without a TLS handshake for {BOUND:?}"),
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_the_tls_handshake_is_cut_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let n = TestNimbus::start_with(dir.path(), |o| {
        o.tls.mode = TlsMode::On;
        o.http = HttpLimits {
            header_timeout: Duration::from_millis(800),
            body_timeout: Duration::from_secs(5),
            max_connections: 4,
        };
    })
    .await;
    let pin = n.handle.ca_pin().unwrap();
    let addr = n.handle.addr();
    let start = Instant::now();
    // One says nothing; one starts a TLS record and stops; one sends half a ClientHello.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut started = TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut started, &[0x16])
        .await
        .unwrap();
    let mut half = TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut half, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    // Meanwhile a real client is served (the fourth connection slot).
    list_as(&n, &n.handle.url(), &ClientTrust::Pin(pin))
        .await
        .unwrap();
    for s in [&mut silent, &mut started, &mut half] {
        until_closed(s).await;
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(700),
        "cut before the deadline: {took:?}"
    );
    // Their slots are free again: a whole new set of clients is served.
    for _ in 0..4 {
        list_as(&n, &n.handle.url(), &ClientTrust::Pin(pin))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_certificate_of_the_users_own_pki_is_served_and_trusted_through_ca_file() {
    // The user's PKI: a CA in another directory, and a certificate for localhost.
    let (dir, pki) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ca = squall_nimbus::tls::ca::Ca::load_or_mint(pki.path()).unwrap();
    let (leaf, key) = ca.server_cert(&["localhost".to_string()]).unwrap();
    let cert_file = pki.path().join("nimbus.pem");
    let key_file = pki.path().join("nimbus.key");
    std::fs::write(
        &cert_file,
        squall_runtime::cluster::auth::tls::pem("CERTIFICATE", leaf.as_ref()),
    )
    .unwrap();
    std::fs::write(
        &key_file,
        squall_runtime::cluster::auth::tls::pem("PRIVATE KEY", key.secret_der()),
    )
    .unwrap();
    let n = TestNimbus::start_with(dir.path(), |o| {
        o.tls.mode = TlsMode::On;
        o.tls.cert = Some(cert_file.clone());
        o.tls.key = Some(key_file.clone());
    })
    .await;
    assert_eq!(
        n.handle.ca_pin(),
        None,
        "no pin for a certificate of the user's PKI"
    );
    assert!(!dir.path().join("tls").exists(), "no CA minted");
    let trust = ClientTrust::from_ca_file(&pki.path().join("ca.pem")).unwrap();
    let url = n.handle.url().replace("127.0.0.1", "localhost");
    list_as(&n, &url, &trust).await.unwrap();
    // The certificate does not name 127.0.0.1: the name is checked.
    let err = list_as(&n, &n.handle.url(), &trust).await.unwrap_err();
    assert!(
        err.to_lowercase().contains("not valid for name") || err.contains("NotValidForName"),
        "{err}"
    );
}
