//! One Chrome DevTools protocol connection over a websocket: commands with ids and
//! their answers, and the events the harness keeps (console errors, page loads).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::BrowserError;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// The largest message (and frame) taken from the browser: a full-page PNG screenshot,
/// base64-encoded, fits many times over.
const MAX_MESSAGE: usize = 64 << 20;
/// The most errors kept (later ones are counted, not kept).
const MAX_ERRORS: usize = 200;
/// The longest error text kept, in characters.
const MAX_ERROR_CHARS: usize = 2000;

/// An error the page reported: a `console.error`, an uncaught exception, or a browser
/// log entry of level error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleError {
    /// Where it came from: `console`, `exception`, `crash` or `log:<source>` (e.g.
    /// `log:network`, `log:security` for a CSP violation).
    pub source: String,
    /// Its text (capped).
    pub text: String,
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.source, self.text)
    }
}

/// What the reader task records from the browser's events.
#[derive(Debug, Default)]
pub struct EventLog {
    /// Errors in the order they came, at most [`MAX_ERRORS`].
    pub errors: Vec<ConsoleError>,
    /// Errors not kept because the list was full.
    pub dropped: usize,
    /// `Page.loadEventFired` events seen.
    pub loads: u64,
    /// `Page.navigatedWithinDocument` events seen.
    pub same_document: u64,
    /// Why the connection closed, once it has.
    pub closed: Option<String>,
}

type Answer = Result<Value, String>;

/// State shared between the callers and the reader task.
#[derive(Default)]
struct Shared {
    pending: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
    events: Mutex<EventLog>,
}

/// A DevTools protocol connection to the browser (its browser-level endpoint; page
/// commands name their flat session).
pub struct Cdp {
    writer: tokio::sync::Mutex<SplitSink<Ws, Message>>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
}

impl Cdp {
    /// Connect to `ws_url` (the browser's `ws://127.0.0.1:PORT/devtools/browser/ID`).
    pub async fn connect(ws_url: &str) -> Result<Cdp, BrowserError> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let (ws, _) = tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true)
            .await
            .map_err(|e| BrowserError::Protocol(format!("connecting to {ws_url}: {e}")))?;
        let (writer, reader) = ws.split();
        let shared = Arc::new(Shared::default());
        let reader = tokio::spawn(read_loop(reader, shared.clone()));
        Ok(Cdp {
            writer: tokio::sync::Mutex::new(writer),
            shared,
            next_id: AtomicU64::new(1),
            reader,
        })
    }

    /// Send `method` with `params` (to page session `session`, if any) and wait at most
    /// `timeout` for its answer.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.lock_pending().insert(id, tx);
        let sent = tokio::time::timeout(timeout, async {
            self.writer
                .lock()
                .await
                .send(Message::text(msg.to_string()))
                .await
        })
        .await;
        let failed = |detail: String| {
            self.lock_pending().remove(&id);
            BrowserError::Protocol(format!("{method}: {detail}"))
        };
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(failed(format!("sending: {e}"))),
            Err(_) => return Err(failed(format!("not sent within {timeout:?}"))),
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(message))) => Err(BrowserError::Cdp {
                method: method.to_string(),
                message,
            }),
            Ok(Err(_)) => Err(failed(format!(
                "connection closed ({})",
                self.events(|e| e.closed.clone()).unwrap_or_default()
            ))),
            Err(_) => Err(failed(format!("no answer within {timeout:?}"))),
        }
    }

    /// Read the event log under its lock.
    pub fn events<T>(&self, f: impl FnOnce(&EventLog) -> T) -> T {
        f(&self.shared.events.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Answer>>> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Cdp {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Dispatch every message from the browser until the connection closes.
async fn read_loop(mut reader: SplitStream<Ws>, shared: Arc<Shared>) {
    let why = loop {
        let text = match reader.next().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None => break "closed by the browser".to_string(),
            Some(Ok(_)) => continue,
            Some(Err(e)) => break format!("websocket error: {e}"),
        };
        let Ok(msg) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        if let Some(id) = msg.get("id").and_then(Value::as_u64) {
            let waiter = shared
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            if let Some(tx) = waiter {
                let answer = match msg.get("error") {
                    Some(err) => Err(error_text(err)),
                    None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
                };
                let _ = tx.send(answer);
            }
        } else if let Some(method) = msg.get("method").and_then(Value::as_str) {
            let params = msg.get("params").unwrap_or(&Value::Null);
            let mut log = shared.events.lock().unwrap_or_else(|p| p.into_inner());
            record_event(&mut log, method, params);
        }
    };
    shared
        .events
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .closed = Some(why);
    // Every caller still waiting learns the connection is gone.
    shared
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
}

/// The text of a protocol error answer (`{code, message, data}`).
fn error_text(err: &Value) -> String {
    let message = err["message"].as_str().unwrap_or("unknown error");
    match err["data"].as_str() {
        Some(data) => format!("{message}: {data}"),
        None => message.to_string(),
    }
}

/// Keep what matters of one event.
fn record_event(log: &mut EventLog, method: &str, params: &Value) {
    let error = match method {
        "Page.loadEventFired" => {
            log.loads += 1;
            None
        }
        "Page.navigatedWithinDocument" => {
            log.same_document += 1;
            None
        }
        "Runtime.consoleAPICalled" => {
            let kind = params["type"].as_str().unwrap_or("");
            (kind == "error" || kind == "assert").then(|| {
                let args = params["args"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                let text: Vec<String> = args.iter().map(remote_object_text).collect();
                ("console".to_string(), text.join(" "))
            })
        }
        "Runtime.exceptionThrown" => Some((
            "exception".to_string(),
            exception_text(&params["exceptionDetails"]),
        )),
        "Log.entryAdded" => {
            let entry = &params["entry"];
            (entry["level"] == "error").then(|| {
                let mut text = entry["text"].as_str().unwrap_or("").to_string();
                if let Some(url) = entry["url"].as_str() {
                    text.push_str(&format!(" ({url})"));
                }
                let source = entry["source"].as_str().unwrap_or("other");
                (format!("log:{source}"), text)
            })
        }
        "Inspector.targetCrashed" | "Target.targetCrashed" => {
            Some(("crash".to_string(), "the page crashed".to_string()))
        }
        _ => None,
    };
    if let Some((source, text)) = error {
        if log.errors.len() >= MAX_ERRORS {
            log.dropped += 1;
        } else {
            log.errors.push(ConsoleError {
                source,
                text: text.chars().take(MAX_ERROR_CHARS).collect(),
            });
        }
    }
}

/// A `Runtime.RemoteObject` as text: its value, else its description.
fn remote_object_text(o: &Value) -> String {
    match o.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => o["description"]
            .as_str()
            .or_else(|| o["unserializableValue"].as_str())
            .unwrap_or("")
            .to_string(),
    }
}

/// The text of `Runtime.ExceptionDetails`: the exception's description (message and
/// stack) when there is one, else the details' text, with where it was thrown.
pub fn exception_text(details: &Value) -> String {
    let text = details["exception"]["description"]
        .as_str()
        .or_else(|| details["exception"]["value"].as_str())
        .or_else(|| details["text"].as_str())
        .unwrap_or("an exception")
        .to_string();
    match details["url"].as_str() {
        Some(url) if !url.is_empty() => format!(
            "{text} (at {url}:{})",
            details["lineNumber"].as_u64().unwrap_or(0) + 1
        ),
        _ => text,
    }
}
