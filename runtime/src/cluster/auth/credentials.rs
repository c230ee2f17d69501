//! Loading a client's token: `--token-file FILE`, else env `SQUALL_TOKEN_FILE`, else env
//! `SQUALL_TOKEN` (the token text itself); the `Authorization` header that carries it;
//! and writing token files (mode 0600 from creation).

use std::io::Read;
use std::path::{Path, PathBuf};

use reqwest::header::HeaderValue;
use thiserror::Error;

use super::token::{MAX_TOKEN_TEXT, Token, TokenParseError};

/// Env variable naming a token file.
pub const TOKEN_FILE_ENV: &str = "SQUALL_TOKEN_FILE";
/// Env variable holding a token's text.
pub const TOKEN_ENV: &str = "SQUALL_TOKEN";
/// The admin token's file name in nimbus's data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Largest token file read (a token is 133 characters at most).
const MAX_TOKEN_FILE: u64 = 4096;

/// How to authenticate, said by every "no token" and 401 message.
pub const HOW_TO_AUTHENTICATE: &str = "pass --token-file FILE, or set SQUALL_TOKEN_FILE=FILE \
     or SQUALL_TOKEN=<token>; nimbus writes an admin token to admin.token in its data \
     directory (e.g. squall-nimbus/admin.token) at its first start, and \
     `squall token create --role R --name N` makes more";

/// A token could not be loaded.
#[derive(Debug, Error)]
pub enum CredentialsError {
    /// No token was given.
    #[error("no {what} token: {HOW_TO_AUTHENTICATE}")]
    Missing {
        /// Whose token (e.g. "client", "supervisor").
        what: &'static str,
    },
    /// The token file could not be read.
    #[error("cannot read the token file {path} ({source_of}): {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Where its name came from (`--token-file` or `SQUALL_TOKEN_FILE`).
        source_of: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The token text is malformed (the text itself is never shown).
    #[error("the token in {origin} is not usable: {error}")]
    Malformed {
        /// Where it came from (a file name or `SQUALL_TOKEN`).
        origin: String,
        /// What is wrong with it.
        error: TokenParseError,
    },
}

/// Load the token: `file` (a `--token-file` flag) if given, else the file env
/// `SQUALL_TOKEN_FILE` names, else env `SQUALL_TOKEN`. `what` names the token in the
/// error when there is none ("client", "supervisor").
pub fn load(file: Option<&Path>, what: &'static str) -> Result<Token, CredentialsError> {
    let env_file = std::env::var_os(TOKEN_FILE_ENV).filter(|v| !v.is_empty());
    if let Some(path) = file {
        return read_file(path, "--token-file");
    }
    if let Some(path) = env_file {
        return read_file(Path::new(&path), TOKEN_FILE_ENV);
    }
    match std::env::var(TOKEN_ENV) {
        Ok(text) if !text.trim().is_empty() => {
            Token::parse(&text).map_err(|error| CredentialsError::Malformed {
                origin: TOKEN_ENV.to_string(),
                error,
            })
        }
        _ => Err(CredentialsError::Missing { what }),
    }
}

/// Read a token file (at most 4 KiB are read).
pub fn read_file(path: &Path, source_of: &'static str) -> Result<Token, CredentialsError> {
    let err = |source| CredentialsError::File {
        path: path.to_path_buf(),
        source_of,
        source,
    };
    let file = std::fs::File::open(path).map_err(err)?;
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE)
        .read_to_string(&mut text)
        .map_err(err)?;
    if text.trim().len() > MAX_TOKEN_TEXT {
        return Err(CredentialsError::Malformed {
            origin: path.display().to_string(),
            error: TokenParseError::too_long(),
        });
    }
    Token::parse(&text).map_err(|error| CredentialsError::Malformed {
        origin: path.display().to_string(),
        error,
    })
}

/// Write `token` to a new file `path` (its text and a newline), created with mode 0600;
/// refuses to overwrite an existing file.
pub fn write_new_file(path: &Path, token: &Token) -> std::io::Result<()> {
    write_secret_file(path, format!("{}\n", token.to_text().expose()).as_bytes())
}

/// Create `path` with mode 0600 (from creation, never chmod'ed after), write `bytes`
/// and sync; refuses to overwrite an existing file.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::cluster::private_file::create_new(path, bytes, 0o600)
}

/// The `Authorization: Bearer <token>` header value, marked sensitive (left out of
/// debug output by the HTTP stack).
pub fn bearer(token: &Token) -> HeaderValue {
    let text = format!("Bearer {}", token.to_text().expose());
    // A token's text is ASCII letters, digits, '.', '-' and '_': always a valid value.
    let mut value = HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_token_file_is_0600_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.token");
        let t = Token::generate().unwrap();
        write_new_file(&path, &t).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_file(&path, "--token-file").unwrap(), t);
        assert_eq!(load(Some(&path), "client").unwrap(), t);
        assert!(write_new_file(&path, &t).is_err(), "never overwritten");
    }

    #[test]
    fn a_bad_file_says_which_and_never_echoes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.token");
        std::fs::write(&path, "squall1.zzzz.hunter2hunter2").unwrap();
        let e = read_file(&path, "--token-file").unwrap_err().to_string();
        assert!(e.contains("bad.token"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let missing = read_file(&dir.path().join("none"), "SQUALL_TOKEN_FILE")
            .unwrap_err()
            .to_string();
        assert!(missing.contains("SQUALL_TOKEN_FILE"), "{missing}");
    }

    #[test]
    fn the_missing_token_message_says_how() {
        let e = CredentialsError::Missing { what: "client" }.to_string();
        for needle in [
            "--token-file",
            "SQUALL_TOKEN_FILE",
            "SQUALL_TOKEN=",
            "admin.token",
        ] {
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn the_bearer_header_is_sensitive() {
        let t = Token::generate().unwrap();
        let v = bearer(&t);
        assert!(v.is_sensitive());
        assert!(v.to_str().unwrap().starts_with("Bearer squall1."));
    }
}
