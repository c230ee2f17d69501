//! Secrets among client properties: which keys hold one, showing a property map with
//! their values left out, reading a value from a private file (`<key>.file`), and
//! cutting secret values out of a client's error text.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::ConfigError;

/// Keys whose value is a secret (librdkafka's sensitive properties and the Java
/// client's passwords), whatever the heuristic of [`is_secret`] says.
const SECRET_KEYS: &[&str] = &[
    "sasl.username",
    "sasl.password",
    "sasl.jaas.config",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.password",
    "ssl.keystore.key",
    "ssl.truststore.password",
];

/// Words that mark a key as holding a secret (`*.password`, `*.secret`, …).
const SECRET_WORDS: &[&str] = &["password", "secret", "passphrase", "jaas", "credential"];

/// The largest secret file read (a PEM key or a JAAS file is a few KiB).
pub const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Whether `key`'s value is a secret: never logged, never shown in an error, and
/// `<redacted>` in `Debug` output.
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.contains(&key.as_str())
        || SECRET_WORDS.iter().any(|w| key.contains(w))
        || key.ends_with("key.pem")
        || key.ends_with("private.key")
}

/// A property map for `Debug`: every key, secret values as `<redacted>`.
pub struct Redacted<'a>(pub &'a BTreeMap<String, String>);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Hidden;
        impl std::fmt::Debug for Hidden {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("<redacted>")
            }
        }
        let mut m = f.debug_map();
        for (k, v) in self.0 {
            if is_secret(k) {
                m.entry(k, &Hidden);
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

/// Read the value of `key` from `path` (`props.<key>.file`): a regular file of at most
/// [`MAX_SECRET_FILE`] bytes of UTF-8 without NUL bytes, not readable or writable by
/// group or others (mode 0600 or 0400), its trailing line break dropped. Errors name the
/// key and the file, never its content.
pub fn read_file(key: &str, path: &Path) -> Result<String, ConfigError> {
    let prop = format!("props.{key}.file");
    let bad = |reason: String| ConfigError::invalid(&prop, reason);
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open {shown}: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| bad(format!("cannot stat {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(bad(format!("{shown} is not a regular file")));
    }
    private_mode(&prop, path, meta.permissions().mode())?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("cannot read {shown}: {e}")))?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(bad(format!(
            "{shown} is larger than {MAX_SECRET_FILE} bytes"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| bad(format!("{shown} is not UTF-8")))?;
    if text.contains('\0') {
        return Err(bad(format!("{shown} holds a NUL byte")));
    }
    let value = text.trim_end_matches(['\n', '\r']);
    if value.trim().is_empty() {
        return Err(bad(format!("{shown} is empty")));
    }
    Ok(value.to_string())
}

/// Refuse a file that group or others may read or write (`mode` of `path`, named by
/// property `prop`).
pub fn private_mode(prop: &str, path: &Path, mode: u32) -> Result<(), ConfigError> {
    if mode & 0o077 != 0 {
        return Err(ConfigError::invalid(
            prop,
            format!(
                "{} is open to group or others (mode {:o}); a file holding a secret must be \
                 private to its owner: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Check that the file `prop` names (a private key, a keystore) is private to its owner.
pub fn private_file(prop: &str, path: &Path) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| ConfigError::invalid(prop, format!("cannot stat {}: {e}", path.display())))?;
    private_mode(prop, path, meta.permissions().mode())
}

/// Shortest secret value cut out of free text: a shorter one would cut common words out
/// of the message (its key's value is never shown whole anyway).
const MIN_SCRUBBED: usize = 4;

/// Secret values to cut out of a client's error text.
#[derive(Default, Clone)]
pub struct Scrubber {
    values: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} secrets)", self.values.len())
    }
}

impl Scrubber {
    /// Also cut `value` (and each of its lines, for a multi-line PEM or JAAS text).
    pub fn add(&mut self, value: &str) {
        for v in std::iter::once(value).chain(value.lines()) {
            let v = v.trim();
            if v.len() >= MIN_SCRUBBED && !self.values.iter().any(|x| x == v) {
                self.values.push(v.to_string());
            }
        }
        // Longest first, so a value containing another is cut whole.
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// `text` with every secret value replaced by `<redacted>`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "<redacted>");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
        crate::testing::write_with_mode(dir, name, text, mode).unwrap()
    }

    #[test]
    fn secret_keys_are_known_by_name_and_by_word() {
        for k in [
            "sasl.password",
            "sasl.jaas.config",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.truststore.password",
            "ssl.key.pem",
            "SASL.PASSWORD",
            "sasl.oauthbearer.client.secret",
            "some.vendor.api.secret",
        ] {
            assert!(is_secret(k), "{k}");
        }
        for k in [
            "security.protocol",
            "ssl.ca.location",
            "ssl.key.location",
            "fetch.wait.max.ms",
            "sasl.mechanism",
        ] {
            assert!(!is_secret(k), "{k}");
        }
    }

    #[test]
    fn redacted_shows_keys_and_hides_secret_values() {
        let mut m = BTreeMap::new();
        m.insert("sasl.password".to_string(), "hunter2".to_string());
        m.insert("security.protocol".to_string(), "SASL_SSL".to_string());
        let shown = format!("{:?}", Redacted(&m));
        assert!(shown.contains("sasl.password") && shown.contains("<redacted>"));
        assert!(shown.contains("SASL_SSL"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn a_private_file_is_read_and_an_open_one_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let ok = write(dir.path(), "ok", "s3cr3t-pw\n", 0o600);
        assert_eq!(read_file("sasl.password", &ok).unwrap(), "s3cr3t-pw");
        let open = write(dir.path(), "open", "s3cr3t-pw\n", 0o644);
        let e = read_file("sasl.password", &open).unwrap_err().to_string();
        assert!(e.contains("props.sasl.password.file"), "{e}");
        assert!(e.contains(&open.display().to_string()), "{e}");
        assert!(e.contains("644") && e.contains("chmod 600"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        let empty = write(dir.path(), "empty", "\n", 0o600);
        assert!(read_file("sasl.password", &empty).is_err());
        let missing = dir.path().join("missing");
        let e = read_file("sasl.password", &missing)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
        let e = read_file("sasl.password", dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn scrubbing_cuts_whole_values_and_pem_lines() {
        let mut s = Scrubber::default();
        s.add("hunter2");
        s.add("ab");
        s.add("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----");
        let text = "bad value hunter2 near MIIEvQIBADANBgkqhkiG9w0BAQEFAASC (ab)";
        let out = s.scrub(text);
        assert!(!out.contains("hunter2") && !out.contains("MIIEvQ"), "{out}");
        assert!(out.contains("(ab)"), "short values are not cut: {out}");
    }
}
