#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn the_certificate_names_the_listen_address_loopback_and_the_extra_names_once() {
    let names = server_names(
        "10.1.2.3:6627".parse().unwrap(),
        &[
            "nimbus.example.com".into(),
            "[::1]".into(),
            "10.1.2.3".into(),
        ],
    );
    for n in [
        "10.1.2.3",
        "localhost",
        "127.0.0.1",
        "::1",
        "nimbus.example.com",
    ] {
        assert_eq!(
            names.iter().filter(|x| *x == n).count(),
            1,
            "{n}: {names:?}"
        );
    }
    let any = server_names("0.0.0.0:6627".parse().unwrap(), &[]);
    assert!(!any.contains(&"0.0.0.0".to_string()), "{any:?}");
}

#[test]
fn auto_means_https_off_loopback_only() {
    let (lo, wide): (SocketAddr, SocketAddr) =
        ("127.0.0.1:1".parse().unwrap(), "0.0.0.0:1".parse().unwrap());
    assert!(!TlsMode::Auto.serves_https(lo));
    assert!(TlsMode::Auto.serves_https(wide));
    assert!(TlsMode::On.serves_https(lo));
    assert!(!TlsMode::Off.serves_https(wide));
}

#[test]
fn a_custom_certificate_needs_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let opts = TlsOpts {
        mode: TlsMode::On,
        cert: Some(dir.path().join("c.pem")),
        ..TlsOpts::default()
    };
    let e = setup(&opts, dir.path(), "127.0.0.1:1".parse().unwrap()).unwrap_err();
    assert!(matches!(e, TlsSetupError::HalfCustom), "{e}");
}

#[test]
fn the_ca_key_is_created_0600_and_a_foreign_ca_certificate_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ca = ca::Ca::load_or_mint(a.path()).unwrap();
    let mode = std::fs::metadata(a.path().join(ca::KEY_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!format!("{ca:?}").contains("PRIVATE"), "{ca:?}");
    // b's key with a's certificate: caught at load.
    ca::Ca::load_or_mint(b.path()).unwrap();
    std::fs::copy(a.path().join(ca::CERT_FILE), b.path().join(ca::CERT_FILE)).unwrap();
    let e = ca::Ca::load_or_mint(b.path()).unwrap_err().to_string();
    assert!(e.contains("does not go with"), "{e}");
    assert!(!e.contains("PRIVATE"), "{e}");
}
