//! [`KafkaBolt`]: writes tuples to a topic (storm-kafka-client's `KafkaBolt` with
//! `FieldNameBasedTupleToKafkaMapper` and a default or field topic selector).
//!
//! A tuple is acked only when the broker confirmed its record, and failed (so its spout
//! replays it) on a delivery error. The producer's delivery timeout
//! (`message.timeout.ms`) is set below `topology.message.timeout.secs`: with librdkafka's
//! 300 s default, a tuple would time out and be replayed while its first record was
//! still being retried, writing it twice.
//!
//! ```yaml
//! bolts:
//!   - id: to-kafka
//!     className: KafkaBolt
//!     constructorArgs:
//!       - bootstrap.servers: "127.0.0.1:9092"
//!         topic: counts          # or topic.field: <field naming the topic>
//!         key.field: word        # default "key" (a tuple without it: null key)
//!         message.field: count   # default "message"
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use serde::Deserialize;
use squall_runtime::{
    Bolt, BoltCollector, ComponentArgs, ComponentError, FactoryError, TopologyContext, Tuple,
    Value, Waker,
};

use crate::error::ConfigError;
use crate::props::ClientProps;

/// Where a tuple's record goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicSelector {
    /// Always this topic (`topic`).
    Fixed(String),
    /// The topic named by this field of the tuple (`topic.field`).
    Field(String),
}

/// A Kafka bolt's configuration. Its `Debug` shows secret client properties as
/// `<redacted>` ([`crate::props::is_secret`]).
#[derive(Clone)]
pub struct KafkaBoltConfig {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `topic` or `topic.field`.
    pub topic: TopicSelector,
    /// `key.field` (default `key`): the record key; a tuple without it has a null key.
    pub key_field: String,
    /// `message.field` (default `message`): the record value.
    pub message_field: String,
    /// `props`: producer properties (librdkafka's, or the Java client's security
    /// names; `<key>.file` reads a secret from a private file): see [`crate::props`].
    pub props: BTreeMap<String, String>,
}

impl std::fmt::Debug for KafkaBoltConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBoltConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("topic", &self.topic)
            .field("key_field", &self.key_field)
            .field("message_field", &self.message_field)
            .field("props", &crate::props::Redacted(&self.props))
            .finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(rename = "bootstrap.servers")]
    bootstrap_servers: String,
    #[serde(default)]
    topic: Option<String>,
    #[serde(rename = "topic.field", default)]
    topic_field: Option<String>,
    #[serde(rename = "key.field", default = "d_key")]
    key_field: String,
    #[serde(rename = "message.field", default = "d_message")]
    message_field: String,
    #[serde(default)]
    props: BTreeMap<String, serde_yaml::Value>,
}

fn d_key() -> String {
    "key".into()
}
fn d_message() -> String {
    "message".into()
}

impl KafkaBoltConfig {
    /// Writing every tuple's `key` and `message` fields to `topic`.
    pub fn new(bootstrap_servers: &str, topic: &str) -> KafkaBoltConfig {
        KafkaBoltConfig {
            bootstrap_servers: bootstrap_servers.into(),
            topic: TopicSelector::Fixed(topic.into()),
            key_field: d_key(),
            message_field: d_message(),
            props: BTreeMap::new(),
        }
    }

    /// Read the YAML map (the bolt's first constructor argument).
    pub fn from_yaml(v: &serde_yaml::Value) -> Result<KafkaBoltConfig, ConfigError> {
        let raw: Raw =
            serde_yaml::from_value(v.clone()).map_err(|e| ConfigError::Yaml(e.to_string()))?;
        let topic = match (raw.topic, raw.topic_field) {
            (Some(t), None) if !t.trim().is_empty() => TopicSelector::Fixed(t),
            (None, Some(f)) if !f.trim().is_empty() => TopicSelector::Field(f),
            _ => {
                return Err(ConfigError::invalid(
                    "topic",
                    "give exactly one of topic and topic.field",
                ));
            }
        };
        let props = crate::config::read_props(raw.props)?;
        if raw.bootstrap_servers.trim().is_empty() {
            return Err(ConfigError::invalid(
                "bootstrap.servers",
                "must not be empty",
            ));
        }
        crate::props::validate(
            &props,
            &["bootstrap.servers"],
            "is set by the bolt (a key of its own)",
        )?;
        Ok(KafkaBoltConfig {
            bootstrap_servers: raw.bootstrap_servers,
            topic,
            key_field: raw.key_field,
            message_field: raw.message_field,
            props,
        })
    }

    /// The delivery timeout for a topology whose tuples time out after `timeout`: the
    /// user's `message.timeout.ms` when below it, else 80 % of it.
    pub fn delivery_timeout(&self, timeout: Option<Duration>) -> Result<Duration, ConfigError> {
        let user = self
            .props
            .get("message.timeout.ms")
            .or_else(|| self.props.get("delivery.timeout.ms"))
            .map(|v| {
                v.parse::<u64>().map(Duration::from_millis).map_err(|_| {
                    ConfigError::invalid("props.message.timeout.ms", "must be a number of ms")
                })
            })
            .transpose()?;
        match (user, timeout) {
            (Some(u), Some(t)) if u >= t => Err(ConfigError::invalid(
                "props.message.timeout.ms",
                format!(
                    "({} ms) must be below topology.message.timeout.secs ({} s), or a record still being retried is replayed and written twice",
                    u.as_millis(),
                    t.as_secs()
                ),
            )),
            (Some(u), _) => Ok(u),
            (None, Some(t)) => Ok((t * 4 / 5).max(Duration::from_millis(1))),
            (None, None) => Ok(Duration::from_secs(30)),
        }
    }
}

type Outcomes = Arc<Mutex<Vec<(u64, Result<(), String>)>>>;

/// Collects delivery reports and wakes the bolt's executor.
struct Deliveries {
    done: Outcomes,
    waker: Option<Waker>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, result: &DeliveryResult<'_>, id: Box<u64>) {
        let r = result.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string());
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((*id, r));
        if let Some(w) = &self.waker {
            w.wake();
        }
    }
}

struct Open {
    producer: ThreadedProducer<Deliveries>,
    done: Outcomes,
    pending: BTreeMap<u64, Tuple>,
    next_id: u64,
}

/// A bolt writing each tuple to Kafka, acked once the broker confirmed it.
pub struct KafkaBolt {
    config: KafkaBoltConfig,
    open: Option<Open>,
}

impl std::fmt::Debug for KafkaBolt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBolt")
            .field("topic", &self.config.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaBolt {
    /// A bolt with this configuration.
    pub fn new(config: KafkaBoltConfig) -> KafkaBolt {
        KafkaBolt { config, open: None }
    }

    /// The factory for YAML (`constructorArgs: [{bootstrap.servers: …, topic: …}]`).
    pub fn from_args(args: &ComponentArgs<'_>) -> Result<KafkaBolt, FactoryError> {
        let map = args.args().first().ok_or_else(|| {
            FactoryError(
                "KafkaBolt needs constructorArgs[0]: a map with bootstrap.servers and topic".into(),
            )
        })?;
        KafkaBoltConfig::from_yaml(map)
            .map(KafkaBolt::new)
            .map_err(|e| FactoryError(format!("constructorArgs[0]: {e}").replace("spout", "bolt")))
    }
}

/// A tuple value as record bytes: strings and bytes as they are, anything else as JSON.
fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Null => None,
        Value::Str(s) => Some(s.as_bytes().to_vec()),
        Value::Bytes(b) => Some(b.to_vec()),
        other => Some(
            serde_json::to_vec(&squall_runtime::Values::from_iter([other.clone()]).to_json()[0])
                .unwrap_or_default(),
        ),
    }
}

#[async_trait]
impl Bolt for KafkaBolt {
    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        let s = ctx.config().settings();
        let timeout = s
            .enable_message_timeouts
            .then(|| Duration::from_secs(s.message_timeout_secs));
        let delivery = self
            .config
            .delivery_timeout(timeout)
            .map_err(|e| ComponentError::msg(e.to_string().replace("spout", "bolt")))?;
        let props = ClientProps::resolve(&self.config.props).map_err(|e| {
            ComponentError::msg(format!(
                "Kafka producer for {}: {}",
                self.config.bootstrap_servers,
                e.to_string().replace("spout", "bolt")
            ))
        })?;
        let mut c = ClientConfig::new();
        props.apply(&mut c);
        c.remove("delivery.timeout.ms");
        c.set("bootstrap.servers", &self.config.bootstrap_servers)
            .set("message.timeout.ms", delivery.as_millis().to_string())
            .set_log_level(RDKafkaLogLevel::Warning);
        let done = Outcomes::default();
        let producer = c
            .create_with_context(Deliveries {
                done: done.clone(),
                waker: ctx.waker(),
            })
            .map_err(|e| {
                ComponentError::msg(format!(
                    "Kafka producer for {}: {}",
                    self.config.bootstrap_servers,
                    props.client_error(e)
                ))
            })?;
        self.open = Some(Open {
            producer,
            done,
            pending: BTreeMap::new(),
            next_id: 0,
        });
        Ok(())
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        if input.is_tick() {
            return Ok(());
        }
        let Some(open) = self.open.as_mut() else {
            out.fail(&input);
            return Err(ComponentError::msg("KafkaBolt used before prepare"));
        };
        let topic = match &self.config.topic {
            TopicSelector::Fixed(t) => t.clone(),
            TopicSelector::Field(f) => match input.str_by_field(f) {
                Ok(t) => t.to_string(),
                Err(e) => {
                    out.fail(&input);
                    return Err(e.into());
                }
            },
        };
        let value = match input.get_by_field(&self.config.message_field) {
            Ok(v) => bytes_of(v),
            Err(e) => {
                out.fail(&input);
                return Err(e.into());
            }
        };
        let key = input
            .get_by_field(&self.config.key_field)
            .ok()
            .and_then(bytes_of);
        let id = open.next_id;
        open.next_id += 1;
        let mut record: BaseRecord<'_, [u8], [u8], Box<u64>> =
            BaseRecord::with_opaque_to(&topic, Box::new(id));
        if let Some(v) = &value {
            record = record.payload(v.as_slice());
        }
        if let Some(k) = &key {
            record = record.key(k.as_slice());
        }
        match open.producer.send(record) {
            Ok(()) => {
                open.pending.insert(id, input);
                Ok(())
            }
            Err((e, _)) => {
                out.fail(&input);
                Err(ComponentError::msg(format!(
                    "Kafka produce to {topic}: {e}"
                )))
            }
        }
    }

    fn wake(&mut self, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        let done = std::mem::take(&mut *open.done.lock().unwrap_or_else(PoisonError::into_inner));
        let mut first_error = None;
        for (id, r) in done {
            let Some(t) = open.pending.remove(&id) else {
                continue;
            };
            match r {
                Ok(()) => out.ack(&t),
                Err(e) => {
                    out.fail(&t);
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(ComponentError::msg(format!("Kafka delivery failed: {e}"))),
            None => Ok(()),
        }
    }

    async fn cleanup(&mut self) {
        if let Some(open) = self.open.take() {
            let _ = open.producer.flush(Duration::from_secs(5));
        }
    }
}
