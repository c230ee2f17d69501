//! `/api/v1/tokens` (admin only): create, list and revoke bearer tokens.
//!
//! `POST /api/v1/tokens` with a [`TokenCreateRequest`] answers `201` with a
//! [`TokenCreated`] (the one time the token's text is ever shown); `GET` answers a
//! [`TokenList`] (never secrets); `DELETE /api/v1/tokens/{name}` revokes (answers the
//! revoked [`TokenView`]).

use serde::{Deserialize, Serialize};

use crate::cluster::auth::token::Role;

/// Longest token name.
pub const MAX_TOKEN_NAME: usize = 64;

/// The API path of the token collection.
pub const TOKENS_PATH: &str = "/api/v1/tokens";

/// Make a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreateRequest {
    /// Its name, unique among live tokens (what ACLs and the audit log name).
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Id (the second field of the token's text).
    pub id: String,
    /// When it was made (unix seconds).
    pub created_at: u64,
    /// For a supervisor token: the supervisor id it is bound to (at its first heartbeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor_id: Option<String>,
}

/// A new token: its view and its text, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreated {
    /// The token.
    pub token: TokenView,
    /// Its text (`squall1.<id>.<secret>`, or the join form with the CA pin).
    pub text: String,
}

/// Every live token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenList {
    /// By name.
    pub tokens: Vec<TokenView>,
}

/// Whether `name` is a usable token name: 1 to 64 of `[A-Za-z0-9._-]`.
pub fn check_token_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_TOKEN_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a token name is 1 to {MAX_TOKEN_NAME} characters of letters, digits, '.', '_' and '-'"
        ))
    }
}
