//! Reading a state store back for `squall state dump`.

use std::path::Path;

use serde_json::{Map, Value as Json};

use super::key::decode_key;
use super::map::KIND_META;
use super::{Record, RedbBackend, StateBackend, StateError, StateKind};

/// Everything a store holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Dump {
    /// The update rule the store was created with.
    pub kind: StateKind,
    /// Every key with its stored record, in key order.
    pub entries: Vec<(Vec<Json>, Record<Json>)>,
}

/// Read every entry of `backend`.
pub fn read(backend: &dyn StateBackend) -> Result<Dump, StateError> {
    let store = backend.describe();
    let kind = match backend.meta(KIND_META)? {
        None => return Err(StateError::NotAState { store }),
        Some(k) => StateKind::parse(&k).ok_or(StateError::UnknownKind {
            store: store.clone(),
            kind: k,
        })?,
    };
    let mut entries = Vec::new();
    for (k, v) in backend.iter_all()? {
        let key = decode_key(&k, &store)?;
        let record = serde_json::from_slice(&v).map_err(|source| StateError::Decode {
            store: store.clone(),
            what: format!("value of key {}", String::from_utf8_lossy(&k)),
            source,
        })?;
        entries.push((key, record));
    }
    Ok(Dump { kind, entries })
}

/// How a key is shown: its value when it has exactly one (a string without quotes),
/// else the JSON array of its values.
pub fn display_key(key: &[Json]) -> String {
    match key {
        [Json::String(s)] => s.clone(),
        [one] => one.to_string(),
        many => Json::Array(many.to_vec()).to_string(),
    }
}

/// The dump as text. `json`: one JSON object (key → value, or with `raw`
/// `{"kind": K, "entries": {key → {"txid", "val", "prev"}}}`); else one `key: value`
/// line per key (with `raw`, a `kind:` line first and the txid and prev after each value).
pub fn render(dump: &Dump, json: bool, raw: bool) -> String {
    if json {
        let mut obj = Map::new();
        for (k, rec) in &dump.entries {
            let v = if raw {
                serde_json::to_value(rec).unwrap_or(Json::Null)
            } else {
                rec.val.clone()
            };
            obj.insert(display_key(k), v);
        }
        let out = if raw {
            let mut top = Map::new();
            top.insert("kind".into(), Json::String(dump.kind.to_string()));
            top.insert("entries".into(), Json::Object(obj));
            Json::Object(top)
        } else {
            Json::Object(obj)
        };
        return out.to_string();
    }
    let mut out = String::new();
    if raw {
        out.push_str(&format!("kind: {}\n", dump.kind));
    }
    for (k, rec) in &dump.entries {
        out.push_str(&format!("{}: {}", display_key(k), rec.val));
        if raw {
            if let Some(t) = rec.txid {
                out.push_str(&format!("  txid={t}"));
            }
            if dump.kind == StateKind::Opaque {
                let prev = rec
                    .prev
                    .as_ref()
                    .map_or("none".to_string(), Json::to_string);
                out.push_str(&format!("  prev={prev}"));
            }
        }
        out.push('\n');
    }
    out
}

/// `squall state dump`: print the store at `path`; returns the exit code (1 with a
/// message naming the file if it is missing or unreadable).
pub fn run(path: &Path, json: bool, raw: bool) -> i32 {
    let dump = RedbBackend::open_existing(path).and_then(|b| read(&b));
    match dump {
        Ok(d) => {
            let text = render(&d, json, raw);
            if json {
                println!("{text}");
            } else {
                print!("{text}");
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
