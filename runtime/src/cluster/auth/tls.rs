//! What a client of nimbus trusts when nimbus serves HTTPS, and the rule that a
//! credential never crosses the network in clear.
//!
//! - [`ClientTrust`]: a join token's CA pin ([`super::pin`]), a CA file (`--ca-file`,
//!   `SQUALL_CA_FILE`) or, with neither, the system's roots. [`ClientTrust::rustls_config`]
//!   is the rustls client config the shared HTTP client ([`crate::cluster::http`]) uses:
//!   rustls with the `ring` provider, never aws-lc.
//! - [`check_cleartext`]: a request carrying credentials to a host other than this one
//!   over plain `http://` is refused before any connection is made.
//! - [`TrustSpec`]: the trust a supervisor hands its workers in their spec.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};

use super::pin::{CaPin, PinError, PinnedVerifier};

/// Largest CA file read (a few certificates are a few KiB).
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// Environment variable naming a CA file to trust (as `--ca-file`).
pub const CA_FILE_ENV: &str = "SQUALL_CA_FILE";

/// Trust in nimbus's certificate could not be set up, or a request would leak a
/// credential.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A CA file could not be read.
    #[error("CA file {path}: {source}")]
    CaFileIo {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A CA file holds no usable certificate.
    #[error("CA file {path}: {why}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A pin cannot be read.
    #[error("CA pin: {0}")]
    Pin(#[from] PinError),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// A credential would be sent in clear.
    #[error(
        "refusing to send credentials in clear to {url}: plain http:// is only allowed to \
         this host (loopback); use https:// (nimbus serves HTTPS with `nimbus.tls: auto` \
         when it listens off loopback)"
    )]
    Cleartext {
        /// The URL (without any user info).
        url: String,
    },
    /// A URL that cannot be parsed.
    #[error("invalid nimbus URL {url}: {why}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
}

/// The crypto provider of every TLS connection in Squall: rustls's `ring`. The first
/// call also makes it the process's default (unless one is set), so a client built
/// without Squall's config (`reqwest::get`) uses `ring` too instead of panicking: with
/// reqwest's `rustls-no-provider` there is no built-in one.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let ring = rustls::crypto::ring::default_provider();
            let _ = ring.clone().install_default();
            Arc::new(ring)
        })
        .clone()
}

/// Whom a client trusts to be nimbus when it talks HTTPS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClientTrust {
    /// The system's root certificates (a nimbus with a certificate from a public or
    /// company CA the host trusts).
    #[default]
    System,
    /// Exactly the CA whose certificate hashes to this pin (a join token's).
    Pin(CaPin),
    /// These CA certificates (`--ca-file`), and no others.
    CaCerts(Arc<Vec<CertificateDer<'static>>>),
}

impl ClientTrust {
    /// The trust a client is given: a CA file (`--ca-file` / [`CA_FILE_ENV`]) wins;
    /// otherwise a join token's CA pin; otherwise the system's roots.
    pub fn resolve(ca_file: Option<&Path>, pin: Option<CaPin>) -> Result<ClientTrust, TlsError> {
        if let Some(path) = ca_file {
            return ClientTrust::from_ca_file(path);
        }
        Ok(pin.map_or(ClientTrust::System, ClientTrust::Pin))
    }

    /// Trust the CA certificates of a PEM file (at most [`MAX_CA_FILE_BYTES`]).
    pub fn from_ca_file(path: &Path) -> Result<ClientTrust, TlsError> {
        let io = |source| TlsError::CaFileIo {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_CA_FILE_BYTES {
            return Err(TlsError::CaFile {
                path: path.into(),
                why: format!("{len} bytes, more than the {MAX_CA_FILE_BYTES} a CA file may hold"),
            });
        }
        let pem = std::fs::read(path).map_err(io)?;
        ClientTrust::from_ca_pem(&pem).map_err(|why| TlsError::CaFile {
            path: path.into(),
            why,
        })
    }

    /// Trust the CA certificates of PEM text; the error says what is wrong.
    pub fn from_ca_pem(pem: &[u8]) -> Result<ClientTrust, String> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("not PEM certificates: {e}"))?;
        if certs.is_empty() {
            return Err("no certificate (expected PEM `BEGIN CERTIFICATE` blocks)".into());
        }
        Ok(ClientTrust::CaCerts(Arc::new(certs)))
    }

    /// The rustls client config for this trust (the `ring` provider; TLS 1.2 and 1.3).
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let config = match self {
            ClientTrust::System => {
                let verifier = rustls_platform_verifier::Verifier::new(provider())?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier))
                    .with_no_client_auth()
            }
            ClientTrust::Pin(pin) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedVerifier::new(*pin, provider())))
                .with_no_client_auth(),
            ClientTrust::CaCerts(certs) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in certs.iter() {
                    roots.add(c.clone())?;
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
        };
        Ok(config)
    }

    /// What a worker's spec carries so the worker trusts nimbus as its supervisor does
    /// (`None`: the system's roots).
    pub fn to_spec(&self) -> Option<TrustSpec> {
        match self {
            ClientTrust::System => None,
            ClientTrust::Pin(pin) => Some(TrustSpec::Pin(pin.to_string())),
            ClientTrust::CaCerts(certs) => {
                let pem = certs.iter().map(|c| pem_certificate(c.as_ref())).collect();
                Some(TrustSpec::CaPem(pem))
            }
        }
    }

    /// The trust a worker spec gives (`None`: the system's roots).
    pub fn from_spec(spec: Option<&TrustSpec>) -> Result<ClientTrust, TlsError> {
        match spec {
            None => Ok(ClientTrust::System),
            Some(TrustSpec::Pin(hex)) => Ok(ClientTrust::Pin(CaPin::parse_hex(hex)?)),
            Some(TrustSpec::CaPem(pem)) => {
                ClientTrust::from_ca_pem(pem.as_bytes()).map_err(|why| TlsError::CaFile {
                    path: "(worker spec)".into(),
                    why,
                })
            }
        }
    }
}

/// DER bytes as PEM text with the given label (`CERTIFICATE`, `PRIVATE KEY`, …): base64
/// in lines of 64 characters between the BEGIN and END lines.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// One certificate as PEM text.
fn pem_certificate(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

/// How a worker trusts nimbus, in its spec (written by its supervisor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustSpec {
    /// A CA pin, 64 hex characters.
    Pin(String),
    /// CA certificates, PEM.
    CaPem(String),
}

/// Whether `host` (a URL's host: a name, an IPv4 address or a bracketed IPv6 address)
/// is this machine over loopback: `localhost`, `127.0.0.0/8`, `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    })
}

/// Refuse, before connecting, to send credentials (`carries_credentials`) to `url` in
/// clear: plain `http://` is allowed to a loopback host only. `https://` always passes;
/// a request without credentials always passes.
pub fn check_cleartext(url: &str, carries_credentials: bool) -> Result<(), TlsError> {
    if !carries_credentials {
        return Ok(());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| TlsError::Url {
        url: url.to_string(),
        why: e.to_string(),
    })?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if parsed.host_str().is_some_and(is_loopback_host) => Ok(()),
        _ => {
            let mut shown = parsed.clone();
            let _ = shown.set_username("");
            let _ = shown.set_password(None);
            Err(TlsError::Cleartext {
                url: shown.to_string(),
            })
        }
    }
}

/// An error with its chain of causes, `a: b: c` (reqwest's own message hides why a
/// connection failed: a refused pin, a TLS alert). A certificate refused by Squall's
/// own verifier is told in its words (rustls shows them as debug output).
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(c) = cause {
        let text = match certificate_refusal(c) {
            Some(t) => t,
            None => c.to_string(),
        };
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// The words of a certificate refusal of [`super::pin::PinnedVerifier`] (or another
/// custom one) within `err`, a rustls error or (nested) I/O errors carrying one.
fn certificate_refusal(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    // I/O errors nest (hyper's around tokio-rustls's) and hide their inner error
    // from `source`.
    let mut at: &(dyn std::error::Error + 'static) = err;
    let mut depth = 0;
    let tls = loop {
        if let Some(tls) = at.downcast_ref::<rustls::Error>() {
            break tls;
        }
        let inner = at.downcast_ref::<std::io::Error>()?.get_ref()?;
        at = inner;
        depth += 1;
        if depth > 8 {
            return None;
        }
    };
    match tls {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
            inner,
        ))) => Some(format!("nimbus's certificate was refused: {inner}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn credentials_go_in_clear_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:6627",
            "http://127.3.4.5:1/x",
            "http://localhost:6627",
            "http://[::1]:6627/",
            "https://10.0.0.5:6627",
            "https://nimbus.example.com",
        ] {
            check_cleartext(ok, true).unwrap();
        }
        for bad in [
            "http://10.0.0.5:6627",
            "http://nimbus.example.com:6627/api",
            "http://user:pw@[2001:db8::1]:6627",
            "http://0.0.0.0:6627",
        ] {
            let e = check_cleartext(bad, true).unwrap_err().to_string();
            assert!(e.contains("use https://"), "{e}");
            assert!(!e.contains("pw"), "{e}");
            // Without credentials, plain http is the caller's business.
            check_cleartext(bad, false).unwrap();
        }
    }

    #[test]
    fn a_ca_pem_survives_the_worker_spec() {
        let key = rcgen_free_cert();
        let trust = ClientTrust::from_ca_pem(key.as_bytes()).unwrap();
        let spec = trust.to_spec().unwrap();
        assert_eq!(ClientTrust::from_spec(Some(&spec)).unwrap(), trust);
        let pin = ClientTrust::Pin(CaPin::of_der(b"x"));
        assert_eq!(ClientTrust::from_spec(pin.to_spec().as_ref()).unwrap(), pin);
        assert!(ClientTrust::from_ca_pem(b"not pem").is_err());
    }

    /// A PEM certificate made of arbitrary DER bytes (the spec round trip does not parse
    /// X.509).
    fn rcgen_free_cert() -> String {
        pem_certificate(&(0u8..=200).collect::<Vec<u8>>())
    }
}
