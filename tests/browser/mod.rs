//! A headless Chromium for the web UI tests, driven over the Chrome DevTools protocol
//! on a websocket (no chromedriver): [`Browser::launch`] starts one with a throw-away
//! profile at 1366x768, and the test then calls [`Browser::goto`], [`Browser::eval`],
//! [`Browser::wait_for`], [`Browser::click`], [`Browser::type_into`],
//! [`Browser::screenshot`] and finally checks [`Browser::console_errors`].
//!
//! Every wait is bounded and says what it waited for, with the page's URL and a DOM
//! excerpt. A test that panics while its `Browser` is alive leaves a screenshot and the
//! DOM in `<target dir>/ui-artifacts/<test>/`. Dropping the `Browser` kills Chromium and
//! every process it started.
//!
//! Chromium is looked up as `SQUALL_CHROMIUM`, then `chromium`, `chromium-browser`,
//! `google-chrome`, `google-chrome-stable` on `PATH`; without one, `launch` fails saying
//! how to install it (the UI tests fail, they never skip).
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

mod cdp;
pub mod firefox;
mod launch;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

pub use cdp::ConsoleError;
pub use launch::{CANDIDATES, OVERRIDE_VAR, descendants, find_chromium, kill_family, running};

/// How long one protocol command may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a navigation may take to load.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Browser::click`] and [`Browser::type_into`] wait for their element.
const ELEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often [`Browser::wait_for`] evaluates its predicate.
const POLL: Duration = Duration::from_millis(100);
/// The most characters of DOM a failure message quotes.
const DOM_EXCERPT_CHARS: usize = 4000;
/// The most characters of DOM an artifact dump holds.
const DOM_DUMP_CHARS: usize = 2 << 20;
/// The viewport every test sees.
pub const VIEWPORT: (u32, u32) = (1366, 768);

/// What went wrong driving the browser. `Debug` prints the same readable text as
/// `Display`, so `.unwrap()` in a test fails with the whole message.
#[derive(thiserror::Error)]
pub enum BrowserError {
    /// No browser binary.
    #[error(
        "no Chromium found for the web UI tests (looked for ${OVERRIDE_VAR}, then {} on PATH): \
         install it (Debian/Ubuntu: `apt-get install chromium`; .ci/run does this) or set \
         {OVERRIDE_VAR} to a Chromium or Chrome binary",
        CANDIDATES.join(", ")
    )]
    NotFound,
    /// `SQUALL_CHROMIUM` names no file.
    #[error(
        "{OVERRIDE_VAR}={0} is not a file: point it at a Chromium or Chrome binary, or unset \
         it to use `chromium` from PATH (Debian/Ubuntu: `apt-get install chromium`)"
    )]
    BadOverride(PathBuf),
    /// Chromium did not start.
    #[error("starting {binary}: {detail}")]
    Launch {
        /// The binary.
        binary: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The websocket failed, closed, or a command got no answer.
    #[error("DevTools protocol: {0}")]
    Protocol(String),
    /// The browser answered a command with an error.
    #[error("DevTools command {method} failed: {message}")]
    Cdp {
        /// The command.
        method: String,
        /// The browser's error.
        message: String,
    },
    /// The evaluated script threw.
    #[error("the script threw: {0}")]
    Js(String),
    /// A navigation failed.
    #[error("navigating to {url}: {detail}")]
    Navigation {
        /// Where to.
        url: String,
        /// What failed.
        detail: String,
    },
    /// A wait ran out; the report says what, where, and what the page showed.
    #[error("{0}")]
    Timeout(String),
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl std::fmt::Debug for BrowserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A headless Chromium with one page (tab) open.
///
/// Fields drop in order: the protocol connection, the browser (killed), the runtime.
pub struct Browser {
    /// The test's name: the artifacts directory's name.
    test: String,
    cdp: cdp::Cdp,
    /// The page's flat session id.
    session: String,
    chromium: launch::Chromium,
    rt: tokio::runtime::Runtime,
}

/// The directory failure artifacts of `test` go to: `<target dir>/ui-artifacts/<test>/`.
pub fn artifacts_dir(test: &str) -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`, wherever CARGO_TARGET_DIR puts it.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .unwrap_or(tmp)
        .join("ui-artifacts")
        .join(sanitize(test))
}

/// `name` with anything but `[A-Za-z0-9_.-]` replaced by `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A JavaScript string literal of `s`.
pub fn js_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Whether a JSON value is truthy as JavaScript sees it.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

impl Browser {
    /// Start a headless Chromium for test `test` (the name of its artifacts directory)
    /// and open a blank page at 1366x768.
    pub fn launch(test: &str) -> Result<Browser, BrowserError> {
        let binary = find_chromium(std::env::var_os(OVERRIDE_VAR), std::env::var_os("PATH"))?;
        Browser::launch_binary(test, &binary)
    }

    /// [`Browser::launch`] with this browser binary.
    pub fn launch_binary(test: &str, binary: &Path) -> Result<Browser, BrowserError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| BrowserError::Protocol(format!("a runtime: {e}")))?;
        let chromium = launch::Chromium::start(binary)?;
        let cdp = rt.block_on(cdp::Cdp::connect(&chromium.ws_url))?;
        let target = rt.block_on(cdp.call(
            None,
            "Target.createTarget",
            json!({ "url": "about:blank" }),
            CALL_TIMEOUT,
        ))?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_string();
        let attached = rt.block_on(cdp.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
            CALL_TIMEOUT,
        ))?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Protocol(format!("no sessionId in {attached}")))?
            .to_string();
        let browser = Browser {
            test: test.to_string(),
            cdp,
            session,
            chromium,
            rt,
        };
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            browser.call(domain, json!({}))?;
        }
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": VIEWPORT.0, "height": VIEWPORT.1,
                "deviceScaleFactor": 1, "mobile": false
            }),
        )?;
        Ok(browser)
    }

    /// The browser's pid (its helpers are in its process group).
    pub fn pid(&self) -> u32 {
        self.chromium.pid()
    }

    /// Send a page command and wait for its answer.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.call_within(method, params, CALL_TIMEOUT)
    }

    fn call_within(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        self.rt
            .block_on(self.cdp.call(Some(&self.session), method, params, timeout))
    }

    /// Navigate to `url` and wait until it loaded (the load event, or for a change of
    /// the `#` part only, the same-document navigation).
    pub fn goto(&self, url: &str) -> Result<(), BrowserError> {
        let (loads, same) = self.cdp.events(|e| (e.loads, e.same_document));
        let nav = self.call("Page.navigate", json!({ "url": url }))?;
        if let Some(err) = nav["errorText"].as_str().filter(|e| !e.is_empty()) {
            return Err(BrowserError::Navigation {
                url: url.to_string(),
                detail: err.to_string(),
            });
        }
        let cross_document = nav.get("loaderId").is_some_and(|l| !l.is_null());
        let deadline = Instant::now() + LOAD_TIMEOUT;
        loop {
            let done = self.cdp.events(|e| {
                if cross_document {
                    e.loads > loads
                } else {
                    e.same_document > same
                }
            });
            if done {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(BrowserError::Navigation {
                    url: url.to_string(),
                    detail: format!("not loaded within {LOAD_TIMEOUT:?}"),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Evaluate the expression `js` in the page and return its value (awaiting it when it
    /// is a promise; `undefined` is `null`). A thrown exception is an error with its
    /// text.
    pub fn eval(&self, js: &str) -> Result<Value, BrowserError> {
        self.eval_within(js, CALL_TIMEOUT)
    }

    fn eval_within(&self, js: &str, timeout: Duration) -> Result<Value, BrowserError> {
        let r = self.call_within(
            "Runtime.evaluate",
            json!({
                "expression": js,
                "returnByValue": true,
                "awaitPromise": true,
                "userGesture": true,
            }),
            timeout,
        )?;
        if let Some(details) = r.get("exceptionDetails") {
            return Err(BrowserError::Js(cdp::exception_text(details)));
        }
        let result = &r["result"];
        Ok(
            match (result.get("value"), result["unserializableValue"].as_str()) {
                (Some(v), _) => v.clone(),
                (None, Some(u)) => Value::String(u.to_string()),
                (None, None) => Value::Null,
            },
        )
    }

    /// Evaluate the expression `js` every 100 ms until it is truthy (returning its
    /// value), or fail after `timeout` with a report naming `what`, the last result, the
    /// page's URL and a DOM excerpt. A throw counts as "not yet" (the page may be
    /// between documents); the last one is in the report.
    pub fn wait_for(&self, js: &str, timeout: Duration, what: &str) -> Result<Value, BrowserError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.eval(js);
            if let Ok(v) = &last
                && truthy(v)
            {
                return Ok(v.clone());
            }
            if Instant::now() > deadline {
                let last = match last {
                    Ok(v) => format!("{v}"),
                    Err(e) => e.to_string(),
                };
                return Err(BrowserError::Timeout(self.report(&format!(
                    "timed out after {timeout:?} waiting for {what}\n  predicate: {js}\n  \
                     last result: {last}"
                ))));
            }
            std::thread::sleep(POLL);
        }
    }

    /// `headline`, then the page's URL, its data-page/refreshes, the console errors so
    /// far and an excerpt of its DOM.
    fn report(&self, headline: &str) -> String {
        let quick = Duration::from_secs(5);
        let url = self
            .eval_within("location.href", quick)
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|e| format!("(unknown: {e})"));
        let state = self
            .eval_within(
                "JSON.stringify({page: document.body && document.body.dataset.page, \
                 refreshes: document.body && document.body.dataset.refreshes})",
                quick,
            )
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        let dom = self.dom(DOM_EXCERPT_CHARS, quick);
        let errors: Vec<String> = self.all_errors().iter().map(|e| e.to_string()).collect();
        format!(
            "{headline}\n  url: {url}\n  body data: {state}\n  console errors: {}\n  \
             DOM excerpt (first {DOM_EXCERPT_CHARS} characters; artifacts in {}):\n{dom}",
            if errors.is_empty() {
                "none".to_string()
            } else {
                errors.join("\n    ")
            },
            artifacts_dir(&self.test).display()
        )
    }

    /// The page's DOM (`document.documentElement.outerHTML`), at most `max` characters.
    /// Input values are properties, not attributes: a typed token is not in it.
    pub fn dom(&self, max: usize, timeout: Duration) -> String {
        self.eval_within(
            &format!("document.documentElement.outerHTML.slice(0, {max})"),
            timeout,
        )
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|e| format!("(no DOM: {e})"))
    }

    /// The page's current URL.
    pub fn url(&self) -> Result<String, BrowserError> {
        Ok(self
            .eval("location.href")?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Wait (bounded) until `selector` matches a visible element not covered by another
    /// one, scrolled into view; its centre.
    fn locate(&self, selector: &str) -> Result<(f64, f64), BrowserError> {
        let js = format!(
            "(() => {{ const el = document.querySelector({sel}); if (!el) return null; \
             el.scrollIntoView({{block: 'center', inline: 'center'}}); \
             const r = el.getBoundingClientRect(); \
             if (r.width === 0 || r.height === 0) return null; \
             const x = r.left + r.width / 2, y = r.top + r.height / 2; \
             const top = document.elementFromPoint(x, y); \
             if (!top || !(top === el || el.contains(top))) return null; \
             return [x, y]; }})()",
            sel = js_str(selector)
        );
        let at = self.wait_for(
            &js,
            ELEMENT_TIMEOUT,
            &format!("a visible, uncovered element matching `{selector}`"),
        )?;
        match (at[0].as_f64(), at[1].as_f64()) {
            (Some(x), Some(y)) => Ok((x, y)),
            _ => Err(BrowserError::Protocol(format!(
                "a position of {selector}: {at}"
            ))),
        }
    }

    /// Click (left mouse button, pressed and released) the centre of the element
    /// `selector` matches, once it is visible and nothing covers it (bounded wait).
    pub fn click(&self, selector: &str) -> Result<(), BrowserError> {
        let (x, y) = self.locate(selector)?;
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y }),
        )?;
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )?;
        }
        Ok(())
    }

    /// Replace the value of the input `selector` matches with `text`, typed as
    /// keyboard input (`input` events fire). The text is never put in an error message:
    /// it may be a token.
    pub fn type_into(&self, selector: &str, text: &str) -> Result<(), BrowserError> {
        self.locate(selector)?;
        self.eval(&format!(
            "(() => {{ const el = document.querySelector({sel}); el.focus(); el.value = ''; \
             el.dispatchEvent(new Event('input', {{bubbles: true}})); }})()",
            sel = js_str(selector)
        ))?;
        self.call("Input.insertText", json!({ "text": text }))?;
        let ok = self.eval(&format!(
            "document.querySelector({}).value === {}",
            js_str(selector),
            js_str(text)
        ))?;
        if ok != Value::Bool(true) {
            return Err(BrowserError::Timeout(self.report(&format!(
                "typing into `{selector}` did not set its value"
            ))));
        }
        Ok(())
    }

    /// Every error the page reported so far: `console.error`/`console.assert` calls,
    /// uncaught exceptions (and unhandled rejections), browser log errors (CSP
    /// violations, failed loads).
    pub fn all_errors(&self) -> Vec<ConsoleError> {
        self.cdp.events(|e| {
            let mut all = e.errors.clone();
            if e.dropped > 0 {
                all.push(ConsoleError {
                    source: "harness".into(),
                    text: format!("{} more errors not kept", e.dropped),
                });
            }
            all
        })
    }

    /// [`Browser::all_errors`] but the browser's own network lines for 4xx answers of
    /// the API (`/api/` URLs) and for `/favicon.ico`: the UI gets API errors by design
    /// (a 401 asks for the token, a 403 refuses an action, a 404 follows a kill) and shows
    /// them in `#message`, where the tests check them; Chromium logs every such answer,
    /// and fetches a favicon no page asked for. A 4xx of anything else (a UI asset) and
    /// any 5xx still count. A test asserts this is empty at its end.
    pub fn console_errors(&self) -> Vec<ConsoleError> {
        self.all_errors()
            .into_iter()
            .filter(|e| {
                let network = e.source == "log:network";
                let api_4xx = e.text.contains("/api/") && e.text.contains("status of 4");
                let favicon = e.text.ends_with("/favicon.ico)");
                !(network && (api_4xx || favicon))
            })
            .collect()
    }

    /// Save a PNG of the viewport to `path` (directories made as needed).
    pub fn screenshot(&self, path: &Path) -> Result<(), BrowserError> {
        self.screenshot_within(path, CALL_TIMEOUT)
    }

    fn screenshot_within(&self, path: &Path, timeout: Duration) -> Result<(), BrowserError> {
        let shot = self.call_within(
            "Page.captureScreenshot",
            json!({ "format": "png" }),
            timeout,
        )?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|e| BrowserError::Protocol(format!("a screenshot's base64: {e}")))?;
        let io = |source| BrowserError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(path, png).map_err(io)
    }

    /// Save `screenshot.png`, `dom.html`, `console.txt` (errors, URL, why) into
    /// [`artifacts_dir`] of this test; returns the directory. Best effort, each step
    /// bounded: the browser may be what failed.
    pub fn save_artifacts(&self, why: &str) -> PathBuf {
        let dir = artifacts_dir(&self.test);
        // Only this failure's files: none left from an earlier run.
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        let quick = Duration::from_secs(5);
        if let Err(e) = self.screenshot_within(&dir.join("screenshot.png"), quick) {
            eprintln!("no screenshot for {}: {e}", self.test);
        }
        let _ = std::fs::write(dir.join("dom.html"), self.dom(DOM_DUMP_CHARS, quick));
        let url = self
            .eval_within("location.href", quick)
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        let errors: Vec<String> = self.all_errors().iter().map(|e| e.to_string()).collect();
        let _ = std::fs::write(
            dir.join("console.txt"),
            format!(
                "why: {why}\nurl: {url}\nerrors:\n{}\nchromium stderr (tail):\n{}\n",
                errors.join("\n"),
                self.chromium.log_tail()
            ),
        );
        dir
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let dir = self.save_artifacts("the test panicked");
            eprintln!(
                "web UI test {} failed: screenshot and DOM in {}",
                self.test,
                dir.display()
            );
        }
    }
}
