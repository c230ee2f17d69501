//! A real `redis-server` for tests: on a free loopback port, in a temp dir, with a
//! password, killed when dropped. `SQUALL_REDIS_SERVER` names another binary.

use std::net::TcpListener;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use squall_runtime::state::provider::redis::{Password, RedisConfig};

/// How long a server may take to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `redis-server`.
pub struct RedisServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its `requirepass`.
    pub password: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl RedisServer {
    /// Start one; a port taken meanwhile by a parallel test is retried with another.
    pub fn start() -> RedisServer {
        let bin = std::env::var_os("SQUALL_REDIS_SERVER").unwrap_or_else(|| "redis-server".into());
        let dir = tempfile::tempdir().expect("a temp dir");
        let password = format!("pw-{}-{}", std::process::id(), free_port());
        let log = dir.path().join("redis.log");
        for _ in 0..5 {
            let port = free_port();
            let conf = dir.path().join("redis.conf");
            // The password in a file, not on the command line (`ps` shows that).
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\nprotected-mode yes\nsave \"\"\nappendonly no\n\
                     dir {}\nrequirepass {password}\nlogfile {}\n",
                    dir.path().display(),
                    log.display()
                ),
            )
            .expect("write redis.conf");
            let mut child = Command::new(&bin)
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run {bin:?} ({e}): install it (apt-get install redis-server)")
                });
            if wait_ready(&mut child, port, &password) {
                return RedisServer {
                    child,
                    port,
                    password,
                    _dir: dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if !text.contains("Address already in use") {
                panic!(
                    "redis-server on port {port} did not start in {START_TIMEOUT:?}; its log:\n{text}"
                );
            }
        }
        panic!(
            "redis-server found no free port in 5 tries; log {}",
            log.display()
        )
    }

    /// The provider config of this server.
    pub fn config(&self) -> RedisConfig {
        RedisConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            password: Some(Password::new(self.password.clone())),
            database: 0,
            timeout: Duration::from_secs(5),
        }
    }

    /// A plain client connection (authenticated), to look at or tamper with the data.
    pub fn client(&self) -> redis::Connection {
        connect(self.port, &self.password).expect("a connection to the test redis")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(port: u16, password: &str) -> redis::RedisResult<redis::Connection> {
    let url = format!("redis://:{password}@127.0.0.1:{port}/0");
    let client = redis::Client::open(url)?;
    let conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
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
