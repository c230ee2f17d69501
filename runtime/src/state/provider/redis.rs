//! The Redis provider (Storm's `RedisKeyValueStateProvider`), keyed as Storm's
//! `RedisKeyValueState`: the committed data of a namespace is the hash `<namespace>`,
//! the prepared set the hash `<namespace>$prepare`, and the txids the fields `prepare`
//! and `commit` of the hash `<namespace>$txid`. A prepare is one MULTI/EXEC; a commit is
//! one Lua script that applies the prepared set on the server, so it is atomic and a
//! worker restarted on any host commits what its predecessor prepared.
//!
//! Every read goes through a script that refuses a value over [`MAX_VALUE_LEN`] before
//! the server sends it. The server is trusted as far as the reply framing goes. A read of
//! a key the last commit wrote is answered from memory (see [`Staged`]): a checkpoint
//! costs its prepare and its commit, not also a round trip per key read back after it.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::{
    Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo, Script, Value,
};

use super::redis_scripts;
use super::staged::{
    Changes, CommitOutcome, Durable, Loaded, Staged, decode_change, encode_change,
};
use super::{Entry, KvBackend, MAX_VALUE_LEN, StateProvider};
use crate::state::StateError;

/// HSCAN's count hint per page of an iteration.
const SCAN_COUNT: usize = 512;
/// Bytes of values one page of a scan may carry; past it values are fetched one by one.
const PAGE_BUDGET: usize = 8 << 20;
/// Fields set by one HSET of a prepare.
const HSET_CHUNK: usize = 512;

/// A password that never shows in `Debug` output, logs or errors.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wrap a password.
    pub fn new(password: impl Into<String>) -> Password {
        Password(password.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the Redis server is (Storm's `jedisPoolConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// Host name or address (default `localhost`).
    pub host: String,
    /// Port (default 6379).
    pub port: u16,
    /// The `requirepass` password, if the server wants one.
    pub password: Option<Password>,
    /// Database number (default 0).
    pub database: i64,
    /// Timeout of connecting and of each command (default 2 s, as Jedis's).
    pub timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> RedisConfig {
        RedisConfig {
            host: "localhost".into(),
            port: 6379,
            password: None,
            database: 0,
            timeout: Duration::from_millis(2000),
        }
    }
}

/// Keeps each namespace in hashes of a Redis server; one connection per opened state.
pub struct RedisProvider {
    config: RedisConfig,
    client: Client,
    scripts: Arc<Scripts>,
}

impl fmt::Debug for RedisProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisProvider")
            .field("config", &self.config)
            .finish()
    }
}

struct Scripts {
    get: Script,
    scan: Script,
    commit: Script,
}

impl RedisProvider {
    /// A provider for the server of `config` (it connects when a state is opened).
    pub fn new(config: RedisConfig) -> Result<RedisProvider, StateError> {
        let mut redis = RedisConnectionInfo::default().set_db(config.database);
        if let Some(password) = &config.password {
            redis = redis.set_password(password.expose());
        }
        let info: ConnectionInfo = ConnectionAddr::Tcp(config.host.clone(), config.port)
            .into_connection_info()
            .map_err(|e| StateError::Config(format!("redis {}:{}: {e}", config.host, config.port)))?
            .set_redis_settings(redis);
        let client = Client::open(info).map_err(|e| {
            StateError::Config(format!("redis {}:{}: {e}", config.host, config.port))
        })?;
        Ok(RedisProvider {
            config,
            client,
            scripts: Arc::new(Scripts {
                get: Script::new(redis_scripts::GET),
                scan: Script::new(redis_scripts::SCAN),
                commit: Script::new(redis_scripts::COMMIT),
            }),
        })
    }

    /// The server's config (its password redacted in `Debug`).
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }
}

impl StateProvider for RedisProvider {
    fn open(&self, namespace: &str) -> Result<Box<dyn KvBackend>, StateError> {
        let durable = RedisDurable {
            namespace: namespace.to_string(),
            prepare_key: format!("{namespace}$prepare"),
            txid_key: format!("{namespace}$txid"),
            server: format!("{}:{}", self.config.host, self.config.port),
            timeout: self.config.timeout,
            client: self.client.clone(),
            scripts: Arc::clone(&self.scripts),
            conn: RefCell::new(None),
        };
        // Connect now: a wrong address or password is an error of the open.
        durable.with_conn(|_| Ok(()))?;
        Ok(Box::new(Staged::open(namespace, durable)?))
    }
}

struct RedisDurable {
    namespace: String,
    prepare_key: String,
    txid_key: String,
    server: String,
    timeout: Duration,
    client: Client,
    scripts: Arc<Scripts>,
    /// `None` before the first command and after the connection broke: the next
    /// command reconnects.
    conn: RefCell<Option<redis::Connection>>,
}

impl RedisDurable {
    /// A MULTI/EXEC pipeline dropping the prepared set and its txid (more commands may
    /// be added before it is sent).
    fn drop_prepared(&self) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .del(&self.prepare_key)
            .ignore()
            .hdel(&self.txid_key, "prepare")
            .ignore();
        pipe
    }

    fn err(&self, e: impl fmt::Display) -> StateError {
        StateError::Store {
            namespace: self.namespace.clone(),
            message: format!("redis {}: {e}", self.server),
        }
    }

    fn connect(&self) -> Result<redis::Connection, StateError> {
        let conn = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(|e| self.err(e))?;
        conn.set_read_timeout(Some(self.timeout))
            .map_err(|e| self.err(e))?;
        conn.set_write_timeout(Some(self.timeout))
            .map_err(|e| self.err(e))?;
        Ok(conn)
    }

    /// Run `f` on the connection (connecting first if there is none); a connection that
    /// failed with an I/O error is dropped, so the next call reconnects.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StateError> {
        let mut slot = self.conn.borrow_mut();
        let conn = match &mut *slot {
            Some(conn) => conn,
            None => slot.insert(self.connect()?),
        };
        match f(conn) {
            Ok(v) => Ok(v),
            Err(e) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    *slot = None;
                }
                Err(self.err(e))
            }
        }
    }

    fn get_from(&self, hash: &str, field: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let v: Option<Vec<u8>> = self.with_conn(|c| {
            self.scripts
                .get
                .key(hash)
                .arg(field)
                .arg(MAX_VALUE_LEN)
                .invoke(c)
        })?;
        Ok(v)
    }

    /// A page of `hash` from `cursor`: its entries and the next cursor (`None` at the end).
    fn scan_hash(&self, hash: &str, cursor: u64) -> Result<(Vec<Entry>, Option<u64>), StateError> {
        let reply: Value = self.with_conn(|c| {
            self.scripts
                .scan
                .key(hash)
                .arg(cursor)
                .arg(SCAN_COUNT)
                .arg(MAX_VALUE_LEN)
                .arg(PAGE_BUDGET)
                .invoke(c)
        })?;
        let bad = || self.err("an unexpected reply to HSCAN");
        let Value::Array(parts) = reply else {
            return Err(bad());
        };
        let [Value::BulkString(next), Value::Array(items)] = parts.as_slice() else {
            return Err(bad());
        };
        let next: u64 = std::str::from_utf8(next)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        let mut page = Vec::with_capacity(items.len() / 2);
        for pair in items.chunks(2) {
            let key = match pair.first() {
                Some(Value::BulkString(k)) => k.clone(),
                _ => return Err(bad()),
            };
            match pair.get(1) {
                Some(Value::BulkString(v)) => page.push((key, v.clone())),
                // Past the page's budget: fetched alone (a key deleted since is skipped).
                Some(Value::Nil) => {
                    if let Some(v) = self.get_from(hash, &key)? {
                        page.push((key, v));
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok((page, (next != 0).then_some(next)))
    }

    fn txid_field(&self, v: Option<Vec<u8>>, field: &str) -> Result<Option<u64>, StateError> {
        v.map(|v| {
            std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    self.err(format!(
                        "field '{field}' of {} is not a txid",
                        self.txid_key
                    ))
                })
        })
        .transpose()
    }
}

impl Durable for RedisDurable {
    type Cursor = u64;

    fn load(&mut self) -> Result<Loaded, StateError> {
        let commit = self.get_from(&self.txid_key, b"commit")?;
        let prepare = self.get_from(&self.txid_key, b"prepare")?;
        let committed_txid = self.txid_field(commit, "commit")?;
        let prepared_txid = self.txid_field(prepare, "prepare")?;
        let mut prepared = Changes::new();
        let mut cursor = Some(0);
        while let Some(c) = cursor {
            let (page, next) = self.scan_hash(&self.prepare_key, c)?;
            for (k, v) in page {
                prepared.insert(k, decode_change(&self.namespace, &v)?);
            }
            cursor = next;
        }
        Ok(Loaded {
            committed_txid,
            prepared_txid,
            prepared,
        })
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.get_from(&self.namespace, key)
    }

    fn scan(&self, cursor: u64) -> Result<(Vec<Entry>, Option<u64>), StateError> {
        self.scan_hash(&self.namespace, cursor)
    }

    fn scan_may_repeat(&self) -> bool {
        true
    }

    fn remote_reads(&self) -> bool {
        true
    }

    fn write_prepared(&mut self, txid: u64, changes: &Changes) -> Result<(), StateError> {
        let encoded: Vec<(&[u8], Vec<u8>)> = changes
            .iter()
            .map(|(k, v)| (k.as_slice(), encode_change(v)))
            .collect();
        let mut pipe = redis::pipe();
        pipe.atomic().del(&self.prepare_key).ignore();
        for chunk in encoded.chunks(HSET_CHUNK) {
            let cmd = pipe.cmd("HSET").arg(&self.prepare_key);
            for (k, v) in chunk {
                cmd.arg(*k).arg(v.as_slice());
            }
            cmd.ignore();
        }
        pipe.hset(&self.txid_key, "prepare", txid.to_string())
            .ignore();
        self.with_conn(|c| pipe.query::<()>(c))
    }

    fn commit(&mut self, txid: u64) -> Result<CommitOutcome, StateError> {
        let reply: Vec<Vec<u8>> = self.with_conn(|c| {
            self.scripts
                .commit
                .key(&self.namespace)
                .key(&self.prepare_key)
                .key(&self.txid_key)
                .arg(txid.to_string())
                .invoke(c)
        })?;
        match reply.as_slice() {
            [status] if status == b"committed" => Ok(CommitOutcome::Committed),
            [status] if status == b"notprepared" => Ok(CommitOutcome::NotPrepared),
            [status, c] if status == b"already" => {
                let committed = self.txid_field(Some(c.clone()), "commit")?.unwrap_or(txid);
                Ok(CommitOutcome::AlreadyCommitted(committed))
            }
            _ => Err(self.err("an unexpected reply to the commit script")),
        }
    }

    fn clear_prepared(&mut self) -> Result<(), StateError> {
        let pipe = self.drop_prepared();
        self.with_conn(|c| pipe.query::<()>(c))
    }

    fn rebase(&mut self, committed: Option<u64>) -> Result<(), StateError> {
        let mut pipe = self.drop_prepared();
        match committed {
            Some(t) => pipe.hset(&self.txid_key, "commit", t.to_string()).ignore(),
            None => pipe.hdel(&self.txid_key, "commit").ignore(),
        };
        self.with_conn(|c| pipe.query::<()>(c))
    }
}
