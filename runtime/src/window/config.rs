//! [`WindowConfig`]: a window's length and sliding interval (each a count of tuples or a
//! duration), event time (timestamp field, lag, watermark interval, late tuple stream,
//! idle timeout), and its mapping to and from the component-config keys
//! (`topology.bolts.window.*`, …) that YAML topologies and Flux `configMethods` set.

use std::time::Duration;

use crate::topology::config::{
    Config, MAX_WINDOW_COUNT, MAX_WINDOW_MILLIS, MIN_WINDOW_EVENTS_IN_MEMORY,
    TOPOLOGY_ACKER_EXECUTORS, TOPOLOGY_BOLTS_LATE_TUPLE_STREAM,
    TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME, TOPOLOGY_BOLTS_SLIDING_INTERVAL_COUNT,
    TOPOLOGY_BOLTS_SLIDING_INTERVAL_DURATION_MS, TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_FIELD_NAME,
    TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_MAX_LAG_MS, TOPOLOGY_BOLTS_WATERMARK_EVENT_INTERVAL_MS,
    TOPOLOGY_BOLTS_WATERMARK_IDLE_TIMEOUT_MS, TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT,
    TOPOLOGY_BOLTS_WINDOW_LENGTH_DURATION_MS, TOPOLOGY_BOLTS_WINDOW_MAX_EVENTS_IN_MEMORY,
    TOPOLOGY_BOLTS_WINDOW_PERSISTENT, TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS,
    TOPOLOGY_STATE_PROVIDER, key_spec,
};
use crate::topology::yaml::ConfigMap;
use crate::window::error::WindowError;

/// Storm's default watermark interval.
pub const DEFAULT_WATERMARK_INTERVAL_MS: u64 = 1000;
/// Squall's default idle timeout: ten watermark intervals (a briefly slow input is not
/// idle), well under the default 30 s message timeout (a stalled watermark holds the
/// window's tuples un-acked, and past the timeout they all replay).
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 10_000;
/// Storm's default `withMaxEventsInMemory`: a million events.
pub const DEFAULT_MAX_EVENTS_IN_MEMORY: u64 = 1_000_000;

/// A window length or sliding interval: a number of tuples or a duration (Storm's
/// `BaseWindowedBolt.Count` / `Duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// This many tuples.
    Count(u64),
    /// This many milliseconds.
    Millis(u64),
}

impl Span {
    /// `n` tuples.
    pub fn count(n: u64) -> Span {
        Span::Count(n)
    }

    /// A duration (whole milliseconds).
    pub fn duration(d: Duration) -> Span {
        Span::Millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// `ms` milliseconds.
    pub fn millis(ms: u64) -> Span {
        Span::Millis(ms)
    }

    /// `s` seconds.
    pub fn secs(s: u64) -> Span {
        Span::Millis(s.saturating_mul(1000))
    }

    fn keys(self, count: &'static str, millis: &'static str) -> (&'static str, u64) {
        match self {
            Span::Count(n) => (count, n),
            Span::Millis(ms) => (millis, ms),
        }
    }
}

/// Everything about a windowed bolt's window. Build it with [`WindowConfig::sliding`],
/// [`WindowConfig::tumbling`] or [`WindowConfig::every_tuple`] and the `with_*` methods;
/// [`WindowConfig::to_config`] gives the component-config entries, and
/// [`WindowConfig::from_config`] reads them back.
///
/// ```
/// use std::time::Duration;
/// use squall_runtime::window::{Span, WindowConfig};
///
/// let w = WindowConfig::sliding(Span::secs(10), Span::secs(2))
///     .with_timestamp_field("ts")
///     .with_lag(Duration::from_secs(1))
///     .with_late_tuple_stream("late");
/// let config = squall_runtime::Config::from_map(w.to_config());
/// assert_eq!(WindowConfig::from_config(&config).unwrap(), w);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowConfig {
    length: Span,
    slide: Span,
    timestamp_field: Option<String>,
    lag_ms: u64,
    watermark_interval_ms: u64,
    late_tuple_stream: Option<String>,
    idle_timeout_ms: u64,
    persistent: bool,
    max_events_in_memory: u64,
    message_id_field: Option<String>,
}

impl WindowConfig {
    /// A window of `length` that slides (fires) every `slide` (all four combinations of
    /// counts and durations).
    pub fn sliding(length: Span, slide: Span) -> WindowConfig {
        WindowConfig {
            length,
            slide,
            timestamp_field: None,
            lag_ms: 0,
            watermark_interval_ms: DEFAULT_WATERMARK_INTERVAL_MS,
            late_tuple_stream: None,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
            persistent: false,
            max_events_in_memory: DEFAULT_MAX_EVENTS_IN_MEMORY,
            message_id_field: None,
        }
    }

    /// A window of `length` that fires on every tuple (Storm's `withWindow(length)`).
    pub fn every_tuple(length: Span) -> WindowConfig {
        WindowConfig::sliding(length, Span::Count(1))
    }

    /// Windows of `length` that do not overlap: the sliding interval is the length.
    pub fn tumbling(length: Span) -> WindowConfig {
        WindowConfig::sliding(length, length)
    }

    /// Event time: each tuple's time is the integer (milliseconds) in field `name`;
    /// windows fire as the watermark passes their end.
    pub fn with_timestamp_field(mut self, name: impl Into<String>) -> WindowConfig {
        self.timestamp_field = Some(name.into());
        self
    }

    /// Event time: tuples may be out of order by up to `lag`.
    pub fn with_lag(mut self, lag: Duration) -> WindowConfig {
        self.lag_ms = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Event time: a watermark every `interval` (default 1 s).
    pub fn with_watermark_interval(mut self, interval: Duration) -> WindowConfig {
        self.watermark_interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Event time: emit late tuples on `stream` (field `late_tuple`) instead of only
    /// logging them.
    pub fn with_late_tuple_stream(mut self, stream: impl Into<String>) -> WindowConfig {
        self.late_tuple_stream = Some(stream.into());
        self
    }

    /// Event time: an input silent for `timeout` stops holding the watermark back
    /// (default 10 s; zero: never).
    pub fn with_idle_timeout(mut self, timeout: Duration) -> WindowConfig {
        self.idle_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Keep the window in the task's state (Storm's `withPersistence()`): its events are
    /// paged out to the state provider past [`WindowConfig::with_max_events_in_memory`]
    /// and saved at each checkpoint; input tuples are acked when the checkpoint commits,
    /// emits are unanchored, and a restarted task resumes the window. Needs
    /// `topology.state.provider` and acking.
    pub fn with_persistence(mut self) -> WindowConfig {
        self.persistent = true;
        self
    }

    /// Persistent windows: hold at most `n` events in memory (default 1,000,000; at least
    /// 64).
    pub fn with_max_events_in_memory(mut self, n: u64) -> WindowConfig {
        self.max_events_in_memory = n;
        self
    }

    /// Persistent windows: field `name` holds each tuple's message id (an integer
    /// increasing per source task). A restarted window then drops the replayed tuples it
    /// holds already and does not fire again the windows it fired.
    pub fn with_message_id_field(mut self, name: impl Into<String>) -> WindowConfig {
        self.message_id_field = Some(name.into());
        self
    }

    /// Whether the window is persistent.
    pub fn persistent(&self) -> bool {
        self.persistent
    }

    /// Persistent windows: the most events held in memory.
    pub fn max_events_in_memory(&self) -> u64 {
        self.max_events_in_memory
    }

    /// Persistent windows: the message id field, if any.
    pub fn message_id_field(&self) -> Option<&str> {
        self.message_id_field.as_deref()
    }

    /// The window length.
    pub fn length(&self) -> Span {
        self.length
    }

    /// The sliding interval.
    pub fn slide(&self) -> Span {
        self.slide
    }

    /// The event-time field, if the window runs on event time.
    pub fn timestamp_field(&self) -> Option<&str> {
        self.timestamp_field.as_deref()
    }

    /// The event-time lag, in milliseconds.
    pub fn lag_ms(&self) -> u64 {
        self.lag_ms
    }

    /// Milliseconds between watermarks.
    pub fn watermark_interval_ms(&self) -> u64 {
        self.watermark_interval_ms
    }

    /// The late tuple stream, if any.
    pub fn late_tuple_stream(&self) -> Option<&str> {
        self.late_tuple_stream.as_deref()
    }

    /// The idle timeout in milliseconds (0: inputs are never idle).
    pub fn idle_timeout_ms(&self) -> u64 {
        self.idle_timeout_ms
    }

    /// The component-config entries of this window (what a YAML component's `config:`
    /// or Flux's `configMethods` set).
    pub fn to_config(&self) -> ConfigMap {
        let mut map = ConfigMap::new();
        let (k, v) = self.length.keys(
            TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT,
            TOPOLOGY_BOLTS_WINDOW_LENGTH_DURATION_MS,
        );
        map.insert(k.into(), v.into());
        let (k, v) = self.slide.keys(
            TOPOLOGY_BOLTS_SLIDING_INTERVAL_COUNT,
            TOPOLOGY_BOLTS_SLIDING_INTERVAL_DURATION_MS,
        );
        map.insert(k.into(), v.into());
        if let Some(f) = &self.timestamp_field {
            map.insert(
                TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_FIELD_NAME.into(),
                f.as_str().into(),
            );
        }
        if let Some(s) = &self.late_tuple_stream {
            map.insert(TOPOLOGY_BOLTS_LATE_TUPLE_STREAM.into(), s.as_str().into());
        }
        map.insert(
            TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_MAX_LAG_MS.into(),
            self.lag_ms.into(),
        );
        map.insert(
            TOPOLOGY_BOLTS_WATERMARK_EVENT_INTERVAL_MS.into(),
            self.watermark_interval_ms.into(),
        );
        map.insert(
            TOPOLOGY_BOLTS_WATERMARK_IDLE_TIMEOUT_MS.into(),
            self.idle_timeout_ms.into(),
        );
        if self.persistent {
            map.insert(TOPOLOGY_BOLTS_WINDOW_PERSISTENT.into(), true.into());
            map.insert(
                TOPOLOGY_BOLTS_WINDOW_MAX_EVENTS_IN_MEMORY.into(),
                self.max_events_in_memory.into(),
            );
        }
        if let Some(f) = &self.message_id_field {
            map.insert(
                TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME.into(),
                f.as_str().into(),
            );
        }
        map
    }

    /// The window a component's merged config describes. Errors name the keys: no
    /// length, both a count and a duration, a bad value, or an event-time key without a
    /// timestamp field.
    pub fn from_config(config: &Config) -> Result<WindowConfig, WindowError> {
        let length = span(
            config,
            TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT,
            TOPOLOGY_BOLTS_WINDOW_LENGTH_DURATION_MS,
            "length",
        )?
        .ok_or(WindowError::NoLength)?;
        let slide = span(
            config,
            TOPOLOGY_BOLTS_SLIDING_INTERVAL_COUNT,
            TOPOLOGY_BOLTS_SLIDING_INTERVAL_DURATION_MS,
            "sliding interval",
        )?
        .unwrap_or(Span::Count(1));
        let timestamp_field = string(config, TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_FIELD_NAME)?;
        let late_tuple_stream = string(config, TOPOLOGY_BOLTS_LATE_TUPLE_STREAM)?;
        if late_tuple_stream.is_some() && timestamp_field.is_none() {
            return Err(WindowError::NeedsEventTime {
                key: TOPOLOGY_BOLTS_LATE_TUPLE_STREAM,
                what: "a tuple can be late",
            });
        }
        let int = |key: &'static str, default: u64| -> Result<u64, WindowError> {
            Ok(integer(config, key, 0)?.unwrap_or(default))
        };
        let persistent = match config.get(TOPOLOGY_BOLTS_WINDOW_PERSISTENT) {
            None | Some(serde_yaml::Value::Null) => false,
            Some(v) => v.as_bool().ok_or_else(|| WindowError::BadValue {
                key: TOPOLOGY_BOLTS_WINDOW_PERSISTENT,
                expected: "true or false",
                got: shown(v),
            })?,
        };
        let message_id_field = string(config, TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME)?;
        if message_id_field.is_some() && !persistent {
            return Err(WindowError::NeedsPersistence {
                key: TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME,
            });
        }
        Ok(WindowConfig {
            length,
            slide,
            timestamp_field,
            lag_ms: int(TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_MAX_LAG_MS, 0)?,
            watermark_interval_ms: integer(config, TOPOLOGY_BOLTS_WATERMARK_EVENT_INTERVAL_MS, 1)?
                .unwrap_or(DEFAULT_WATERMARK_INTERVAL_MS),
            late_tuple_stream,
            idle_timeout_ms: int(
                TOPOLOGY_BOLTS_WATERMARK_IDLE_TIMEOUT_MS,
                DEFAULT_IDLE_TIMEOUT_MS,
            )?,
            persistent,
            max_events_in_memory: integer(
                config,
                TOPOLOGY_BOLTS_WINDOW_MAX_EVENTS_IN_MEMORY,
                MIN_WINDOW_EVENTS_IN_MEMORY,
            )?
            .unwrap_or(DEFAULT_MAX_EVENTS_IN_MEMORY),
            message_id_field,
        })
    }

    /// Storm's prepare-time checks against the topology's settings: a duration window
    /// (length + sliding interval) must not outlast `topology.message.timeout.secs`
    /// (unless timeouts are off), and a count window (length + sliding interval) must fit
    /// in `topology.max.spout.pending` (when set) — its tuples stay un-acked until they
    /// expire. Both are skipped when acking is off (`topology.acker.executors: 0`):
    /// nothing times out and nothing is pending then.
    ///
    /// A persistent window acks its tuples when a checkpoint commits, not at expiry, so
    /// neither check applies; it needs instead a state provider, acking (checkpoints
    /// complete through acks), and a checkpoint interval within the message timeout
    /// (Storm's check).
    pub fn check_topology(&self, config: &Config) -> Result<(), WindowError> {
        if self.persistent {
            return self.check_persistence(config);
        }
        let settings = config.settings();
        if config.setting_u64(TOPOLOGY_ACKER_EXECUTORS) == Some(0) {
            return Ok(());
        }
        let (length_key, len) = self.length.keys(
            TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT,
            TOPOLOGY_BOLTS_WINDOW_LENGTH_DURATION_MS,
        );
        let (slide_key, sl) = self.slide.keys(
            TOPOLOGY_BOLTS_SLIDING_INTERVAL_COUNT,
            TOPOLOGY_BOLTS_SLIDING_INTERVAL_DURATION_MS,
        );
        let span_ms = match (self.length, self.slide) {
            (Span::Millis(_), Span::Millis(_)) => Some(len.saturating_add(sl)),
            (Span::Millis(_), _) => Some(len),
            (_, Span::Millis(_)) => Some(sl),
            _ => None,
        };
        if let Some(span_ms) = span_ms
            && settings.enable_message_timeouts
            && span_ms > settings.message_timeout_secs.saturating_mul(1000)
        {
            return Err(WindowError::SpanOverTimeout {
                span_ms,
                timeout_secs: settings.message_timeout_secs,
                length_key,
                slide_key,
            });
        }
        let count = match (self.length, self.slide) {
            (Span::Count(_), Span::Count(_)) => Some(len.saturating_add(sl)),
            (Span::Count(_), _) => Some(len),
            (_, Span::Count(_)) => Some(sl),
            _ => None,
        };
        if let (Some(count), Some(max_pending)) = (count, settings.max_spout_pending) {
            let max_pending = max_pending as u64;
            if count > max_pending {
                return Err(WindowError::CountOverPending {
                    count,
                    max_pending,
                    length_key,
                    slide_key,
                });
            }
        }
        Ok(())
    }
}

impl WindowConfig {
    fn check_persistence(&self, config: &Config) -> Result<(), WindowError> {
        if config.setting_u64(TOPOLOGY_ACKER_EXECUTORS) == Some(0) {
            return Err(WindowError::PersistentNeedsAcking);
        }
        if config
            .get_str(TOPOLOGY_STATE_PROVIDER)
            .is_none_or(str::is_empty)
        {
            return Err(WindowError::PersistentNeedsProvider);
        }
        let settings = config.settings();
        let interval_ms = config
            .setting_u64(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS)
            .unwrap_or(1000);
        if settings.enable_message_timeouts
            && interval_ms > settings.message_timeout_secs.saturating_mul(1000)
        {
            return Err(WindowError::CheckpointOverTimeout {
                interval_ms,
                timeout_secs: settings.message_timeout_secs,
            });
        }
        Ok(())
    }
}

/// One of two exclusive span keys.
fn span(
    config: &Config,
    count_key: &'static str,
    millis_key: &'static str,
    what: &'static str,
) -> Result<Option<Span>, WindowError> {
    let count = integer(config, count_key, 1)?;
    let millis = integer(config, millis_key, 1)?;
    match (count, millis) {
        (Some(_), Some(_)) => Err(WindowError::Conflict {
            first: count_key,
            second: millis_key,
            what,
        }),
        (Some(n), None) => Ok(Some(Span::Count(n))),
        (None, Some(ms)) => Ok(Some(Span::Millis(ms))),
        (None, None) => Ok(None),
    }
}

/// An integer key (null or absent: `None`), at least `min` and at most the key's max.
fn integer(config: &Config, key: &'static str, min: u64) -> Result<Option<u64>, WindowError> {
    let Some(v) = config.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let max = key_spec(key).map_or(MAX_WINDOW_MILLIS.max(MAX_WINDOW_COUNT), |s| s.max);
    match v.as_u64() {
        Some(n) if n >= min && n <= max => Ok(Some(n)),
        _ => Err(WindowError::BadValue {
            key,
            expected: if min == 0 {
                "an integer >= 0 (within the key's maximum)"
            } else {
                "an integer >= 1 (within the key's maximum)"
            },
            got: shown(v),
        }),
    }
}

/// A string key (null or absent: `None`; empty: refused).
fn string(config: &Config, key: &'static str) -> Result<Option<String>, WindowError> {
    let Some(v) = config.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match v.as_str() {
        Some(s) if !s.is_empty() => Ok(Some(s.to_string())),
        _ => Err(WindowError::BadValue {
            key,
            expected: "a non-empty string",
            got: shown(v),
        }),
    }
}

fn shown(v: &serde_yaml::Value) -> String {
    let s = serde_yaml::to_string(v).unwrap_or_default();
    s.trim().chars().take(40).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        Config::merged([&serde_yaml::from_str::<ConfigMap>(yaml).unwrap()])
    }

    #[test]
    fn every_combination_maps_to_the_keys_and_back() {
        for (length, slide) in [
            (Span::count(5), Span::count(3)),
            (Span::count(5), Span::millis(300)),
            (Span::millis(500), Span::count(3)),
            (Span::millis(500), Span::millis(300)),
        ] {
            for w in [
                WindowConfig::sliding(length, slide),
                WindowConfig::tumbling(length),
                WindowConfig::every_tuple(length),
            ] {
                let back = WindowConfig::from_config(&Config::merged([&w.to_config()])).unwrap();
                assert_eq!(back, w);
            }
        }
        let w = config("topology.bolts.window.length.duration.ms: 500");
        let w = WindowConfig::from_config(&w).unwrap();
        assert_eq!((w.length(), w.slide()), (Span::Millis(500), Span::Count(1)));
        assert_eq!(w.idle_timeout_ms(), DEFAULT_IDLE_TIMEOUT_MS);
        assert_eq!(w.watermark_interval_ms(), 1000);
    }

    #[test]
    fn bad_configs_are_refused_naming_the_keys() {
        let err = |yaml: &str| {
            WindowConfig::from_config(&config(yaml))
                .unwrap_err()
                .to_string()
        };
        assert!(err("x: 1").contains("topology.bolts.window.length.count or"));
        let e = err(
            "topology.bolts.window.length.count: 5\ntopology.bolts.window.length.duration.ms: 5",
        );
        assert!(e.contains("topology.bolts.window.length.count and topology.bolts.window.length.duration.ms are both set"), "{e}");
        let e = err("topology.bolts.window.length.count: 0");
        assert!(
            e.contains("topology.bolts.window.length.count: expected an integer >= 1"),
            "{e}"
        );
        let e =
            err("topology.bolts.window.length.count: 5\ntopology.bolts.late.tuple.stream: late");
        assert!(e.contains("topology.bolts.late.tuple.stream is set but topology.bolts.tuple.timestamp.field.name is not"), "{e}");
    }

    #[test]
    fn prepare_checks_name_both_keys() {
        let w = WindowConfig::sliding(Span::secs(20), Span::secs(15));
        let e = w.check_topology(&config("x: 1")).unwrap_err().to_string();
        assert!(
            e.contains("35000 ms is more than topology.message.timeout.secs 30 s"),
            "{e}"
        );
        assert!(
            e.contains("topology.bolts.window.length.duration.ms"),
            "{e}"
        );
        assert!(
            e.contains("topology.bolts.window.sliding.interval.duration.ms"),
            "{e}"
        );
        w.check_topology(&config("topology.message.timeout.secs: 35"))
            .unwrap();
        w.check_topology(&config("topology.enable.message.timeouts: false"))
            .unwrap();
        w.check_topology(&config("topology.acker.executors: 0"))
            .unwrap();
        let w = WindowConfig::sliding(Span::count(1000), Span::count(100));
        w.check_topology(&config("x: 1")).unwrap();
        let e = w
            .check_topology(&config("topology.max.spout.pending: 1000"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("window count (length + sliding interval) 1100 is more than topology.max.spout.pending 1000"), "{e}");
        assert!(
            e.contains(
                "topology.bolts.window.length.count / topology.bolts.window.sliding.interval.count"
            ),
            "{e}"
        );
        w.check_topology(&config("topology.max.spout.pending: 1100"))
            .unwrap();
        // Count length, duration slide: the count alone against pending, the slide alone
        // against the timeout.
        let w = WindowConfig::sliding(Span::count(10), Span::secs(31));
        assert!(matches!(
            w.check_topology(&config("x: 1")),
            Err(WindowError::SpanOverTimeout { span_ms: 31000, .. })
        ));
        let e = w.check_topology(&config(
            "topology.message.timeout.secs: 60\ntopology.max.spout.pending: 9",
        ));
        assert!(
            matches!(e, Err(WindowError::CountOverPending { count: 10, .. })),
            "{e:?}"
        );
    }
}
