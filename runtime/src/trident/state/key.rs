//! The byte encoding of a state key (the grouping values of one group).

use super::StateError;
use crate::Value;

/// Encode a key as the compact JSON array of its values (`["the"]`, `["a",1]`).
///
/// The encoding is deterministic: the same values always give the same bytes. Note that
/// `Int(2)` and `Float(2.0)` compare equal as [`Value`]s but encode differently (`2` and
/// `2.0`), so they are different state keys; bytes encode as an array of numbers.
pub fn encode_key(key: &[Value]) -> Result<Vec<u8>, StateError> {
    let json: Vec<serde_json::Value> = key.iter().map(Value::to_json).collect();
    serde_json::to_vec(&json).map_err(|source| StateError::Encode {
        what: "state key".to_string(),
        source,
    })
}

/// Decode a key written by [`encode_key`] back to its JSON values.
pub fn decode_key(bytes: &[u8], store: &str) -> Result<Vec<serde_json::Value>, StateError> {
    serde_json::from_slice(bytes).map_err(|source| StateError::Decode {
        store: store.to_string(),
        what: format!("key {}", String::from_utf8_lossy(bytes)),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_encode_deterministically_and_decode_back() {
        let k = vec![Value::from_static("a"), Value::Int(1)];
        let bytes = encode_key(&k).unwrap();
        assert_eq!(bytes, encode_key(&k.clone()).unwrap());
        assert_eq!(bytes, br#"["a",1]"#);
        assert_eq!(
            decode_key(&bytes, "memory").unwrap(),
            vec![serde_json::json!("a"), serde_json::json!(1)]
        );
        assert!(decode_key(b"not json", "memory").is_err());
    }
}
