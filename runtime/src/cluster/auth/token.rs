//! Bearer tokens: their text (`squall1.<id>.<secret>`, or the join form
//! `squall1.<id>.<secret>.<pin>`), roles, and the [`Secret`] newtype that never prints.
//!
//! - `id`: 16 lowercase hex characters (8 random bytes): names the record at nimbus;
//! - `secret`: 43 characters of unpadded base64url (32 random bytes from the OS RNG);
//! - `pin`: 64 lowercase hex characters, the SHA-256 of the cluster CA certificate's DER.
//!
//! Nimbus stores only [`Token::secret_hash`] (SHA-256 of the secret's bytes) by id and
//! compares it in constant time ([`hash_matches`]). A parse error never echoes the text.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The first field of every token's text (the format's version).
pub const TOKEN_PREFIX: &str = "squall1";
/// Bytes of a token's id.
pub const ID_BYTES: usize = 8;
/// Bytes of a token's secret.
pub const SECRET_BYTES: usize = 32;
/// Longest token text accepted (the join form is 133 characters); longer text is refused
/// before it is looked at.
pub const MAX_TOKEN_TEXT: usize = 256;

/// A value that must never be printed: `Debug` and `Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wrap a secret value.
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// The value, for the one place that needs it (hashing, sending).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, on every topology; manages tokens.
    Admin,
    /// Submits topologies and acts on its own (and those whose `topology.users` name it).
    Deployer,
    /// Reads only.
    Viewer,
    /// A supervisor: heartbeats (for the one supervisor id it is bound to) and artifact
    /// downloads.
    Supervisor,
}

impl Role {
    /// Every role, in the order help texts list them.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Deployer, Role::Viewer, Role::Supervisor];

    /// The role's name (`admin`, `deployer`, `viewer`, `supervisor`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Deployer => "deployer",
            Role::Viewer => "viewer",
            Role::Supervisor => "supervisor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                let shown: String = s.chars().take(32).collect();
                format!(
                    "unknown role '{shown}': expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Token text that is not a token. The message never contains the text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed token: {0} (expected squall1.<16 hex id>.<43 base64url secret>[.<64 hex pin>])")]
pub struct TokenParseError(&'static str);

impl TokenParseError {
    /// The error of text longer than [`MAX_TOKEN_TEXT`].
    pub fn too_long() -> TokenParseError {
        TokenParseError("too long")
    }
}

/// Making a token's randomness failed (the OS RNG is unavailable).
#[derive(Debug, Error)]
#[error("cannot read random bytes from the operating system: {0}")]
pub struct RandomError(String);

/// A bearer token: id, secret and, in the join form, the cluster CA's pin.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The record's id (16 lowercase hex characters).
    pub id: String,
    /// The secret's 32 bytes.
    pub secret: Secret<[u8; SECRET_BYTES]>,
    /// SHA-256 of the cluster CA certificate's DER (join tokens only).
    pub pin: Option<[u8; 32]>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .field("pin", &self.pin.map(hex::encode))
            .finish()
    }
}

/// `n` random bytes from the OS RNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|e| RandomError(e.to_string()))?;
    Ok(buf)
}

impl Token {
    /// A fresh token: a random id and secret from the OS RNG, no pin.
    pub fn generate() -> Result<Token, RandomError> {
        Ok(Token {
            id: hex::encode(random_bytes::<ID_BYTES>()?),
            secret: Secret::new(random_bytes::<SECRET_BYTES>()?),
            pin: None,
        })
    }

    /// Parse token text (surrounding whitespace, e.g. a file's newline, is ignored).
    pub fn parse(text: &str) -> Result<Token, TokenParseError> {
        let text = text.trim();
        if text.len() > MAX_TOKEN_TEXT {
            return Err(TokenParseError("too long"));
        }
        let mut parts = text.split('.');
        if parts.next() != Some(TOKEN_PREFIX) {
            return Err(TokenParseError("it does not start with squall1."));
        }
        let id = parts.next().ok_or(TokenParseError("no id"))?;
        if id.len() != 2 * ID_BYTES || !is_lower_hex(id) {
            return Err(TokenParseError("the id is not 16 lowercase hex characters"));
        }
        let secret = parts.next().ok_or(TokenParseError("no secret"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(secret)
            .map_err(|_| TokenParseError("the secret is not base64url"))?;
        let secret: [u8; SECRET_BYTES] = bytes
            .try_into()
            .map_err(|_| TokenParseError("the secret is not 32 bytes"))?;
        let pin = match parts.next() {
            None => None,
            Some(p) => {
                if p.len() != 64 || !is_lower_hex(p) {
                    return Err(TokenParseError(
                        "the pin is not 64 lowercase hex characters",
                    ));
                }
                let mut pin = [0u8; 32];
                hex::decode_to_slice(p, &mut pin)
                    .map_err(|_| TokenParseError("the pin is not hex"))?;
                Some(pin)
            }
        };
        if parts.next().is_some() {
            return Err(TokenParseError("too many fields"));
        }
        Ok(Token {
            id: id.to_string(),
            secret: Secret::new(secret),
            pin,
        })
    }

    /// The token's text, as a token file holds it (without the newline). It contains the
    /// secret: write it only where the token belongs.
    pub fn to_text(&self) -> Secret<String> {
        let mut text = format!(
            "{TOKEN_PREFIX}.{}.{}",
            self.id,
            URL_SAFE_NO_PAD.encode(self.secret.expose())
        );
        if let Some(pin) = &self.pin {
            text.push('.');
            text.push_str(&hex::encode(pin));
        }
        Secret::new(text)
    }

    /// SHA-256 of the secret's bytes: what nimbus stores.
    pub fn secret_hash(&self) -> [u8; 32] {
        Sha256::digest(self.secret.expose()).into()
    }
}

/// Whether `token`'s secret hashes to `stored`, compared in constant time.
pub fn hash_matches(token: &Token, stored: &[u8; 32]) -> bool {
    token.secret_hash().ct_eq(stored).into()
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_round_trips_and_has_the_contract_shape() {
        let t = Token::generate().unwrap();
        let text = t.to_text();
        let parts: Vec<&str> = text.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].len(), 16);
        assert_eq!(parts[2].len(), 43);
        assert_eq!(Token::parse(&format!("{}\n", text.expose())).unwrap(), t);
        let joined = Token {
            pin: Some([7; 32]),
            ..t.clone()
        };
        let jt = joined.to_text();
        assert_eq!(jt.expose().len(), 133);
        assert_eq!(Token::parse(jt.expose()).unwrap(), joined);
    }

    #[test]
    fn secrets_never_print() {
        let t = Token::generate().unwrap();
        let text = t.to_text();
        let secret_part = text.expose().rsplit('.').next().unwrap().to_string();
        for shown in [format!("{t:?}"), format!("{text}"), format!("{text:?}")] {
            assert!(!shown.contains(&secret_part), "{shown}");
        }
        assert!(format!("{t:?}").contains("<redacted>"));
    }

    #[test]
    fn bad_text_is_refused_without_echoing_it() {
        let t = Token::generate().unwrap();
        let good = t.to_text().expose().clone();
        for bad in [
            "".to_string(),
            "squall2.0011223344556677.x".to_string(),
            good.replacen("squall1.", "squall1.G", 1),
            format!("{good}.zz"),
            format!("{good}.{}.x", "a".repeat(64)),
            good[..good.len() - 1].to_string(),
            "x".repeat(10_000),
        ] {
            let e = Token::parse(&bad).unwrap_err().to_string();
            assert!(!e.contains(&good[25..]), "{e}");
        }
    }

    #[test]
    fn hashes_compare_by_secret() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert!(hash_matches(&a, &a.secret_hash()));
        assert!(!hash_matches(&b, &a.secret_hash()));
    }

    #[test]
    fn roles_parse_by_name() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().unwrap_err().contains("deployer"));
    }
}
