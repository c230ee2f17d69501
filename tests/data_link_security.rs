//! The data plane's secrets on a real cluster (nimbus, two supervisors, worker
//! processes on loopback): each worker gets its topology's secret in a 0600 file that
//! no spec, log or status shows, and a rotated secret restarts the workers with the new
//! one, their links working again. (Refusal of wrong-secret, forged and replayed
//! traffic is tested on real sockets in `runtime/src/cluster/net/tests_auth.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cluster_common::*;

/// Every file under `dir` (recursively).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The secrets in the workers' directories: (file, hex), each checked to be mode 0600.
fn secret_files(root: &Path) -> Vec<(PathBuf, String)> {
    files_under(root)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "topology.secret"))
        .map(|p| {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} has mode {mode:o}", p.display());
            let hex = std::fs::read_to_string(&p).unwrap().trim().to_string();
            assert_eq!(hex.len(), 64, "{}", p.display());
            (p, hex)
        })
        .collect()
}

/// Every log, spec and CLI view that must not show `secret`.
fn assert_nowhere_shown(c: &Cluster, secret: &str) {
    for p in files_under(&c.root) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let text_file = name.ends_with(".log")
            || name.contains(".log.")
            || name.ends_with(".out")
            || name == "worker.json"
            || name.ends_with(".yaml");
        if text_file {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            assert!(!text.contains(secret), "{} shows the secret", p.display());
        }
    }
    for args in [
        &["status", "wc"][..],
        &["status", "wc", "--json"],
        &["list", "--json"],
        &["supervisors"],
    ] {
        let (_, out, err) = cli(&c.url, args);
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "squall {args:?} shows it"
        );
    }
}

#[test]
fn workers_get_their_secret_0600_shown_nowhere_and_a_rotation_restarts_them_with_a_new_one() {
    let c = cluster("");
    let (input, expected) = word_file(&c.root, 2000);
    let sink = c.root.join("sink.txt");
    submit(&c, &split_sink_yaml("wc", &input, &sink, 2));
    let st = wait_running(&c, "wc", 2);
    let old_pids = worker_pids(&st);
    // Every word crossed the (authenticated) links.
    wait_for(LONG, "every word in the sink", || {
        let got = sink_word_totals(&sink);
        expected
            .iter()
            .all(|(w, n)| got.get(w).is_some_and(|g| g >= n))
            .then_some(())
    });
    let secrets = secret_files(&c.root);
    assert_eq!(secrets.len(), 2, "one secret file per worker: {secrets:?}");
    let old = secrets[0].1.clone();
    assert!(
        secrets.iter().all(|(_, s)| *s == old),
        "one secret per topology"
    );
    for (file, _) in &secrets {
        let spec = std::fs::read_to_string(file.with_file_name("worker.json")).unwrap();
        assert!(spec.contains("topology_secret_file"), "{spec}");
    }
    assert_nowhere_shown(&c, &old);

    // Rotate (what revoking a supervisor's token does too), through the CLI.
    let (code, out, err) = cli(&c.url, &["rotate-secret", "wc"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("rotated the secret of topology wc"), "{out}");

    // Both workers are replaced, with the new secret.
    wait_for(LONG, "both workers restarted with the new secret", || {
        let st = status(&c.url, "wc")?;
        let pids = worker_pids(&st);
        let fresh = pids.len() == 2 && pids.iter().all(|p| !old_pids.contains(p));
        let files = secret_files(&c.root);
        (fresh && files.len() == 2 && files.iter().all(|(_, s)| *s != old)).then_some(())
    });
    let new = secret_files(&c.root)[0].1.clone();
    // The restarted spout reads its file again: every word arrives a second time, over
    // links set up with the new secret.
    wait_for(LONG, "every word in the sink twice", || {
        let got = sink_word_totals(&sink);
        expected
            .iter()
            .all(|(w, n)| got.get(w).is_some_and(|g| *g >= 2 * n))
            .then_some(())
    });
    assert_nowhere_shown(&c, &new);
    assert_nowhere_shown(&c, &old);
}
