//! Opening a task's state from its topology's config: `topology.state.provider` and
//! `topology.state.provider.config` name the provider; one redb or Redis provider is kept
//! per process and config (a redb file is opened once per process); a memory state is
//! new and empty each time it is opened, as Storm's. Also the checkpoint spout's store over the
//! same provider, so its transaction survives a restart exactly as the bolts' states do.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::bolt::OpenState;
use super::checkpoint::SPOUT_STATE_KEY;
use super::checkpoint::spout::TxStoreOpener;
use super::checkpoint::spout_state::{TxState, TxStateStore};
use super::config::ProviderConfig;
use super::kv::KeyValueState;
use super::provider::StateProvider;
use super::{State, StateError};
use crate::api::context::TopologyContext;
use crate::topology::config::TOPOLOGY_STATE_DIR;

/// Providers made so far in this process, by config and state directory.
type Providers = Vec<(ProviderConfig, PathBuf, Arc<dyn StateProvider>)>;

fn providers() -> &'static Mutex<Providers> {
    static PROVIDERS: OnceLock<Mutex<Providers>> = OnceLock::new();
    PROVIDERS.get_or_init(|| Mutex::new(Vec::new()))
}

/// The directory a redb provider keeps its files in when its config gives no absolute
/// `path`: `topology.state.dir` (which the supervisor sets on a cluster), else
/// [`default_state_dir`].
pub fn state_dir(ctx: &TopologyContext) -> PathBuf {
    match ctx.config().get_str(TOPOLOGY_STATE_DIR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => default_state_dir(ctx.topology_name()),
    }
}

/// The state directory in local mode: `$TMPDIR/squall-state/<topology name>`
/// (host-local, as redb state is).
pub fn default_state_dir(topology: &str) -> PathBuf {
    let safe: String = topology
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    std::env::temp_dir().join("squall-state").join(safe)
}

/// The provider `ctx`'s topology config names (made once per process, but for memory).
pub fn provider_for(ctx: &TopologyContext) -> Result<Arc<dyn StateProvider>, StateError> {
    let config = ProviderConfig::from_config(ctx.config())?;
    let dir = state_dir(ctx);
    if config == ProviderConfig::Memory {
        // As Storm's in-memory provider: every state opened is new and empty, so two
        // topologies (or tests) in one process never share one.
        return config.provider(&dir);
    }
    let mut made = providers()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, _, p)) = made.iter().find(|(c, d, _)| *c == config && *d == dir) {
        return Ok(p.clone());
    }
    let provider = config.provider(&dir)?;
    made.push((config, dir, provider.clone()));
    Ok(provider)
}

impl<K, V> OpenState for KeyValueState<K, V>
where
    K: Serialize + DeserializeOwned + 'static,
    V: Serialize + DeserializeOwned + 'static,
{
    fn open(ctx: &TopologyContext, namespace: &str) -> Result<Self, StateError> {
        Ok(KeyValueState::new(provider_for(ctx)?.open(namespace)?))
    }
}

/// Key of the count of saves of the checkpoint spout's state (the txid of each save's
/// commit, so it keeps growing across restarts).
const SAVES_KEY: &str = "__saves";

/// The checkpoint spout's [`TxStateStore`] in a key-value state of the provider.
struct KvTxStore {
    state: KeyValueState<String, serde_json::Value>,
    saves: u64,
}

impl TxStateStore for KvTxStore {
    fn load(&mut self) -> Result<Option<TxState>, StateError> {
        match self.state.get(&SPOUT_STATE_KEY.to_string())? {
            None => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| StateError::Codec {
                    namespace: self.state.namespace().to_string(),
                    action: "decode",
                    what: "value",
                    message: e.to_string(),
                }),
        }
    }

    fn save(&mut self, tx: TxState) -> Result<(), StateError> {
        let n = self.saves + 1;
        let value = serde_json::to_value(tx).map_err(|e| StateError::Codec {
            namespace: self.state.namespace().to_string(),
            action: "encode",
            what: "value",
            message: e.to_string(),
        })?;
        self.state.put(&SPOUT_STATE_KEY.to_string(), &value)?;
        self.state
            .put(&SAVES_KEY.to_string(), &serde_json::Value::from(n))?;
        self.state.prepare_commit(n)?;
        self.state.commit(n)?;
        self.saves = n;
        Ok(())
    }
}

/// Opens the checkpoint spout's store in the topology's provider.
pub fn provider_tx_opener() -> TxStoreOpener {
    Arc::new(|ctx: &TopologyContext, namespace: &str| {
        let state: KeyValueState<String, serde_json::Value> =
            KeyValueState::new(provider_for(ctx)?.open(namespace)?);
        let saves = state
            .get(&SAVES_KEY.to_string())?
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        Ok(Box::new(KvTxStore { state, saves }) as Box<dyn TxStateStore>)
    })
}
