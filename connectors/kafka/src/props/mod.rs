//! Client properties (`props` of the spout, the bolt and the Trident spout): what a
//! Storm user writes for TLS and SASL turned into librdkafka's settings when a client
//! is created, with secrets kept out of logs and errors.
//!
//! - **Secrets** ([`is_secret`]: passwords, `sasl.jaas.config`, private keys) are never
//!   logged nor shown: `Debug` of a configuration shows `<redacted>`, and a client's
//!   errors have their values cut out ([`ClientProps::client_error`]).
//! - **Secret files**: `<key>.file: /path` gives `<key>`'s value as the content of a
//!   file, read when the client is created (on the worker host), e.g.
//!   `sasl.password.file` or `sasl.jaas.config.file`. The file must be private to its
//!   owner (mode 0600 or 0400), as must a private key or keystore named by
//!   `ssl.key.location` / `ssl.keystore.location`; otherwise the client is refused with
//!   an error naming the file (never its content).
//! - **Java names** are translated (table below): `sasl.mechanism`,
//!   `sasl.jaas.config` (Plain and SCRAM login modules), PEM `ssl.truststore.*`, PKCS#12
//!   or PEM `ssl.keystore.*`, an empty `ssl.endpoint.identification.algorithm`;
//!   `ssl.enabled.protocols` naming TLS 1.2/1.3 is accepted and dropped. JKS stores,
//!   GSSAPI (Kerberos), OAUTHBEARER and Java classes are refused with the reason and the
//!   way out. With `security.protocol` `SSL` or `SASL_SSL` and no CA given, the system's
//!   CA bundle is used (`ssl.ca.location: probe`), as a Java client uses the JVM's.
//!
//! ```
//! use std::collections::BTreeMap;
//! use squall_kafka::props::ClientProps;
//!
//! let mut props = BTreeMap::new();
//! props.insert("security.protocol".to_string(), "SASL_SSL".to_string());
//! props.insert(
//!     "sasl.jaas.config".to_string(),
//!     r#"org.apache.kafka.common.security.plain.PlainLoginModule required
//!        username="alice" password="hunter2";"#
//!         .to_string(),
//! );
//! props.insert("ssl.truststore.location".to_string(), "/etc/kafka/ca.pem".to_string());
//! props.insert("ssl.truststore.type".to_string(), "PEM".to_string());
//! let client = ClientProps::resolve(&props).unwrap();
//! assert_eq!(client.get("sasl.mechanisms"), Some("PLAIN"));
//! assert_eq!(client.get("ssl.ca.location"), Some("/etc/kafka/ca.pem"));
//! assert!(!format!("{client:?}").contains("hunter2"));
//! ```
//!
//! # Java names
//! | Java client | librdkafka |
//! |---|---|
//! | `sasl.mechanism` | `sasl.mechanisms` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) |
//! | `sasl.jaas.config` (`PlainLoginModule`, `ScramLoginModule`) | `sasl.username`, `sasl.password` |
//! | `ssl.truststore.location` (type PEM) | `ssl.ca.location` |
//! | `ssl.truststore.certificates` | `ssl.ca.pem` |
//! | `ssl.keystore.location` (type PKCS12) | `ssl.keystore.location` |
//! | `ssl.keystore.location` (type PEM) | `ssl.key.location`, `ssl.certificate.location` |
//! | `ssl.keystore.key`, `ssl.keystore.certificate.chain` | `ssl.key.pem`, `ssl.certificate.pem` |
//! | `ssl.endpoint.identification.algorithm: ""` | `none` |

mod java;
mod secret;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;

pub use java::MECHANISMS;
pub use secret::{MAX_SECRET_FILE, Redacted, is_secret};

use crate::error::ConfigError;
use java::Files;
use secret::Scrubber;

/// librdkafka properties whose names end in `.file` (they name a file themselves).
const NATIVE_FILE_KEYS: &[&str] = &[
    "sasl.oauthbearer.assertion.file",
    "sasl.oauthbearer.assertion.jwt.template.file",
    "sasl.oauthbearer.assertion.private.key.file",
];

/// Properties naming a file that holds a private key: it must be private too.
const PRIVATE_KEY_FILES: &[&str] = &["ssl.key.location", "ssl.keystore.location"];

/// Longest value of most properties.
pub const MAX_VALUE: usize = 4096;
/// Longest inline PEM text or JAAS configuration.
pub const MAX_LONG_VALUE: usize = 64 * 1024;

/// The key whose value `key` reads from a file: `sasl.password.file` →
/// `sasl.password` (librdkafka's own `*.file` properties are not references).
pub fn file_reference(key: &str) -> Option<&str> {
    if NATIVE_FILE_KEYS.contains(&key) {
        return None;
    }
    key.strip_suffix(".file").filter(|k| !k.is_empty())
}

/// Whether `key` may be given an empty value (Java turns host name checks off with an
/// empty `ssl.endpoint.identification.algorithm`).
pub(crate) fn may_be_empty(key: &str) -> bool {
    key == "ssl.endpoint.identification.algorithm"
}

/// The longest value `key` may have.
pub(crate) fn max_len(key: &str) -> usize {
    if key.ends_with(".pem")
        || key.ends_with("certificates")
        || key.ends_with("certificate.chain")
        || key.ends_with("keystore.key")
        || key == "sasl.jaas.config"
    {
        MAX_LONG_VALUE
    } else {
        MAX_VALUE
    }
}

/// The properties with every `<key>.file` replaced by `<key>`: its file's content, read
/// by `read`; and the keys so replaced.
fn with_references(
    props: &BTreeMap<String, String>,
    mut read: impl FnMut(&str, &Path) -> Result<String, ConfigError>,
) -> Result<(BTreeMap<String, String>, BTreeSet<String>), ConfigError> {
    let mut out = BTreeMap::new();
    let mut from_files = BTreeSet::new();
    for (k, v) in props {
        let Some(base) = file_reference(k) else {
            out.insert(k.clone(), v.clone());
            continue;
        };
        if props.contains_key(base) {
            return Err(ConfigError::invalid(
                &format!("props.{k}"),
                format!("and props.{base} both give {base}: give one"),
            ));
        }
        let path = Path::new(v);
        if !path.is_absolute() {
            return Err(ConfigError::invalid(
                &format!("props.{k}"),
                format!("'{v}' must be an absolute path"),
            ));
        }
        out.insert(base.to_string(), read(base, path)?);
        from_files.insert(base.to_string());
    }
    Ok((out, from_files))
}

/// Check `props` without reading any file (where a topology is validated or
/// submitted): references, Java names, mechanisms, store types known by name.
pub(crate) fn check(props: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    let (mut map, deferred) = with_references(props, |_, _| Ok("<in a file>".to_string()))?;
    java::translate(&mut map, &deferred, Files::Skip)?;
    Ok(())
}

/// The librdkafka properties of one client, resolved when it is created: secret files
/// read, Java names translated, key files checked private. Its `Debug` shows no
/// secret.
#[derive(Clone)]
pub struct ClientProps {
    props: BTreeMap<String, String>,
    scrubber: Scrubber,
}

impl std::fmt::Debug for ClientProps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ClientProps")
            .field(&Redacted(&self.props))
            .finish()
    }
}

impl ClientProps {
    /// Resolve the user's `props` (see the [module docs](self)); errors name the key
    /// and file, never a secret. Keys dropped and secrets given inline are logged (by
    /// name).
    pub fn resolve(props: &BTreeMap<String, String>) -> Result<ClientProps, ConfigError> {
        let mut scrubber = Scrubber::default();
        let (mut map, from_files) = with_references(props, |key, path| {
            let value = secret::read_file(key, path)?;
            scrubber.add(&value);
            Ok(value)
        })?;
        for (k, v) in &map {
            if is_secret(k) {
                scrubber.add(v);
                if !from_files.contains(k) {
                    tracing::info!(
                        key = %k,
                        "Kafka client: props.{k} is given inline (it is stored with the \
                         topology); props.{k}.file keeps it in a private file on each host"
                    );
                }
            }
        }
        let notes = java::translate(&mut map, &BTreeSet::new(), Files::Read)?;
        for note in notes {
            tracing::info!("Kafka client: {note}");
        }
        for (k, v) in &map {
            if is_secret(k) {
                scrubber.add(v);
            }
        }
        for key in PRIVATE_KEY_FILES {
            if let Some(path) = map.get(*key) {
                secret::private_file(&format!("props.{key}"), Path::new(path))?;
            }
        }
        Ok(ClientProps {
            props: map,
            scrubber,
        })
    }

    /// The librdkafka value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    /// Set every property on `config`.
    pub fn apply(&self, config: &mut ClientConfig) {
        for (k, v) in &self.props {
            config.set(k, v);
        }
    }

    /// `text` with every secret value cut out.
    pub fn scrub(&self, text: &str) -> String {
        self.scrubber.scrub(text)
    }

    /// A client creation error without secrets: a refused property is named, its
    /// value shown only when it is not a secret (librdkafka's text has it already).
    pub fn client_error(&self, e: KafkaError) -> KafkaError {
        match e {
            KafkaError::ClientConfig(_, desc, key, _) => {
                KafkaError::ClientCreation(if is_secret(&key) {
                    format!("property {key}: its value is refused (not shown)")
                } else {
                    self.scrub(&format!("property {key}: {desc}"))
                })
            }
            KafkaError::ClientCreation(text) => KafkaError::ClientCreation(self.scrub(&text)),
            other => other,
        }
    }
}

/// Check the `props` of a configuration as its `validate` does: each key's value
/// present (unless it may be empty) and bounded, then [`check`]. `owned` are the keys
/// the component sets itself (refused with `why`).
pub(crate) fn validate(
    props: &BTreeMap<String, String>,
    owned: &[&str],
    why: &str,
) -> Result<(), ConfigError> {
    for (k, v) in props {
        let key = format!("props.{k}");
        if owned.contains(&k.as_str()) {
            return Err(ConfigError::invalid(&key, why));
        }
        if v.trim().is_empty() && !may_be_empty(k) {
            return Err(ConfigError::invalid(&key, "must not be empty"));
        }
        let max = max_len(k);
        if v.len() > max {
            return Err(ConfigError::invalid(
                &key,
                format!("longer than {max} bytes"),
            ));
        }
    }
    check(props)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use rdkafka::types::RDKafkaConfRes;

    use super::*;

    fn private(dir: &Path, name: &str, text: &str, mode: u32) -> String {
        let path = crate::testing::write_with_mode(dir, name, text, mode).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn file_references_are_read_at_resolve_and_only_checked_before() {
        let dir = tempfile::tempdir().unwrap();
        let jaas = private(
            dir.path(),
            "jaas.conf",
            "KafkaClient {\n org.apache.kafka.common.security.scram.ScramLoginModule required\n username=\"alice\" password=\"hunter2-from-file\";\n};\n",
            0o600,
        );
        let props = map(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.jaas.config.file", &jaas),
            ("ssl.ca.location", "/etc/ssl/ca.pem"),
        ]);
        check(&props).unwrap();
        let c = ClientProps::resolve(&props).unwrap();
        assert_eq!(c.get("sasl.username"), Some("alice"));
        assert_eq!(c.get("sasl.password"), Some("hunter2-from-file"));
        assert_eq!(c.get("sasl.mechanisms"), Some("SCRAM-SHA-256"));
        assert!(!format!("{c:?}").contains("hunter2"));
        // Before it is read, a missing file is no error (it is on the worker's host).
        check(&map(&[("sasl.password.file", "/nowhere/pw")])).unwrap();
        let e = ClientProps::resolve(&map(&[("sasl.password.file", "/nowhere/pw")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nowhere/pw") && e.contains("props.sasl.password.file"),
            "{e}"
        );
        let e = check(&map(&[("sasl.password.file", "pw.txt")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absolute"), "{e}");
        let e = check(&map(&[
            ("sasl.password.file", "/a"),
            ("sasl.password", "x"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("give one"), "{e}");
        // librdkafka's own `.file` properties pass through.
        assert_eq!(file_reference("sasl.oauthbearer.assertion.file"), None);
        assert_eq!(
            file_reference("ssl.key.password.file"),
            Some("ssl.key.password")
        );
    }

    #[test]
    fn an_open_secret_file_or_key_file_is_refused_by_name_without_content() {
        let dir = tempfile::tempdir().unwrap();
        let pw = private(dir.path(), "pw", "hunter2\n", 0o640);
        let e = ClientProps::resolve(&map(&[("sasl.password.file", &pw)]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&pw) && e.contains("640") && !e.contains("hunter2"),
            "{e}"
        );
        let key = private(
            dir.path(),
            "key.pem",
            "-----BEGIN PRIVATE KEY-----\n",
            0o644,
        );
        let e = ClientProps::resolve(&map(&[("ssl.key.location", &key)]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("props.ssl.key.location") && e.contains(&key),
            "{e}"
        );
        let key = private(
            dir.path(),
            "key2.pem",
            "-----BEGIN PRIVATE KEY-----\n",
            0o600,
        );
        ClientProps::resolve(&map(&[("ssl.key.location", &key)])).unwrap();
    }

    #[test]
    fn client_errors_never_show_a_secret_value() {
        let c = ClientProps::resolve(&map(&[
            ("sasl.password", "hunter2"),
            ("sasl.username", "alice"),
        ]))
        .unwrap();
        let e = c.client_error(KafkaError::ClientConfig(
            RDKafkaConfRes::RD_KAFKA_CONF_INVALID,
            "Invalid value \"hunter2\"".into(),
            "sasl.password".into(),
            "hunter2".into(),
        ));
        let s = e.to_string();
        assert!(s.contains("sasl.password") && !s.contains("hunter2"), "{s}");
        let e = c.client_error(KafkaError::ClientConfig(
            RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN,
            "No such configuration property: \"fetch.wiat.ms\"".into(),
            "fetch.wiat.ms".into(),
            "hunter2".into(),
        ));
        let s = e.to_string();
        assert!(s.contains("fetch.wiat.ms") && !s.contains("hunter2"), "{s}");
        let e = c.client_error(KafkaError::ClientCreation("bad hunter2 here".into()));
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn validate_bounds_values_and_lets_java_turn_host_checks_off() {
        validate(
            &map(&[("ssl.endpoint.identification.algorithm", "")]),
            &[],
            "",
        )
        .unwrap();
        let e = validate(&map(&[("sasl.password", " ")]), &[], "")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("props.sasl.password") && e.contains("empty"),
            "{e}"
        );
        let long_pem = "A".repeat(6000);
        validate(&map(&[("ssl.ca.pem", &long_pem)]), &[], "").unwrap();
        let e = validate(&map(&[("client.id", &long_pem)]), &[], "")
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than"), "{e}");
        let e = validate(
            &map(&[("group.id", "g")]),
            &["group.id"],
            "is set by the spout",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("props.group.id") && e.contains("set by the spout"),
            "{e}"
        );
    }
}
