//! Reading a daemon config file, and the one place a daemon's settings are layered:
//! flag > file > default.
//!
//! One file may serve every daemon, as Storm's `storm.yaml` does: nimbus keys,
//! supervisor keys and `topology.*` defaults side by side. Each daemon takes its own keys
//! from it; a key that no daemon reads and that is no topology key is refused, and so is a
//! value of the wrong type, whichever daemon reads it, each with the file and line.
//!
//! ```
//! use std::path::Path;
//! use squall_runtime::daemon::{ConfigFile, NimbusConfig, SupervisorConfig};
//!
//! let text = "nimbus.listen: 10.0.0.1:6627\nsupervisor.slots.ports: [6700]\n\
//!             topology.workers: 2\n";
//! let file = ConfigFile::parse(Path::new("squall.yaml"), text).unwrap();
//! let nimbus: NimbusConfig = file.daemon(&()).unwrap();
//! let supervisor: SupervisorConfig = file.daemon(&()).unwrap();
//! assert_eq!(nimbus.listen.to_string(), "10.0.0.1:6627");
//! assert_eq!(supervisor.slots, [6700]);
//!
//! let typo = ConfigFile::parse(Path::new("squall.yaml"), "nimbus.lisen: 1\n");
//! assert_eq!(
//!     typo.unwrap_err().to_string(),
//!     "squall.yaml:1:1: unknown key 'nimbus.lisen' (did you mean 'nimbus.listen'?)"
//! );
//! ```

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_yaml::Value;

use super::error::{ConfigError, ConfigErrors, Place};
use super::keys;
use crate::topology::config::{key_spec, layered};
use crate::topology::yaml::{ConfigMap, KeyPath, Location, SourceMap};

/// A daemon's typed config: serde with Storm key names, every field defaulted.
pub trait DaemonConfig: Serialize + DeserializeOwned + Default {
    /// The daemon's command name (`nimbus`).
    const DAEMON: &'static str;
}

/// A checked daemon config file: every key known, every value of the right type.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    entries: ConfigMap,
}

impl ConfigFile {
    /// Read and check `path`.
    pub fn read(path: &Path) -> Result<ConfigFile, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        ConfigFile::parse(path, &text)
    }

    /// Check `text`, the content of `file` (named in errors): every problem at once.
    pub fn parse(file: &Path, text: &str) -> Result<ConfigFile, ConfigErrors> {
        let at = |location: Option<Location>| Place {
            file: file.to_path_buf(),
            location,
        };
        let map = SourceMap::build(text);
        let doc: Value = serde_yaml::from_str(text).map_err(|e| {
            let location = e.location().map(|l| Location {
                line: l.line(),
                column: l.column(),
            });
            // The place leads the line; the parser's own "at line L column C" goes.
            let mut message = e.to_string();
            // serde_yaml places a duplicate key at the mapping; the source map knows the
            // second occurrence.
            let repeated = duplicate_key(&message)
                .and_then(|k| map.get(&KeyPath::root().key(k)))
                .and_then(|n| n.key);
            if let Some(second) = repeated {
                return ConfigError::Syntax {
                    at: at(Some(second)),
                    message,
                };
            }
            if let Some(l) = location {
                let suffix = format!(" at line {} column {}", l.line, l.column);
                message = message.replacen(&suffix, "", 1);
            }
            ConfigError::Syntax {
                at: at(location),
                message,
            }
        })?;
        let mapping = match doc {
            Value::Null => return Ok(ConfigFile::default()),
            Value::Mapping(m) => m,
            _ => {
                return Err(ConfigError::NotAMapping {
                    at: at(Some(Location { line: 1, column: 1 })),
                }
                .into());
            }
        };
        let mut errors = Vec::new();
        let mut entries = ConfigMap::new();
        for (k, v) in mapping {
            let key = match k {
                Value::String(s) => s,
                other => serde_yaml::to_string(&other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            let node = map.get(&KeyPath::root().key(key.as_str()));
            if !keys::is_known(&key) {
                errors.push(ConfigError::UnknownKey {
                    at: at(node.map(|n| n.key.unwrap_or(n.value))),
                    suggestion: keys::suggest(&key),
                    key,
                });
            } else if let Err(message) = keys::check(&key, &v) {
                errors.push(ConfigError::BadValue {
                    at: at(node.map(|n| n.preferred())),
                    key,
                    message,
                });
            } else {
                entries.insert(key, v);
            }
        }
        if errors.is_empty() {
            Ok(ConfigFile { entries })
        } else {
            errors.sort_by_key(|e| match e {
                ConfigError::UnknownKey { at, .. } | ConfigError::BadValue { at, .. } => {
                    at.location
                }
                _ => None,
            });
            Err(ConfigErrors(errors))
        }
    }

    /// Every entry of the file.
    pub fn entries(&self) -> &ConfigMap {
        &self.entries
    }

    /// The file's topology keys (`topology.*` of
    /// [`KNOWN_KEYS`](crate::topology::config::KNOWN_KEYS)): cluster-wide topology
    /// defaults.
    pub fn topology_defaults(&self) -> ConfigMap {
        self.entries
            .iter()
            .filter(|(k, _)| key_spec(k).is_some())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The config of daemon `C`: its `flags` over this file over `C`'s defaults.
    ///
    /// `flags` serializes to a map from key names to values (a flag not given is `null`
    /// or absent), e.g. a clap struct with `#[serde(rename = "nimbus.listen")]` fields.
    pub fn daemon<C: DaemonConfig>(&self, flags: &impl Serialize) -> Result<C, ConfigErrors> {
        let own = keys::keys_of::<C>();
        let file: ConfigMap = self
            .entries
            .iter()
            .filter(|(k, _)| own.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let flags = flag_layer::<C>(flags, &own)?;
        let merged = layered([&file, &flags]);
        let value = serde_yaml::to_value(&merged).map_err(|e| bad_flag("", e))?;
        serde_yaml::from_value(value).map_err(|e| bad_flag("", e).into())
    }
}

/// The keys `flags` sets (its `null`s are flags not given); each must be one of `own`.
fn flag_layer<C: DaemonConfig>(
    flags: &impl Serialize,
    own: &[String],
) -> Result<ConfigMap, ConfigErrors> {
    let map = match serde_yaml::to_value(flags).map_err(|e| bad_flag("", e))? {
        Value::Mapping(m) => m,
        _ => return Ok(ConfigMap::new()),
    };
    let mut layer = ConfigMap::new();
    for (k, v) in map {
        let Some(key) = k.as_str().map(String::from) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        if !own.contains(&key) {
            let message = format!("'{key}' is not a {} key", C::DAEMON);
            return Err(bad_flag(&key, message).into());
        }
        layer.insert(key, v);
    }
    Ok(layer)
}

/// The key of serde_yaml's "duplicate entry with key \"K\"" message.
fn duplicate_key(message: &str) -> Option<&str> {
    message
        .strip_prefix("duplicate entry with key \"")?
        .split('"')
        .next()
}

fn bad_flag(key: &str, message: impl ToString) -> ConfigError {
    ConfigError::BadFlag {
        key: key.to_string(),
        message: message.to_string(),
    }
}

/// Daemon `C`'s config: its `flags` over the file at `path` (if any) over `C`'s defaults.
/// The file is checked whole, keys of every daemon included.
pub fn load<C: DaemonConfig>(
    path: Option<&Path>,
    flags: &impl Serialize,
) -> Result<C, ConfigErrors> {
    let file = match path {
        Some(p) => ConfigFile::read(p)?,
        None => ConfigFile::default(),
    };
    file.daemon(flags)
}
