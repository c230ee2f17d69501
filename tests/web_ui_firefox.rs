//! The web UI in Firefox: a smoke test over WebDriver BiDi (`tests/browser/firefox.rs`)
//! on a real cluster (an open nimbus, one supervisor, a small topology on one worker):
//! the cluster, topology and component pages render through the DOM hooks of the UI
//! contract, and no page logs an error. A second test checks the client itself on
//! pages without a cluster: errors (CSP violations too) are caught, waits fail with a
//! useful report, and no Firefox process is left behind.
//!
//! Firefox is required: without one these tests fail saying how to install firefox-esr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod cluster_common;

use std::time::Duration;

use browser::firefox::Firefox;
use browser::{BrowserError, js_str};
use cluster_common::*;

/// How long a page gets to render data after a navigation.
const RENDER: Duration = Duration::from_secs(20);

/// One worker: a rate-limited spout feeding a bolt of two executors. No ackers.
const YAML: &str = r#"name: firefox
config:
  topology.workers: 1
  topology.acker.executors: 0
spouts:
  - id: payloads
    className: ConstSpout
    constructorArgs: [0, 20]
bolts:
  - id: exclaim
    className: ExclamationBolt
    parallelism: 2
streams:
  - from: payloads
    to: exclaim
    grouping: {type: SHUFFLE}
"#;

/// Wait until the page `page` (`body[data-page]`) has rendered data.
fn wait_page(f: &Firefox, page: &str) {
    f.wait_for(
        &format!("document.body.dataset.page === {}", js_str(page)),
        RENDER,
        &format!("the {page} page"),
    )
    .unwrap();
}

/// Wait until `selector` matches at least `n` elements.
fn wait_count(f: &Firefox, selector: &str, n: usize) {
    f.wait_for(
        &format!(
            "document.querySelectorAll({}).length >= {n}",
            js_str(selector)
        ),
        RENDER,
        &format!("{n} elements matching `{selector}`"),
    )
    .unwrap();
}

/// Assert Firefox logged no error (console errors, uncaught exceptions).
fn assert_no_errors(f: &Firefox) {
    let errors = f.errors();
    assert!(
        errors.is_empty(),
        "the UI logged errors in Firefox:\n{}",
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_web_ui_renders_in_firefox_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let _reaper = Reaper(root.clone());
    let config = root.join("nimbus.yaml");
    std::fs::write(&config, "nimbus.authentication: none\n").unwrap();
    let ports = free_ports(2);
    let (_nimbus, url) = start_nimbus(
        &root.join("nimbus"),
        ports[0],
        &["--config", config.to_str().unwrap()],
    );
    let _sup = start_supervisor(&url, &root.join("sup1"), &ports[1..]);
    wait_supervisors(&url, 1);
    let file = root.join("topology.yaml");
    std::fs::write(&file, YAML).unwrap();
    let (code, out, err) = cli(&url, &["submit", file.to_str().unwrap()]);
    assert_eq!(code, 0, "submit failed: {out}{err}");
    let st = wait_for(LONG, "the topology's worker running", || {
        let st = status(&url, "firefox")?;
        (worker_pids(&st).len() == 1).then_some(st)
    });
    let id = st["id"].as_str().unwrap().to_string();

    let f = Firefox::launch("web_ui_firefox").unwrap();

    // The cluster page, with the topology's row (no login form: nimbus is open).
    f.goto(&format!("{url}/")).unwrap();
    wait_page(&f, "cluster");
    wait_count(
        &f,
        &format!("table#topologies tr[data-topology-id={}]", js_str(&id)),
        1,
    );
    wait_count(&f, "table#supervisors tr[data-supervisor]", 1);

    // The topology page: a DAG node per component, and its tables.
    let route = format!("{url}/#/topology/{}", urlencode(&id));
    f.goto(&route).unwrap();
    wait_page(&f, "topology");
    for component in ["payloads", "exclaim"] {
        wait_count(
            &f,
            &format!("svg#dag g.node[data-component={}]", js_str(component)),
            1,
        );
    }
    wait_count(&f, "svg#dag g.edge", 1);
    wait_count(&f, "table#spouts tr[data-component='payloads']", 1);
    wait_count(&f, "table#bolts tr[data-component='exclaim']", 1);
    wait_count(&f, "table#workers tr[data-worker]", 1);
    assert_eq!(
        f.eval_string("document.querySelector('h1#topology-name').textContent.includes('firefox')")
            .unwrap(),
        "true",
        "the topology's name"
    );

    // The component page: a row per executor of the bolt.
    f.goto(&format!("{route}/component/exclaim")).unwrap();
    wait_page(&f, "component");
    wait_count(&f, "table#executors tr[data-task]", 2);

    // An API answer of 4xx (the UI gets them by design: a 404 after a kill, say) is not
    // an error entry in Firefox: so `errors()` filters nothing out.
    let status = f
        .eval_string("fetch('/api/v1/topology/no-such-topology').then(r => r.status)")
        .unwrap();
    assert_eq!(status, "404");
    assert_no_errors(&f);
}

/// `s` with every byte but `[A-Za-z0-9_.~-]` percent-encoded (as `encodeURIComponent`).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_.~-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The client itself, on pages of its own: console errors, exceptions and CSP violations
/// are caught, evaluation errors say what went wrong, a wait that runs out names what it
/// waited for and the last value, and dropping it leaves no Firefox process.
#[test]
fn the_firefox_client_catches_errors_and_leaves_no_process() {
    let f = Firefox::launch("firefox_client").unwrap();
    let page = "data:text/html,<p id=x>hi</p><script>console.error('probe error', 42);\
                setTimeout(() => { throw new Error('probe uncaught'); }, 0);\
                setTimeout(() => { document.body.dataset.ready = 'yes'; }, 50);</script>";
    f.goto(page).unwrap();
    assert_eq!(
        f.wait_for("document.body.dataset.ready", RENDER, "the page's timer")
            .unwrap(),
        "yes"
    );
    assert_eq!(f.eval_string("1 + 1").unwrap(), "2");
    assert_eq!(f.eval_string("Promise.resolve('later')").unwrap(), "later");
    assert_eq!(f.eval_string("undefined").unwrap(), "undefined");
    let object = f.eval_string("({a: 1})").unwrap_err().to_string();
    assert!(object.contains("JSON.stringify"), "{object}");
    let thrown = f.eval_string("nope.nope").unwrap_err();
    assert!(
        matches!(&thrown, BrowserError::Js(t) if t.contains("nope")),
        "{thrown}"
    );

    let errors = f.errors();
    let has = |source: &str, text: &str| {
        errors
            .iter()
            .any(|e| e.source == source && e.text.contains(text))
    };
    assert!(has("log:console", "probe error"), "{errors:?}");
    assert!(has("log:javascript", "probe uncaught"), "{errors:?}");

    let timeout = f
        .wait_for(
            "document.querySelector('#x').textContent === 'never'",
            Duration::from_millis(300),
            "a text that never comes",
        )
        .unwrap_err()
        .to_string();
    for part in ["a text that never comes", "last value: false", "url: data:"] {
        assert!(timeout.contains(part), "{part:?} not in:\n{timeout}");
    }

    // A CSP violation (the UI's policy forbids inline scripts, say) is an error too.
    f.goto(
        "data:text/html,<meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'\"><img src=\"http://127.0.0.1:9/x.png\">",
    )
    .unwrap();
    let errors = f.errors();
    assert!(
        errors
            .iter()
            .any(|e| e.source == "log:javascript" && e.text.contains("Content-Security-Policy")),
        "{errors:?}"
    );

    let pids = f.pids();
    assert!(
        pids.len() > 1,
        "Firefox and its content processes: {pids:?}"
    );
    drop(f);
    let left: Vec<i32> = pids.into_iter().filter(|p| running(*p)).collect();
    assert!(left.is_empty(), "Firefox processes left: {left:?}");
}
