//! The CLI refuses YAML bombs cleanly (issue 11 item 1): `squall validate`, `local` and
//! `submit` exit 1 with a located refusal, quickly, before any nimbus is contacted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A flow list of `n` one-letter items, no spaces.
fn flow_list(n: usize) -> String {
    let items = vec!["a"; n];
    format!("[{}]", items.join(","))
}

fn bombs() -> Vec<(&'static str, String, [&'static str; 2])> {
    let mut laughs = String::from("name: x\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = format!("*a{}", i - 1);
        laughs.push_str(&format!("a{i}: &a{i} [{}]\n", [p.as_str(); 10].join(", ")));
    }
    vec![
        (
            "complex.yaml",
            format!("? {}\n: {}\n", "k".repeat(1 << 20), flow_list(1_300_000)),
            [
                "complex.yaml:1:3: ",
                "refused: a YAML node longer than 65536 characters",
            ],
        ),
        (
            "laughs.yaml",
            laughs,
            [
                "laughs.yaml:6:45: a4: ",
                "refused: the YAML has more than 100000 nodes",
            ],
        ),
        (
            "deep.yaml",
            (0..2000).map(|i| format!("{}-\n", " ".repeat(i))).collect(),
            [
                "deep.yaml:65:65: ",
                "refused: the YAML is nested more than 64 levels deep",
            ],
        ),
        (
            "list.yaml",
            format!("name: x\nspouts: {}\n", flow_list(1_000_000)),
            [
                "list.yaml:2:",
                "refused: the YAML has more than 100000 nodes",
            ],
        ),
    ]
}

#[test]
fn the_cli_refuses_yaml_bombs_with_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, expected) in bombs() {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        for args in [
            vec!["validate"],
            vec!["local", "--duration", "1s"],
            // Nothing listens on port 1: the file must be refused before nimbus is asked.
            vec!["submit", "--nimbus", "http://127.0.0.1:1"],
        ] {
            let start = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_squall"))
                .args(&args)
                .arg(&file)
                .current_dir(dir.path())
                .output()
                .unwrap();
            let took = start.elapsed();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?} {name}: {stderr}");
            assert!(
                expected.iter().all(|e| stderr.contains(e)),
                "{args:?} {name}: expected {expected:?} in: {stderr}"
            );
            assert!(!stderr.contains("127.0.0.1:1"), "{args:?} {name}: {stderr}");
            assert!(
                took < Duration::from_secs(10),
                "{args:?} {name}: took {took:?}"
            );
            println!(
                "squall {} {name}: {took:?}: {}",
                args.join(" "),
                stderr.trim()
            );
        }
    }
}
