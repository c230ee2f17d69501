//! The Java client's security properties, as a Storm user writes them, in librdkafka's
//! terms: `sasl.jaas.config` becomes `sasl.username`/`sasl.password`, a PEM truststore
//! becomes `ssl.ca.location`, a PKCS#12 or PEM keystore the matching librdkafka keys;
//! what librdkafka cannot do (JKS stores, Kerberos, Java classes) is refused with the
//! way out. Errors name keys and files, never a secret value.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use crate::error::ConfigError;

/// Whether translating may read the files that properties name (at open, on the worker
/// host) or not (when a topology is validated where it is submitted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Files {
    /// Read them (sniff a store's format).
    Read,
    /// Leave them alone.
    Skip,
}

/// The SASL mechanisms this build supports.
pub const MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// Why Kerberos is refused.
const NO_GSSAPI: &str = "GSSAPI (Kerberos) is not supported: librdkafka is built without \
    Cyrus SASL (it would need libsasl2 and a Kerberos setup on every worker host); use \
    PLAIN or SCRAM-SHA-256/512";

/// Why OAUTHBEARER is refused.
const NO_OAUTHBEARER: &str = "OAUTHBEARER is not supported (OIDC token retrieval needs \
    librdkafka built with libcurl; unsecured JWTs are for development only); use PLAIN or \
    SCRAM-SHA-256/512";

/// Java-only settings that select JVM implementations: meaningless to librdkafka and
/// dropped (with a log line).
const JVM_ONLY: &[&str] = &[
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
];

/// TLS versions a `ssl.protocol`/`ssl.enabled.protocols` may name (OpenSSL 3 refuses
/// TLS 1.0 and 1.1 at its default security level; librdkafka has no setting for it).
const TLS_VERSIONS: &[&str] = &["TLS", "TLSV1.2", "TLSV1.3"];

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::invalid(&format!("props.{key}"), reason)
}

/// Move `from`'s value to `to` (refusing both given).
fn rename(props: &mut BTreeMap<String, String>, from: &str, to: &str) -> Result<(), ConfigError> {
    if let Some(v) = props.remove(from) {
        if props.contains_key(to) {
            return Err(invalid(from, format!("and '{to}' mean the same: give one")));
        }
        props.insert(to.to_string(), v);
    }
    Ok(())
}

/// Rewrite `props` (Java names into librdkafka's). `deferred` are keys whose value is in
/// a file not read yet (validation where the topology is submitted): their content is
/// not checked. Returns notes for the log (keys dropped, and why).
pub(crate) fn translate(
    props: &mut BTreeMap<String, String>,
    deferred: &BTreeSet<String>,
    files: Files,
) -> Result<Vec<String>, ConfigError> {
    let mut notes = Vec::new();
    refuse_classes(props)?;
    let protocol = security_protocol(props)?;
    mechanism(props)?;
    jaas(props, deferred)?;
    if protocol.starts_with("SASL_")
        && !props.contains_key("sasl.mechanisms")
        && !deferred.contains("sasl.jaas.config")
    {
        return Err(invalid(
            "sasl.mechanism",
            format!(
                "is needed with security.protocol {protocol}: one of {} (librdkafka's \
                 default, GSSAPI, is not supported)",
                MECHANISMS.join(", ")
            ),
        ));
    }
    truststore(props, files)?;
    keystore(props, files)?;
    endpoint_identification(props);
    protocols(props, &mut notes)?;
    for key in JVM_ONLY {
        if props.remove(*key).is_some() {
            notes.push(format!(
                "props.{key} ignored: it selects a JVM implementation"
            ));
        }
    }
    if let Some(v) = props.get("ssl.cipher.suites")
        && v.contains("_WITH_")
    {
        return Err(invalid(
            "ssl.cipher.suites",
            "uses Java (IANA) cipher suite names; librdkafka takes OpenSSL's \
             (e.g. ECDHE-RSA-AES128-GCM-SHA256, see `openssl ciphers`)",
        ));
    }
    if matches!(protocol.as_str(), "SSL" | "SASL_SSL")
        && !["ssl.ca.location", "ssl.ca.pem", "ssl.ca.certificate.stores"]
            .iter()
            .any(|k| props.contains_key(*k))
    {
        // As a Java client trusts the JVM's CA bundle: the system's (the bundled
        // OpenSSL's own default directory does not exist on the host).
        props.insert("ssl.ca.location".into(), "probe".into());
    }
    Ok(notes)
}

/// Keys naming Java classes (callback handlers, engine factories, interceptors).
fn refuse_classes(props: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    match props
        .keys()
        .find(|k| k.ends_with(".class") || k.ends_with(".classes"))
    {
        Some(k) => Err(invalid(
            k,
            "names Java classes, which librdkafka cannot load: leave it out",
        )),
        None => Ok(()),
    }
}

/// `security.protocol`, upper case (`PLAINTEXT` when not given).
fn security_protocol(props: &BTreeMap<String, String>) -> Result<String, ConfigError> {
    let Some(v) = props.get("security.protocol") else {
        return Ok("PLAINTEXT".into());
    };
    let up = v.trim().to_ascii_uppercase();
    match up.as_str() {
        "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL" => Ok(up),
        _ => Err(invalid(
            "security.protocol",
            format!("'{v}' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        )),
    }
}

/// `sasl.mechanism` (Java) or `sasl.mechanisms` (librdkafka) into `sasl.mechanisms`,
/// one this build supports.
fn mechanism(props: &mut BTreeMap<String, String>) -> Result<(), ConfigError> {
    rename(props, "sasl.mechanism", "sasl.mechanisms")?;
    let Some(v) = props.get_mut("sasl.mechanisms") else {
        return Ok(());
    };
    let up = v.trim().to_ascii_uppercase();
    match up.as_str() {
        m if MECHANISMS.contains(&m) => {
            *v = up;
            Ok(())
        }
        "GSSAPI" => Err(invalid("sasl.mechanism", NO_GSSAPI)),
        "OAUTHBEARER" => Err(invalid("sasl.mechanism", NO_OAUTHBEARER)),
        _ => Err(invalid(
            "sasl.mechanism",
            format!("'{v}' is not one of {}", MECHANISMS.join(", ")),
        )),
    }
}

/// A JAAS login module entry: its module class and options.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Login {
    pub module: String,
    pub options: BTreeMap<String, String>,
}

/// What a JAAS text that does not parse is told (its text is never shown).
const JAAS_SHAPE: &str = "is not a JAAS login module entry like \
    `org.apache.kafka.common.security.plain.PlainLoginModule required username=\"alice\" \
    password=\"…\";` (its text is not shown)";

/// Parse one JAAS login module entry: `module flag key="value" ...;`, optionally inside
/// a `KafkaClient { ... };` section (a JAAS file). `//` and `/* */` comments are skipped.
pub(crate) fn parse_jaas(text: &str) -> Result<Login, &'static str> {
    let tokens = tokenize(text)?;
    let mut t = tokens.as_slice();
    // A JAAS file's section: `KafkaClient { … };`.
    if let [Tok::Word(_), Tok::Open, rest @ ..] = t {
        t = rest;
        match t {
            [inner @ .., Tok::Close, Tok::Semi] | [inner @ .., Tok::Close] => t = inner,
            _ => return Err(JAAS_SHAPE),
        }
    }
    let (module, flag, mut rest) = match t {
        [Tok::Word(m), Tok::Word(f), rest @ ..] => (m.clone(), f, rest),
        _ => return Err(JAAS_SHAPE),
    };
    if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
        return Err(JAAS_SHAPE);
    }
    let mut options = BTreeMap::new();
    loop {
        match rest {
            [Tok::Semi] | [] => break,
            [
                Tok::Word(k),
                Tok::Eq,
                Tok::Word(v) | Tok::Quoted(v),
                more @ ..,
            ] => {
                options.insert(k.clone(), v.clone());
                rest = more;
            }
            _ => return Err(JAAS_SHAPE),
        }
    }
    Ok(Login { module, options })
}

#[derive(Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Eq,
    Semi,
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, &'static str> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '=' => out.push(Tok::Eq),
            ';' => out.push(Tok::Semi),
            '{' => out.push(Tok::Open),
            '}' => out.push(Tok::Close),
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                loop {
                    match chars.next() {
                        Some('/') if last == '*' => break,
                        Some(c) => last = c,
                        None => return Err(JAAS_SHAPE),
                    }
                }
            }
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some(c) => s.push(c),
                            None => return Err(JAAS_SHAPE),
                        },
                        Some('"') => break,
                        Some(c) => s.push(c),
                        None => return Err(JAAS_SHAPE),
                    }
                }
                out.push(Tok::Quoted(s));
            }
            c => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || "=;{}\"".contains(n) {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push(Tok::Word(s));
            }
        }
    }
    Ok(out)
}

/// `sasl.jaas.config` into `sasl.username`/`sasl.password` (and `sasl.mechanisms`
/// PLAIN for the plain login module when none is given).
fn jaas(
    props: &mut BTreeMap<String, String>,
    deferred: &BTreeSet<String>,
) -> Result<(), ConfigError> {
    let Some(text) = props.remove("sasl.jaas.config") else {
        return Ok(());
    };
    if props.contains_key("sasl.username") || props.contains_key("sasl.password") {
        return Err(invalid(
            "sasl.jaas.config",
            "and sasl.username/sasl.password both give the credentials: give one",
        ));
    }
    if deferred.contains("sasl.jaas.config") {
        return Ok(());
    }
    let login = parse_jaas(&text).map_err(|why| invalid("sasl.jaas.config", why))?;
    let class = login.module.rsplit('.').next().unwrap_or_default();
    let mechanism = props.get("sasl.mechanisms").cloned();
    match class {
        "PlainLoginModule" => match mechanism.as_deref() {
            None => {
                props.insert("sasl.mechanisms".into(), "PLAIN".into());
            }
            Some("PLAIN") => {}
            Some(m) => {
                return Err(invalid(
                    "sasl.jaas.config",
                    format!(
                        "uses PlainLoginModule but sasl.mechanism is {m}: use ScramLoginModule"
                    ),
                ));
            }
        },
        "ScramLoginModule" => match mechanism.as_deref() {
            Some(m) if m.starts_with("SCRAM-") => {}
            _ => {
                return Err(invalid(
                    "sasl.mechanism",
                    "must be SCRAM-SHA-256 or SCRAM-SHA-512 with ScramLoginModule",
                ));
            }
        },
        "Krb5LoginModule" => return Err(invalid("sasl.jaas.config", NO_GSSAPI)),
        "OAuthBearerLoginModule" => return Err(invalid("sasl.jaas.config", NO_OAUTHBEARER)),
        _ => {
            return Err(invalid(
                "sasl.jaas.config",
                format!(
                    "login module {} is not supported: use PlainLoginModule or ScramLoginModule",
                    login.module
                ),
            ));
        }
    }
    let mut options = login.options;
    let (Some(user), Some(password)) = (options.remove("username"), options.remove("password"))
    else {
        return Err(invalid(
            "sasl.jaas.config",
            "needs username=\"…\" and password=\"…\"",
        ));
    };
    if let Some(k) = options.keys().next() {
        return Err(invalid(
            "sasl.jaas.config",
            format!("option '{k}' is not supported (only username and password)"),
        ));
    }
    props.insert("sasl.username".into(), user);
    props.insert("sasl.password".into(), password);
    Ok(())
}

/// A store file's format, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Pem,
    Jks,
    /// PKCS#12 or anything else binary.
    Other,
}

fn sniff(prop: &str, path: &str) -> Result<Format, ConfigError> {
    let mut head = [0u8; 64];
    let n = std::fs::File::open(Path::new(path))
        .and_then(|f| {
            let mut n = 0;
            let mut f = f.take(head.len() as u64);
            loop {
                match f.read(&mut head[n..])? {
                    0 => return Ok(n),
                    k => n += k,
                }
            }
        })
        .map_err(|e| invalid(prop, format!("cannot read {path}: {e}")))?;
    let head = &head[..n];
    Ok(if head.starts_with(&[0xfe, 0xed, 0xfe, 0xed]) {
        Format::Jks
    } else if String::from_utf8_lossy(head)
        .trim_start()
        .starts_with("-----BEGIN")
    {
        Format::Pem
    } else {
        Format::Other
    })
}

/// A store's format: its `type` when given, else its first bytes (at open) or its name
/// (`.jks`, `.p12`: at validation).
fn store_format(
    prop: &str,
    path: &str,
    ty: Option<&str>,
    files: Files,
) -> Result<Option<Format>, ConfigError> {
    match ty.map(str::to_ascii_uppercase).as_deref() {
        Some("PEM") => Ok(Some(Format::Pem)),
        Some("JKS") => Ok(Some(Format::Jks)),
        Some("PKCS12") => Ok(Some(Format::Other)),
        Some(other) => Err(invalid(
            &prop.replace(".location", ".type"),
            format!("'{other}' is not one of PEM, PKCS12 (JKS cannot be read by librdkafka)"),
        )),
        None if files == Files::Read => sniff(prop, path).map(Some),
        None => {
            let lower = path.to_ascii_lowercase();
            Ok(if lower.ends_with(".jks") {
                Some(Format::Jks)
            } else if [".p12", ".pfx", ".pkcs12"]
                .iter()
                .any(|e| lower.ends_with(e))
            {
                Some(Format::Other)
            } else {
                None
            })
        }
    }
}

/// `ssl.truststore.*` into `ssl.ca.location` / `ssl.ca.pem` (PEM only).
fn truststore(props: &mut BTreeMap<String, String>, files: Files) -> Result<(), ConfigError> {
    let ty = props.remove("ssl.truststore.type");
    // A PEM truststore has no password; a JKS one is refused below.
    props.remove("ssl.truststore.password");
    rename(props, "ssl.truststore.certificates", "ssl.ca.pem")?;
    let Some(path) = props.remove("ssl.truststore.location") else {
        return Ok(());
    };
    let prop = "ssl.truststore.location";
    if props.contains_key("ssl.ca.location") {
        return Err(invalid(
            prop,
            "and ssl.ca.location both name the CAs: give one",
        ));
    }
    match store_format(prop, &path, ty.as_deref(), files)? {
        Some(Format::Pem) | None => {
            props.insert("ssl.ca.location".into(), path);
            Ok(())
        }
        Some(Format::Jks) => Err(invalid(
            prop,
            format!(
                "{path} is a Java keystore (JKS), which librdkafka cannot read: export its CA \
                 certificates as PEM (keytool -exportcert -rfc -alias <ca> -keystore {path} \
                 -file ca.pem) and give ssl.ca.location: ca.pem"
            ),
        )),
        Some(Format::Other) => Err(invalid(
            prop,
            format!(
                "{path} is not PEM (a PKCS#12 truststore?), which librdkafka cannot read as \
                 CAs: convert it (openssl pkcs12 -in {path} -nokeys -out ca.pem) and give \
                 ssl.ca.location: ca.pem"
            ),
        )),
    }
}

/// `ssl.keystore.*`: PKCS#12 stays (librdkafka reads it), PEM becomes
/// `ssl.key.location` + `ssl.certificate.location`, JKS is refused.
fn keystore(props: &mut BTreeMap<String, String>, files: Files) -> Result<(), ConfigError> {
    let ty = props.remove("ssl.keystore.type");
    rename(props, "ssl.keystore.key", "ssl.key.pem")?;
    rename(
        props,
        "ssl.keystore.certificate.chain",
        "ssl.certificate.pem",
    )?;
    let Some(path) = props.get("ssl.keystore.location").cloned() else {
        return Ok(());
    };
    let prop = "ssl.keystore.location";
    match store_format(prop, &path, ty.as_deref(), files)? {
        Some(Format::Other) | None => Ok(()),
        Some(Format::Pem) => {
            for k in ["ssl.key.location", "ssl.certificate.location"] {
                if props.contains_key(k) {
                    return Err(invalid(
                        prop,
                        format!("and {k} both name the key: give one"),
                    ));
                }
            }
            props.remove(prop);
            props.remove("ssl.keystore.password");
            props.insert("ssl.key.location".into(), path.clone());
            props.insert("ssl.certificate.location".into(), path);
            Ok(())
        }
        Some(Format::Jks) => Err(invalid(
            prop,
            format!(
                "{path} is a Java keystore (JKS), which librdkafka cannot read: convert it to \
                 PKCS#12 (keytool -importkeystore -srckeystore {path} -destkeystore client.p12 \
                 -deststoretype PKCS12) and give ssl.keystore.location: client.p12, or give \
                 ssl.key.location and ssl.certificate.location (PEM files)"
            ),
        )),
    }
}

/// Java turns host name checking off with an empty `ssl.endpoint.identification.algorithm`;
/// librdkafka with `none`.
fn endpoint_identification(props: &mut BTreeMap<String, String>) {
    if let Some(v) = props.get_mut("ssl.endpoint.identification.algorithm") {
        let lower = v.trim().to_ascii_lowercase();
        *v = if lower.is_empty() {
            "none".into()
        } else {
            lower
        };
    }
}

/// `ssl.protocol` and `ssl.enabled.protocols`: TLS 1.2 and 1.3 accepted (and dropped:
/// librdkafka cannot restrict versions, OpenSSL 3 allows only these); older refused.
fn protocols(
    props: &mut BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> Result<(), ConfigError> {
    for key in ["ssl.protocol", "ssl.enabled.protocols"] {
        let Some(v) = props.remove(key) else {
            continue;
        };
        if let Some(bad) = v
            .split(',')
            .map(str::trim)
            .find(|p| !TLS_VERSIONS.contains(&p.to_ascii_uppercase().as_str()))
        {
            return Err(invalid(
                key,
                format!(
                    "names {bad}: only TLSv1.2 and TLSv1.3 are spoken (OpenSSL 3 refuses older \
                     versions; librdkafka cannot be told which ones to use)"
                ),
            ));
        }
        notes.push(format!(
            "props.{key} ignored: librdkafka negotiates TLS 1.3 or 1.2 by itself"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn tr(pairs: &[(&str, &str)]) -> Result<BTreeMap<String, String>, String> {
        let mut m = map(pairs);
        translate(&mut m, &BTreeSet::new(), Files::Skip)
            .map(|_| m)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn jaas_entries_parse_with_quotes_escapes_sections_and_comments() {
        let l = parse_jaas(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required
               username="alice" password="p\"w;d";"#,
        )
        .unwrap();
        assert_eq!(
            l.module,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        assert_eq!(l.options["username"], "alice");
        assert_eq!(l.options["password"], "p\"w;d");
        let f = parse_jaas(
            "// the client\nKafkaClient {\n  org.apache.kafka.common.security.scram.ScramLoginModule required\n  /* who */ username=\"bob\"\n  password=\"x\";\n};\n",
        )
        .unwrap();
        assert_eq!(f.options["username"], "bob");
        for bad in [
            "",
            "PlainLoginModule",
            "M maybe a=\"b\";",
            "M required a=",
            "M required a=\"b",
        ] {
            assert!(parse_jaas(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_plain_jaas_config_becomes_username_and_password() {
        let m = tr(&[
            ("security.protocol", "SASL_SSL"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="hunter2";"#,
            ),
        ])
        .unwrap();
        assert_eq!(m["sasl.mechanisms"], "PLAIN");
        assert_eq!(m["sasl.username"], "alice");
        assert_eq!(m["sasl.password"], "hunter2");
        assert_eq!(
            m["ssl.ca.location"], "probe",
            "SSL trusts the system's CAs by default"
        );
        assert!(!m.contains_key("sasl.jaas.config"));
    }

    #[test]
    fn scram_needs_its_mechanism_and_kerberos_is_refused_with_the_reason() {
        let scram = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="a" password="hunter2";"#;
        let m = tr(&[
            ("sasl.mechanism", "scram-sha-512"),
            ("sasl.jaas.config", scram),
        ])
        .unwrap();
        assert_eq!(m["sasl.mechanisms"], "SCRAM-SHA-512");
        let e = tr(&[("sasl.jaas.config", scram)]).unwrap_err();
        assert!(
            e.contains("SCRAM-SHA-256 or SCRAM-SHA-512") && !e.contains("hunter2"),
            "{e}"
        );
        let e = tr(&[("sasl.mechanism", "GSSAPI")]).unwrap_err();
        assert!(
            e.contains("Kerberos") && e.contains("props.sasl.mechanism"),
            "{e}"
        );
        let e = tr(&[(
            "sasl.jaas.config",
            r#"com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/k";"#,
        )])
        .unwrap_err();
        assert!(e.contains("Kerberos"), "{e}");
        let e = tr(&[("security.protocol", "SASL_PLAINTEXT")]).unwrap_err();
        assert!(
            e.contains("props.sasl.mechanism") && e.contains("GSSAPI"),
            "{e}"
        );
    }

    #[test]
    fn a_jaas_error_never_shows_its_text() {
        for text in [
            "PlainLoginModule username=\"a\" password=\"hunter2\";",
            "org.apache.kafka.common.security.plain.PlainLoginModule required password=\"hunter2\";",
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\" password=\"hunter2\" extra=\"hunter2\";",
            "x required = \"hunter2\";",
        ] {
            let e = tr(&[("sasl.jaas.config", text)]).unwrap_err();
            assert!(e.contains("props.sasl.jaas.config"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = tr(&[("sasl.jaas.config", "x"), ("sasl.password", "hunter2")]).unwrap_err();
        assert!(e.contains("give one") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn stores_in_java_terms_map_to_librdkafka_or_say_how_to_convert() {
        let m = tr(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/etc/kafka/ca.pem"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.password", "changeit"),
            ("ssl.keystore.location", "/etc/kafka/client.p12"),
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.password", "pw1234"),
            ("ssl.endpoint.identification.algorithm", ""),
            ("ssl.enabled.protocols", "TLSv1.2,TLSv1.3"),
            ("ssl.keymanager.algorithm", "SunX509"),
        ])
        .unwrap();
        assert_eq!(m["ssl.ca.location"], "/etc/kafka/ca.pem");
        assert_eq!(m["ssl.keystore.location"], "/etc/kafka/client.p12");
        assert_eq!(m["ssl.keystore.password"], "pw1234");
        assert_eq!(m["ssl.endpoint.identification.algorithm"], "none");
        for gone in [
            "ssl.truststore.password",
            "ssl.truststore.type",
            "ssl.keystore.type",
            "ssl.enabled.protocols",
            "ssl.keymanager.algorithm",
        ] {
            assert!(!m.contains_key(gone), "{gone}");
        }
        let e = tr(&[("ssl.truststore.location", "/etc/kafka/truststore.jks")]).unwrap_err();
        assert!(
            e.contains("props.ssl.truststore.location") && e.contains("ssl.ca.location"),
            "{e}"
        );
        assert!(e.contains("keytool"), "{e}");
        let e = tr(&[
            ("ssl.truststore.location", "/x"),
            ("ssl.truststore.type", "JKS"),
        ])
        .unwrap_err();
        assert!(e.contains("JKS"), "{e}");
        let e = tr(&[("ssl.keystore.location", "/etc/kafka/k.jks")]).unwrap_err();
        assert!(e.contains("PKCS12"), "{e}");
        let m = tr(&[
            ("ssl.keystore.location", "/k.pem"),
            ("ssl.keystore.type", "PEM"),
        ])
        .unwrap();
        assert_eq!(m["ssl.key.location"], "/k.pem");
        assert_eq!(m["ssl.certificate.location"], "/k.pem");
        let e = tr(&[("ssl.enabled.protocols", "TLSv1.1,TLSv1.2")]).unwrap_err();
        assert!(e.contains("TLSv1.1"), "{e}");
        let e = tr(&[("sasl.login.callback.handler.class", "com.x.Handler")]).unwrap_err();
        assert!(e.contains("Java classes"), "{e}");
        let e = tr(&[("ssl.cipher.suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")]).unwrap_err();
        assert!(e.contains("OpenSSL"), "{e}");
        let e = tr(&[("security.protocol", "TLS")]).unwrap_err();
        assert!(e.contains("SASL_SSL"), "{e}");
    }

    #[test]
    fn store_formats_are_sniffed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let jks = dir.path().join("trust");
        std::fs::write(&jks, [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]).unwrap();
        let pem = dir.path().join("ca");
        std::fs::write(&pem, "\n-----BEGIN CERTIFICATE-----\n").unwrap();
        let jks = jks.to_str().unwrap();
        let pem = pem.to_str().unwrap();
        let read = |pairs: &[(&str, &str)]| {
            let mut m = map(pairs);
            translate(&mut m, &BTreeSet::new(), Files::Read)
                .map(|_| m)
                .map_err(|e| e.to_string())
        };
        let e = read(&[("ssl.truststore.location", jks)]).unwrap_err();
        assert!(e.contains("JKS"), "{e}");
        let m = read(&[("ssl.truststore.location", pem)]).unwrap();
        assert_eq!(m["ssl.ca.location"], pem);
        let e = read(&[("ssl.keystore.location", jks)]).unwrap_err();
        assert!(e.contains("JKS"), "{e}");
        let m = read(&[("ssl.keystore.location", pem)]).unwrap();
        assert_eq!(m["ssl.key.location"], pem);
        // Unknown until read: accepted at validation.
        assert!(tr(&[("ssl.truststore.location", jks)]).is_ok());
    }
}
