//! A headless Firefox driven over WebDriver BiDi, Firefox's own remote protocol (no
//! geckodriver): the web UI's smoke test in a second engine.
//!
//! [`Firefox::launch`] starts Firefox headless with a throw-away profile whose `user.js`
//! keeps it quiet and offline (no updates, telemetry, first-run pages or safe-browsing
//! lists), reads the BiDi port from its stderr, opens a session on one browsing context
//! and subscribes to `log.entryAdded`. The test then calls [`Firefox::goto`],
//! [`Firefox::eval_string`], [`Firefox::wait_for`] and finally checks
//! [`Firefox::errors`] (console errors and uncaught exceptions).
//!
//! The client is synchronous: one websocket, commands answered in turn, events recorded
//! while an answer is awaited. Every wait is bounded, every message capped, and dropping
//! the `Firefox` kills it with every process it started.
//!
//! Firefox is looked up as `SQUALL_FIREFOX`, then `firefox-esr`, `firefox` on `PATH`;
//! without one, `launch` fails saying how to install it (the test fails, it never skips).

use std::cell::RefCell;
use std::ffi::OsString;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

use super::{BrowserError, ConsoleError, descendants, kill_family};

/// The environment variable naming the Firefox binary to use.
pub const FIREFOX_VAR: &str = "SQUALL_FIREFOX";
/// The names looked for on `PATH`, in order.
pub const FIREFOX_CANDIDATES: [&str; 2] = ["firefox-esr", "firefox"];
/// How long Firefox gets to open its BiDi port (a cold start on a busy machine).
const START_WAIT: Duration = Duration::from_secs(30);
/// How long one command may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a navigation may take to complete.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How often [`Firefox::wait_for`] evaluates its predicate.
const POLL: Duration = Duration::from_millis(100);
/// The longest a single socket read blocks (so deadlines are checked).
const READ_SLICE: Duration = Duration::from_millis(200);
/// The largest message (and frame) taken from Firefox.
const MAX_MESSAGE: usize = 16 << 20;
/// The most errors kept (later ones are counted, not kept).
const MAX_ERRORS: usize = 200;
/// The longest error text kept, in characters.
const MAX_ERROR_CHARS: usize = 2000;
/// The most characters of DOM a failure message quotes.
const DOM_EXCERPT_CHARS: usize = 4000;

/// Preferences of the throw-away profile: no network traffic of Firefox's own, no
/// first-run or default-browser pages, and only the WebDriver BiDi protocol.
const USER_JS: &str = r#"user_pref("remote.active-protocols", 1);
user_pref("app.update.disabledForTesting", true);
user_pref("app.update.auto", false);
user_pref("app.normandy.enabled", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.page", 0);
user_pref("browser.startup.homepage", "about:blank");
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("startup.homepage_welcome_url", "about:blank");
user_pref("startup.homepage_welcome_url.additional", "");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.tabs.warnOnClose", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.unified", false);
user_pref("toolkit.telemetry.server", "");
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("browser.safebrowsing.update.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("extensions.blocklist.enabled", false);
user_pref("browser.search.update", false);
user_pref("media.gmp-manager.updateEnabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("browser.region.network.url", "");
user_pref("geo.provider.network.url", "");
user_pref("services.settings.server", "http://127.0.0.1:9/");
user_pref("toolkit.startup.max_resumed_crashes", -1);
"#;

/// The Firefox binary: `override_path` (the value of `SQUALL_FIREFOX`) if given, else the
/// first of [`FIREFOX_CANDIDATES`] on `path` (the value of `PATH`).
pub fn find_firefox(
    override_path: Option<OsString>,
    path: Option<OsString>,
) -> Result<PathBuf, BrowserError> {
    let missing = |detail: String| BrowserError::Launch {
        binary: PathBuf::from(FIREFOX_CANDIDATES[0]),
        detail,
    };
    if let Some(p) = override_path.filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(missing(format!(
                "{FIREFOX_VAR}={} is not a file: point it at a Firefox binary, or unset it \
                 to use firefox-esr from PATH (Debian/Ubuntu: `apt-get install firefox-esr`)",
                p.display()
            )))
        };
    }
    let dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    FIREFOX_CANDIDATES
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| d.join(name)))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            missing(format!(
                "no Firefox found for the web UI's Firefox test (looked for ${FIREFOX_VAR}, \
                 then {} on PATH): install firefox-esr (Debian/Ubuntu: `apt-get install \
                 firefox-esr`; .ci/run does this) or set {FIREFOX_VAR} to a Firefox binary",
                FIREFOX_CANDIDATES.join(", ")
            ))
        })
}

/// A headless Firefox with one BiDi session on one browsing context (tab).
///
/// Fields drop in order: the websocket, then the process (killed with its children).
pub struct Firefox {
    bidi: RefCell<Bidi>,
    /// The browsing context every command targets.
    context: String,
    process: Process,
}

impl Firefox {
    /// Start a headless Firefox for test `test` (named in failure messages), open a BiDi
    /// session and subscribe to log entries.
    pub fn launch(test: &str) -> Result<Firefox, BrowserError> {
        let binary = find_firefox(std::env::var_os(FIREFOX_VAR), std::env::var_os("PATH"))?;
        Firefox::launch_binary(test, &binary)
    }

    /// [`Firefox::launch`] with this binary.
    pub fn launch_binary(test: &str, binary: &Path) -> Result<Firefox, BrowserError> {
        let process = Process::start(test, binary)?;
        let bidi = Bidi::connect(process.port)?;
        let mut firefox = Firefox {
            bidi: RefCell::new(bidi),
            context: String::new(),
            process,
        };
        firefox.call("session.new", json!({ "capabilities": {} }), CALL_TIMEOUT)?;
        let tree = firefox.call(
            "browsingContext.getTree",
            json!({ "maxDepth": 0 }),
            CALL_TIMEOUT,
        )?;
        firefox.context = match tree["contexts"][0]["context"].as_str() {
            Some(c) => c.to_string(),
            None => firefox.call(
                "browsingContext.create",
                json!({ "type": "tab" }),
                CALL_TIMEOUT,
            )?["context"]
                .as_str()
                .ok_or_else(|| BrowserError::Protocol("no context created".into()))?
                .to_string(),
        };
        firefox.call(
            "session.subscribe",
            json!({ "events": ["log.entryAdded"] }),
            CALL_TIMEOUT,
        )?;
        Ok(firefox)
    }

    /// Firefox's pid and those of every process it started (content processes).
    pub fn pids(&self) -> Vec<i32> {
        let pid = self.process.child.id() as i32;
        let mut all = vec![pid];
        all.extend(descendants(pid));
        all
    }

    /// Send `method` with `params` and wait at most `timeout` for its result.
    fn call(&self, method: &str, params: Value, timeout: Duration) -> Result<Value, BrowserError> {
        self.bidi.borrow_mut().call(method, params, timeout)
    }

    /// Navigate to `url` and wait until its document completed loading (a change of the
    /// `#` part only completes at once).
    pub fn goto(&self, url: &str) -> Result<(), BrowserError> {
        self.call(
            "browsingContext.navigate",
            json!({ "context": self.context, "url": url, "wait": "complete" }),
            LOAD_TIMEOUT,
        )
        .map(drop)
        .map_err(|e| BrowserError::Navigation {
            url: url.to_string(),
            detail: e.to_string(),
        })
    }

    /// Evaluate the expression `js` (awaiting it when it is a promise) and return its
    /// value as text: a string as it is, a number, boolean, `null` or `undefined` as
    /// JavaScript writes it. Objects are refused: evaluate `JSON.stringify(...)`. A
    /// thrown exception is [`BrowserError::Js`] with its text.
    pub fn eval_string(&self, js: &str) -> Result<String, BrowserError> {
        self.eval_within(js, CALL_TIMEOUT)
    }

    fn eval_within(&self, js: &str, timeout: Duration) -> Result<String, BrowserError> {
        let r = self.call(
            "script.evaluate",
            json!({
                "expression": js,
                "target": { "context": self.context },
                "awaitPromise": true,
                "resultOwnership": "none",
            }),
            timeout,
        )?;
        if r["type"] == "exception" {
            return Err(BrowserError::Js(exception_text(&r["exceptionDetails"])));
        }
        primitive_text(&r["result"])
    }

    /// Evaluate the expression `js` every 100 ms until it is truthy (returning its value
    /// as text), or fail after `timeout` with a report naming `what`, the predicate, its
    /// last value, the page's URL, the errors so far and a DOM excerpt. A throw counts as
    /// "not yet"; the last one is in the report.
    pub fn wait_for(
        &self,
        js: &str,
        timeout: Duration,
        what: &str,
    ) -> Result<String, BrowserError> {
        // The first character says whether the value is truthy; the rest is the value.
        let probe = format!(
            "Promise.resolve(({js})).then(v => (v ? 'T' : 'F') + \
             (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)))"
        );
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.eval_string(&probe);
            if let Ok(v) = &last
                && let Some(value) = v.strip_prefix('T')
            {
                return Ok(value.to_string());
            }
            if Instant::now() > deadline {
                let last = match last {
                    Ok(v) => v.get(1..).unwrap_or_default().to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(BrowserError::Timeout(self.report(&format!(
                    "timed out after {timeout:?} waiting for {what} in Firefox ({test})\n  \
                     predicate: {js}\n  last value: {last}",
                    test = self.process.test
                ))));
            }
            std::thread::sleep(POLL);
        }
    }

    /// `headline`, then the page's URL, its data-page/refreshes, the errors so far and
    /// an excerpt of its DOM.
    fn report(&self, headline: &str) -> String {
        let quick = Duration::from_secs(5);
        let url = self
            .eval_within("location.href", quick)
            .unwrap_or_else(|e| format!("(unknown: {e})"));
        let state = self
            .eval_within(
                "JSON.stringify({page: document.body && document.body.dataset.page, \
                 refreshes: document.body && document.body.dataset.refreshes})",
                quick,
            )
            .unwrap_or_default();
        let dom = self
            .eval_within(
                &format!("document.documentElement.outerHTML.slice(0, {DOM_EXCERPT_CHARS})"),
                quick,
            )
            .unwrap_or_else(|e| format!("(no DOM: {e})"));
        let errors: Vec<String> = self.errors().iter().map(|e| e.to_string()).collect();
        format!(
            "{headline}\n  url: {url}\n  body data: {state}\n  errors: {}\n  \
             DOM excerpt (first {DOM_EXCERPT_CHARS} characters):\n{dom}",
            if errors.is_empty() {
                "none".to_string()
            } else {
                errors.join("\n    ")
            }
        )
    }

    /// Every error the page reported so far: `console.error`/`console.assert` calls and
    /// uncaught exceptions and rejections (`log.entryAdded` of level `error`). A round
    /// trip to the page first takes in the entries already on their way.
    ///
    /// Nothing is filtered out: Firefox, unlike Chromium, reports no log entry for a
    /// fetch answered 4xx (the UI's expected 401/403/404s of `/api/` URLs), and fetches
    /// no favicon on its own in headless mode; tests/web_ui_firefox.rs checks the first.
    pub fn errors(&self) -> Vec<ConsoleError> {
        let _ = self.eval_within("0", Duration::from_secs(5));
        let bidi = self.bidi.borrow();
        let mut all = bidi.errors.clone();
        if bidi.dropped > 0 {
            all.push(ConsoleError {
                source: "harness".into(),
                text: format!("{} more errors not kept", bidi.dropped),
            });
        }
        all
    }
}

/// The text of a BiDi primitive remote value; an error for objects.
fn primitive_text(v: &Value) -> Result<String, BrowserError> {
    match (v["type"].as_str().unwrap_or(""), &v["value"]) {
        ("string", Value::String(s)) => Ok(s.clone()),
        // Numbers are JSON numbers, or strings for NaN, -0, Infinity, -Infinity.
        ("number" | "boolean" | "bigint", Value::String(s)) => Ok(s.clone()),
        ("number" | "boolean", other) => Ok(other.to_string()),
        ("null", _) => Ok("null".into()),
        ("undefined", _) => Ok("undefined".into()),
        (kind, _) => Err(BrowserError::Protocol(format!(
            "eval_string got a {kind}, not a primitive: evaluate JSON.stringify(...) instead"
        ))),
    }
}

/// The text of a BiDi `script.ExceptionDetails` with where it was thrown.
fn exception_text(details: &Value) -> String {
    let text = details["text"].as_str().unwrap_or("an exception");
    format!("{text}{}", frame_text(&details["stackTrace"]))
}

/// ` (at URL:LINE)` of a BiDi stack trace's top frame, or nothing.
fn frame_text(stack: &Value) -> String {
    let frame = &stack["callFrames"][0];
    match frame["url"].as_str() {
        Some(url) if !url.is_empty() => format!(
            " (at {url}:{})",
            frame["lineNumber"].as_u64().unwrap_or(0) + 1
        ),
        _ => String::new(),
    }
}

/// One WebDriver BiDi connection: commands with ids, and the log errors seen meanwhile.
struct Bidi {
    ws: WebSocket<TcpStream>,
    next_id: u64,
    /// Errors in the order they came, at most [`MAX_ERRORS`].
    errors: Vec<ConsoleError>,
    /// Errors not kept because the list was full.
    dropped: usize,
}

impl Bidi {
    /// Connect to `ws://127.0.0.1:PORT/session`.
    fn connect(port: u16) -> Result<Bidi, BrowserError> {
        let url = format!("ws://127.0.0.1:{port}/session");
        let failed = |e: String| BrowserError::Protocol(format!("connecting to {url}: {e}"));
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream =
            TcpStream::connect_timeout(&addr, CALL_TIMEOUT).map_err(|e| failed(e.to_string()))?;
        stream
            .set_read_timeout(Some(CALL_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(CALL_TIMEOUT)))
            .map_err(|e| failed(e.to_string()))?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let (ws, _) = tungstenite::client::client_with_config(url.as_str(), stream, Some(config))
            .map_err(|e| failed(e.to_string()))?;
        Ok(Bidi {
            ws,
            next_id: 1,
            errors: Vec::new(),
            dropped: 0,
        })
    }

    /// Send a command and read messages (recording events) until its answer, at most
    /// `timeout`.
    fn call(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        let failed = |detail: String| BrowserError::Protocol(format!("{method}: {detail}"));
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(Message::text(msg.to_string()))
            .map_err(|e| failed(format!("sending: {e}")))?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(failed(format!("no answer within {timeout:?}")));
            }
            self.ws
                .get_mut()
                .set_read_timeout(Some(left.min(READ_SLICE)))
                .map_err(|e| failed(e.to_string()))?;
            let text = match self.ws.read() {
                Ok(Message::Text(t)) => t,
                Ok(Message::Close(_)) => return Err(failed("Firefox closed the session".into())),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(failed(format!("websocket: {e}"))),
            };
            let Ok(msg) = serde_json::from_str::<Value>(text.as_str()) else {
                continue;
            };
            match msg["type"].as_str() {
                Some("event") => self.record(&msg),
                _ if msg["id"].as_u64() == Some(id) => {
                    return match msg["type"].as_str() {
                        Some("success") => Ok(msg["result"].clone()),
                        _ => Err(failed(format!(
                            "{}: {}",
                            msg["error"].as_str().unwrap_or("error"),
                            msg["message"].as_str().unwrap_or("")
                        ))),
                    };
                }
                _ => {}
            }
        }
    }

    /// Keep a `log.entryAdded` event of level error.
    fn record(&mut self, msg: &Value) {
        let entry = &msg["params"];
        if msg["method"] != "log.entryAdded" || entry["level"] != "error" {
            return;
        }
        if self.errors.len() >= MAX_ERRORS {
            self.dropped += 1;
            return;
        }
        let text = format!(
            "{}{}",
            entry["text"].as_str().unwrap_or(""),
            frame_text(&entry["stackTrace"])
        );
        self.errors.push(ConsoleError {
            // `console` (console.error) or `javascript` (an uncaught exception).
            source: format!("log:{}", entry["type"].as_str().unwrap_or("other")),
            text: text.chars().take(MAX_ERROR_CHARS).collect(),
        });
    }
}

/// A running headless Firefox: its process (group) and its profile and log directory.
struct Process {
    test: String,
    child: Child,
    /// `profile/` and `firefox.log` (its stderr).
    dir: tempfile::TempDir,
    /// The WebDriver BiDi port.
    port: u16,
}

impl Process {
    /// Start `binary` headless with a fresh profile and wait (bounded) for its BiDi port.
    fn start(test: &str, binary: &Path) -> Result<Process, BrowserError> {
        let launch = |detail: String| BrowserError::Launch {
            binary: binary.to_path_buf(),
            detail,
        };
        let dir = tempfile::Builder::new()
            .prefix("squall-firefox-")
            .tempdir()
            .map_err(|e| launch(format!("making its profile directory: {e}")))?;
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile)
            .and_then(|()| std::fs::write(profile.join("user.js"), USER_JS))
            .map_err(|e| launch(format!("writing its profile: {e}")))?;
        let log = std::fs::File::create(dir.path().join("firefox.log"))
            .map_err(|e| launch(format!("making its log file: {e}")))?;
        let child = Command::new(binary)
            .args(["--headless", "--no-remote", "--profile"])
            .arg(&profile)
            .args(["--remote-debugging-port=0", "--window-size=1366,768"])
            .arg("about:blank")
            .env("MOZ_CRASHREPORTER_DISABLE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            // Its own process group: dropping it kills the content processes too.
            .process_group(0)
            .spawn()
            .map_err(|e| launch(format!("starting it: {e}")))?;
        let mut process = Process {
            test: test.to_string(),
            child,
            dir,
            port: 0,
        };
        process.port = process.wait_for_port().map_err(launch)?;
        Ok(process)
    }

    /// The last lines Firefox wrote to its stderr.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("firefox.log")).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    /// Poll its stderr for "WebDriver BiDi listening on ws://127.0.0.1:PORT" until it is
    /// there, Firefox exits, or [`START_WAIT`] passes.
    fn wait_for_port(&mut self) -> Result<u16, String> {
        let deadline = Instant::now() + START_WAIT;
        loop {
            let text =
                std::fs::read_to_string(self.dir.path().join("firefox.log")).unwrap_or_default();
            let port = text.lines().find_map(|l| {
                l.split("WebDriver BiDi listening on ws://127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.trim().parse::<u16>().ok())
            });
            if let Some(port) = port {
                return Ok(port);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "it exited ({status}) before it listened; its stderr ends:\n{}",
                    self.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no \"WebDriver BiDi listening\" line within {START_WAIT:?}; its stderr \
                     ends:\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        kill_family(&mut self.child);
    }
}
