//! Credentials end to end with real processes: `squall nimbus` with token
//! authentication on (the default), `squall token` and the client commands with
//! `--token-file` / `SQUALL_TOKEN_FILE` / `SQUALL_TOKEN`, supervisors with their own
//! tokens, and a revoked supervisor evicted from a running cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use cluster_common::*;

/// Run `squall ARGS --nimbus URL` with exactly these token settings (none registered).
fn squall_with(url: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(SQUALL);
    cmd.args(args)
        .args(["--nimbus", url])
        .env_remove("SQUALL_TOKEN_FILE")
        .env_remove("SQUALL_TOKEN")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn tokens_are_made_listed_and_revoked_through_the_cli_and_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nimbus");
    let (mut nimbus, url) = start_nimbus(&data, free_port(), &[]);
    let admin = data.join("admin.token");
    assert_eq!(mode(&admin), 0o600);
    assert_eq!(mode(&data.join("cluster.secret")), 0o600);
    let admin_text = std::fs::read_to_string(&admin).unwrap();
    let admin_file = admin.to_str().unwrap();

    // Without a token: refused, saying which token is missing and how to give one.
    let (code, out, err) = squall_with(&url, &["list"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    for needle in [
        "no client token",
        "--token-file",
        "SQUALL_TOKEN_FILE",
        "admin.token",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // The admin token through each way of giving it.
    let (code, _, err) = squall_with(&url, &["list", "--token-file", admin_file], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = squall_with(&url, &["list"], &[("SQUALL_TOKEN", admin_text.trim())]);
    assert_eq!(code, 0, "{err}");

    // create: the token, and only it, on stdout.
    let env = [("SQUALL_TOKEN_FILE", admin_file)];
    let (code, out, err) = squall_with(
        &url,
        &["token", "create", "--role", "deployer", "--name", "dana"],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let dana = out.trim().to_string();
    squall_runtime::cluster::auth::token::Token::parse(&dana).unwrap();
    assert!(!err.contains(&dana), "{err}");
    let dana_file = dir.path().join("dana.token");
    std::fs::write(&dana_file, &out).unwrap();
    let dana_file = dana_file.to_str().unwrap();
    let (code, _, err) = squall_with(&url, &["list", "--token-file", dana_file], &[]);
    assert_eq!(code, 0, "a deployer reads: {err}");
    let (code, _, err) = squall_with(&url, &["token", "list", "--token-file", dana_file], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("only an admin"), "{err}");

    // list: names, roles, ids; no secret.
    let (code, out, err) = squall_with(&url, &["token", "list"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("dana") && out.contains("deployer") && out.contains("admin"),
        "{out}"
    );
    let secret = dana.split('.').nth(2).unwrap();
    assert!(!out.contains(secret), "{out}");
    let (code, json, _) = squall_with(&url, &["token", "list", "--json"], &env);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 2, "{list}");

    // revoke: the token stops working at once.
    let (code, out, err) = squall_with(&url, &["token", "revoke", "dana"], &env);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = squall_with(&url, &["list", "--token-file", dana_file], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("revoked") || err.contains("unknown"), "{err}");
    // A wrong token file is named.
    let (code, _, err) = squall_with(&url, &["list", "--token-file", "/nonexistent.token"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent.token"), "{err}");

    // No token text in nimbus's log (info level), nor in the audit log.
    nimbus.stop();
    let log = std::fs::read_to_string(data.with_extension("nimbus.log")).unwrap();
    assert!(
        log.contains("admin.token"),
        "the start-up log names the admin token file"
    );
    assert!(
        log.contains("authentication failed"),
        "failures are logged: {log}"
    );
    assert!(log.contains("127.0.0.1"), "with the peer: {log}");
    let audit = std::fs::read_to_string(data.join("audit.log")).unwrap();
    for text in [admin_text.trim(), dana.as_str()] {
        let secret = text.split('.').nth(2).unwrap();
        assert!(!log.contains(secret), "a token in the log");
        assert!(!audit.contains(secret), "a token in the audit log");
    }
    assert!(audit.contains("\"who\":\"admin\""), "{audit}");
}

#[test]
fn an_open_nimbus_runs_without_tokens_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nimbus");
    let cfg = dir.path().join("nimbus.yaml");
    std::fs::write(&cfg, "nimbus.authentication: none\n").unwrap();
    let (mut nimbus, url) = start_nimbus(&data, free_port(), &["--config", cfg.to_str().unwrap()]);
    assert!(!data.join("admin.token").exists());
    let (code, out, err) = squall_with(&url, &["list"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    // A supervisor without a token runs against it.
    let sup = start_supervisor(&url, &dir.path().join("sup"), &[free_port()]);
    wait_supervisors(&url, 1);
    drop(sup);
    nimbus.stop();
    let log = std::fs::read_to_string(data.with_extension("nimbus.log")).unwrap();
    assert!(
        log.contains("WARN") && log.contains("nimbus.authentication is none"),
        "{log}"
    );
}

#[test]
fn a_supervisor_without_a_token_fails_saying_which_token_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (_nimbus, url) = start_nimbus(&dir.path().join("nimbus"), free_port(), &[]);
    let port = free_port().to_string();
    let out = Command::new(SQUALL)
        .args(["supervisor", "--nimbus", &url, "--slots", &port, "--data"])
        .arg(dir.path().join("sup"))
        .env_remove("SQUALL_TOKEN_FILE")
        .env_remove("SQUALL_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no supervisor token"), "{err}");
    assert!(
        err.contains("--role supervisor") || err.contains("token create"),
        "{err}"
    );
}

#[test]
fn a_revoked_supervisor_is_evicted_and_its_workers_move_to_the_other() {
    // A long supervisor timeout: the move must come from the revocation, not silence.
    let c = cluster("nimbus.supervisor.timeout.secs: 600\n");
    let (input, _) = word_file(&c.root, 200_000);
    let sink = c.root.join("sink.txt");
    submit(&c, &wordcount_yaml("wc", &input, &sink, 2));
    let st = wait_running(&c, "wc", 2);
    let ids = c.supervisor_ids();
    let on_sup1 = worker_pids_of(&st, &ids[0]);
    assert_eq!(on_sup1.len(), 1, "one worker on each supervisor: {st}");
    // sup1's token is the one bound to its id.
    let (code, out, err) = cli(&c.url, &["token", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let name = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["supervisor_id"] == ids[0].as_str())
        .map(|t| t["name"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no token bound to {}: {list}", ids[0]));
    let (code, out, err) = cli(&c.url, &["token", "revoke", &name]);
    assert_eq!(code, 0, "{out}{err}");
    // Both workers on sup2, running; sup1 no longer listed; sup1's worker stopped.
    let st = wait_for(LONG, "both workers running on sup2", || {
        let st = status(&c.url, "wc")?;
        (worker_pids_of(&st, &ids[1]).len() == 2 && worker_pids(&st).len() == 2).then_some(st)
    });
    assert!(worker_pids_of(&st, &ids[0]).is_empty(), "{st}");
    let sups = http_get(&c.url, "/api/v1/supervisors");
    assert!(!sups.contains(&ids[0]), "{sups}");
    wait_for(Duration::from_secs(30), "sup1's worker to stop", || {
        on_sup1.iter().all(|p| !alive(*p)).then_some(())
    });
    let log = std::fs::read_to_string(c.root.join("sup1").join("supervisor.log")).unwrap();
    assert!(
        log.contains("refused this supervisor's credential"),
        "{log}"
    );
    // The supervisors' logs never show their tokens.
    for sup in ["sup1", "sup2"] {
        let token = std::fs::read_to_string(c.root.join(sup).join("supervisor.token")).unwrap();
        let secret = token.trim().split('.').nth(2).unwrap();
        let log = std::fs::read_to_string(c.root.join(sup).join("supervisor.log")).unwrap();
        assert!(!log.contains(secret), "{sup}'s token in its log");
    }
    let (code, out, err) = cli(&c.url, &["kill", "wc", "-w", "0"]);
    assert_eq!(code, 0, "{out}{err}");
}
