//! Run-time log levels and worker process figures on a real cluster (nimbus, two
//! supervisors, worker processes): `squall set-log-level` and Storm's
//! `/api/v1/topology/{id}/logconfig` change what a running worker writes to its
//! `worker.log`, for as long as the timeout says; a viewer reads the configuration but
//! cannot change it; the supervisors report each worker's memory, CPU time and restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::path::PathBuf;
use std::time::Duration;

use cluster_common::*;

/// How long a worker may take to follow a change (it hears from nimbus every second).
const FOLLOW: Duration = Duration::from_secs(20);
/// A line the `LogDebugBolt` writes for every tuple, at debug level.
const MARKER: &str = "log-debug-bolt tuple";
/// The worker's line when nimbus set a filter.
const SET_LINE: &str = "log filter set by nimbus";
/// The worker's line when it went back to its default.
const RESET_LINE: &str = "log filter back to the default";

/// One worker: a constant spout (50 tuples/s) into a `LogDebugBolt`.
fn yaml(name: &str) -> String {
    format!(
        "name: {name}
config:
  topology.workers: 1
  topology.acker.executors: 0
spouts:
  - id: src
    className: ConstSpout
    constructorArgs: [0, 50]
bolts:
  - id: dbg
    className: LogDebugBolt
streams:
  - from: src
    to: dbg
    grouping: {{type: SHUFFLE}}
"
    )
}

/// The `worker.log` of the only worker of `name`, and its status.
fn worker_log(c: &Cluster, name: &str) -> (PathBuf, serde_json::Value) {
    let st = wait_running(c, name, 1);
    let w = &st["workers"][0];
    let ids = c.supervisor_ids();
    let sup = ids
        .iter()
        .position(|id| w["supervisor"] == id.as_str())
        .expect("the worker's supervisor is sup1 or sup2");
    let port = w["port"].as_u64().unwrap();
    let log = c
        .root
        .join(format!("sup{}", sup + 1))
        .join("workers")
        .join(port.to_string())
        .join("worker.log");
    (log, st)
}

fn read(log: &PathBuf) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Tuples the `dbg` bolt executed, as nimbus last heard.
fn executed(c: &Cluster, name: &str) -> u64 {
    status(&c.url, name)
        .and_then(|st| st["components"]["dbg"]["executed"].as_u64())
        .unwrap_or(0)
}

/// Wait until `dbg` executed at least `n` more tuples than now.
fn wait_tuples(c: &Cluster, name: &str, n: u64) {
    let from = executed(c, name);
    wait_for(FOLLOW, &format!("{n} more tuples through dbg"), || {
        (executed(c, name) >= from + n).then_some(())
    });
}

/// `METHOD path` of nimbus with `token` (its text) and a JSON body: (status, body).
fn request(url: &str, token: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    use squall_runtime::cluster::auth::tls::ClientTrust;
    use squall_runtime::cluster::auth::token::Token;
    let trust = match ca_file(url) {
        Some(ca) => ClientTrust::from_ca_file(&ca).unwrap(),
        None => ClientTrust::System,
    };
    let token = Token::parse(token.trim()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http =
            squall_runtime::cluster::http::client(Duration::from_secs(10), Some(&token), &trust)
                .unwrap();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = http.request(method, format!("{url}{path}"));
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    })
}

/// The token text of a new token with `role`.
fn new_token(url: &str, role: &str, name: &str) -> String {
    let (code, out, err) = cli(url, &["token", "create", "--role", role, "--name", name]);
    assert_eq!(code, 0, "token create failed: {out}{err}");
    out.trim().to_string()
}

#[test]
fn set_log_level_turns_a_bolts_debug_lines_on_until_its_timeout_and_only_actors_may_set_it() {
    let c = cluster("");
    submit(&c, &yaml("ll"));
    let (log, st) = worker_log(&c, "ll");
    let id = st["id"].as_str().expect("the topology id").to_string();

    // At the default (SQUALL_LOG=info): tuples flow, no debug line.
    wait_tuples(&c, "ll", 50);
    assert!(
        !read(&log).contains(MARKER),
        "debug lines before any change"
    );

    // A viewer reads (nothing set) but cannot set: 403.
    let viewer = new_token(&c.url, "viewer", "vera");
    let path = format!("/api/v1/topology/{id}/logconfig");
    let (code, body) = request(&c.url, &viewer, "GET", &path, None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"namedLoggerLevels": {}})
    );
    let set_body =
        r#"{"namedLoggerLevels": {"LogDebugBolt": {"target_level": "DEBUG", "timeout": 60}}}"#;
    let (code, body) = request(&c.url, &viewer, "POST", &path, Some(set_body));
    assert_eq!(code, 403, "{body}");
    // A deployer who does not own the topology cannot either, by name or by id (the
    // route's check sees only the path's text; the handler checks the topology it names).
    let dan = new_token(&c.url, "deployer", "dan");
    for p in [path.clone(), "/api/v1/topology/ll/logconfig".to_string()] {
        let (code, body) = request(&c.url, &dan, "POST", &p, Some(set_body));
        assert_eq!(code, 403, "{p}: {body}");
        assert!(body.contains("may not act on it"), "{body}");
    }
    let (code, out, err) = cli_with_token(&c.url, &viewer, &["set-log-level", "ll", "debug"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("viewer"), "{err}");
    // A bad level: refused by the CLI before nimbus, and by nimbus (400 naming it).
    let (code, _, err) = cli(&c.url, &["set-log-level", "ll", "my_bolt=loud"]);
    assert_ne!(code, 0);
    assert!(err.contains("'loud'"), "{err}");
    let (code, body) = request(
        &c.url,
        &admin_token(&c),
        "POST",
        &path,
        Some(r#"{"namedLoggerLevels": {"ROOT": {"target_level": "LOUD", "timeout": 1}}}"#),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("'LOUD' is not a log level"), "{body}");

    // debug for 3 s: the bolt's lines appear, then stop once the worker reverts.
    let (code, out, err) = cli(&c.url, &["set-log-level", "ll", "debug", "--timeout", "3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("DEBUG"), "{out}");
    wait_for(FOLLOW, "the bolt's debug lines in worker.log", || {
        let text = read(&log);
        (text.contains(SET_LINE) && text.contains(MARKER)).then_some(())
    });
    wait_for(FOLLOW, "the worker to go back to its default", || {
        read(&log).contains(RESET_LINE).then_some(())
    });
    // Nimbus dropped the expired level.
    let (code, body) = request(
        &c.url,
        &viewer,
        "GET",
        "/api/v1/topology/ll/logconfig",
        None,
    );
    assert_eq!((code, body.as_str()), (200, r#"{"namedLoggerLevels":{}}"#));
    wait_tuples(&c, "ll", 100);
    let text = read(&log);
    let after = &text[text.find(RESET_LINE).unwrap()..];
    // At most the one tuple whose line passed the filter just before the swap.
    assert!(
        after.matches(MARKER).count() <= 1,
        "debug lines after the filter expired:\n{after}"
    );

    // Storm's body by id: a named logger (the bolt's target) only, until reset.
    let (code, body) = request(&c.url, &admin_token(&c), "POST", &path, Some(set_body));
    assert_eq!(code, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bolt = &answer["namedLoggerLevels"]["LogDebugBolt"];
    assert_eq!(bolt["target_level"], "DEBUG");
    assert_eq!(bolt["timeout"], 60);
    assert!(bolt["timeout_epoch"].as_u64().unwrap() > 0, "{answer}");
    let resets = read(&log).matches(RESET_LINE).count();
    wait_for(FOLLOW, "the bolt's debug lines again", || {
        let text = read(&log);
        text[text.rfind(RESET_LINE).unwrap()..]
            .contains(MARKER)
            .then_some(())
    });
    let (code, out, err) = cli(&c.url, &["set-log-level", "ll", "--reset"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(FOLLOW, "the worker to go back to its default again", || {
        (read(&log).matches(RESET_LINE).count() > resets).then_some(())
    });
}

#[test]
fn a_worker_cut_off_from_nimbus_still_reverts_when_the_timeout_is_over() {
    let mut c = cluster("");
    submit(&c, &yaml("cut"));
    let (log, _) = worker_log(&c, "cut");
    let (code, out, err) = cli(&c.url, &["set-log-level", "cut", "DEBUG", "--timeout", "4"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(FOLLOW, "the bolt's debug lines in worker.log", || {
        let text = read(&log);
        (text.contains(SET_LINE) && text.contains(MARKER)).then_some(())
    });
    // Nimbus is gone: the worker hears nothing more, and reverts by itself.
    c.nimbus.kill9();
    wait_for(
        FOLLOW,
        "the worker to go back to its default without nimbus",
        || {
            let text = read(&log);
            let i = text.find(RESET_LINE)?;
            text[i..].contains("its timeout is over").then_some(())
        },
    );
}

/// The admin token's text of the cluster's nimbus.
fn admin_token(c: &Cluster) -> String {
    std::fs::read_to_string(c.root.join("nimbus").join("admin.token")).unwrap()
}

/// `squall ARGS --nimbus URL` with `token` instead of the registered one.
fn cli_with_token(url: &str, token: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(SQUALL);
    if let Some(ca) = ca_file(url) {
        cmd.env("SQUALL_CA_FILE", ca);
    }
    let out = cmd
        .args(args)
        .args(["--nimbus", url])
        .env_remove("SQUALL_TOKEN_FILE")
        .env("SQUALL_TOKEN", token)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_workers_report_has_its_memory_cpu_and_a_sigkill_in_its_restart_history() {
    let c = cluster("");
    submit(&c, &yaml("fig"));
    let st = wait_running(&c, "fig", 1);
    let pid = worker_pids(&st)[0];
    let report = wait_for(FOLLOW, "the worker's memory and CPU in its report", || {
        let st = status(&c.url, "fig")?;
        let w = st["workers"][0].clone();
        (w["rss_bytes"].as_u64()? > 0 && w["cpu_ms"].as_u64().is_some()).then_some(w)
    });
    assert!(
        report["rss_bytes"].as_u64().unwrap() > 1 << 20,
        "a worker holds more than a MiB: {report}"
    );
    assert!(report.get("restart_history").is_none(), "{report}");

    let before_ms = now_ms();
    kill_worker(pid);
    let w = wait_for(FOLLOW, "the restart in the worker's history", || {
        let st = status(&c.url, "fig")?;
        let w = st["workers"][0].clone();
        (w["restart_history"].as_array()?.len() == 1 && w["pid"].as_i64()? != i64::from(pid))
            .then_some(w)
    });
    let record = &w["restart_history"][0];
    let cause = record["cause"].as_str().unwrap();
    assert!(cause.contains("SIGKILL"), "{w}");
    assert_eq!(w["last_exit"].as_str(), Some(cause));
    assert_eq!(w["restarts"], 1);
    let at = record["time_ms"].as_u64().unwrap();
    assert!(
        (before_ms.saturating_sub(1_000)..=now_ms()).contains(&at),
        "restart time {at} outside the test's window from {before_ms}"
    );
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
