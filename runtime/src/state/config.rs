//! `topology.state.provider` and `topology.state.provider.config` (a JSON string, as in
//! Storm) parsed into a typed [`ProviderConfig`], which builds the [`StateProvider`].
//!
//! Storm's Redis config `{"jedisPoolConfig": {"host", "port", "password", "database",
//! "timeout"}}` is read as is; Storm's `keyClass`, `valueClass`, `keySerializerClass`
//! and `valueSerializerClass` are accepted and ignored (Squall encodes with serde).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::StateError;
use super::provider::StateProvider;
use super::provider::memory::MemoryProvider;
use super::provider::redb::RedbProvider;
use super::provider::redis::{Password, RedisConfig, RedisProvider};
use crate::topology::config::{
    Config, MAX_MILLIS, TOPOLOGY_STATE_PROVIDER, TOPOLOGY_STATE_PROVIDER_CONFIG,
};

/// Storm's in-memory provider class, read as `memory`.
pub const STORM_IN_MEMORY: &str = "org.apache.storm.state.InMemoryKeyValueStateProvider";
/// Storm's Redis provider class, read as `redis`.
pub const STORM_REDIS: &str = "org.apache.storm.redis.state.RedisKeyValueStateProvider";
/// Longest provider config string accepted.
pub const MAX_CONFIG_LEN: usize = 64 << 10;
/// Storm's keys about Java classes: accepted, ignored.
const IGNORED_KEYS: [&str; 4] = [
    "keyClass",
    "valueClass",
    "keySerializerClass",
    "valueSerializerClass",
];

/// Which provider keeps the state, and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderConfig {
    /// In this process's memory (the default): lost when the worker stops.
    Memory,
    /// A redb file per task on the worker's host.
    Redb {
        /// The directory of the files: absolute, or relative to the worker's state
        /// directory (`None` = that directory itself).
        dir: Option<PathBuf>,
    },
    /// A Redis server.
    Redis(RedisConfig),
}

impl ProviderConfig {
    /// The provider configured by `config`'s `topology.state.provider` and
    /// `topology.state.provider.config`.
    pub fn from_config(config: &Config) -> Result<ProviderConfig, StateError> {
        let provider = match config.get(TOPOLOGY_STATE_PROVIDER) {
            None | Some(serde_yaml::Value::Null) => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| StateError::Config("expected a string".into()))?,
            ),
        };
        let json = match config.get(TOPOLOGY_STATE_PROVIDER_CONFIG) {
            None | Some(serde_yaml::Value::Null) => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| config_err("expected a JSON string"))?,
            ),
        };
        ProviderConfig::parse(provider, json)
    }

    /// Parse a provider name (`None` = the default, memory) and its JSON config.
    pub fn parse(provider: Option<&str>, json: Option<&str>) -> Result<ProviderConfig, StateError> {
        let kind = match provider.map(str::trim) {
            None | Some("" | "memory" | STORM_IN_MEMORY) => Kind::Memory,
            Some("redb") => Kind::Redb,
            Some("redis" | STORM_REDIS) => Kind::Redis,
            Some(other) => {
                return Err(StateError::Config(format!(
                    "unknown provider '{}' (expected memory, redb, \
                     redis, {STORM_IN_MEMORY} or {STORM_REDIS})",
                    other.chars().take(100).collect::<String>()
                )));
            }
        };
        let map = parse_json(json)?;
        let mut fields = Fields::new(&map, "");
        let config = match kind {
            Kind::Memory => ProviderConfig::Memory,
            Kind::Redb => {
                let dir = match (fields.string("path")?, fields.string("dir")?) {
                    (Some(_), Some(_)) => {
                        return Err(config_err("give one of 'path' and 'dir', not both"));
                    }
                    (path, dir) => path.or(dir).map(PathBuf::from),
                };
                ProviderConfig::Redb { dir }
            }
            Kind::Redis => {
                if map.contains_key("jedisClusterConfig") {
                    return Err(config_err(
                        "jedisClusterConfig: Redis Cluster is not supported; give \
                         jedisPoolConfig (one server)",
                    ));
                }
                let redis = match fields.object("jedisPoolConfig")? {
                    Some(pool) => redis_config(pool)?,
                    None => RedisConfig::default(),
                };
                ProviderConfig::Redis(redis)
            }
        };
        fields.ignore_storm_keys();
        fields.refuse_rest()?;
        Ok(config)
    }

    /// The provider this config names; a redb provider stores under `state_dir` (the
    /// worker's local state directory) unless its `path` is absolute.
    pub fn provider(&self, state_dir: &Path) -> Result<Arc<dyn StateProvider>, StateError> {
        Ok(match self {
            ProviderConfig::Memory => Arc::new(MemoryProvider::new()),
            ProviderConfig::Redb { dir } => Arc::new(RedbProvider::new(match dir {
                Some(dir) => state_dir.join(dir),
                None => state_dir.to_path_buf(),
            })),
            ProviderConfig::Redis(redis) => Arc::new(RedisProvider::new(redis.clone())?),
        })
    }
}

/// The errors of the state keys in `config`, as `(key, message)` — for topology
/// validation beside [`crate::topology::config::check_config`].
pub fn check(config: &Config) -> Vec<(String, String)> {
    match ProviderConfig::from_config(config) {
        Ok(_) => Vec::new(),
        Err(e) => {
            let message = e.to_string();
            let key = if message.contains(TOPOLOGY_STATE_PROVIDER_CONFIG) {
                TOPOLOGY_STATE_PROVIDER_CONFIG
            } else {
                TOPOLOGY_STATE_PROVIDER
            };
            vec![(key.to_string(), message)]
        }
    }
}

enum Kind {
    Memory,
    Redb,
    Redis,
}

fn config_err(message: impl std::fmt::Display) -> StateError {
    StateError::Config(format!("in {TOPOLOGY_STATE_PROVIDER_CONFIG}, {message}"))
}

fn parse_json(json: Option<&str>) -> Result<Map<String, Value>, StateError> {
    let Some(json) = json.map(str::trim).filter(|j| !j.is_empty()) else {
        return Ok(Map::new());
    };
    if json.len() > MAX_CONFIG_LEN {
        return Err(config_err(format!("longer than {MAX_CONFIG_LEN} bytes")));
    }
    // serde_json's syntax errors give a line and column, never the text (a password).
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(config_err("expected a JSON object")),
        Err(e) => Err(config_err(format!("not valid JSON: {e}"))),
    }
}

fn redis_config(pool: &Map<String, Value>) -> Result<RedisConfig, StateError> {
    let mut f = Fields::new(pool, "jedisPoolConfig.");
    let default = RedisConfig::default();
    let config = RedisConfig {
        host: f.string("host")?.unwrap_or(default.host),
        port: match f.integer("port", 1, u64::from(u16::MAX))? {
            Some(p) => {
                u16::try_from(p).map_err(|_| config_err("jedisPoolConfig.port: too large"))?
            }
            None => default.port,
        },
        password: f.secret("password")?,
        database: match f.integer("database", 0, i32::MAX as u64)? {
            Some(d) => {
                i64::try_from(d).map_err(|_| config_err("jedisPoolConfig.database: too large"))?
            }
            None => default.database,
        },
        timeout: f
            .integer("timeout", 1, MAX_MILLIS)?
            .map_or(default.timeout, Duration::from_millis),
    };
    f.refuse_rest()?;
    Ok(config)
}

/// The fields of a JSON object, taken one by one; what is left is refused.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
    left: BTreeSet<&'a str>,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>, path: &str) -> Fields<'a> {
        Fields {
            map,
            path: path.to_string(),
            left: map.keys().map(String::as_str).collect(),
        }
    }

    fn take(&mut self, key: &str) -> Option<&'a Value> {
        self.left.remove(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, key: &str) -> Result<Option<String>, StateError> {
        self.take(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| config_err(format!("{}{key}: expected a string", self.path)))
            })
            .transpose()
    }

    fn secret(&mut self, key: &str) -> Result<Option<Password>, StateError> {
        // Never shown, whatever it is.
        self.string(key)
            .map(|p| p.filter(|p| !p.is_empty()).map(Password::new))
    }

    fn integer(&mut self, key: &str, min: u64, max: u64) -> Result<Option<u64>, StateError> {
        self.take(key)
            .map(|v| {
                v.as_u64()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| {
                        config_err(format!(
                            "{}{key}: expected an integer from {min} to {max}",
                            self.path
                        ))
                    })
            })
            .transpose()
    }

    fn object(&mut self, key: &str) -> Result<Option<&'a Map<String, Value>>, StateError> {
        self.take(key)
            .map(|v| {
                v.as_object()
                    .ok_or_else(|| config_err(format!("{}{key}: expected an object", self.path)))
            })
            .transpose()
    }

    fn ignore_storm_keys(&mut self) {
        for key in IGNORED_KEYS {
            if self.take(key).is_some() {
                tracing::info!(
                    key,
                    "{TOPOLOGY_STATE_PROVIDER_CONFIG}: '{key}' is ignored (Squall encodes \
                     state with serde)"
                );
            }
        }
    }

    fn refuse_rest(&self) -> Result<(), StateError> {
        match self.left.first() {
            Some(key) => Err(config_err(format!(
                "unknown key '{}{}'",
                self.path,
                key.chars().take(100).collect::<String>()
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn err(provider: Option<&str>, json: Option<&str>) -> String {
        ProviderConfig::parse(provider, json)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn default_and_storm_in_memory_are_memory() {
        assert_eq!(
            ProviderConfig::parse(None, None).unwrap(),
            ProviderConfig::Memory
        );
        assert_eq!(
            ProviderConfig::parse(Some(STORM_IN_MEMORY), Some("{}")).unwrap(),
            ProviderConfig::Memory
        );
        let c = Config::from_map(serde_yaml::from_str("x: 1").unwrap());
        assert_eq!(
            ProviderConfig::from_config(&c).unwrap(),
            ProviderConfig::Memory
        );
    }

    #[test]
    fn storms_redis_config_maps_onto_redis_config() {
        let json = r#"{"keyClass": "java.lang.String", "valueClass": "java.lang.Long",
            "jedisPoolConfig": {"host": "10.0.0.5", "port": 6380, "password": "s3cret",
            "database": 2, "timeout": 500}}"#;
        let c = ProviderConfig::parse(Some(STORM_REDIS), Some(json)).unwrap();
        let ProviderConfig::Redis(r) = &c else {
            panic!("{c:?}")
        };
        assert_eq!((r.host.as_str(), r.port, r.database), ("10.0.0.5", 6380, 2));
        assert_eq!(r.timeout, Duration::from_millis(500));
        assert_eq!(r.password, Some(Password::new("s3cret")));
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
        let d = ProviderConfig::parse(Some("redis"), None).unwrap();
        assert_eq!(d, ProviderConfig::Redis(RedisConfig::default()));
    }

    #[test]
    fn errors_name_the_key_and_never_show_the_password() {
        let e = err(
            Some("redis"),
            Some(r#"{"jedisPoolConfig": {"port": 70000}}"#),
        );
        assert!(
            e.starts_with(
                "topology.state.provider: in topology.state.provider.config, \
                 jedisPoolConfig.port: expected an integer from 1 to 65535"
            ),
            "{e}"
        );
        let e = err(
            Some("redis"),
            Some(r#"{"jedisPoolConfig": {"password": 12345678}}"#),
        );
        assert!(
            e.contains("jedisPoolConfig.password: expected a string"),
            "{e}"
        );
        assert!(!e.contains("12345678"), "{e}");
        let e = err(
            Some("redis"),
            Some(r#"{"jedisPoolConfig": {"password": "hunter2""#),
        );
        assert!(
            e.contains("not valid JSON") && !e.contains("hunter2"),
            "{e}"
        );
        let e = err(Some("redis"), Some(r#"{"jedisPoolConfig": {"hots": "x"}}"#));
        assert!(e.contains("unknown key 'jedisPoolConfig.hots'"), "{e}");
        let e = err(Some("redis"), Some(r#"{"jedisClusterConfig": {}}"#));
        assert!(e.contains("not supported"), "{e}");
        let e = err(Some("hbase"), None);
        assert!(
            e.starts_with("topology.state.provider: unknown provider 'hbase'"),
            "{e}"
        );
        let e = err(None, Some("[1]"));
        assert!(e.contains("expected a JSON object"), "{e}");
        let e = err(Some("memory"), Some(r#"{"path": "/x"}"#));
        assert!(e.contains("unknown key 'path'"), "{e}");
    }

    #[test]
    fn redb_takes_a_path_relative_to_the_state_dir() {
        let c = ProviderConfig::parse(Some("redb"), Some(r#"{"path": "kv"}"#)).unwrap();
        assert_eq!(
            c,
            ProviderConfig::Redb {
                dir: Some("kv".into())
            }
        );
        assert_eq!(
            ProviderConfig::parse(Some("redb"), None).unwrap(),
            ProviderConfig::Redb { dir: None }
        );
        assert!(err(Some("redb"), Some(r#"{"path": "a", "dir": "b"}"#)).contains("not both"));
        let c = Config::from_map(
            serde_yaml::from_str(
                "topology.state.provider: redb\ntopology.state.provider.config: 7",
            )
            .unwrap(),
        );
        assert_eq!(check(&c)[0].0, TOPOLOGY_STATE_PROVIDER_CONFIG);
    }
}
