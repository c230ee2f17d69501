//! The cluster over HTTPS (issue 12 item 4): `squall nimbus` with `nimbus.tls: on`, its
//! supervisors pinning its CA through their join tokens, the CLI trusting its CA file
//! (`SQUALL_CA_FILE`), and workers trusting it through their spec (the pin), run the
//! word count to exact counts; the CA key stays 0600 and out of every log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::os::unix::fs::PermissionsExt;

use cluster_common::*;

#[test]
fn wordcount_runs_with_nimbus_tls_on_and_the_ca_key_stays_private() {
    let c = cluster("nimbus.tls: on\n");
    assert!(
        c.url.starts_with("https://"),
        "nimbus serves HTTPS: {}",
        c.url
    );
    // The supervisors' tokens are join tokens: they pin nimbus's CA (the admin token
    // carries the same pin).
    let admin = std::fs::read_to_string(c.root.join("nimbus/admin.token")).unwrap();
    let pin = admin
        .trim()
        .split('.')
        .nth(3)
        .expect("a join token")
        .to_string();
    for sup in ["sup1", "sup2"] {
        let token = std::fs::read_to_string(c.root.join(sup).join("supervisor.token")).unwrap();
        assert_eq!(token.trim().split('.').nth(3), Some(pin.as_str()), "{sup}");
    }
    let (input, expected) = word_file(&c.root, 2000);
    let sink = c.root.join("sink.txt");
    submit(&c, &wordcount_yaml("wc", &input, &sink, 2));
    wait_running(&c, "wc", 2);
    let got = wait_for(LONG, "exact word counts in the sink", || {
        let got = sink_counts(&sink);
        (got == expected).then_some(got)
    });
    assert_eq!(got, expected);
    // The component statistics come from the workers' reports to nimbus: over HTTPS,
    // trusting the CA their supervisor gave them in their spec.
    let total: u64 = expected.values().sum();
    wait_for(LONG, "statistics from both workers over HTTPS", || {
        let st = status(&c.url, "wc")?;
        (st["components"]["count"]["executed"].as_f64()? as u64 == total).then_some(())
    });
    for sup in ["sup1", "sup2"] {
        let workers = c.root.join(sup).join("workers");
        let specs: Vec<String> = std::fs::read_dir(&workers)
            .unwrap()
            .filter_map(|d| std::fs::read_to_string(d.ok()?.path().join("worker.json")).ok())
            .collect();
        assert!(
            !specs.is_empty(),
            "a worker spec under {}",
            workers.display()
        );
        for spec in specs {
            let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
            assert_eq!(
                spec["nimbus_trust"]["pin"].as_str(),
                Some(pin.as_str()),
                "{spec}"
            );
        }
    }

    // Plain http:// to it is told to use https://.
    let plain = c.url.replace("https://", "http://");
    let (code, out, err) = cli(&plain, &["list"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("use https://"), "{err}");
    // Without the CA, the CLI does not trust nimbus.
    let out = std::process::Command::new(SQUALL)
        .args(["list", "--nimbus", &c.url])
        .env_remove("SQUALL_CA_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("certificate"), "{err}");

    // The CA key: 0600, and its text in no log.
    let key_file = c.root.join("nimbus/tls/ca.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key = std::fs::read_to_string(&key_file).unwrap();
    let secret_lines: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!secret_lines.is_empty());
    let mut logs = vec![c.root.join("nimbus.nimbus.log")];
    for sup in ["sup1", "sup2"] {
        logs.push(c.root.join(sup).join("supervisor.log"));
    }
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert!(!text.contains("PRIVATE KEY"), "{}", log.display());
        for line in &secret_lines {
            assert!(!text.contains(line), "the CA key is in {}", log.display());
        }
    }
    let nimbus_log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(nimbus_log.contains("ca_pin"), "nimbus logs its CA pin");
}
