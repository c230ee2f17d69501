//! The web UI end to end: nimbus serving it at `/` on a real cluster (nimbus, two
//! supervisors, a topology on two worker processes), driven in a headless Chromium
//! (`tests/browser/`) through the DOM hooks of the UI contract: login with a token kept
//! out of URLs, the cluster, topology and component pages, a worker killed with SIGKILL
//! shown restarting without a reload, a bolt's HTML-bearing error shown as text, a
//! worker's log, a read-only token refused, a kill from the UI, and an open nimbus over
//! HTTPS without a login form. No page may log an error.
//!
//! Chromium is required: without one these tests fail saying how to install it.
//! `SQUALL_UI_SCREENSHOT=1` writes the README's screenshot to `docs/ui-topology.png`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod cluster_common;

use std::time::Duration;

use browser::{Browser, js_str};
use cluster_common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// How long a page gets to render data after a navigation or an action.
const RENDER: Duration = Duration::from_secs(20);
/// How long a killed worker's restart gets to show on the topology page.
const RESTART_SHOWN: Duration = Duration::from_secs(30);
/// How long workers get to report their first errors and figures.
const REPORTED: Duration = Duration::from_secs(60);

/// The error text the `broken` bolt reports: HTML the UI must show as text.
const XSS: &str = r#"bad input <img src=x onerror="window.__xss=1"> <b>bold</b>"#;

/// A topology on two workers: a rate-limited spout feeding a healthy bolt and a bolt
/// that fails every tuple with an error holding HTML. No ackers: a failed tuple is not
/// replayed, so the spout keeps its 50 tuples/s (replays at full speed would load the
/// 2-core CI machine for nothing).
fn yaml() -> String {
    format!(
        r#"name: webui
config:
  topology.workers: 2
  topology.acker.executors: 0
spouts:
  - id: payloads
    className: ConstSpout
    constructorArgs: [0, 50]
bolts:
  - id: exclaim
    className: ExclamationBolt
    parallelism: 2
  - id: broken
    className: ErrorBolt
    constructorArgs: [{xss}]
streams:
  - from: payloads
    to: exclaim
    grouping: {{type: SHUFFLE}}
  - from: payloads
    to: broken
    grouping: {{type: SHUFFLE}}
"#,
        xss = serde_json::to_string(XSS).unwrap()
    )
}

/// `document.querySelectorAll(selector).length`.
fn count(b: &Browser, selector: &str) -> u64 {
    b.eval(&format!(
        "document.querySelectorAll({}).length",
        js_str(selector)
    ))
    .unwrap()
    .as_u64()
    .unwrap()
}

/// The text of the first element `selector` matches (`null` if none).
fn text(b: &Browser, selector: &str) -> Value {
    b.eval(&format!(
        "(document.querySelector({}) || {{}}).textContent",
        js_str(selector)
    ))
    .unwrap()
}

/// Wait until `selector` matches at least `n` elements.
fn wait_count(b: &Browser, selector: &str, n: usize, timeout: Duration) {
    b.wait_for(
        &format!(
            "document.querySelectorAll({}).length >= {n}",
            js_str(selector)
        ),
        timeout,
        &format!("{n} elements matching `{selector}`"),
    )
    .unwrap();
}

/// Wait until the page `page` (`body[data-page]`) has rendered data.
fn wait_page(b: &Browser, page: &str) {
    b.wait_for(
        &format!("document.body.dataset.page === {}", js_str(page)),
        RENDER,
        &format!("the {page} page"),
    )
    .unwrap();
}

/// The number of refreshes the page counted (`body[data-refreshes]`).
fn refreshes(b: &Browser) -> u64 {
    b.eval("Number(document.body.dataset.refreshes || 0)")
        .unwrap()
        .as_u64()
        .unwrap_or(0)
}

/// Open the UI fresh (a full load, no token in this tab) and log in with `token`.
fn login(b: &Browser, url: &str, token: &str) {
    b.eval("sessionStorage.clear()").unwrap();
    b.goto(&format!("{url}/")).unwrap();
    wait_page(b, "login");
    assert_eq!(
        b.eval("document.querySelector('form#login input#login-token').type")
            .unwrap(),
        "password",
        "the token field hides what is typed"
    );
    b.type_into("input#login-token", token).unwrap();
    b.click("button#login-submit").unwrap();
    wait_page(b, "cluster");
}

/// Go from the cluster page to topology `id`'s page through its link.
fn open_topology(b: &Browser, id: &str) {
    let link = format!(
        "table#topologies tr[data-topology-id={}] a.topology-link",
        js_str(id)
    );
    wait_count(b, &link, 1, RENDER);
    b.click(&link).unwrap();
    wait_page(b, "topology");
    b.wait_for(
        &format!(
            "location.hash === '#/topology/' + encodeURIComponent({})",
            js_str(id)
        ),
        RENDER,
        "the topology route",
    )
    .unwrap();
}

/// Record every message `#message` shows from now on in `window.__squallMessages`
/// (`[data-kind, text]` pairs): a refresh may replace an action's result before a poll
/// sees it.
fn watch_messages(b: &Browser) {
    b.eval(
        "(() => { window.__squallMessages = []; const seen = () => { \
           const m = document.querySelector('#message'); if (!m) return; \
           const entry = [m.dataset.kind || '', m.textContent]; \
           const all = window.__squallMessages, last = all[all.length - 1]; \
           if (!last || last[0] !== entry[0] || last[1] !== entry[1]) all.push(entry); }; \
           seen(); new MutationObserver(seen).observe(document.body, \
           {subtree: true, childList: true, attributes: true, characterData: true}); })()",
    )
    .unwrap();
}

/// Wait until `#message` showed (since [`watch_messages`]) a message of `kind` whose
/// text matches the JavaScript regex `pattern`; returns its text.
fn wait_message(b: &Browser, kind: &str, pattern: &str, what: &str) -> Value {
    b.wait_for(
        &format!(
            "(window.__squallMessages || []).filter(m => m[0] === {kind} && {pattern}.test(m[1]))\
             .map(m => m[1])[0]",
            kind = js_str(kind)
        ),
        RENDER,
        what,
    )
    .unwrap_or_else(|e| {
        let seen = b.eval("window.__squallMessages").unwrap_or_default();
        panic!("{e}\n  messages shown: {seen}")
    })
}

/// Open the confirmation of action `button` (e.g. `#action-kill`), set its wait (when
/// given) and confirm; the result is recorded as [`watch_messages`] says.
fn act(b: &Browser, button: &str, wait_secs: Option<u32>) {
    watch_messages(b);
    b.click(button).unwrap();
    b.wait_for(
        "document.querySelector('dialog#confirm') && document.querySelector('dialog#confirm').open",
        RENDER,
        &format!("the confirmation dialog of {button}"),
    )
    .unwrap();
    if let Some(secs) = wait_secs {
        b.type_into("dialog#confirm input#confirm-wait", &secs.to_string())
            .unwrap();
    }
    b.click("dialog#confirm button#confirm-ok").unwrap();
}

/// Assert the page reported no errors (console, exceptions, CSP, failed assets).
fn assert_no_console_errors(b: &Browser) {
    let errors = b.console_errors();
    assert!(
        errors.is_empty(),
        "the UI reported errors:\n{}",
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Make a token with `role` through the CLI (as the admin).
fn make_token(c: &Cluster, role: &str, name: &str) -> String {
    let (code, out, err) = cli(&c.url, &["token", "create", "--role", role, "--name", name]);
    assert_eq!(code, 0, "token create failed: {err}");
    out.trim().to_string()
}

/// The admin token of the cluster (the one its CLI calls use).
fn admin_token(c: &Cluster) -> String {
    std::fs::read_to_string(token_file(&c.url).expect("an admin token"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn the_web_ui_shows_a_live_cluster_and_acts_on_it() {
    let c = cluster("");
    submit(&c, &yaml());
    let st = wait_running(&c, "webui", 2);
    let id = st["id"].as_str().unwrap().to_string();
    let admin = admin_token(&c);
    let viewer = make_token(&c, "viewer", "ui-viewer");
    // The API has the bolt's error (so a failure below is the UI's).
    wait_for(REPORTED, "the broken bolt's error in the API", || {
        let page = http_get(&c.url, &format!("/api/v1/topology/{id}/component/broken"));
        let page: Value = serde_json::from_str(&page).ok()?;
        page["componentErrors"]
            .as_array()?
            .iter()
            .any(|e| e["error"].as_str().is_some_and(|t| t.contains(XSS)))
            .then_some(())
    });
    let b = Browser::launch("web_ui_live_cluster").unwrap();

    // 1. Auth on (the default): the UI asks for a token; a wrong one is refused.
    b.goto(&format!("{}/", c.url)).unwrap();
    wait_page(&b, "login");
    assert_eq!(count(&b, "form#login"), 1);
    let wrong = {
        let mut parts: Vec<&str> = admin.split('.').collect();
        let zeros = "A".repeat(43);
        parts[2] = &zeros;
        parts.join(".")
    };
    b.type_into("input#login-token", &wrong).unwrap();
    b.click("button#login-submit").unwrap();
    b.wait_for(
        "(document.querySelector('#login-error') || {}).textContent",
        RENDER,
        "an error for a wrong token",
    )
    .unwrap();
    assert_eq!(
        b.eval("document.body.dataset.page").unwrap(),
        "login",
        "still asking"
    );

    // 2. The admin token: the cluster page lists the topology and both supervisors.
    b.type_into("input#login-token", &admin).unwrap();
    b.click("button#login-submit").unwrap();
    wait_page(&b, "cluster");
    let row = format!("table#topologies tr[data-topology-id={}]", js_str(&id));
    wait_count(&b, &row, 1, RENDER);
    wait_count(&b, "table#supervisors tr[data-supervisor]", 2, RENDER);
    assert_eq!(count(&b, "table#supervisors tr[data-supervisor]"), 2);
    assert!(count(&b, "#nimbus") == 1, "the nimbus summary");
    b.wait_for(
        &format!(
            "/ACTIVE/i.test((document.querySelector({}) || {{}}).textContent)",
            js_str(&format!("{row} td.status"))
        ),
        RENDER,
        "the topology's status ACTIVE",
    )
    .unwrap();
    for cell in ["td.workers", "td.uptime"] {
        assert_eq!(count(&b, &format!("{row} {cell}")), 1, "{cell}");
    }
    assert!(
        text(&b, &format!("{row} td.workers"))
            .as_str()
            .unwrap()
            .contains('2'),
        "two workers"
    );
    // One of each supervisor's two slots used.
    let slots = b
        .eval("[...document.querySelectorAll('table#supervisors tr[data-supervisor] td.slots')].map(td => td.textContent)")
        .unwrap();
    for s in slots.as_array().unwrap() {
        let s = s.as_str().unwrap();
        assert!(
            s.contains('1') && s.contains('2'),
            "slots used/total: {s:?}"
        );
    }

    // 3. The token is in sessionStorage only: not in the URL, a cookie or localStorage.
    let secret = admin.split('.').nth(2).unwrap().to_string();
    let href = b.url().unwrap();
    assert!(!href.contains(&secret), "the token in the URL: {href}");
    assert_eq!(
        b.eval("sessionStorage.getItem('squall.token')").unwrap(),
        admin.as_str(),
        "the token in sessionStorage"
    );
    let elsewhere = b
        .eval(&format!(
            "document.cookie.includes({s}) || \
             Object.keys(localStorage).some(k => (localStorage.getItem(k) || '').includes({s}))",
            s = js_str(&secret)
        ))
        .unwrap();
    assert_eq!(elsewhere, false, "the token in a cookie or localStorage");

    // 4. The topology page: every component in the DAG, its edges, its tables.
    open_topology(&b, &id);
    b.wait_for(
        "/webui/.test((document.querySelector('h1#topology-name') || {}).textContent)",
        RENDER,
        "the topology's name",
    )
    .unwrap();
    assert_eq!(count(&b, "td#topology-status"), 1);
    let windows = b
        .eval("[...document.querySelectorAll('select#window option')].map(o => o.value)")
        .unwrap();
    for w in ["600", "10800", "86400", ":all-time"] {
        assert!(
            windows.as_array().unwrap().iter().any(|v| v == w),
            "window {w}: {windows}"
        );
    }
    for (component, kind) in [
        ("payloads", "spout"),
        ("exclaim", "bolt"),
        ("broken", "bolt"),
    ] {
        let node = format!("svg#dag g.node[data-component={}]", js_str(component));
        wait_count(&b, &node, 1, RENDER);
        let attrs = b
            .eval(&format!(
                "(n => [n.dataset.kind, n.dataset.capacity, n.dataset.backpressure])\
                 (document.querySelector({}))",
                js_str(&node)
            ))
            .unwrap();
        assert_eq!(attrs[0], kind, "{component}'s kind: {attrs}");
        let capacity = attrs[1].as_str().unwrap_or_default();
        assert!(
            capacity.trim().parse::<f64>().is_ok(),
            "{component}'s capacity is a number: {attrs}"
        );
        assert!(
            attrs[2] == "true" || attrs[2] == "false",
            "{component}'s backpressure flag: {attrs}"
        );
        let table = if kind == "spout" { "spouts" } else { "bolts" };
        let row = format!("table#{table} tr[data-component={}]", js_str(component));
        wait_count(&b, &row, 1, RENDER);
        assert_eq!(count(&b, &format!("{row} a.component-link")), 1, "{row}");
    }
    assert_eq!(
        count(&b, "svg#dag g.node"),
        3,
        "one node per component, no system components"
    );
    for to in ["exclaim", "broken"] {
        let edge = format!("svg#dag g.edge[data-from=\"payloads\"][data-to=\"{to}\"][data-stream]");
        wait_count(&b, &edge, 1, RENDER);
        let label = text(&b, &format!("{edge} text"));
        let label = label.as_str().unwrap_or_default().to_lowercase();
        assert!(
            label.contains("shuffle") && label.contains('·') && label.contains("/s"),
            "edge label \"<grouping> · <rate>/s\": {label:?}"
        );
    }
    assert_eq!(count(&b, "svg#dag g.edge"), 2);
    wait_count(&b, "table#workers tr[data-worker]", 2, RENDER);

    // 5. A worker killed with SIGKILL: the restart shows, live, without a reload.
    let victim = st["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["state"] == "running")
        .unwrap()
        .clone();
    let pid = victim["pid"].as_i64().unwrap() as i32;
    let port = victim["port"].as_u64().unwrap();
    let worker_row = format!("table#workers tr[data-worker$=\":{port}\"]");
    wait_count(&b, &worker_row, 1, RENDER);
    b.eval("window.__squallNoReload = 'still here'").unwrap();
    let before = refreshes(&b);
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let restart = format!("{worker_row} ul.restart-history li.restart[data-cause=\"signal\"]");
    let shown = b
        .wait_for(
            &format!(
                "[...document.querySelectorAll({})].map(li => li.textContent).find(t => /9/.test(t))",
                js_str(&restart)
            ),
            RESTART_SHOWN,
            "the killed worker's restart (cause signal, text naming 9) on the topology page",
        )
        .unwrap();
    println!("restart shown as: {shown}");
    assert!(
        text(&b, &format!("{worker_row} td.restarts"))
            .as_str()
            .unwrap_or_default()
            .contains('1'),
        "the restart count"
    );
    assert_eq!(
        b.eval("window.__squallNoReload").unwrap(),
        "still here",
        "the page was not reloaded"
    );
    assert!(refreshes(&b) > before, "the page refreshed itself");
    assert_eq!(count(&b, &format!("{worker_row} a.log-link")), 1);
    let log_href = b
        .eval(&format!(
            "document.querySelector({}).getAttribute('href')",
            js_str(&format!("{worker_row} a.log-link"))
        ))
        .unwrap();
    assert!(
        log_href
            .as_str()
            .unwrap_or_default()
            .contains("/logs?worker="),
        "{log_href}"
    );

    // The README's screenshot of the topology page (with its restart history).
    wait_count(&b, "table#workers tr[data-worker]", 2, RENDER);
    let shot = if std::env::var("SQUALL_UI_SCREENSHOT").is_ok_and(|v| v == "1") {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ui-topology.png")
    } else {
        browser::artifacts_dir("web_ui_screenshot").join("ui-topology.png")
    };
    b.screenshot(&shot).unwrap();
    println!("topology page screenshot: {}", shot.display());

    // 6. The component page: executors, and the bolt's errors as text, never as HTML.
    b.click("table#bolts tr[data-component=\"broken\"] a.component-link")
        .unwrap();
    wait_page(&b, "component");
    b.wait_for(
        "/broken/.test((document.querySelector('h1#component-name') || {}).textContent)",
        RENDER,
        "the component's name",
    )
    .unwrap();
    wait_count(&b, "table#executors tr[data-task]", 1, RENDER);
    assert_eq!(count(&b, "table#executors tr[data-task] a.log-link"), 1);
    let error = b
        .wait_for(
            &format!(
                "[...document.querySelectorAll('table#errors tr.error')]\
                 .map(tr => tr.textContent).find(t => t.includes({}))",
                js_str(XSS)
            ),
            REPORTED,
            "the bolt's error, its HTML shown as text",
        )
        .unwrap();
    println!("error row: {error}");
    assert_eq!(
        count(&b, "table#errors img, table#errors b"),
        0,
        "the error's HTML made elements"
    );
    assert_eq!(b.eval("typeof window.__xss").unwrap(), "undefined");
    b.goto(&format!(
        "{}/#/topology/{}/component/exclaim",
        c.url,
        b.eval(&format!("encodeURIComponent({})", js_str(&id)))
            .unwrap()
            .as_str()
            .unwrap()
    ))
    .unwrap();
    b.wait_for(
        "/exclaim/.test((document.querySelector('h1#component-name') || {}).textContent)",
        RENDER,
        "the exclaim component's page",
    )
    .unwrap();
    wait_count(&b, "table#executors tr[data-task]", 2, RENDER);
    assert_eq!(
        count(&b, "table#executors tr[data-task]"),
        2,
        "parallelism 2"
    );

    // 7. A worker's log from its executor row: the tail, and who it comes from.
    let worker = b
        .eval(
            "document.querySelector('table#executors tr[data-task] a.log-link')\
             .getAttribute('href').split('worker=')[1]",
        )
        .unwrap();
    let worker = worker.as_str().unwrap().to_string();
    b.click("table#executors tr[data-task] a.log-link").unwrap();
    wait_page(&b, "logs");
    assert_eq!(count(&b, "input#log-follow[type=\"checkbox\"]"), 1);
    b.wait_for(
        &format!(
            "(document.querySelector('#log-source') || {{}}).textContent.includes(\
             decodeURIComponent({}))",
            js_str(&worker)
        ),
        RENDER,
        "the log's source worker",
    )
    .unwrap();
    b.wait_for(
        "(document.querySelector('pre#log') || {}).textContent.trim().length > 0",
        REPORTED,
        "the worker's log tail",
    )
    .unwrap();

    // 8. A read-only token: an action is refused with "not allowed", nothing changes.
    login(&b, &c.url, &viewer);
    open_topology(&b, &id);
    act(&b, "#action-deactivate", None);
    let refused = wait_message(
        &b,
        "error",
        "/not allowed/i",
        "a \"not allowed\" error message for the viewer's deactivate",
    );
    println!("viewer refused: {refused}");
    assert_eq!(
        status(&c.url, "webui").unwrap()["status"],
        "ACTIVE",
        "the refused action changed nothing"
    );

    // 9. A kill from the UI (as the admin, wait 0): the topology goes.
    login(&b, &c.url, &admin);
    open_topology(&b, &id);
    act(&b, "#action-kill", Some(0));
    let killed = wait_message(&b, "ok", "/kill/i", "the kill's result message");
    println!("kill: {killed}");
    // Its page goes with it: the UI shows the result on the cluster page.
    wait_page(&b, "cluster");
    assert_eq!(
        b.eval("document.querySelector('#message').dataset.kind")
            .unwrap(),
        "ok",
        "the kill's result stays shown on the cluster page"
    );
    wait_for(
        Duration::from_secs(30),
        "the topology killed",
        || match status(&c.url, "webui") {
            None => Some(()),
            Some(st) => (st["status"] == "KILLED").then_some(()),
        },
    );

    assert_no_console_errors(&b);
}

/// An open nimbus over HTTPS with its own CA (Chromium is started with
/// `--ignore-certificate-errors`): the cluster page with no login form.
#[test]
fn an_open_nimbus_over_https_shows_the_cluster_page_without_a_login_form() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nimbus.yaml");
    std::fs::write(&config, "nimbus.authentication: none\nnimbus.tls: on\n").unwrap();
    let (_nimbus, url) = start_nimbus(
        &dir.path().join("nimbus"),
        free_port(),
        &["--config", config.to_str().unwrap()],
    );
    assert!(url.starts_with("https://"), "{url}");
    let b = Browser::launch("web_ui_open_nimbus").unwrap();
    b.goto(&format!("{url}/")).unwrap();
    wait_page(&b, "cluster");
    assert_eq!(count(&b, "#nimbus"), 1);
    assert_eq!(count(&b, "table#supervisors"), 1);
    assert_eq!(count(&b, "table#topologies"), 1);
    // It stays there: the next refreshes ask for no token either.
    let first = refreshes(&b);
    b.wait_for(
        &format!("Number(document.body.dataset.refreshes || 0) > {first}"),
        RENDER,
        "a live refresh",
    )
    .unwrap();
    assert_eq!(b.eval("document.body.dataset.page").unwrap(), "cluster");
    let form_shown = b
        .eval("(f => !!f && f.getClientRects().length > 0)(document.querySelector('form#login'))")
        .unwrap();
    assert_eq!(form_shown, false, "no login form on an open nimbus");
    assert_eq!(
        b.eval("sessionStorage.getItem('squall.token')").unwrap(),
        Value::Null
    );
    assert_no_console_errors(&b);
}
