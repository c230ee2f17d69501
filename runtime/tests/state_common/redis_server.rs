//! A throwaway real `redis-server` for tests and benches: on a free loopback port, with
//! a random password (in its config file, not on the command line, which `ps` shows), no
//! persistence, in a temp dir; killed when dropped. `SQUALL_REDIS_SERVER` names another
//! binary than `redis-server` on `PATH`. The benches include this file by `#[path]`.
#![allow(dead_code)] // each test or bench that includes it uses part of it

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use squall_runtime::state::provider::redis::{Password, RedisConfig};

/// How long a server may take to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Ports tried when another process takes the free one first.
const PORT_TRIES: usize = 5;

/// A running `redis-server`.
pub struct RedisServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its `requirepass`.
    pub password: String,
    dir: tempfile::TempDir,
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

impl RedisServer {
    /// Start one (a test: panics saying why not).
    pub fn start() -> RedisServer {
        RedisServer::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Start one, or say why not (no binary, no free port, it did not answer); a port
    /// taken meanwhile by a parallel test is retried with another.
    pub fn try_start() -> Result<RedisServer, String> {
        let bin = std::env::var_os("SQUALL_REDIS_SERVER").unwrap_or_else(|| "redis-server".into());
        let dir = tempfile::tempdir().map_err(|e| format!("no temp dir: {e}"))?;
        let password = format!("{:032x}", rand::random::<u128>());
        let log = dir.path().join("redis.log");
        for _ in 0..PORT_TRIES {
            let port = free_port()?;
            let conf = dir.path().join("redis.conf");
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\nprotected-mode yes\nsave \"\"\nappendonly no\n\
                     dir {}\nrequirepass {password}\nlogfile {}\n",
                    dir.path().display(),
                    log.display()
                ),
            )
            .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
            let mut child = Command::new(&bin)
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| match e.kind() {
                    ErrorKind::NotFound => format!(
                        "no redis-server binary: {} is not found (install Debian's \
                         redis-server package, or name one with SQUALL_REDIS_SERVER)",
                        bin.to_string_lossy()
                    ),
                    _ => format!("cannot run {}: {e}", bin.to_string_lossy()),
                })?;
            if wait_ready(&mut child, port, &password) {
                return Ok(RedisServer {
                    child,
                    port,
                    password,
                    dir,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if !text.contains("Address already in use") {
                return Err(format!(
                    "redis-server on port {port} did not answer within {START_TIMEOUT:?}; its log:\n{text}"
                ));
            }
        }
        Err(format!(
            "redis-server found no free port in {PORT_TRIES} tries"
        ))
    }

    /// Its temp dir (removed on drop): a place for files naming its password.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The state provider config of this server.
    pub fn config(&self) -> RedisConfig {
        RedisConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            password: Some(Password::new(self.password.clone())),
            database: 0,
            timeout: Duration::from_secs(5),
        }
    }

    /// An authenticated connection, to ask the server about itself.
    pub fn connect(&self) -> redis::RedisResult<redis::Connection> {
        connect(self.port, &self.password)
    }

    /// The same for a test, which may look at or tamper with the data (panics if none).
    pub fn client(&self) -> redis::Connection {
        self.connect()
            .unwrap_or_else(|e| panic!("a connection to the test redis: {e}"))
    }
}

fn connect(port: u16, password: &str) -> redis::RedisResult<redis::Connection> {
    let url = format!("redis://:{password}@127.0.0.1:{port}/0");
    let conn = redis::Client::open(url)?.get_connection_with_timeout(Duration::from_secs(2))?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(conn)
}

/// Poll until the server answers PING (true), exits or the deadline passes (false).
fn wait_ready(child: &mut Child, port: u16, password: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < START_TIMEOUT {
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        if let Ok(mut c) = connect(port, password)
            && redis::cmd("PING").query::<String>(&mut c).is_ok()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Only the server this process started, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
