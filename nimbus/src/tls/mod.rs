//! Nimbus's TLS without chores: at first start nimbus mints its own cluster CA (ECDSA
//! P-256, [`ca`]) in `DATA/tls/` and, at every start, a server certificate signed by it
//! for the names clients reach it by; it serves HTTPS with it when `nimbus.tls` says so
//! (`auto`: off loopback). Join tokens carry the CA's pin (the SHA-256 of its
//! certificate's DER), so clients trust exactly this CA on first contact. Users with
//! their own PKI give `nimbus.tls.cert` / `nimbus.tls.key` instead (no pin then: clients
//! use `--ca-file` or their system's roots).
//!
//! rustls with the `ring` provider; the handshake happens in the accept loop
//! ([`crate::api::serve`]) under its deadline and connection cap.

pub mod ca;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use squall_runtime::cluster::auth::pin::CaPin;
use squall_runtime::cluster::auth::tls::provider;
use squall_runtime::daemon::TlsMode;
use tokio_rustls::TlsAcceptor;

/// Largest certificate or key file nimbus reads.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// How nimbus does TLS (from `nimbus.tls*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOpts {
    /// When to serve HTTPS.
    pub mode: TlsMode,
    /// More certificate names and IP addresses (`nimbus.tls.san`).
    pub san: Vec<String>,
    /// A certificate chain of the user's own PKI (`nimbus.tls.cert`).
    pub cert: Option<PathBuf>,
    /// Its key (`nimbus.tls.key`).
    pub key: Option<PathBuf>,
}

/// TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds something unusable, or is unsafe (a CA key others can read).
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Certificate generation failed.
    #[error("making a certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// Only one of `nimbus.tls.cert` and `nimbus.tls.key`.
    #[error("nimbus.tls.cert and nimbus.tls.key go together: give both or neither")]
    HalfCustom,
}

/// Nimbus's TLS, ready to serve.
pub struct NimbusTls {
    /// Serves HTTPS (`None`: plain HTTP).
    pub acceptor: Option<TlsAcceptor>,
    /// The pin of nimbus's own CA (`None` with a certificate of the user's PKI).
    pub ca_pin: Option<CaPin>,
}

impl std::fmt::Debug for NimbusTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NimbusTls")
            .field("https", &self.acceptor.is_some())
            .field("ca_pin", &self.ca_pin)
            .finish()
    }
}

/// Set up TLS for a nimbus with data directory `data_dir` listening on `listen`: mint
/// or load the CA (unless a custom certificate is given), make the server certificate,
/// and build the acceptor when `opts.mode` says HTTPS is served there.
pub fn setup(
    opts: &TlsOpts,
    data_dir: &Path,
    listen: SocketAddr,
) -> Result<NimbusTls, TlsSetupError> {
    let https = opts.mode.serves_https(listen);
    if opts.mode == TlsMode::Off {
        if listen.ip().is_loopback() {
            tracing::warn!("nimbus.tls: off: nimbus serves plain HTTP");
        } else {
            tracing::warn!(
                %listen,
                "nimbus.tls: off on an address off loopback: tokens and topology code cross \
                 the network in clear; set nimbus.tls: auto"
            );
        }
    }
    let (chain, key, ca_pin) = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => {
            let (chain, key) = load_custom(cert, key)?;
            (chain, key, None)
        }
        (None, None) => {
            let ca = ca::Ca::load_or_mint(&data_dir.join("tls"))?;
            let names = server_names(listen, &opts.san);
            let (leaf, key) = ca.server_cert(&names)?;
            let pin = ca.pin();
            tracing::info!(
                ca = %ca.cert_path().display(),
                ca_pin = %pin,
                names = ?names,
                "nimbus CA pin {pin} (join tokens carry it; clients may also trust {} with --ca-file)",
                ca.cert_path().display()
            );
            (vec![leaf, ca.cert_der().clone()], key, Some(pin))
        }
        _ => return Err(TlsSetupError::HalfCustom),
    };
    if !https {
        return Ok(NimbusTls {
            acceptor: None,
            ca_pin,
        });
    }
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(NimbusTls {
        acceptor: Some(TlsAcceptor::from(Arc::new(config))),
        ca_pin,
    })
}

/// The names of nimbus's certificate: the listen address (unless it is the unspecified
/// one), the host's name, `localhost`, `127.0.0.1`, `::1`, then `extra`; each once.
pub fn server_names(listen: SocketAddr, extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: String| {
        let n = n.trim().to_string();
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    };
    if !listen.ip().is_unspecified() {
        add(listen.ip().to_string());
    }
    if let Some(host) = host_name() {
        add(host);
    }
    for n in ["localhost", "127.0.0.1", "::1"] {
        add(n.to_string());
    }
    for n in extra {
        // `[::1]` as an IP is `::1`.
        let n = n.trim().trim_start_matches('[').trim_end_matches(']');
        add(n
            .parse::<IpAddr>()
            .map_or_else(|_| n.to_string(), |ip| ip.to_string()));
    }
    names
}

/// This host's name, if the kernel has one that can be a DNS name.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    ok.then(|| name.to_string())
}

/// Read a file of at most [`MAX_PEM_BYTES`].
pub(crate) fn read_capped(path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    let io = |source| TlsSetupError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_PEM_BYTES {
        return Err(TlsSetupError::File {
            path: path.into(),
            why: format!("{len} bytes, more than the {MAX_PEM_BYTES} allowed"),
        });
    }
    std::fs::read(path).map_err(io)
}

/// A certificate chain and key of the user's PKI.
fn load_custom(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsSetupError> {
    let bad = |path: &Path, why: String| TlsSetupError::File {
        path: path.into(),
        why,
    };
    let chain = CertificateDer::pem_slice_iter(&read_capped(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(bad(cert, "no PEM certificate in it".into()));
    }
    // The key's text is never shown, not even in an error.
    let key_der = PrivateKeyDer::from_pem_slice(&read_capped(key)?)
        .map_err(|_| bad(key, "not a PEM private key (PKCS#8, PKCS#1 or SEC1)".into()))?;
    tracing::info!(cert = %cert.display(), "nimbus serves the configured certificate (nimbus.tls.cert)");
    Ok((chain, key_der))
}

#[cfg(test)]
mod tests;
