//! The state providers (memory, redb, a real Redis) against the checkpoint protocol,
//! and what is particular to each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod state_common;

use std::sync::Arc;

use squall_runtime::state::provider::StateProvider;
use squall_runtime::state::provider::memory::MemoryProvider;
use squall_runtime::state::provider::redb::RedbProvider;
use squall_runtime::state::provider::redis::RedisProvider;
use state_common::Setup;
use state_common::redis_server::RedisServer;

/// One memory provider: "reopening" opens the namespace again from it.
struct Memory(Arc<MemoryProvider>);

struct Shared(Arc<MemoryProvider>);

impl StateProvider for Shared {
    fn open(
        &self,
        namespace: &str,
    ) -> Result<
        Box<dyn squall_runtime::state::provider::KvBackend>,
        squall_runtime::state::StateError,
    > {
        self.0.open(namespace)
    }
}

impl Setup for Memory {
    fn reopen(&self) -> Box<dyn Fn() -> Box<dyn StateProvider> + '_> {
        Box::new(|| Box::new(Shared(Arc::clone(&self.0))))
    }
}

/// A directory: each reopen is a new provider on it (a restarted worker on this host).
struct Redb(tempfile::TempDir);

impl Setup for Redb {
    fn reopen(&self) -> Box<dyn Fn() -> Box<dyn StateProvider> + '_> {
        Box::new(|| Box::new(RedbProvider::new(self.0.path().join("state"))))
    }
}

/// A server: each reopen is a new provider and connection (a worker anywhere).
struct Redis(RedisServer);

impl Setup for Redis {
    fn reopen(&self) -> Box<dyn Fn() -> Box<dyn StateProvider> + '_> {
        Box::new(|| Box::new(RedisProvider::new(self.0.config()).expect("a redis provider")))
    }
}

mod memory {
    use super::*;
    protocol_tests!(Memory(Arc::new(MemoryProvider::new())));
}

mod redb {
    use super::*;
    protocol_tests!(Redb(tempfile::tempdir().unwrap()));
}

mod redis {
    use super::*;
    protocol_tests!(Redis(RedisServer::start()));
}

mod redis_server {
    use std::time::{Duration, Instant};

    use ::redis::Commands;
    use squall_runtime::state::State;
    use squall_runtime::state::config::ProviderConfig;
    use squall_runtime::state::kv::KeyValueState;
    use squall_runtime::state::provider::redis::Password;
    use squall_runtime::state::provider::{MAX_VALUE_LEN, StateProvider};

    use super::*;

    #[test]
    fn a_wrong_or_missing_password_is_a_clear_error_without_the_password() {
        let server = RedisServer::start();
        let mut config = server.config();
        config.password = Some(Password::new("not-the-password-4711"));
        let e = RedisProvider::new(config.clone())
            .unwrap()
            .open("count-1")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("redis 127.0.0.1:{}", server.port)),
            "{e}"
        );
        assert!(e.contains("count-1"), "{e}");
        assert!(e.contains("authentication failed"), "{e}");
        assert!(
            !e.contains("not-the-password-4711") && !e.contains(&server.password),
            "{e}"
        );
        assert!(!format!("{config:?}").contains("4711"));
        config.password = None;
        let e = RedisProvider::new(config)
            .unwrap()
            .open("count-1")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.to_lowercase().contains("auth"), "{e}");
    }

    #[test]
    fn no_server_is_an_error_within_the_timeout() {
        let server = RedisServer::start();
        let mut config = server.config();
        drop(server);
        config.timeout = Duration::from_millis(500);
        let start = Instant::now();
        let e = RedisProvider::new(config)
            .unwrap()
            .open("x-1")
            .map(|_| ())
            .unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(e.to_string().contains("redis 127.0.0.1:"), "{e}");
    }

    #[test]
    fn keys_are_laid_out_as_storms_redis_key_value_state() {
        let server = RedisServer::start();
        let provider = RedisProvider::new(server.config()).unwrap();
        let mut s = provider.open("count-2").unwrap();
        s.put(b"k".to_vec(), b"v".to_vec()).unwrap();
        s.delete(b"gone".to_vec()).unwrap();
        s.prepare_commit(7).unwrap();
        let mut c = server.client();
        let prepared: Vec<Vec<u8>> = c.hkeys("count-2$prepare").unwrap();
        assert_eq!(prepared.len(), 2);
        let txid: Option<String> = c.hget("count-2$txid", "prepare").unwrap();
        assert_eq!(txid.as_deref(), Some("7"));
        s.commit(7).unwrap();
        let v: Option<Vec<u8>> = c.hget("count-2", "k").unwrap();
        assert_eq!(v.as_deref(), Some(b"v".as_slice()));
        let exists: bool = c.exists("count-2$prepare").unwrap();
        assert!(!exists);
        let txid: Option<String> = c.hget("count-2$txid", "commit").unwrap();
        assert_eq!(txid.as_deref(), Some("7"));
    }

    #[test]
    fn an_oversize_value_on_the_server_is_refused_not_read() {
        let server = RedisServer::start();
        let mut c = server.client();
        let () = c.hset("big-1", "small", "1").unwrap();
        let () = c
            .hset("big-1", "huge", vec![b'x'; MAX_VALUE_LEN + 1])
            .unwrap();
        let s = RedisProvider::new(server.config())
            .unwrap()
            .open("big-1")
            .unwrap();
        assert_eq!(s.get(b"small").unwrap().as_deref(), Some(b"1".as_slice()));
        let e = s.get(b"huge").unwrap_err().to_string();
        assert!(e.contains("over the limit"), "{e}");
        let results: Vec<_> = s.iterate().unwrap().collect();
        assert!(
            results.iter().any(|r| r.is_err()),
            "iteration reports the oversize value"
        );
        // A corrupt txid is an error of the open, naming the field.
        let () = c.hset("big-1$txid", "commit", "minus one").unwrap();
        let e = RedisProvider::new(server.config())
            .unwrap()
            .open("big-1")
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("'commit'"), "{e}");
    }

    #[test]
    fn a_dropped_connection_is_reopened_by_the_next_command() {
        let server = RedisServer::start();
        let mut s = RedisProvider::new(server.config())
            .unwrap()
            .open("re-1")
            .unwrap();
        s.put(b"a".to_vec(), b"1".to_vec()).unwrap();
        s.prepare_commit(1).unwrap();
        let killed: i64 = ::redis::cmd("CLIENT")
            .arg("KILL")
            .arg("SKIPME")
            .arg("yes")
            .query(&mut server.client())
            .unwrap();
        assert!(killed >= 1);
        // The first command may see the closed connection; the next reconnects.
        let first = s.commit(1);
        if first.is_err() {
            s.commit(1).unwrap();
        }
        assert_eq!(s.get(b"a").unwrap().as_deref(), Some(b"1".as_slice()));
    }

    /// Top-level script calls the server has run (each one a round trip).
    fn script_calls(c: &mut ::redis::Connection) -> u64 {
        let info: String = ::redis::cmd("INFO").arg("commandstats").query(c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    }

    #[test]
    fn keys_of_the_last_commit_are_read_back_without_a_round_trip() {
        let server = RedisServer::start();
        let mut s = RedisProvider::new(server.config())
            .unwrap()
            .open("hot-1")
            .unwrap();
        s.put(b"old".to_vec(), b"0".to_vec()).unwrap();
        s.put(b"cold".to_vec(), b"0".to_vec()).unwrap();
        s.prepare_commit(1).unwrap();
        s.commit(1).unwrap();
        s.put(b"hot".to_vec(), b"1".to_vec()).unwrap();
        s.delete(b"old".to_vec()).unwrap();
        s.prepare_commit(2).unwrap();
        s.commit(2).unwrap();
        let mut c = server.client();
        let before = script_calls(&mut c);
        assert_eq!(s.get(b"hot").unwrap().as_deref(), Some(b"1".as_slice()));
        assert_eq!(s.get(b"old").unwrap(), None, "deleted by the last commit");
        assert_eq!(script_calls(&mut c), before, "answered from memory");
        // A key the last commit did not write is read from the server.
        assert_eq!(s.get(b"cold").unwrap().as_deref(), Some(b"0".as_slice()));
        assert_eq!(script_calls(&mut c), before + 1);
        // A rollback leaves the committed data as it was, and so what is read.
        s.put(b"hot".to_vec(), b"2".to_vec()).unwrap();
        s.prepare_commit(3).unwrap();
        s.rollback().unwrap();
        assert_eq!(s.get(b"hot").unwrap().as_deref(), Some(b"1".as_slice()));
        let stored: Option<String> = c.hget("hot-1", "hot").unwrap();
        assert_eq!(stored.as_deref(), Some("1"));
        // A state opened anew knows no last commit: it reads the server, which agrees.
        let again = RedisProvider::new(server.config())
            .unwrap()
            .open("hot-1")
            .unwrap();
        let before = script_calls(&mut c);
        assert_eq!(again.get(b"hot").unwrap().as_deref(), Some(b"1".as_slice()));
        assert_eq!(script_calls(&mut c), before + 1);
    }

    #[test]
    fn a_typed_state_from_storms_config_reaches_the_server() {
        let server = RedisServer::start();
        let json = format!(
            r#"{{"keyClass": "java.lang.String", "jedisPoolConfig": {{"host": "127.0.0.1",
                "port": {}, "password": "{}", "timeout": 3000}}}}"#,
            server.port, server.password
        );
        let config = ProviderConfig::parse(
            Some("org.apache.storm.redis.state.RedisKeyValueStateProvider"),
            Some(&json),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let provider = config.provider(dir.path()).unwrap();
        let mut words: KeyValueState<String, u64> =
            KeyValueState::new(provider.open("words-3").unwrap());
        words.put(&"storm".into(), &2).unwrap();
        words.prepare_commit(1).unwrap();
        words.commit(1).unwrap();
        let words: KeyValueState<String, u64> =
            KeyValueState::new(provider.open("words-3").unwrap());
        assert_eq!(words.get_or(&"storm".into(), 0).unwrap(), 2);
        let raw: Option<String> = server.client().hget("words-3", "\"storm\"").unwrap();
        assert_eq!(raw.as_deref(), Some("2"), "serde_json keys and values");
    }
}

mod redb_files {
    use super::*;

    #[test]
    fn one_file_per_namespace_shared_by_opens_in_one_process() {
        let dir = tempfile::tempdir().unwrap();
        let provider = RedbProvider::new(dir.path().join("state"));
        let mut a = provider.open("$checkpointspout-1").unwrap();
        let b = provider.open("$checkpointspout-1").unwrap();
        a.put(b"__state".to_vec(), b"x".to_vec()).unwrap();
        a.prepare_commit(1).unwrap();
        a.commit(1).unwrap();
        assert_eq!(b.get(b"__state").unwrap().as_deref(), Some(b"x".as_slice()));
        let path = provider.path_of("$checkpointspout-1").unwrap();
        assert_eq!(path, dir.path().join("state/%24checkpointspout-1.redb"));
        assert!(path.is_file());
        assert!(provider.open("").is_err());
    }
}
