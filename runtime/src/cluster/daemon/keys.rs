//! Every key a daemon config file may hold: each daemon's (read off its typed config)
//! and the topology keys of [`crate::topology::config::KNOWN_KEYS`] (cluster-wide
//! topology defaults, as in Storm's `storm.yaml`).

use serde_yaml::Value;

use super::config::{NimbusConfig, SupervisorConfig};
use super::file::DaemonConfig;
use crate::topology::config::{KNOWN_KEYS, check_config, key_spec};
use crate::topology::yaml::ConfigMap;

/// One daemon's config type, as the loader sees it.
pub(crate) struct Daemon {
    /// The daemon's command name.
    pub(crate) name: &'static str,
    /// Its keys.
    pub(crate) keys: fn() -> Vec<String>,
    /// Check one of its keys' value: the error says what was expected.
    pub(crate) check: fn(&str, &Value) -> Result<(), String>,
}

const fn daemon<C: DaemonConfig>() -> Daemon {
    Daemon {
        name: C::DAEMON,
        keys: keys_of::<C>,
        check: check_one::<C>,
    }
}

/// Every daemon whose keys a config file may hold.
pub(crate) const DAEMONS: &[Daemon] = &[daemon::<NimbusConfig>(), daemon::<SupervisorConfig>()];

/// The keys of a daemon config: the names its defaults serialize under.
pub(crate) fn keys_of<C: DaemonConfig>() -> Vec<String> {
    match serde_yaml::to_value(C::default()) {
        Ok(Value::Mapping(m)) => m
            .keys()
            .filter_map(|k| k.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// Deserialize `C` from `key: value` alone (the other keys default).
fn check_one<C: DaemonConfig>(key: &str, value: &Value) -> Result<(), String> {
    let mut one = serde_yaml::Mapping::new();
    one.insert(Value::from(key), value.clone());
    serde_yaml::from_value::<C>(Value::Mapping(one))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Whether some daemon, or the topology config, knows `key`.
pub(crate) fn is_known(key: &str) -> bool {
    key_spec(key).is_some() || DAEMONS.iter().any(|d| (d.keys)().iter().any(|k| k == key))
}

/// Check a known key's value for every daemon that reads it and as a topology key: the
/// first complaint.
pub(crate) fn check(key: &str, value: &Value) -> Result<(), String> {
    for d in DAEMONS {
        if (d.keys)().iter().any(|k| k == key) {
            (d.check)(key, value).map_err(|e| format!("{e} (read by {})", d.name))?;
        }
    }
    let one: ConfigMap = [(key.to_string(), value.clone())].into_iter().collect();
    match check_config(&one).into_iter().next() {
        Some((_, message)) => Err(message),
        None => Ok(()),
    }
}

/// The known key closest to `key`, if it is close enough to be a typo.
pub(crate) fn suggest(key: &str) -> Option<String> {
    let daemon_keys = DAEMONS.iter().flat_map(|d| (d.keys)());
    let topology_keys = KNOWN_KEYS.iter().map(|s| s.key.to_string());
    daemon_keys
        .chain(topology_keys)
        .map(|k| (distance(key, &k), k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_key() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(
            suggest("nimbus.supervisor.timeout.sec").as_deref(),
            Some("nimbus.supervisor.timeout.secs")
        );
        assert_eq!(
            suggest("topology.worker").as_deref(),
            Some("topology.workers")
        );
        assert_eq!(suggest("something.else.entirely"), None);
    }

    #[test]
    fn both_daemons_and_topology_keys_are_known() {
        for key in [
            "storm.local.dir",
            "nimbus.listen",
            "nimbus.url",
            "supervisor.slots.ports",
            "topology.workers",
        ] {
            assert!(is_known(key), "{key}");
        }
        assert!(!is_known("nimbus.listen.port"));
    }
}
