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
