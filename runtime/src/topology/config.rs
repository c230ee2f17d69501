//! Configuration: Storm key names, their defaults (in one table), type checks with
//! errors that name the key, and the typed settings the runtime itself reads.

use crate::topology::yaml::ConfigMap;

/// What kind of value a known key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Integer ≥ 1.
    Positive,
    /// Integer ≥ 0.
    NonNegative,
    /// Integer ≥ 1, or `null` for "unset".
    OptionalPositive,
    /// Integer ≥ 0, or `null` for "unset".
    OptionalNonNegative,
    /// `true` or `false`.
    Bool,
    /// A number in (0, 1].
    Fraction,
    /// A string, or `null` for "unset".
    OptionalString,
    /// A list of strings (empty by default).
    StringList,
    /// An integer at least this large.
    AtLeast(u64),
}

/// The default of a known key: the one place each default is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyDefault {
    /// Unset (`null`).
    Null,
    /// A boolean.
    Bool(bool),
    /// A non-negative integer.
    Int(u64),
    /// A number.
    Float(f64),
}

impl KeyDefault {
    /// The default as a YAML value.
    pub fn value(self) -> serde_yaml::Value {
        match self {
            KeyDefault::Null => serde_yaml::Value::Null,
            KeyDefault::Bool(b) => b.into(),
            KeyDefault::Int(i) => i.into(),
            KeyDefault::Float(f) => f.into(),
        }
    }
}

impl std::fmt::Display for KeyDefault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyDefault::Null => f.write_str("null"),
            KeyDefault::Bool(b) => write!(f, "{b}"),
            KeyDefault::Int(i) => write!(f, "{i}"),
            KeyDefault::Float(x) => write!(f, "{x}"),
        }
    }
}

/// A configuration key the runtime understands.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Storm key name.
    pub key: &'static str,
    /// Accepted values.
    pub ty: KeyType,
    /// Default (`Null` = unset).
    pub default: KeyDefault,
    /// Largest integer accepted (integer types only): a duration or a size past it
    /// would overflow a clock or an allocation, so it is refused at validation.
    pub max: u64,
    /// What it does.
    pub doc: &'static str,
}

/// Number of worker processes.
pub const TOPOLOGY_WORKERS: &str = "topology.workers";
/// Number of acker tasks (`null` = one per worker, 0 = acking off).
pub const TOPOLOGY_ACKER_EXECUTORS: &str = "topology.acker.executors";
/// Seconds before an incomplete tuple tree fails.
pub const TOPOLOGY_MESSAGE_TIMEOUT_SECS: &str = "topology.message.timeout.secs";
/// Whether message timeouts are enforced.
pub const TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS: &str = "topology.enable.message.timeouts";
/// Max un-acked messages per spout task.
pub const TOPOLOGY_MAX_SPOUT_PENDING: &str = "topology.max.spout.pending";
/// Tick tuple period for bolts.
pub const TOPOLOGY_TICK_TUPLE_FREQ_SECS: &str = "topology.tick.tuple.freq.secs";
/// Capacity of each executor's receive queue, in tuples (a batch is admitted while
/// fewer tuples are queued, so the queue holds at most this plus one batch per sender).
pub const TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE: &str = "topology.executor.receive.buffer.size";
/// Tuples per batch handed from one executor to another.
pub const TOPOLOGY_PRODUCER_BATCH_SIZE: &str = "topology.producer.batch.size";
/// Longest a partial batch waits before it is sent.
pub const TOPOLOGY_BATCH_FLUSH_INTERVAL_MILLIS: &str = "topology.batch.flush.interval.millis";
/// Send a partial batch at once when its destination's queue is empty (Squall's key).
pub const TOPOLOGY_BATCH_FLUSH_WHEN_IDLE: &str = "topology.batch.flush.when.idle";
/// Longest an idle spout waits between two `next_tuple` calls (Squall's key).
pub const TOPOLOGY_SPOUT_WAIT_MAX_MILLIS: &str = "topology.spout.wait.max.millis";
/// Log every emitted tuple.
pub const TOPOLOGY_DEBUG: &str = "topology.debug";
/// Fraction of tracked spout messages whose complete latency is measured.
pub const TOPOLOGY_STATS_SAMPLE_RATE: &str = "topology.stats.sample.rate";
/// Trident: least time between the starts of two new batches, in milliseconds.
pub const TOPOLOGY_TRIDENT_BATCH_EMIT_INTERVAL_MILLIS: &str =
    "topology.trident.batch.emit.interval.millis";
/// Seconds a multi-lang subprocess may stay silent before it is considered hung.
pub const TOPOLOGY_SUBPROCESS_TIMEOUT_SECS: &str = "topology.subprocess.timeout.secs";
/// Tuples a shell bolt queues for its subprocess before `execute` blocks.
pub const TOPOLOGY_SHELLBOLT_MAX_PENDING: &str = "topology.shellbolt.max.pending";
/// The topology's resources directory: multi-lang subprocesses run there.
pub const TOPOLOGY_RESOURCES_DIR: &str = "topology.resources.dir";
/// Most memory, in MiB, one worker process and its multi-lang subprocesses may use
/// together before the supervisor kills the worker (`null` = no limit).
pub const TOPOLOGY_WORKER_MAX_MEMORY_MB: &str = "topology.worker.max.memory.mb";
/// Token names that may act on the topology besides its owner (the submitting token).
pub const TOPOLOGY_USERS: &str = "topology.users";
/// Where stateful bolts keep their state: `memory` (default), `redb`, `redis`, or Storm's
/// provider class names.
pub const TOPOLOGY_STATE_PROVIDER: &str = "topology.state.provider";
/// The state provider's config: a JSON string, as in Storm.
pub const TOPOLOGY_STATE_PROVIDER_CONFIG: &str = "topology.state.provider.config";
/// The directory host-local (redb) state files are kept under; set by the supervisor
/// on a cluster.
pub const TOPOLOGY_STATE_DIR: &str = "topology.state.dir";
/// Milliseconds between two checkpoints of the stateful bolts' state.
pub const TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS: &str = "topology.state.checkpoint.interval.ms";

/// Windowed bolts: window length as a number of tuples.
pub const TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT: &str = "topology.bolts.window.length.count";
/// Windowed bolts: window length as a duration, in milliseconds.
pub const TOPOLOGY_BOLTS_WINDOW_LENGTH_DURATION_MS: &str =
    "topology.bolts.window.length.duration.ms";
/// Windowed bolts: the window slides after this many tuples.
pub const TOPOLOGY_BOLTS_SLIDING_INTERVAL_COUNT: &str =
    "topology.bolts.window.sliding.interval.count";
/// Windowed bolts: the window slides after this duration, in milliseconds.
pub const TOPOLOGY_BOLTS_SLIDING_INTERVAL_DURATION_MS: &str =
    "topology.bolts.window.sliding.interval.duration.ms";
/// Windowed bolts (Squall's key; Storm sets it in code): the input field holding each
/// tuple's event time, in milliseconds. Set: event-time windows.
pub const TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_FIELD_NAME: &str =
    "topology.bolts.tuple.timestamp.field.name";
/// Windowed bolts: how far, in milliseconds, event times may be out of order.
pub const TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_MAX_LAG_MS: &str =
    "topology.bolts.tuple.timestamp.max.lag.ms";
/// Windowed bolts: milliseconds between two watermarks (event time).
pub const TOPOLOGY_BOLTS_WATERMARK_EVENT_INTERVAL_MS: &str =
    "topology.bolts.watermark.event.interval.ms";
/// Windowed bolts: the stream late tuples are emitted on (event time).
pub const TOPOLOGY_BOLTS_LATE_TUPLE_STREAM: &str = "topology.bolts.late.tuple.stream";
/// Windowed bolts (Squall's key): an input silent this long, in milliseconds, stops
/// holding the watermark back; 0 = never (Storm's behaviour).
pub const TOPOLOGY_BOLTS_WATERMARK_IDLE_TIMEOUT_MS: &str =
    "topology.bolts.watermark.idle.timeout.ms";
/// Windowed bolts (Squall's key; Storm's `withPersistence()`): the window's contents are
/// kept in the task's state (`topology.state.provider`), paged, and saved at each
/// checkpoint.
pub const TOPOLOGY_BOLTS_WINDOW_PERSISTENT: &str = "topology.bolts.window.persistent";
/// Persistent windows (Squall's key; Storm's `withMaxEventsInMemory(n)`): at most this
/// many of the window's events are held in memory, the rest are in the state.
pub const TOPOLOGY_BOLTS_WINDOW_MAX_EVENTS_IN_MEMORY: &str =
    "topology.bolts.window.max.events.in.memory";
/// Persistent windows (Storm's key): the input field holding each tuple's message id, a
/// number increasing per source task; with it a restarted window drops replayed tuples it
/// holds already and does not fire again the windows it fired.
pub const TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME: &str = "topology.bolts.message.id.field.name";
/// Smallest `topology.bolts.window.max.events.in.memory`.
pub const MIN_WINDOW_EVENTS_IN_MEMORY: u64 = 64;

/// Shortest checkpoint interval, in milliseconds (Storm's minimum).
pub const MIN_CHECKPOINT_INTERVAL_MS: u64 = 100;

/// Largest number of seconds a `.secs` key accepts (a year): past it, deadlines
/// computed from the clock would overflow.
pub const MAX_SECS: u64 = 365 * 24 * 3600;
/// Largest number of milliseconds a `.millis` key accepts (a day).
pub const MAX_MILLIS: u64 = 24 * 3600 * 1000;
/// Largest queue or pending-message bound: queues of this many slots are allocated up
/// front.
pub const MAX_QUEUE: u64 = 1 << 22;
/// Largest number of tuples in one batch between executors.
pub const MAX_BATCH: u64 = 1 << 16;
/// Largest number of workers or acker tasks.
pub const MAX_PARALLELISM: u64 = 1 << 16;
/// Largest worker memory limit, in MiB (16 TiB): its size in bytes fits in a `u64`
/// with room to spare, and no machine a worker runs on has more.
pub const MAX_WORKER_MEMORY_MB: u64 = 16 << 20;

/// Largest window length or sliding interval in tuples (a window's tuples are kept in
/// memory).
pub const MAX_WINDOW_COUNT: u64 = 1 << 24;
/// Largest window duration, lag or interval in milliseconds (Storm's: a Java `int`).
pub const MAX_WINDOW_MILLIS: u64 = i32::MAX as u64;

/// Every key the runtime reads, with its default. README's config table follows this.
pub const KNOWN_KEYS: &[KeySpec] = &[
    KeySpec {
        key: TOPOLOGY_WORKERS,
        ty: KeyType::Positive,
        default: KeyDefault::Int(1),
        max: MAX_PARALLELISM,
        doc: "worker processes (local mode runs everything in one process)",
    },
    KeySpec {
        key: TOPOLOGY_ACKER_EXECUTORS,
        ty: KeyType::OptionalNonNegative,
        default: KeyDefault::Null,
        max: MAX_PARALLELISM,
        doc: "acker tasks; null = one per worker, 0 = acking off (spouts are acked at emit)",
    },
    KeySpec {
        key: TOPOLOGY_MESSAGE_TIMEOUT_SECS,
        ty: KeyType::Positive,
        default: KeyDefault::Int(30),
        max: MAX_SECS,
        doc: "a tuple tree not completed in this time fails at its spout",
    },
    KeySpec {
        key: TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS,
        ty: KeyType::Bool,
        default: KeyDefault::Bool(true),
        max: 0,
        doc: "false disables message timeouts (tests only)",
    },
    KeySpec {
        key: TOPOLOGY_MAX_SPOUT_PENDING,
        ty: KeyType::OptionalPositive,
        default: KeyDefault::Null,
        max: MAX_QUEUE,
        doc: "most un-acked messages per spout task; null = no limit",
    },
    KeySpec {
        key: TOPOLOGY_TICK_TUPLE_FREQ_SECS,
        ty: KeyType::OptionalPositive,
        default: KeyDefault::Null,
        max: MAX_SECS,
        doc: "send each bolt task a tick tuple this often; per component or topology-wide",
    },
    KeySpec {
        key: TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE,
        ty: KeyType::Positive,
        default: KeyDefault::Int(32768),
        max: MAX_QUEUE,
        doc: "capacity of an executor's receive queue, in tuples: a sender may add a batch \
              while fewer are queued (bounds memory per executor: this plus one batch per \
              sender)",
    },
    KeySpec {
        key: TOPOLOGY_PRODUCER_BATCH_SIZE,
        ty: KeyType::Positive,
        default: KeyDefault::Int(1000),
        max: MAX_BATCH,
        doc: "tuples per batch between executors (a batch is also sent when the sender idles)",
    },
    KeySpec {
        key: TOPOLOGY_BATCH_FLUSH_INTERVAL_MILLIS,
        ty: KeyType::NonNegative,
        default: KeyDefault::Int(1),
        max: MAX_MILLIS,
        doc: "a partial batch is sent after at most this long; 0 = send every tuple at once",
    },
    KeySpec {
        key: TOPOLOGY_BATCH_FLUSH_WHEN_IDLE,
        ty: KeyType::Bool,
        default: KeyDefault::Bool(false),
        max: 0,
        doc: "also send a partial batch as soon as the destination's queue is empty (its \
              executor has nothing to do): lower latency at low rates, smaller batches",
    },
    KeySpec {
        key: TOPOLOGY_SPOUT_WAIT_MAX_MILLIS,
        ty: KeyType::Positive,
        default: KeyDefault::Int(100),
        max: MAX_MILLIS,
        doc: "an idle spout (next_tuple emitted nothing) waits 1 ms before calling it \
              again, twice as long after each further idle call, up to this; an acker \
              verdict or the spout's waker ends the wait at once (1 = Storm's fixed 1 ms)",
    },
    KeySpec {
        key: TOPOLOGY_STATS_SAMPLE_RATE,
        ty: KeyType::Fraction,
        default: KeyDefault::Float(0.05),
        max: 0,
        doc: "fraction of tracked spout messages whose complete latency is measured (1 = all)",
    },
    KeySpec {
        key: TOPOLOGY_TRIDENT_BATCH_EMIT_INTERVAL_MILLIS,
        ty: KeyType::NonNegative,
        default: KeyDefault::Int(500),
        max: MAX_MILLIS,
        doc: "Trident: least time between the starts of two new batches",
    },
    KeySpec {
        key: TOPOLOGY_DEBUG,
        ty: KeyType::Bool,
        default: KeyDefault::Bool(false),
        max: 0,
        doc: "log every emitted tuple at debug level",
    },
    KeySpec {
        key: TOPOLOGY_SUBPROCESS_TIMEOUT_SECS,
        ty: KeyType::Positive,
        default: KeyDefault::Int(30),
        max: MAX_SECS,
        doc: "a multi-lang subprocess silent this long (no heartbeat answer, no reply) is \
              considered hung: killed, its tuples failed, restarted",
    },
    KeySpec {
        key: TOPOLOGY_SHELLBOLT_MAX_PENDING,
        ty: KeyType::Positive,
        default: KeyDefault::Int(100),
        max: MAX_QUEUE,
        doc: "tuples a shell bolt queues for its subprocess before execute blocks",
    },
    KeySpec {
        key: TOPOLOGY_RESOURCES_DIR,
        ty: KeyType::OptionalString,
        default: KeyDefault::Null,
        max: 0,
        doc: "working directory of multi-lang subprocesses; null = the topology file's \
              directory under `squall local`, else the current directory",
    },
    KeySpec {
        key: TOPOLOGY_WORKER_MAX_MEMORY_MB,
        ty: KeyType::OptionalPositive,
        default: KeyDefault::Null,
        max: MAX_WORKER_MEMORY_MB,
        doc: "most memory (MiB) a worker process and its multi-lang subprocesses may use \
              together: past it the supervisor kills the worker (a cgroup v2 memory.max \
              where it can, else its resident set polled every second) and restarts it; \
              null = no limit. Not enforced in local mode",
    },
    KeySpec {
        key: TOPOLOGY_USERS,
        ty: KeyType::StringList,
        default: KeyDefault::Null,
        max: 0,
        doc: "names of the tokens (besides the submitting one, its owner) that may kill, \
              activate, deactivate and rebalance the topology; admins always may",
    },
    KeySpec {
        key: TOPOLOGY_STATE_PROVIDER,
        ty: KeyType::OptionalString,
        default: KeyDefault::Null,
        max: 0,
        doc: "where stateful bolts keep their state: memory (null, the default; lost with the \
              worker), redb (a file per task on the worker's host) or redis; Storm's \
              InMemoryKeyValueStateProvider and RedisKeyValueStateProvider class names too",
    },
    KeySpec {
        key: TOPOLOGY_STATE_PROVIDER_CONFIG,
        ty: KeyType::OptionalString,
        default: KeyDefault::Null,
        max: 0,
        doc: "the state provider's config as a JSON string, as in Storm: for redis \
              {\"jedisPoolConfig\": {\"host\", \"port\", \"password\", \"database\", \
              \"timeout\"}}, for redb {\"path\": dir}",
    },
    KeySpec {
        key: TOPOLOGY_STATE_DIR,
        ty: KeyType::OptionalString,
        default: KeyDefault::Null,
        max: 0,
        doc: "the directory redb state files are kept under (a relative redb `path` is \
              taken under it); on a cluster the supervisor sets it to `<its data \
              dir>/state/<topology id>`; null in local mode = \
              `$TMPDIR/squall-state/<topology name>`",
    },
    KeySpec {
        key: TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS,
        ty: KeyType::AtLeast(MIN_CHECKPOINT_INTERVAL_MS),
        default: KeyDefault::Int(1000),
        max: MAX_MILLIS,
        doc: "milliseconds between two checkpoints of the stateful bolts' state (at least \
              100; keep it below the message timeout)",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_WINDOW_LENGTH_COUNT,
        ty: KeyType::OptionalPositive,
        default: KeyDefault::Null,
        max: MAX_WINDOW_COUNT,
        doc: "windowed bolts: the window holds the last this many tuples (or set \
              topology.bolts.window.length.duration.ms)",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_WINDOW_LENGTH_DURATION_MS,
        ty: KeyType::OptionalPositive,
        default: KeyDefault::Null,
        max: MAX_WINDOW_MILLIS,
        doc: "windowed bolts: the window holds the tuples of the last this many milliseconds",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_SLIDING_INTERVAL_COUNT,
        ty: KeyType::OptionalPositive,
        default: KeyDefault::Null,
        max: MAX_WINDOW_COUNT,
        doc: "windowed bolts: the window slides (fires) every this many tuples; with no \
              sliding interval set, every tuple",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_SLIDING_INTERVAL_DURATION_MS,
        ty: KeyType::OptionalPositive,
        default: KeyDefault::Null,
        max: MAX_WINDOW_MILLIS,
        doc: "windowed bolts: the window slides (fires) every this many milliseconds",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_FIELD_NAME,
        ty: KeyType::OptionalString,
        default: KeyDefault::Null,
        max: 0,
        doc: "windowed bolts (Squall's key; Storm's withTimestampField): the input field \
              holding each tuple's event time in milliseconds; set = event-time windows \
              driven by watermarks",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_TUPLE_TIMESTAMP_MAX_LAG_MS,
        ty: KeyType::NonNegative,
        default: KeyDefault::Int(0),
        max: MAX_WINDOW_MILLIS,
        doc: "windowed bolts, event time: how far event times may be out of order; the \
              watermark trails the inputs' latest event time by this much",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_WATERMARK_EVENT_INTERVAL_MS,
        ty: KeyType::Positive,
        default: KeyDefault::Int(1000),
        max: MAX_WINDOW_MILLIS,
        doc: "windowed bolts, event time: milliseconds between two watermarks",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_LATE_TUPLE_STREAM,
        ty: KeyType::OptionalString,
        default: KeyDefault::Null,
        max: 0,
        doc: "windowed bolts, event time: the stream late tuples are emitted on (field \
              late_tuple: the tuple's values as a list); null = late tuples are logged and \
              acked",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_WATERMARK_IDLE_TIMEOUT_MS,
        ty: KeyType::NonNegative,
        default: KeyDefault::Int(10_000),
        max: MAX_WINDOW_MILLIS,
        doc: "windowed bolts, event time (Squall's key): an input (source task and stream) \
              with no tuple for this long stops holding the watermark back until it sends \
              again; 0 = never (Storm's behaviour)",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_WINDOW_PERSISTENT,
        ty: KeyType::Bool,
        default: KeyDefault::Bool(false),
        max: 0,
        doc: "windowed bolts (Squall's key; Storm's withPersistence()): keep the window in \
              the task's state (topology.state.provider), paged, saved at each checkpoint; \
              input tuples are acked when the checkpoint commits and emits are unanchored",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_WINDOW_MAX_EVENTS_IN_MEMORY,
        ty: KeyType::AtLeast(MIN_WINDOW_EVENTS_IN_MEMORY),
        default: KeyDefault::Int(1_000_000),
        max: MAX_QUEUE * 64,
        doc: "persistent windows (Squall's key; Storm's withMaxEventsInMemory(n)): at most \
              this many of the window's events are held in memory, the others are paged out \
              to the state",
    },
    KeySpec {
        key: TOPOLOGY_BOLTS_MESSAGE_ID_FIELD_NAME,
        ty: KeyType::OptionalString,
        default: KeyDefault::Null,
        max: 0,
        doc: "persistent windows: the input field holding a message id that increases per \
              source task; a restarted window then drops replayed tuples it holds and does \
              not fire again the windows it fired",
    },
];

fn check_value(spec: &KeySpec, v: &serde_yaml::Value) -> Result<(), String> {
    let int = v.as_i64();
    // Integers past the key's maximum are refused like any other bad value; a
    // non-finite float never passes (`.inf` is not an integer, nor in (0, 1]).
    let small = |i: i64| u64::try_from(i).is_ok_and(|i| i <= spec.max);
    let ok = match spec.ty {
        KeyType::Positive => int.is_some_and(|i| i >= 1 && small(i)),
        KeyType::NonNegative => int.is_some_and(small),
        KeyType::OptionalPositive => v.is_null() || int.is_some_and(|i| i >= 1 && small(i)),
        KeyType::OptionalNonNegative => v.is_null() || int.is_some_and(small),
        KeyType::AtLeast(min) => {
            int.is_some_and(|i| u64::try_from(i).is_ok_and(|i| i >= min) && small(i))
        }
        KeyType::Bool => v.is_bool(),
        KeyType::Fraction => v
            .as_f64()
            .is_some_and(|f| f.is_finite() && f > 0.0 && f <= 1.0),
        KeyType::OptionalString => v.is_null() || v.is_string(),
        KeyType::StringList => {
            v.is_null()
                || v.as_sequence()
                    .is_some_and(|s| s.iter().all(|x| x.is_string()))
        }
    };
    if ok {
        return Ok(());
    }
    let integer = matches!(
        spec.ty,
        KeyType::Positive
            | KeyType::NonNegative
            | KeyType::OptionalPositive
            | KeyType::OptionalNonNegative
            | KeyType::AtLeast(_)
    );
    if integer && let Some(n) = v.as_u64().filter(|n| *n > spec.max) {
        return Err(format!(
            "expected at most {} (larger values overflow a clock or an allocation), got {n}",
            spec.max
        ));
    }
    let want = match spec.ty {
        KeyType::Positive => "an integer >= 1",
        KeyType::NonNegative => "an integer >= 0",
        KeyType::OptionalPositive => "an integer >= 1 or null",
        KeyType::OptionalNonNegative => "an integer >= 0 or null",
        KeyType::AtLeast(min) => &format!("an integer >= {min}"),
        KeyType::Bool => "true or false",
        KeyType::Fraction => "a number in (0, 1]",
        KeyType::OptionalString => "a string or null",
        KeyType::StringList => "a list of strings",
    };
    let got = serde_yaml::to_string(v).unwrap_or_default();
    let got = got.trim();
    // A huge float prints with hundreds of digits: show its start.
    let shown: String = got.chars().take(40).collect();
    let ellipsis = if shown.len() < got.len() { "..." } else { "" };
    Err(format!("expected {want}, got {shown}{ellipsis}"))
}

/// The known key `key`, if the runtime knows it.
pub fn key_spec(key: &str) -> Option<&'static KeySpec> {
    KNOWN_KEYS.iter().find(|spec| spec.key == key)
}

/// Put every entry of `layer` over `base` (a key in both takes `layer`'s value). The one
/// way configs are layered: defaults < topology < component, and a daemon's config file
/// < its flags.
pub fn overlay(base: &mut ConfigMap, layer: &ConfigMap) {
    base.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
}

/// `layers` overlaid in order, later layers winning (see [`overlay`]).
pub fn layered<'a>(layers: impl IntoIterator<Item = &'a ConfigMap>) -> ConfigMap {
    let mut map = ConfigMap::new();
    for layer in layers {
        overlay(&mut map, layer);
    }
    map
}

/// Type-check the known keys of a config map: `(key, message)` for each bad value.
/// Unknown keys pass through (components may read their own keys).
pub fn check_config(map: &ConfigMap) -> Vec<(String, String)> {
    KNOWN_KEYS
        .iter()
        .filter_map(|spec| {
            let v = map.get(spec.key)?;
            check_value(spec, v)
                .err()
                .map(|m| (spec.key.to_string(), m))
        })
        .collect()
}

/// A merged configuration (defaults < topology < component) as components see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    map: ConfigMap,
}

impl Config {
    /// A config holding exactly these entries (no defaults).
    pub fn from_map(map: ConfigMap) -> Config {
        Config { map }
    }

    /// The defaults, with `layers` merged over them in order (see [`layered`]).
    pub fn merged<'a>(layers: impl IntoIterator<Item = &'a ConfigMap>) -> Config {
        let mut map: ConfigMap = KNOWN_KEYS
            .iter()
            .map(|spec| (spec.key.to_string(), spec.default.value()))
            .collect();
        for layer in layers {
            overlay(&mut map, layer);
        }
        Config { map }
    }

    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&serde_yaml::Value> {
        self.map.get(key)
    }

    /// A string value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.map.get(key).and_then(|v| v.as_str())
    }

    /// An integer value.
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.map.get(key).and_then(|v| v.as_i64())
    }

    /// A non-negative integer value.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.map.get(key).and_then(|v| v.as_u64())
    }

    /// A float value (integers convert).
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.map.get(key).and_then(|v| v.as_f64())
    }

    /// A boolean value.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.map.get(key).and_then(|v| v.as_bool())
    }

    /// A known key's setting: this config's value when it passes the key's check, else
    /// the key's default from [`KNOWN_KEYS`] (`Null` for an unknown key).
    pub fn setting(&self, key: &str) -> serde_yaml::Value {
        let Some(spec) = key_spec(key) else {
            return serde_yaml::Value::Null;
        };
        match self.map.get(key) {
            Some(v) if check_value(spec, v).is_ok() => v.clone(),
            _ => spec.default.value(),
        }
    }

    /// [`Config::setting`] as a non-negative integer (`None` when unset).
    pub fn setting_u64(&self, key: &str) -> Option<u64> {
        self.setting(key).as_u64()
    }

    /// Set a key.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<serde_yaml::Value>) {
        self.map.insert(key.into(), value.into());
    }

    /// Every entry.
    pub fn entries(&self) -> &ConfigMap {
        &self.map
    }

    /// The typed settings the runtime reads from this config.
    pub fn settings(&self) -> Settings {
        // Defaults come from KNOWN_KEYS through `setting`; the `unwrap_or`s below are
        // never taken (every non-null default passes its key's check).
        let u = |k: &str| self.setting_u64(k).unwrap_or(1);
        let opt = |k: &str| self.setting_u64(k);
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Settings {
            workers: small(u(TOPOLOGY_WORKERS)),
            acker_executors: opt(TOPOLOGY_ACKER_EXECUTORS).map(small),
            message_timeout_secs: u(TOPOLOGY_MESSAGE_TIMEOUT_SECS),
            enable_message_timeouts: self.setting(TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS).as_bool()
                != Some(false),
            max_spout_pending: opt(TOPOLOGY_MAX_SPOUT_PENDING).map(size),
            tick_tuple_freq_secs: opt(TOPOLOGY_TICK_TUPLE_FREQ_SECS),
            receive_buffer_size: size(u(TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE)).max(2),
            producer_batch_size: size(u(TOPOLOGY_PRODUCER_BATCH_SIZE)),
            batch_flush_interval_millis: opt(TOPOLOGY_BATCH_FLUSH_INTERVAL_MILLIS).unwrap_or(0),
            spout_wait_max_millis: u(TOPOLOGY_SPOUT_WAIT_MAX_MILLIS),
            batch_flush_when_idle: self.setting(TOPOLOGY_BATCH_FLUSH_WHEN_IDLE).as_bool()
                == Some(true),
            debug: self.setting(TOPOLOGY_DEBUG).as_bool() == Some(true),
            stats_sample_rate: self
                .setting(TOPOLOGY_STATS_SAMPLE_RATE)
                .as_f64()
                .unwrap_or(1.0),
        }
    }
}

impl Settings {
    /// Number of acker tasks: `topology.acker.executors`, or one per worker when unset.
    pub fn acker_tasks(&self) -> u32 {
        self.acker_executors.unwrap_or(self.workers)
    }
}

/// The runtime's own view of a config: typed, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `topology.workers`.
    pub workers: u32,
    /// `topology.acker.executors` (`None` = one per worker).
    pub acker_executors: Option<u32>,
    /// `topology.message.timeout.secs`.
    pub message_timeout_secs: u64,
    /// `topology.enable.message.timeouts`.
    pub enable_message_timeouts: bool,
    /// `topology.max.spout.pending`.
    pub max_spout_pending: Option<usize>,
    /// `topology.tick.tuple.freq.secs`.
    pub tick_tuple_freq_secs: Option<u64>,
    /// `topology.executor.receive.buffer.size`.
    pub receive_buffer_size: usize,
    /// `topology.producer.batch.size`.
    pub producer_batch_size: usize,
    /// `topology.batch.flush.interval.millis`.
    pub batch_flush_interval_millis: u64,
    /// `topology.spout.wait.max.millis`.
    pub spout_wait_max_millis: u64,
    /// `topology.batch.flush.when.idle`.
    pub batch_flush_when_idle: bool,
    /// `topology.debug`.
    pub debug: bool,
    /// `topology.stats.sample.rate`.
    pub stats_sample_rate: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(yaml: &str) -> ConfigMap {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn known_keys_are_type_checked_by_name() {
        let errs = check_config(&map(
            "topology.workers: two\ntopology.max.spout.pending: 0\nmy.key: anything",
        ));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[0].0, "topology.workers");
        assert!(errs[0].1.contains("expected an integer >= 1, got two"));
        assert_eq!(errs[1].0, "topology.max.spout.pending");
    }

    #[test]
    fn merge_order_is_defaults_topology_component() {
        let topo = map("topology.max.spout.pending: 10\nx: 1");
        let comp = map("topology.max.spout.pending: 5");
        let c = Config::merged([&topo, &comp]);
        let s = c.settings();
        assert_eq!(s.max_spout_pending, Some(5));
        assert_eq!(s.message_timeout_secs, 30);
        assert_eq!(c.get_i64("x"), Some(1));
    }

    #[test]
    fn every_default_passes_its_own_check() {
        for spec in KNOWN_KEYS {
            assert!(
                check_value(spec, &spec.default.value()).is_ok(),
                "{}",
                spec.key
            );
        }
    }

    #[test]
    fn a_bad_value_reads_as_the_table_default() {
        let c = Config::from_map(map(
            "topology.subprocess.timeout.secs: 0\ntopology.workers: 3\nx: 1",
        ));
        assert_eq!(c.setting_u64(TOPOLOGY_SUBPROCESS_TIMEOUT_SECS), Some(30));
        assert_eq!(c.setting_u64(TOPOLOGY_WORKERS), Some(3));
        assert_eq!(c.setting_u64(TOPOLOGY_SHELLBOLT_MAX_PENDING), Some(100));
        assert_eq!(c.setting("x"), serde_yaml::Value::Null);
        let s = Config::from_map(map("topology.stats.sample.rate: 2")).settings();
        assert_eq!(s.stats_sample_rate, 0.05);
        assert_eq!(s.receive_buffer_size, 32768);
    }

    #[test]
    fn non_finite_and_huge_values_are_refused_naming_the_key() {
        let errs = check_config(&map("topology.message.timeout.secs: .inf\n\
             topology.tick.tuple.freq.secs: 9223372036854775807\n\
             topology.executor.receive.buffer.size: 9223372036854775807\n\
             topology.producer.batch.size: 1e300\n\
             topology.batch.flush.interval.millis: 18446744073709551615\n\
             topology.stats.sample.rate: .nan\n\
             topology.subprocess.timeout.secs: 31536001\n\
             topology.max.spout.pending: -.inf"));
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                TOPOLOGY_MESSAGE_TIMEOUT_SECS,
                TOPOLOGY_MAX_SPOUT_PENDING,
                TOPOLOGY_TICK_TUPLE_FREQ_SECS,
                TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE,
                TOPOLOGY_PRODUCER_BATCH_SIZE,
                TOPOLOGY_BATCH_FLUSH_INTERVAL_MILLIS,
                TOPOLOGY_STATS_SAMPLE_RATE,
                TOPOLOGY_SUBPROCESS_TIMEOUT_SECS,
            ],
            "{errs:?}"
        );
        let msg = |k: &str| &errs.iter().find(|(key, _)| key == k).unwrap().1;
        assert_eq!(
            msg(TOPOLOGY_MESSAGE_TIMEOUT_SECS),
            "expected an integer >= 1, got .inf"
        );
        assert!(
            msg(TOPOLOGY_TICK_TUPLE_FREQ_SECS)
                .starts_with("expected at most 31536000 (larger values overflow"),
            "{errs:?}"
        );
        assert!(
            msg(TOPOLOGY_BATCH_FLUSH_INTERVAL_MILLIS).ends_with("got 18446744073709551615"),
            "{errs:?}"
        );
        assert!(msg(TOPOLOGY_PRODUCER_BATCH_SIZE).len() < 100, "{errs:?}");
        // The limits themselves are accepted.
        let at_max: String = KNOWN_KEYS
            .iter()
            .filter(|s| s.max > 0)
            .map(|s| format!("{}: {}\n", s.key, s.max))
            .collect();
        assert_eq!(check_config(&map(&at_max)), Vec::new());
        // A bad value never reaches the settings: the default does.
        let s =
            Config::from_map(map("topology.message.timeout.secs: 9223372036854775807")).settings();
        assert_eq!(s.message_timeout_secs, 30);
    }

    #[test]
    fn the_worker_memory_limit_is_unset_by_default_and_bounded() {
        assert_eq!(
            Config::merged([]).setting_u64(TOPOLOGY_WORKER_MAX_MEMORY_MB),
            None
        );
        let ok = Config::from_map(map("topology.worker.max.memory.mb: 512"));
        assert_eq!(ok.setting_u64(TOPOLOGY_WORKER_MAX_MEMORY_MB), Some(512));
        for bad in ["0", "-1", "1.5", "lots", "16777217"] {
            let errs = check_config(&map(&format!("topology.worker.max.memory.mb: {bad}")));
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].0, TOPOLOGY_WORKER_MAX_MEMORY_MB);
        }
        assert!(check_config(&map("topology.worker.max.memory.mb: 16777216")).is_empty());
    }

    #[test]
    fn later_layers_win() {
        let a = map("a: 1\nb: 1");
        let b = map("b: 2\nc: 2");
        let l = layered([&a, &b]);
        assert_eq!(l, map("a: 1\nb: 2\nc: 2"));
    }

    #[test]
    fn checkpoint_interval_defaults_to_1000_and_refuses_below_100() {
        let c = Config::merged([&map("x: 1")]);
        assert_eq!(
            c.setting_u64(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS),
            Some(1000)
        );
        assert!(check_config(&map("topology.state.checkpoint.interval.ms: 100")).is_empty());
        let errs = check_config(&map("topology.state.checkpoint.interval.ms: 99"));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].0, TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS);
        assert!(
            errs[0].1.contains("expected an integer >= 100, got 99"),
            "{errs:?}"
        );
        let errs = check_config(&map(
            "topology.state.provider: 3\ntopology.state.provider.config: {a: 1}",
        ));
        assert_eq!(errs.len(), 2, "{errs:?}");
    }
}
