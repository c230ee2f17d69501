//! The headless-Chromium harness of the web UI tests (`tests/browser/`), tested on a
//! static page served from loopback: script results and errors, waits that fail with a
//! useful report, clicks and typing, screenshots, failure artifacts, and no Chromium
//! process left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;

use std::ffi::OsString;
use std::time::Duration;

use browser::{Browser, BrowserError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>harness</title></head>
<body>
<h1 id="title">Harness page</h1>
<input id="name" type="text">
<button id="go">Go</button>
<p id="out"></p>
<script src="/app.js"></script>
</body></html>
"#;

const SCRIPT: &str = r#"
console.error("harness console error", 42);
document.getElementById("go").addEventListener("click", () => {
  document.getElementById("out").textContent = "clicked " + document.getElementById("name").value;
});
setTimeout(() => { document.body.dataset.ready = "yes"; }, 100);
setTimeout(() => { throw new Error("harness uncaught"); }, 0);
fetch("/api/v1/nothing").then(() => fetch("/missing.css")).then(() => {
  document.body.dataset.fetched = "yes";
});
"#;

/// A loopback HTTP server of [`PAGE`] (any path) and [`SCRIPT`] (`/app.js`), on its own
/// runtime; stops when dropped.
struct Site {
    url: String,
    _rt: tokio::runtime::Runtime,
}

fn site() -> Site {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut len = 0;
                // The request head, at most 16 KiB.
                while len < buf.len() && !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => len += n,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..len]);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let (status, kind, body) = if path == "/app.js" {
                    ("200 OK", "text/javascript", SCRIPT)
                } else if path.starts_with("/api/")
                    || path.starts_with("/missing")
                    || path == "/favicon.ico"
                {
                    ("404 Not Found", "text/plain", "not here")
                } else {
                    ("200 OK", "text/html; charset=utf-8", PAGE)
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            });
        }
    });
    Site { url, _rt: rt }
}

#[test]
fn the_harness_evaluates_clicks_types_waits_and_sees_console_errors() {
    let site = site();
    let b = Browser::launch("harness_basics").unwrap();
    b.goto(&format!("{}/", site.url)).unwrap();
    b.wait_for(
        "document.body.dataset.ready === 'yes'",
        Duration::from_secs(10),
        "the page's script to run",
    )
    .unwrap();

    // Values, promises, undefined, exceptions.
    assert_eq!(b.eval("1 + 2").unwrap(), 3);
    assert_eq!(b.eval("Promise.resolve('later')").unwrap(), "later");
    assert_eq!(b.eval("undefined").unwrap(), serde_json::Value::Null);
    assert_eq!(
        b.eval("({a: [1, 'x']})").unwrap(),
        serde_json::json!({"a": [1, "x"]})
    );
    let err = b.eval("nosuchthing.field").unwrap_err();
    assert!(matches!(err, BrowserError::Js(_)), "{err}");
    assert!(err.to_string().contains("nosuchthing"), "{err}");
    let err = b
        .eval("Promise.reject(new Error('refused later'))")
        .unwrap_err();
    assert!(err.to_string().contains("refused later"), "{err}");

    // The viewport.
    assert_eq!(
        b.eval("[innerWidth, innerHeight]").unwrap(),
        serde_json::json!([1366, 768])
    );

    // Typing and clicking as a user does.
    b.type_into("#name", "old text").unwrap();
    b.type_into("#name", "squall <b>").unwrap();
    b.click("#go").unwrap();
    let out = b
        .wait_for(
            "document.getElementById('out').textContent",
            Duration::from_secs(5),
            "the click's output",
        )
        .unwrap();
    assert_eq!(out, "clicked squall <b>");

    // A same-document navigation (the UI's hash routes).
    b.goto(&format!("{}/#/topology/x", site.url)).unwrap();
    assert_eq!(b.eval("location.hash").unwrap(), "#/topology/x");
    assert_eq!(
        b.eval("document.getElementById('out').textContent")
            .unwrap(),
        "clicked squall <b>",
        "no reload on a hash change"
    );

    // A wait that runs out says what it waited for, where, and what the page shows.
    let err = b
        .wait_for(
            "document.querySelector('#never')",
            Duration::from_millis(300),
            "an element that never comes",
        )
        .unwrap_err();
    let report = err.to_string();
    for needle in [
        "timed out after 300ms waiting for an element that never comes",
        "document.querySelector('#never')",
        &format!("url: {}/#/topology/x", site.url),
        "<h1 id=\"title\">Harness page</h1>",
        "harness console error 42",
        "ui-artifacts",
    ] {
        assert!(report.contains(needle), "{needle:?} not in:\n{report}");
    }
    assert_eq!(format!("{err:?}"), report, "Debug is the readable report");

    // Both kinds of page errors, with their text; an API's 4xx is the UI's business
    // (shown in #message), a missing asset is an error.
    b.wait_for(
        "document.body.dataset.fetched === 'yes'",
        Duration::from_secs(10),
        "the page's fetches",
    )
    .unwrap();
    let all = b.all_errors();
    assert!(
        all.iter()
            .any(|e| e.source == "log:network" && e.text.contains("/api/v1/nothing")),
        "{all:?}"
    );
    let errors = b.console_errors();
    assert!(
        !errors
            .iter()
            .any(|e| e.text.contains("/api/") || e.text.contains("favicon")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.source == "log:network" && e.text.contains("/missing.css")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.source == "console" && e.text == "harness console error 42"),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.source == "exception" && e.text.contains("harness uncaught")),
        "{errors:?}"
    );
}

#[test]
fn a_screenshot_is_a_png_of_the_viewport() {
    let site = site();
    let b = Browser::launch("harness_screenshot").unwrap();
    b.goto(&format!("{}/", site.url)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep").join("shot.png");
    b.screenshot(&path).unwrap();
    let png = std::fs::read(&path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1366, 768));
}

#[test]
fn a_panicking_test_leaves_a_screenshot_and_the_dom() {
    let site = site();
    let dir = browser::artifacts_dir("harness_panics");
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("{}/", site.url);
    let failed = std::thread::spawn(move || {
        let b = Browser::launch("harness_panics").unwrap();
        b.goto(&url).unwrap();
        b.wait_for(
            "document.body.dataset.ready === 'yes'",
            Duration::from_secs(10),
            "the page's script to run",
        )
        .unwrap();
        panic!("a failing UI check");
    })
    .join();
    assert!(failed.is_err());
    let png = std::fs::read(dir.join("screenshot.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    let dom = std::fs::read_to_string(dir.join("dom.html")).unwrap();
    assert!(dom.contains("<h1 id=\"title\">Harness page</h1>"), "{dom}");
    let console = std::fs::read_to_string(dir.join("console.txt")).unwrap();
    assert!(console.contains("harness console error"), "{console}");
    assert!(console.contains("the test panicked"), "{console}");
}

#[test]
fn dropping_the_browser_leaves_no_chromium_process() {
    let b = Browser::launch("harness_drop").unwrap();
    assert_eq!(b.eval("'up'").unwrap(), "up");
    let mut pids = browser::descendants(b.pid() as i32);
    pids.push(b.pid() as i32);
    assert!(pids.len() > 1, "Chromium runs helper processes: {pids:?}");
    drop(b);
    // Gone, or a zombie nobody reaped yet (re-parented to init).
    let left: Vec<i32> = pids.into_iter().filter(|p| browser::running(*p)).collect();
    assert!(left.is_empty(), "Chromium processes left: {left:?}");
}

#[test]
fn a_missing_chromium_is_an_error_saying_how_to_install_it() {
    let err = browser::find_chromium(None, Some(OsString::from("/nonexistent-dir"))).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BrowserError::NotFound), "{text}");
    for needle in [
        "apt-get install chromium",
        "SQUALL_CHROMIUM",
        "chromium-browser",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let err = browser::find_chromium(Some(OsString::from("/no/such/chrome")), None).unwrap_err();
    assert!(err.to_string().contains("/no/such/chrome"), "{err}");
    // The override wins over PATH.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("my-chrome");
    std::fs::write(&fake, "").unwrap();
    assert_eq!(
        browser::find_chromium(Some(fake.clone().into_os_string()), None).unwrap(),
        fake
    );
    // PATH is searched in order of the candidate names.
    let bin = tempfile::tempdir().unwrap();
    std::fs::write(bin.path().join("google-chrome"), "").unwrap();
    assert_eq!(
        browser::find_chromium(None, Some(bin.path().as_os_str().to_owned())).unwrap(),
        bin.path().join("google-chrome")
    );
}
