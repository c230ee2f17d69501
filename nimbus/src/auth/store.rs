//! The token store: one record per token (name, role, id, SHA-256 of the secret,
//! creation time, the supervisor id a supervisor token is bound to), in
//! `DATA/tokens.json` (mode 0600).
//!
//! Why a file of its own and not a table of `nimbus.redb`: every request reads the
//! store, and the cluster state's lock is held across database commits (fsyncs): a
//! separate store keeps authentication off that lock; the records are few and written
//! rarely (create, revoke, a supervisor's first heartbeat), so a whole-file rewrite
//! (temp file, fsync, rename) is cheap and atomic; and the file's mode keeps even the
//! hashes from other local users.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use squall_runtime::cluster::auth::credentials::{ADMIN_TOKEN_FILE, write_new_file};
use squall_runtime::cluster::auth::token::{Role, Token, hash_matches};
use squall_runtime::cluster::protocol::tokens::{TokenView, check_token_name};

use crate::error::{ClusterError, StoreError};

/// The store's file name in the data directory.
pub const TOKENS_FILE: &str = "tokens.json";
/// The admin token made at first start.
pub const ADMIN_NAME: &str = "admin";
/// Most live tokens.
pub const MAX_TOKENS: usize = 10_000;
/// Largest store file read.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// One token, as stored: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Name (unique).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Id (unique).
    pub id: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The supervisor id a supervisor token is bound to (at its first heartbeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor_id: Option<String>,
}

impl TokenRecord {
    /// The record as listed.
    pub fn view(&self) -> TokenView {
        TokenView {
            name: self.name.clone(),
            role: self.role,
            id: self.id.clone(),
            created_at: self.created_at,
            supervisor_id: self.supervisor_id.clone(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    tokens: Vec<TokenRecord>,
}

/// The tokens, by id, and where they are stored.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    records: Mutex<BTreeMap<String, TokenRecord>>,
}

/// What a supervisor token's heartbeat for `supervisor_id` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// The token is bound to this id (now or before).
    Bound,
    /// The token is bound to another supervisor id.
    BoundElsewhere(String),
    /// The id is bound to another token (its name).
    IdTaken(String),
}

impl TokenStore {
    /// Read the store in `dir` (empty if there is none yet).
    pub fn open(dir: &Path) -> Result<TokenStore, StoreError> {
        let path = dir.join(TOKENS_FILE);
        let mut records = BTreeMap::new();
        match std::fs::metadata(&path) {
            Ok(meta) if meta.len() > MAX_FILE_BYTES => {
                return Err(StoreError::Io {
                    path,
                    source: std::io::Error::other(format!("larger than {MAX_FILE_BYTES} bytes")),
                });
            }
            Ok(_) => {
                let text = std::fs::read(&path).map_err(|source| StoreError::Io {
                    path: path.clone(),
                    source,
                })?;
                let file: File =
                    serde_json::from_slice(&text).map_err(|source| StoreError::Decode {
                        what: path.display().to_string(),
                        source,
                    })?;
                for r in file.tokens {
                    records.insert(r.id.clone(), r);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::Io { path, source }),
        }
        Ok(TokenStore {
            path,
            records: Mutex::new(records),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, TokenRecord>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Make the admin token if the store has none: its text (the join form with
    /// `ca_pin`, when nimbus has a CA) goes to `DATA/admin.token` (mode 0600). Logs where
    /// the admin token is (never the token).
    pub fn ensure_admin(
        &self,
        dir: &Path,
        now_secs: u64,
        ca_pin: Option<[u8; 32]>,
    ) -> Result<(), StoreError> {
        let path = dir.join(ADMIN_TOKEN_FILE);
        let has_admin = self.lock().values().any(|r| r.name == ADMIN_NAME);
        if has_admin {
            if path.exists() {
                tracing::info!(admin_token = %path.display(),
                    "token authentication on; the admin token is in this file");
            } else {
                tracing::warn!(admin_token = %path.display(),
                    "token authentication on; the admin token file was removed (the token \
                     stays valid): keep the token elsewhere, or revoke it with another admin \
                     token");
            }
            return Ok(());
        }
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        // A file left by a start that failed before storing its record is stale.
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let mut token = Token::generate().map_err(|e| io(std::io::Error::other(e)))?;
        token.pin = ca_pin;
        write_new_file(&path, &token).map_err(io)?;
        self.insert(ADMIN_NAME, Role::Admin, &token, now_secs)
            .map_err(|e| match e {
                ClusterError::Store(s) => s,
                other => io(std::io::Error::other(other.to_string())),
            })?;
        tracing::info!(admin_token = %path.display(),
            "token authentication on; admin token created in this file (mode 0600)");
        Ok(())
    }

    /// Make a token of `role` named `name`; the token (its text is shown once).
    pub fn create(&self, name: &str, role: Role, now_secs: u64) -> Result<Token, ClusterError> {
        check_token_name(name).map_err(ClusterError::bad_request)?;
        let token = Token::generate().map_err(|e| ClusterError::Internal(e.to_string()))?;
        self.insert(name, role, &token, now_secs)?;
        Ok(token)
    }

    fn insert(&self, name: &str, role: Role, token: &Token, now: u64) -> Result<(), ClusterError> {
        let mut records = self.lock();
        if records.values().any(|r| r.name == name) {
            return Err(ClusterError::Conflict(format!(
                "a token named '{name}' exists; revoke it first or choose another name"
            )));
        }
        if records.len() >= MAX_TOKENS {
            return Err(ClusterError::Conflict(format!(
                "nimbus holds {MAX_TOKENS} tokens, its limit; revoke some first"
            )));
        }
        let mut next = records.clone();
        next.insert(
            token.id.clone(),
            TokenRecord {
                name: name.to_string(),
                role,
                id: token.id.clone(),
                hash: hex::encode(token.secret_hash()),
                created_at: now,
                supervisor_id: None,
            },
        );
        self.persist(&next)?;
        *records = next;
        Ok(())
    }

    /// The record `token` authenticates as: its id is known and its secret hashes to the
    /// stored hash (compared in constant time).
    pub fn authenticate(&self, token: &Token) -> Option<TokenRecord> {
        let records = self.lock();
        let record = records.get(&token.id)?;
        let mut stored = [0u8; 32];
        hex::decode_to_slice(&record.hash, &mut stored).ok()?;
        hash_matches(token, &stored).then(|| record.clone())
    }

    /// Every token, by name.
    pub fn list(&self) -> Vec<TokenView> {
        let mut views: Vec<TokenView> = self.lock().values().map(TokenRecord::view).collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        views
    }

    /// Revoke the token named `name`; the revoked record. The last admin token cannot
    /// be revoked (nobody could manage tokens after it).
    pub fn revoke(&self, name: &str) -> Result<TokenRecord, ClusterError> {
        let mut records = self.lock();
        let Some(record) = records.values().find(|r| r.name == name).cloned() else {
            return Err(ClusterError::bad_request(format!(
                "no token named '{name}' (see `squall token list`)"
            )));
        };
        let admins = records.values().filter(|r| r.role == Role::Admin).count();
        if record.role == Role::Admin && admins <= 1 {
            return Err(ClusterError::Conflict(format!(
                "'{name}' is the last admin token; create another admin token before revoking it"
            )));
        }
        let mut next = records.clone();
        next.remove(&record.id);
        self.persist(&next)?;
        *records = next;
        Ok(record)
    }

    /// Check (and on first use make) the binding of supervisor token `token_id` to
    /// `supervisor_id`: a token serves one supervisor id, an id one token.
    pub fn bind_supervisor(
        &self,
        token_id: &str,
        supervisor_id: &str,
    ) -> Result<Binding, ClusterError> {
        let mut records = self.lock();
        let Some(record) = records.get(token_id) else {
            return Err(ClusterError::Unauthorized("the token was revoked".into()));
        };
        match &record.supervisor_id {
            Some(bound) if bound == supervisor_id => return Ok(Binding::Bound),
            Some(bound) => return Ok(Binding::BoundElsewhere(bound.clone())),
            None => {}
        }
        if let Some(other) = records
            .values()
            .find(|r| r.supervisor_id.as_deref() == Some(supervisor_id))
        {
            return Ok(Binding::IdTaken(other.name.clone()));
        }
        let mut next = records.clone();
        if let Some(r) = next.get_mut(token_id) {
            r.supervisor_id = Some(supervisor_id.to_string());
        }
        self.persist(&next)?;
        *records = next;
        tracing::info!(supervisor = %supervisor_id, token_id = %token_id,
            "supervisor token bound to its supervisor id");
        Ok(Binding::Bound)
    }

    /// Write `records` whole: a temp file (0600), fsync, rename over the store, fsync
    /// of the directory.
    fn persist(&self, records: &BTreeMap<String, TokenRecord>) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        let file = File {
            tokens: records.values().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|source| StoreError::Encode {
            what: "the token store".into(),
            source,
        })?;
        squall_runtime::cluster::private_file::replace(&self.path, &bytes, 0o600).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn tokens_survive_a_reopen_and_only_hashes_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path()).unwrap();
        store.ensure_admin(dir.path(), 1, None).unwrap();
        let t = store.create("dep", Role::Deployer, 2).unwrap();
        let text = std::fs::read_to_string(dir.path().join(TOKENS_FILE)).unwrap();
        assert!(!text.contains(&t.to_text().expose()[25..]), "{text}");
        for f in [TOKENS_FILE, ADMIN_TOKEN_FILE] {
            let mode = std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let again = TokenStore::open(dir.path()).unwrap();
        assert_eq!(again.authenticate(&t).unwrap().name, "dep");
        let admin = squall_runtime::cluster::auth::credentials::read_file(
            &dir.path().join(ADMIN_TOKEN_FILE),
            "test",
        )
        .unwrap();
        assert_eq!(again.authenticate(&admin).unwrap().role, Role::Admin);
        let forged = Token {
            id: t.id.clone(),
            ..Token::generate().unwrap()
        };
        assert!(again.authenticate(&forged).is_none());
        again.revoke("dep").unwrap();
        assert!(
            TokenStore::open(dir.path())
                .unwrap()
                .authenticate(&t)
                .is_none()
        );
        assert!(again.revoke(ADMIN_NAME).is_err(), "the last admin stays");
    }

    #[test]
    fn with_a_ca_pin_the_admin_token_is_written_in_the_join_form() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path()).unwrap();
        store.ensure_admin(dir.path(), 1, Some([9; 32])).unwrap();
        let admin = squall_runtime::cluster::auth::credentials::read_file(
            &dir.path().join(ADMIN_TOKEN_FILE),
            "test",
        )
        .unwrap();
        assert_eq!(admin.pin, Some([9; 32]));
        assert_eq!(store.authenticate(&admin).unwrap().name, ADMIN_NAME);
    }

    #[test]
    fn a_supervisor_token_binds_to_one_id_and_an_id_to_one_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path()).unwrap();
        let a = store.create("sa", Role::Supervisor, 1).unwrap();
        let b = store.create("sb", Role::Supervisor, 1).unwrap();
        assert_eq!(store.bind_supervisor(&a.id, "x").unwrap(), Binding::Bound);
        assert_eq!(store.bind_supervisor(&a.id, "x").unwrap(), Binding::Bound);
        assert_eq!(
            store.bind_supervisor(&a.id, "y").unwrap(),
            Binding::BoundElsewhere("x".into())
        );
        assert_eq!(
            store.bind_supervisor(&b.id, "x").unwrap(),
            Binding::IdTaken("sa".into())
        );
        let again = TokenStore::open(dir.path()).unwrap();
        assert_eq!(
            again.bind_supervisor(&b.id, "x").unwrap(),
            Binding::IdTaken("sa".into())
        );
    }
}
