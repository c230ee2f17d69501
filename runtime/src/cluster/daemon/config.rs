//! The typed configs of the cluster daemons, with Storm key names and their defaults,
//! each written once (in the `Default` impls below).
//!
//! A config is read from a YAML file by [`super::load`], which layers the daemon's
//! flags over the file over these defaults, and refuses unknown keys and bad values with
//! the file and line.
//!
//! ```
//! use squall_runtime::daemon::NimbusConfig;
//! let nimbus = NimbusConfig::default();
//! assert_eq!(nimbus.listen.port(), 6627);
//! assert_eq!(nimbus.supervisor_timeout.duration().as_secs(), 10);
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::file::DaemonConfig;

/// Nimbus's settings (`squall nimbus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NimbusConfig {
    /// `storm.local.dir` (`--data`): data directory (database, artifacts).
    #[serde(rename = "storm.local.dir")]
    pub data_dir: PathBuf,
    /// `nimbus.listen` (`--listen`): address the HTTP API listens on.
    #[serde(rename = "nimbus.listen", deserialize_with = "socket_addr")]
    pub listen: SocketAddr,
    /// `nimbus.supervisor.timeout.secs`: a supervisor silent this long is dead and its
    /// workers are moved.
    #[serde(rename = "nimbus.supervisor.timeout.secs")]
    pub supervisor_timeout: Secs,
    /// `nimbus.monitor.freq.secs`: period of the monitor (liveness, deadlines,
    /// rescheduling).
    #[serde(rename = "nimbus.monitor.freq.secs")]
    pub monitor_freq: Secs,
    /// `nimbus.artifact.gc.grace.secs`: an artifact no stored topology references is
    /// deleted once it was last uploaded or asked about this long ago (uploads come
    /// before their submission).
    #[serde(rename = "nimbus.artifact.gc.grace.secs")]
    pub artifact_gc_grace: Secs,
    /// `nimbus.http.header.timeout.secs`: an HTTP client must send a request's head
    /// within this time (and an idle connection is closed after it).
    #[serde(rename = "nimbus.http.header.timeout.secs")]
    pub http_header_timeout: Secs,
    /// `nimbus.http.body.timeout.secs`: a request body that stops arriving for this
    /// long fails; a JSON body must arrive whole within it.
    #[serde(rename = "nimbus.http.body.timeout.secs")]
    pub http_body_timeout: Secs,
    /// `nimbus.http.max.connections`: most HTTP connections open at once (past it: 503).
    #[serde(
        rename = "nimbus.http.max.connections",
        deserialize_with = "max_connections"
    )]
    pub http_max_connections: u64,
    /// `nimbus.tls` (`--tls`): `auto` serves HTTPS when nimbus listens off loopback and
    /// plain HTTP on loopback; `on` always HTTPS; `off` never (with a warning at start).
    /// The TLS handshake must finish within `nimbus.http.header.timeout.secs`.
    #[serde(rename = "nimbus.tls")]
    pub tls: TlsMode,
    /// `nimbus.tls.san`: more names and IP addresses for the certificate nimbus makes
    /// with its own CA (besides the listen address, the host's name, `localhost`,
    /// `127.0.0.1` and `::1`): the names clients reach nimbus by.
    #[serde(rename = "nimbus.tls.san")]
    pub tls_san: Vec<String>,
    /// `nimbus.tls.cert`: a PEM certificate chain (nimbus's own first) to serve instead
    /// of one from nimbus's own CA; with `nimbus.tls.key`.
    #[serde(rename = "nimbus.tls.cert")]
    pub tls_cert: Option<PathBuf>,
    /// `nimbus.tls.key`: the PEM private key of `nimbus.tls.cert`.
    #[serde(rename = "nimbus.tls.key")]
    pub tls_key: Option<PathBuf>,
    /// `nimbus.validate.user`: when nimbus runs as root, the unprivileged user a
    /// submitted artifact's `validate` runs as (nimbus refuses to start if it does not
    /// exist or is root). Ignored when nimbus does not run as root.
    #[serde(rename = "nimbus.validate.user")]
    pub validate_user: String,
    /// `nimbus.authentication`: `token` (every request but `GET /api/v1/health` needs a
    /// bearer token) or `none` (open to anyone who can reach nimbus; a laptop only).
    #[serde(rename = "nimbus.authentication")]
    pub authentication: Authentication,
    /// `nimbus.auth.rate.per.sec`: mutating requests each token may make per second, on
    /// average (a token bucket per principal; past it: 429 with `Retry-After`).
    #[serde(rename = "nimbus.auth.rate.per.sec", deserialize_with = "rate")]
    pub auth_rate_per_sec: u64,
    /// `nimbus.auth.rate.burst`: mutating requests a token may make at once before the
    /// per-second rate applies (the bucket's size).
    #[serde(rename = "nimbus.auth.rate.burst", deserialize_with = "rate")]
    pub auth_rate_burst: u64,
    /// `nimbus.audit.log.max.bytes`: the audit log (`audit.log` in the data directory)
    /// rotates to `audit.log.1` when it would pass this size.
    #[serde(rename = "nimbus.audit.log.max.bytes", deserialize_with = "log_bytes")]
    pub audit_log_max_bytes: u64,
}

/// When nimbus serves HTTPS (`nimbus.tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// HTTPS when listening off loopback, plain HTTP on loopback.
    #[default]
    Auto,
    /// Always HTTPS.
    On,
    /// Never HTTPS (tokens and topology code cross the network in clear).
    Off,
}

impl TlsMode {
    /// Whether nimbus listening on `listen` serves HTTPS.
    pub fn serves_https(self, listen: SocketAddr) -> bool {
        match self {
            TlsMode::Auto => !listen.ip().is_loopback(),
            TlsMode::On => true,
            TlsMode::Off => false,
        }
    }
}

/// How nimbus authenticates its callers (`nimbus.authentication`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Authentication {
    /// Bearer tokens (the default).
    #[default]
    Token,
    /// None: every caller is an admin (a warning at start).
    None,
}

impl Default for NimbusConfig {
    fn default() -> NimbusConfig {
        NimbusConfig {
            data_dir: PathBuf::from("squall-nimbus"),
            listen: SocketAddr::from(([127, 0, 0, 1], 6627)),
            supervisor_timeout: Secs::from_secs(10),
            monitor_freq: Secs::from_secs(1),
            artifact_gc_grace: Secs::from_secs(3600),
            http_header_timeout: Secs::from_secs(10),
            http_body_timeout: Secs::from_secs(30),
            http_max_connections: 1024,
            tls: TlsMode::Auto,
            tls_san: Vec::new(),
            tls_cert: None,
            tls_key: None,
            validate_user: "nobody".into(),
            authentication: Authentication::Token,
            auth_rate_per_sec: 20,
            auth_rate_burst: 100,
            audit_log_max_bytes: 64 * 1024 * 1024,
        }
    }
}

impl DaemonConfig for NimbusConfig {
    const DAEMON: &'static str = "nimbus";
}

/// A supervisor's settings (`squall supervisor`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SupervisorConfig {
    /// `nimbus.url` (`--nimbus`, env `SQUALL_NIMBUS`): nimbus's base URL; required.
    #[serde(rename = "nimbus.url")]
    pub nimbus_url: Option<String>,
    /// `nimbus.ca.file` (`--ca-file`, env `SQUALL_CA_FILE`): PEM CA certificates to
    /// trust for an `https://` nimbus instead of the system's roots (or a join token's
    /// pin).
    #[serde(rename = "nimbus.ca.file")]
    pub nimbus_ca_file: Option<PathBuf>,
    /// `storm.local.dir` (`--data`): supervisor id, artifact cache, worker directories.
    #[serde(rename = "storm.local.dir")]
    pub data_dir: PathBuf,
    /// `supervisor.slots.ports` (`--slots`): one worker slot per port.
    #[serde(rename = "supervisor.slots.ports", deserialize_with = "ports")]
    pub slots: Vec<u16>,
    /// `supervisor.host` (`--host`): the address workers on other machines reach this one
    /// at.
    #[serde(rename = "supervisor.host")]
    pub host: String,
    /// `supervisor.heartbeat.frequency.secs`: heartbeat period to nimbus.
    #[serde(rename = "supervisor.heartbeat.frequency.secs")]
    pub heartbeat_frequency: Secs,
    /// `supervisor.worker.timeout.secs`: a running worker silent this long is killed and
    /// restarted.
    #[serde(rename = "supervisor.worker.timeout.secs")]
    pub worker_timeout: Secs,
    /// `supervisor.worker.start.timeout.secs`: how long a new worker has for its first
    /// heartbeat.
    #[serde(rename = "supervisor.worker.start.timeout.secs")]
    pub worker_start_timeout: Secs,
    /// `supervisor.worker.shutdown.sleep.secs`: SIGTERM → SIGKILL delay.
    #[serde(rename = "supervisor.worker.shutdown.sleep.secs")]
    pub worker_shutdown_sleep: Secs,
    /// `supervisor.download.idle.timeout.secs`: an artifact download that receives no
    /// byte for this long fails (and is retried with backoff).
    #[serde(rename = "supervisor.download.idle.timeout.secs")]
    pub download_idle_timeout: Secs,
    /// `supervisor.artifact.gc.grace.secs`: a cached artifact no slot's assignment
    /// references is deleted once it has been unused this long.
    #[serde(rename = "supervisor.artifact.gc.grace.secs")]
    pub artifact_gc_grace: Secs,
    /// `supervisor.state.gc.grace.secs`: a topology's host-local state directory
    /// (`<data dir>/state/<topology id>`, the redb state provider's files) is deleted once
    /// no slot of this supervisor has run the topology for this long.
    #[serde(rename = "supervisor.state.gc.grace.secs")]
    pub state_gc_grace: Secs,
    /// `supervisor.worker.orphan.grace.secs`: how long a worker keeps running once its
    /// supervisor is gone (killed, crashed) before it exits by itself; a supervisor
    /// restarted on the same data directory within it adopts the worker.
    #[serde(rename = "supervisor.worker.orphan.grace.secs")]
    pub worker_orphan_grace: Secs,
    /// `supervisor.worker.log.max.bytes`: a worker's `worker.log` (stderr and its log
    /// lines) and `worker.out` (stdout) each rotate when they would pass this size.
    #[serde(
        rename = "supervisor.worker.log.max.bytes",
        deserialize_with = "log_bytes"
    )]
    pub worker_log_max_bytes: u64,
    /// `supervisor.worker.log.files`: rotated files kept per log beside the current
    /// one (`worker.log.1` is the newest), so a worker's logs take at most
    /// `(files + 1) * max.bytes` each.
    #[serde(rename = "supervisor.worker.log.files", deserialize_with = "log_files")]
    pub worker_log_files: u32,
    /// `supervisor.worker.uid.range`: when the supervisor runs as root, each topology's
    /// workers run under a uid of their own from this range (`first-last`, gid the same
    /// number), so no worker is root and one topology cannot read another's files. The
    /// uids need no `/etc/passwd` entry but must not belong to anyone else on the host.
    /// Ignored when the supervisor does not run as root (workers run as its user).
    #[serde(rename = "supervisor.worker.uid.range")]
    pub worker_uid_range: UidRange,
    /// `supervisor.worker.run.as.root`: `true` lets a supervisor running as root run its
    /// workers as root too, without uids of their own (say, when the multi-lang
    /// interpreters live where other users cannot reach them): then anyone who may
    /// submit a topology is root on this host. Off by default.
    #[serde(rename = "supervisor.worker.run.as.root")]
    pub worker_run_as_root: bool,
}

impl Default for SupervisorConfig {
    fn default() -> SupervisorConfig {
        SupervisorConfig {
            nimbus_url: None,
            nimbus_ca_file: None,
            data_dir: PathBuf::from("squall-supervisor"),
            slots: vec![6700, 6701, 6702, 6703],
            host: "127.0.0.1".into(),
            heartbeat_frequency: Secs::from_secs(1),
            worker_timeout: Secs::from_secs(10),
            worker_start_timeout: Secs::from_secs(60),
            worker_shutdown_sleep: Secs::from_secs(3),
            download_idle_timeout: Secs::from_secs(30),
            artifact_gc_grace: Secs::from_secs(600),
            state_gc_grace: Secs::from_secs(3600),
            worker_orphan_grace: Secs::from_secs(30),
            worker_log_max_bytes: 64 * 1024 * 1024,
            worker_log_files: 4,
            worker_uid_range: UidRange {
                first: 20000,
                last: 29999,
            },
            worker_run_as_root: false,
        }
    }
}

impl DaemonConfig for SupervisorConfig {
    const DAEMON: &'static str = "supervisor";
}

/// A range of uids, `first-last` (both included) in a config file, e.g. `20000-29999`:
/// from 1 (never root) to 2^31 - 2, `first <= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidRange {
    /// The first uid.
    pub first: u32,
    /// The last uid (included).
    pub last: u32,
}

impl UidRange {
    /// The largest uid a range may hold (`(uid_t)-1` and its neighbours are special).
    pub const MAX: u32 = (1 << 31) - 2;

    /// How many uids the range holds.
    pub fn len(&self) -> u32 {
        self.last - self.first + 1
    }

    /// Never: a range holds at least one uid.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for UidRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl std::str::FromStr for UidRange {
    type Err = String;

    fn from_str(text: &str) -> Result<UidRange, String> {
        let shown: String = text.chars().take(40).collect();
        let bad = || {
            format!(
                "expected a uid range first-last from 1 to {}, e.g. 20000-29999, got '{shown}'",
                UidRange::MAX
            )
        };
        let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
        let first: u32 = a.trim().parse().map_err(|_| bad())?;
        let last: u32 = b.trim().parse().map_err(|_| bad())?;
        if first == 0 || first > last || last > UidRange::MAX {
            return Err(bad());
        }
        Ok(UidRange { first, last })
    }
}

impl Serialize for UidRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for UidRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<UidRange, D::Error> {
        let v = serde_yaml::Value::deserialize(d)?;
        let text = match &v {
            serde_yaml::Value::String(s) => s.clone(),
            other => serde_yaml::to_string(other).unwrap_or_default(),
        };
        text.parse().map_err(de::Error::custom)
    }
}

/// Largest number of seconds a daemon `.secs` key accepts (about 31 years): deadlines
/// computed from the clock with larger ones (times ten, for some) would overflow.
pub const MAX_SECS: u64 = 1_000_000_000;

/// A positive number of seconds, fractions allowed (`10`, `0.5`), at most [`MAX_SECS`]:
/// what daemon keys ending in `.secs` take. `.inf`, `.nan`, negative and huge values
/// are refused with an error naming the key (the loader adds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Secs(Duration);

impl Secs {
    /// Whole seconds.
    pub const fn from_secs(secs: u64) -> Secs {
        Secs(Duration::from_secs(secs))
    }

    /// The duration.
    pub fn duration(self) -> Duration {
        self.0
    }
}

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0.as_secs_f64())
    }
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secs, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Secs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a positive number of seconds, at most {MAX_SECS}")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Secs, E> {
                // `{v}` of a huge float has hundreds of digits: `{v:e}` stays short.
                let refuse = || E::custom(format!("expected {}, got {v:e}", Expect(&self)));
                if !v.is_finite() || v <= 0.0 || v > MAX_SECS as f64 {
                    return Err(refuse());
                }
                match Duration::try_from_secs_f64(v) {
                    Ok(d) if !d.is_zero() => Ok(Secs(d)),
                    _ => Err(refuse()),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secs, E> {
                if v == 0 || v > MAX_SECS {
                    return Err(E::custom(format!("expected {}, got {v}", Expect(&self))));
                }
                Ok(Secs(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secs, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!("expected {}, got {v}", Expect(&self)))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A visitor's `expecting` text, for messages written by hand.
struct Expect<'a, V>(&'a V);

impl<'de, V: Visitor<'de>> fmt::Display for Expect<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
}

/// `host:port`, with an error that says so.
fn socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = SocketAddr;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an address host:port, e.g. 127.0.0.1:6627")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<SocketAddr, E> {
            v.parse()
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
    d.deserialize_any(V)
}

/// An integer in `min..=max`, with an error that says so.
fn in_range<'de, D: Deserializer<'de>>(d: D, min: u64, max: u64) -> Result<u64, D::Error> {
    let v = serde_yaml::Value::deserialize(d)?;
    match v.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => {
            let shown = serde_yaml::to_string(&v).unwrap_or_default();
            let shown: String = shown.trim().chars().take(40).collect();
            Err(de::Error::custom(format!(
                "expected an integer from {min} to {max}, got {shown}"
            )))
        }
    }
}

/// A log file's size cap: 4 KiB to 1 TiB.
fn log_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    use crate::cluster::logs::MIN_BYTES;
    in_range(d, MIN_BYTES, 1 << 40)
}

/// Rotated log files kept: 0 to 100.
fn log_files<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    use crate::cluster::logs::MAX_FILES;
    // in range, so it fits
    in_range(d, 0, u64::from(MAX_FILES)).map(|n| u32::try_from(n).unwrap_or(MAX_FILES))
}

/// Most HTTP connections: 1 to 65536.
fn max_connections<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    in_range(d, 1, 1 << 16)
}

/// A rate-limit setting: 1 to 1 000 000.
fn rate<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    in_range(d, 1, 1_000_000)
}

/// A list of ports (1-65535), with errors that say so.
fn ports<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<u16>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of ports, e.g. [6700, 6701]")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u16>, A::Error> {
            let mut out = Vec::new();
            while let Some(p) = seq.next_element::<serde_yaml::Value>()? {
                match p.as_u64().and_then(|n| u16::try_from(n).ok()) {
                    Some(n) if n > 0 => out.push(n),
                    _ => {
                        let shown = serde_yaml::to_string(&p).unwrap_or_default();
                        return Err(de::Error::custom(format!(
                            "invalid port {}, expected a list of ports (1-65535)",
                            shown.trim()
                        )));
                    }
                }
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}
