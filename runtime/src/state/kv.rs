//! The typed key-value state a stateful bolt reads and writes (Storm's
//! `KeyValueState<K, V>`), over a provider's byte-level [`KvBackend`]; keys and values
//! are encoded with `serde_json`.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::provider::KvBackend;
use super::{State, StateError};

/// A key-value state of a namespace. Writes are pending until the checkpoint commits
/// them; reads see pending writes first, then what is prepared, then what is committed.
///
/// # Examples
///
/// ```
/// use squall_runtime::state::{State, kv::KeyValueState};
/// use squall_runtime::state::provider::{StateProvider, memory::MemoryProvider};
///
/// let provider = MemoryProvider::new();
/// let mut counts: KeyValueState<String, u64> =
///     KeyValueState::new(provider.open("count-1").unwrap());
/// counts.put(&"storm".to_string(), &3).unwrap();
/// counts.prepare_commit(1).unwrap();
/// counts.commit(1).unwrap();
/// assert_eq!(counts.get_or(&"storm".to_string(), 0).unwrap(), 3);
/// assert_eq!(counts.get_or(&"rust".to_string(), 0).unwrap(), 0);
/// ```
pub struct KeyValueState<K, V> {
    backend: Box<dyn KvBackend>,
    // `fn() -> (K, V)`: the state holds no K or V, so it is `Send` whatever they are.
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for KeyValueState<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValueState")
            .field("namespace", &self.backend.namespace())
            .finish()
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> KeyValueState<K, V> {
    /// The typed view of `backend`.
    pub fn new(backend: Box<dyn KvBackend>) -> KeyValueState<K, V> {
        KeyValueState {
            backend,
            types: PhantomData,
        }
    }

    /// The state's namespace.
    pub fn namespace(&self) -> &str {
        self.backend.namespace()
    }

    /// The byte-level backend.
    pub fn into_backend(self) -> Box<dyn KvBackend> {
        self.backend
    }

    /// Set `key` to `value`.
    pub fn put(&mut self, key: &K, value: &V) -> Result<(), StateError> {
        let k = self.encode("key", key)?;
        let v = self.encode("value", value)?;
        self.backend.put(k, v)
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: &K) -> Result<Option<V>, StateError> {
        let k = self.encode("key", key)?;
        self.backend
            .get(&k)?
            .map(|v| self.decode("value", &v))
            .transpose()
    }

    /// The value of `key`, or `default` when it has none (Storm's `get(key, default)`).
    pub fn get_or(&self, key: &K, default: V) -> Result<V, StateError> {
        Ok(self.get(key)?.unwrap_or(default))
    }

    /// Remove `key`.
    pub fn delete(&mut self, key: &K) -> Result<(), StateError> {
        let k = self.encode("key", key)?;
        self.backend.delete(k)
    }

    /// Every entry as [`KeyValueState::get`] sees it, in no particular order.
    pub fn iter(
        &self,
    ) -> Result<impl Iterator<Item = Result<(K, V), StateError>> + '_, StateError> {
        Ok(self.backend.iterate()?.map(move |entry| {
            let (k, v) = entry?;
            Ok((self.decode("key", &k)?, self.decode("value", &v)?))
        }))
    }

    fn encode<T: Serialize>(&self, what: &'static str, x: &T) -> Result<Vec<u8>, StateError> {
        serde_json::to_vec(x).map_err(|e| StateError::Codec {
            namespace: self.namespace().to_string(),
            action: "encode",
            what,
            message: e.to_string(),
        })
    }

    fn decode<T: DeserializeOwned>(
        &self,
        what: &'static str,
        bytes: &[u8],
    ) -> Result<T, StateError> {
        serde_json::from_slice(bytes).map_err(|e| StateError::Codec {
            namespace: self.namespace().to_string(),
            action: "decode",
            what,
            message: e.to_string(),
        })
    }
}

impl<K, V> State for KeyValueState<K, V> {
    fn prepare_commit(&mut self, txid: u64) -> Result<(), StateError> {
        self.backend.prepare_commit(txid)
    }

    fn commit(&mut self, txid: u64) -> Result<(), StateError> {
        self.backend.commit(txid)
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        self.backend.rollback()
    }

    fn init(&mut self, checkpoint: Option<u64>) -> Result<(), StateError> {
        self.backend.init(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::collections::BTreeMap;

    use super::*;
    use crate::state::provider::StateProvider;
    use crate::state::provider::memory::MemoryProvider;

    #[test]
    fn typed_values_round_trip_and_iterate_over_every_layer() {
        let provider = MemoryProvider::new();
        let mut s: KeyValueState<(String, u32), Vec<f64>> =
            KeyValueState::new(provider.open("typed-1").unwrap());
        s.put(&("a".into(), 1), &vec![1.5]).unwrap();
        s.put(&("b".into(), 2), &vec![]).unwrap();
        s.prepare_commit(1).unwrap();
        s.commit(1).unwrap();
        s.put(&("c".into(), 3), &vec![3.0]).unwrap();
        s.prepare_commit(2).unwrap();
        s.delete(&("b".into(), 2)).unwrap();
        s.put(&("a".into(), 1), &vec![2.5]).unwrap();
        let all: BTreeMap<_, _> = s.iter().unwrap().map(|e| e.unwrap()).collect();
        let want: BTreeMap<_, _> = [(("a".into(), 1), vec![2.5]), (("c".into(), 3), vec![3.0])]
            .into_iter()
            .collect();
        assert_eq!(all, want);
        assert_eq!(s.get_or(&("b".into(), 2), vec![9.0]).unwrap(), vec![9.0]);
    }

    #[test]
    fn a_value_of_another_type_is_a_codec_error_naming_the_namespace() {
        let provider = MemoryProvider::new();
        let mut s: KeyValueState<String, String> =
            KeyValueState::new(provider.open("words-4").unwrap());
        s.put(&"k".into(), &"not a number".into()).unwrap();
        let n: KeyValueState<String, u64> = KeyValueState::new(s.into_backend());
        let err = n.get(&"k".into()).unwrap_err().to_string();
        assert!(
            err.contains("words-4") && err.contains("decode a value"),
            "{err}"
        );
    }
}
