//! TLS in front of the test broker: tansu 0.6 takes `--cert`/`--key` but serves
//! plaintext, so a loopback proxy terminates TLS (rustls, a certificate from a
//! throwaway CA) and forwards the bytes to it. Clients see a real TLS broker: they
//! verify its certificate against [`TestCa::ca_file`] and its address.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::oneshot;

use super::TestError;

/// Connections the proxy carries at once; more are refused.
const MAX_CONNECTIONS: usize = 64;

fn err(what: &str) -> impl Fn(rcgen::Error) -> TestError + '_ {
    move |e| TestError::new(format!("{what}: {e}"))
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A throwaway CA (its certificate in a PEM file) and a server certificate it signed
/// for `127.0.0.1` and `localhost`.
pub struct TestCa {
    dir: tempfile::TempDir,
    ca_file: PathBuf,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA named `name` and its server certificate.
    pub fn new(name: &str) -> Result<TestCa, TestError> {
        let ca_key =
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err("CA key"))?;
        let ca_cert = ca_params(name)
            .self_signed(&ca_key)
            .map_err(err("CA certificate"))?;
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err("key"))?;
        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .map_err(err("server names"))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "squall test broker");
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let issuer = Issuer::new(ca_params(name), &ca_key);
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(err("server certificate"))?;
        let dir = tempfile::tempdir().map_err(|e| TestError::new(format!("temp dir: {e}")))?;
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem())
            .map_err(|e| TestError::new(format!("writing {}: {e}", ca_file.display())))?;
        Ok(TestCa {
            dir,
            ca_file,
            chain: vec![cert.der().clone(), ca_cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    /// The CA certificate (PEM): a client's `ssl.ca.location`.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// A directory that lives as long as the CA (for a test's other files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn server_config(&self) -> Result<rustls::ServerConfig, TestError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth().with_single_cert(
                    self.chain.clone(),
                    PrivateKeyDer::Pkcs8(self.key.clone_key()),
                )
            })
            .map_err(|e| TestError::new(format!("TLS server config: {e}")))
    }
}

#[derive(Debug, Default)]
struct Counters {
    /// Connections whose TLS handshake failed (a client that did not trust the CA).
    failed_handshakes: AtomicU64,
    /// Connections forwarded after a handshake.
    forwarded: AtomicU64,
    live: AtomicUsize,
}

/// A loopback proxy that terminates TLS with a [`TestCa`] certificate and forwards the
/// plaintext to a target set later (so a broker can advertise the proxy's port).
/// Stopped when dropped.
#[derive(Debug)]
pub struct TlsProxy {
    port: u16,
    target: Arc<Mutex<Option<SocketAddr>>>,
    counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TlsProxy {
    /// Listen on a free loopback port now; connections are dropped until
    /// [`TlsProxy::set_target`].
    pub fn start(ca: &TestCa) -> Result<TlsProxy, TestError> {
        let config = Arc::new(ca.server_config()?);
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| TestError::new(format!("TLS proxy bind: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| TestError::new(format!("TLS proxy address: {e}")))?
            .port();
        listener
            .set_nonblocking(true)
            .map_err(|e| TestError::new(format!("TLS proxy: {e}")))?;
        let target = Arc::new(Mutex::new(None));
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestError::new(format!("TLS proxy runtime: {e}")))?;
        let (t, c) = (target.clone(), counters.clone());
        let thread = std::thread::Builder::new()
            .name("test-tls-proxy".into())
            .spawn(move || runtime.block_on(serve(listener, config, t, c, stopped)))
            .map_err(|e| TestError::new(format!("TLS proxy thread: {e}")))?;
        Ok(TlsProxy {
            port,
            target,
            counters,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`: the `bootstrap.servers` of clients going through it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Forward connections to `target` from now on.
    pub fn set_target(&self, target: SocketAddr) {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) = Some(target);
    }

    /// Connections whose TLS handshake failed so far.
    pub fn failed_handshakes(&self) -> u64 {
        self.counters.failed_handshakes.load(Ordering::Relaxed)
    }

    /// Connections forwarded after a handshake so far.
    pub fn forwarded(&self) -> u64 {
        self.counters.forwarded.load(Ordering::Relaxed)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    target: Arc<Mutex<Option<SocketAddr>>>,
    counters: Arc<Counters>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let conn = tokio::select! {
            _ = &mut stopped => return,
            c = listener.accept() => c,
        };
        let Ok((client, _)) = conn else { continue };
        let to = *target.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(to) = to else { continue };
        if counters.live.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            continue;
        }
        counters.live.fetch_add(1, Ordering::Relaxed);
        let (acceptor, counters) = (acceptor.clone(), counters.clone());
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            match acceptor.accept(client).await {
                Err(_) => {
                    counters.failed_handshakes.fetch_add(1, Ordering::Relaxed);
                }
                Ok(mut tls) => {
                    if let Ok(mut upstream) = tokio::net::TcpStream::connect(to).await {
                        let _ = upstream.set_nodelay(true);
                        counters.forwarded.fetch_add(1, Ordering::Relaxed);
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                    }
                }
            }
            counters.live.fetch_sub(1, Ordering::Relaxed);
        });
    }
}
