//! The stores of the stateful cluster tests (a redb directory, or a real `redis-server`
//! with a password) and what the tests read from them: crash-consistent snapshots, the
//! checkpoint spout's transaction, committed counts, and the state a restarted task
//! starts from (what the checkpoint spout's recovery makes of the store).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use squall_runtime::state::State;
use squall_runtime::state::checkpoint::SPOUT_STATE_KEY;
use squall_runtime::state::checkpoint::spout_state::{TxPhase, TxState};
use squall_runtime::state::kv::KeyValueState;
use squall_runtime::state::provider::StateProvider;
use squall_runtime::state::provider::redb::RedbProvider;
use squall_runtime::state::provider::redis::{RedisConfig, RedisProvider};

#[path = "../../runtime/tests/state_common/redis_server.rs"]
pub mod redis_server;

use redis_server::RedisServer;

/// The Redis database snapshots are restored into (topologies use lower ones).
const SNAPSHOT_DB: i64 = 15;

/// Where a test topology keeps its state.
pub enum Store {
    /// redb files in this absolute directory.
    Redb(PathBuf),
    /// redb files where the supervisor puts them: `<root>/<topology id>/`, under the
    /// supervisor's state root `root`, for the topology named `topology` (the provider
    /// config gives no `path`).
    SupervisorRedb {
        /// The supervisor's `<data dir>/state`.
        root: PathBuf,
        /// The topology's name (its id starts with it).
        topology: String,
    },
    /// Database `db` of a test `redis-server`.
    Redis {
        /// The server (stopped when the store is dropped).
        server: RedisServer,
        /// The topology's database.
        db: i64,
    },
}

impl Store {
    /// A redb store in `dir` (absolute; the workers create it).
    pub fn redb(dir: &Path) -> Store {
        assert!(dir.is_absolute());
        Store::Redb(dir.to_path_buf())
    }

    /// A redb store in the directory the supervisor with data directory `sup_dir` gives
    /// the topology `topology`.
    pub fn supervisor_redb(sup_dir: &Path, topology: &str) -> Store {
        Store::SupervisorRedb {
            root: sup_dir.join("state"),
            topology: topology.to_string(),
        }
    }

    /// The directory of the redb files (`None` for Redis); the supervisor's is found by
    /// the topology's name.
    pub fn redb_dir(&self) -> Option<PathBuf> {
        match self {
            Store::Redb(dir) => Some(dir.clone()),
            Store::SupervisorRedb { root, topology } => {
                let prefix = format!("{topology}-");
                let found: Vec<PathBuf> = std::fs::read_dir(root)
                    .map(|d| {
                        d.flatten()
                            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                            .map(|e| e.path())
                            .collect()
                    })
                    .unwrap_or_default();
                assert!(
                    found.len() <= 1,
                    "two state directories of {topology}: {found:?}"
                );
                Some(
                    found
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| root.join("missing")),
                )
            }
            Store::Redis { .. } => None,
        }
    }

    /// A fresh `redis-server` on a free loopback port, with a password.
    pub fn redis() -> Store {
        Store::Redis {
            server: RedisServer::start(),
            db: 1,
        }
    }

    /// The same store for another topology: another redb directory, or another Redis
    /// database of the same server.
    pub fn next(self, dir: &Path) -> Store {
        match self {
            Store::Redb(_) | Store::SupervisorRedb { .. } => Store::redb(dir),
            Store::Redis { server, db } => Store::Redis { server, db: db + 1 },
        }
    }

    /// `topology.state.provider` and `topology.state.provider.config` (JSON) lines of a
    /// topology's config.
    pub fn topology_config(&self) -> String {
        let (name, json) = match self {
            Store::SupervisorRedb { .. } => {
                return "  topology.state.provider: redb\n".to_string();
            }
            Store::Redb(dir) => (
                "redb",
                serde_json::json!({ "path": dir.display().to_string() }),
            ),
            Store::Redis { server, db } => (
                "redis",
                serde_json::json!({ "jedisPoolConfig": {
                    "host": "127.0.0.1",
                    "port": server.port,
                    "password": server.password,
                    "database": db,
                }}),
            ),
        };
        format!("  topology.state.provider: {name}\n  topology.state.provider.config: '{json}'\n")
    }

    /// A copy of the store as it is now, as a provider over the copy (for redb, the
    /// copy of files no running process writes: the workers are stopped or dead, so it
    /// is a crash image; for Redis, one MULTI/EXEC of DUMPs restored into another
    /// database). Anything done through the copy leaves the store alone.
    pub fn snapshot(&self, scratch: &Path) -> Box<dyn StateProvider> {
        match self {
            Store::Redb(_) | Store::SupervisorRedb { .. } => {
                let dir = self.redb_dir().unwrap_or_default();
                static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let copy = scratch.join(format!("snapshot-{n}"));
                std::fs::create_dir_all(&copy).unwrap();
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    for e in entries.flatten() {
                        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
                    }
                }
                Box::new(RedbProvider::new(copy))
            }
            Store::Redis { server, db } => {
                let mut from = connect(server, *db);
                let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut from).unwrap();
                let mut pipe = redis::pipe();
                pipe.atomic();
                for k in &keys {
                    pipe.cmd("DUMP").arg(k.as_slice());
                }
                let dumps: Vec<Vec<u8>> = pipe.query(&mut from).unwrap();
                let mut to = connect(server, SNAPSHOT_DB);
                redis::cmd("FLUSHDB").query::<()>(&mut to).unwrap();
                for (k, d) in keys.iter().zip(&dumps) {
                    redis::cmd("RESTORE")
                        .arg(k.as_slice())
                        .arg(0)
                        .arg(d.as_slice())
                        .query::<()>(&mut to)
                        .unwrap();
                }
                Box::new(RedisProvider::new(config(server, SNAPSHOT_DB)).unwrap())
            }
        }
    }

    /// A live reader of the store while workers use it (Redis only: a redb file is
    /// locked by its worker).
    pub fn live(&self) -> Option<Live> {
        match self {
            Store::Redis { server, db } => Some(Live(connect(server, *db))),
            Store::Redb(_) | Store::SupervisorRedb { .. } => None,
        }
    }

    /// Wait (bounded) until no client but this test's is connected to the Redis server:
    /// every command a killed worker had sent is executed (no-op for redb).
    pub fn wait_workers_disconnected(&self) {
        let Store::Redis { server, db } = self else {
            return;
        };
        let mut c = connect(server, *db);
        crate::cluster_common::wait_for(
            Duration::from_secs(10),
            "the killed workers' Redis connections to close",
            || {
                let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).ok()?;
                (list.lines().count() <= 1).then_some(())
            },
        );
    }
}

fn config(server: &RedisServer, db: i64) -> RedisConfig {
    let mut config = server.config();
    config.database = db;
    config
}

fn connect(server: &RedisServer, db: i64) -> redis::Connection {
    let url = format!(
        "redis://:{}@127.0.0.1:{}/{db}",
        server.password, server.port
    );
    let client = redis::Client::open(url).unwrap();
    let conn = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn
}

/// The phase of the checkpoint spout's transaction in a redb store while its worker runs:
/// a copy of the spout's file alone, read without stopping anything (`None` when the copy
/// caught a write half-done or has no transaction yet) — for polling until a phase shows.
pub fn peek_redb_phase(dir: &Path, scratch: &Path, spout_ns: &str) -> Option<TxPhase> {
    let from = RedbProvider::new(dir).path_of(spout_ns).ok()?;
    let peek = scratch.join("peek");
    std::fs::create_dir_all(&peek).ok()?;
    std::fs::copy(&from, peek.join(from.file_name()?)).ok()?;
    let state: KeyValueState<String, serde_json::Value> =
        KeyValueState::new(RedbProvider::new(&peek).open(spout_ns).ok()?);
    let v = state.get(&SPOUT_STATE_KEY.to_string()).ok()??;
    serde_json::from_value::<TxState>(v).ok().map(|t| t.phase)
}

/// The checkpoint spout's saved transaction in `p` (namespace `spout_ns`).
pub fn tx_state(p: &dyn StateProvider, spout_ns: &str) -> Option<TxState> {
    let state: KeyValueState<String, serde_json::Value> =
        KeyValueState::new(p.open(spout_ns).unwrap());
    let v = state.get(&SPOUT_STATE_KEY.to_string()).unwrap()?;
    Some(serde_json::from_value(v).unwrap())
}

/// The counts of `namespaces` (word → count, each word in one namespace) after `f` is
/// applied to each state.
fn counts_after(
    p: &dyn StateProvider,
    namespaces: &[String],
    f: impl Fn(&mut KeyValueState<String, i64>),
) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for ns in namespaces {
        let mut state: KeyValueState<String, i64> = KeyValueState::new(p.open(ns).unwrap());
        f(&mut state);
        for e in state.iter().unwrap() {
            let (w, n) = e.unwrap();
            assert!(out.insert(w.clone(), n).is_none(), "{w} in two namespaces");
        }
    }
    out
}

/// The committed counts of `namespaces` in `p` (whatever is prepared is dropped: use a
/// snapshot).
pub fn committed(p: &dyn StateProvider, namespaces: &[String]) -> BTreeMap<String, i64> {
    counts_after(p, namespaces, |s| s.rollback().unwrap())
}

/// The counts the tasks of `namespaces` start from once the checkpoint spout, whose
/// saved transaction is `tx`, has recovered: the prepared set of `tx` committed if `tx`
/// is COMMITTING (the recovery re-sends its COMMIT), else the last commit (a ROLLBACK,
/// or nothing was prepared). Applied to `p`: use a snapshot.
pub fn recovered(
    p: &dyn StateProvider,
    namespaces: &[String],
    tx: TxState,
) -> BTreeMap<String, i64> {
    counts_after(p, namespaces, |s| match tx.phase {
        TxPhase::Committing => s.commit(tx.txid as u64).unwrap(),
        TxPhase::Preparing | TxPhase::Committed => s.rollback().unwrap(),
    })
}

/// One connection reading a Redis store while the topology runs.
pub struct Live(redis::Connection);

impl Live {
    /// The checkpoint spout's saved transaction (namespace `spout_ns`).
    pub fn tx(&mut self, spout_ns: &str) -> Option<TxState> {
        let key = serde_json::to_vec(SPOUT_STATE_KEY).unwrap();
        let v: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(spout_ns)
            .arg(key)
            .query(&mut self.0)
            .ok()?;
        serde_json::from_slice(&v?).ok()
    }

    /// The committed and the prepared txid of namespace `ns` (Storm's `<ns>$txid`).
    pub fn txids(&mut self, ns: &str) -> (Option<u64>, Option<u64>) {
        let (commit, prepare): (Option<u64>, Option<u64>) = redis::cmd("HMGET")
            .arg(format!("{ns}$txid"))
            .arg("commit")
            .arg("prepare")
            .query(&mut self.0)
            .unwrap();
        (commit, prepare)
    }

    /// How many keys namespace `ns` has prepared (Storm's `<ns>$prepare`).
    pub fn prepared_len(&mut self, ns: &str) -> u64 {
        redis::cmd("HLEN")
            .arg(format!("{ns}$prepare"))
            .query(&mut self.0)
            .unwrap()
    }

    /// One round trip: whatever reached the server before is executed.
    pub fn ping(&mut self) {
        redis::cmd("PING").query::<String>(&mut self.0).unwrap();
    }
}
