//! Storm Flux compatibility through the real binary: every Flux file of Storm's own test
//! suite (copied unchanged into `tests/flux/`) either runs in local mode, with tuples
//! flowing through every component, or is refused by `squall validate` with the exact
//! errors asserted here (line and words). Also: the per-component config Flux files
//! resolve as Flux does, `--filter` / `${ENV-...}` substitution from the command line,
//! and `--resources` in local mode.
//!
//! The shell topologies run `node randomsentence.js` and `python3 splitsentence.py`
//! (raw multi-lang protocol, no library) from `tests/flux/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::SQUALL;
use squall_runtime::spec::{ComponentKind, ValidTopology};
use squall_runtime::state::checkpoint::{CHECKPOINT_COMPONENT, CHECKPOINT_STREAM};
use squall_runtime::state::config::ProviderConfig;
use squall_runtime::{Registry, flux, topology_source};

const TIMEOUT: Duration = Duration::from_secs(120);

/// How long each runnable file runs.
const RUN_FOR: &str = "2s";

/// What `squall` does with a file.
enum Outcome {
    /// `squall local FILE --duration 2s --json` exits 0 with exactly these components,
    /// every spout emitting and every bolt executing tuples, and the bolts of `emits`
    /// emitting too.
    Runs {
        topology: &'static str,
        components: &'static [&'static str],
        emits: &'static [&'static str],
    },
    /// `squall validate FILE` exits 0 and says topology `.0` is valid (running it needs
    /// an outside service).
    Validates(&'static str),
    /// `squall validate FILE` exits 1 with exactly these errors: (line, words).
    Refused(&'static [(usize, &'static str)]),
}

use Outcome::{Refused, Runs, Validates};

/// Why Flux's `SimpleTopology` builder is refused: the stock binary's builders.
#[cfg(feature = "kafka")]
const SIMPLE_TOPOLOGY_REFUSED: &str = "unknown topology builder 'org.apache.storm.flux.test.SimpleTopology'; \
     registered topology builders are: ExclamationTopology, KafkaTridentWordCount, TridentWordCount";
#[cfg(not(feature = "kafka"))]
const SIMPLE_TOPOLOGY_REFUSED: &str = "unknown topology builder 'org.apache.storm.flux.test.SimpleTopology'; \
     registered topology builders are: ExclamationTopology, TridentWordCount";

const SHELL: &[&str] = &["count", "log", "sentence-spout", "splitsentence"];
const UNKNOWN_BUILDER: &str = "unknown topology builder 'org.apache.storm.flux.test.";
const NO_JVM_COMPONENT: &str = "has no Squall equivalent: without a JVM, `components` can only";
const NO_FILTER: &str = "cannot be substituted: no properties file was given";

/// Every Flux file of `tests/flux/` (Storm's `flux-yaml` test files), the extra
/// arguments it is run with, and what must happen.
const TABLE: &[(&str, &[&str], Outcome)] = &[
    (
        "bad_hbase.yaml",
        &[],
        Refused(&[
            (
                38,
                "org.apache.storm.tuple.Fields takes one list of field names: got count",
            ),
            (
                43,
                "component class 'org.apache.storm.hbase.bolt.mapper.SimpleHBaseMapper' has no Squall equivalent",
            ),
            (
                76,
                "unknown bolt class 'org.apache.storm.hbase.bolt.HBaseBolt' (a Java class with no Squall equivalent",
            ),
        ]),
    ),
    (
        "bad_static_factory_test.yaml",
        &[],
        Refused(&[(
            34,
            "unknown bolt class 'org.apache.storm.flux.test.TestBolt'",
        )]),
    ),
    (
        "component-config-invalid-key-test.yaml",
        &[],
        Runs {
            topology: "component-config-invalid-topology",
            components: &["bolt-1", "spout-1"],
            emits: &[],
        },
    ),
    (
        "component-config-missing-test.yaml",
        &[],
        Runs {
            topology: "component-config-missing-topology",
            components: &["bolt-1", "spout-1"],
            emits: &[],
        },
    ),
    (
        "component-config-override-test.yaml",
        &[],
        Runs {
            topology: "component-config-override-topology",
            components: &["bolt-1", "spout-1"],
            emits: &[],
        },
    ),
    (
        "component-config-test.yaml",
        &[],
        Runs {
            topology: "component-config-topology",
            components: &["bolt-1", "spout-1"],
            emits: &[],
        },
    ),
    (
        "config-methods-test.yaml",
        &[],
        Refused(&[
            (
                26,
                "component class 'org.apache.storm.flux.test.TestBolt$TestClass' has no Squall equivalent",
            ),
            (30, NO_JVM_COMPONENT),
            (34, NO_JVM_COMPONENT),
            (
                39,
                "component class 'java.time.Duration' has no Squall equivalent",
            ),
            (
                55,
                "unknown bolt class 'org.apache.storm.flux.test.TestBolt'",
            ),
            (
                97,
                "unknown bolt class 'org.apache.storm.flux.test.TestBolt'",
            ),
            (
                102,
                "unknown bolt class 'org.apache.storm.flux.test.TestBolt'",
            ),
            (
                109,
                "unknown bolt class 'org.apache.storm.flux.test.TestBolt'",
            ),
        ]),
    ),
    (
        // LogInfoBolt emits nothing (as in Storm, whose submission refuses the same file:
        // "subscribes from non-existent stream").
        "diamond-topology.yaml",
        &[],
        Refused(&[
            (
                67,
                "'A' (org.apache.storm.flux.wrappers.bolts.LogInfoBolt) declares no output streams: it emits nothing, so 'B' cannot subscribe to it",
            ),
            (
                72,
                "'A' (org.apache.storm.flux.wrappers.bolts.LogInfoBolt) declares no output streams",
            ),
            (
                77,
                "'C' (org.apache.storm.flux.wrappers.bolts.LogInfoBolt) declares no output streams",
            ),
            (
                82,
                "'B' (org.apache.storm.flux.wrappers.bolts.LogInfoBolt) declares no output streams",
            ),
        ]),
    ),
    (
        "existing-topology-method-override.yaml",
        &[],
        Refused(&[
            (21, SIMPLE_TOPOLOGY_REFUSED),
            (
                22,
                "methodName 'getTopologyWithDifferentMethodName' is not supported",
            ),
        ]),
    ),
    (
        "existing-topology-reflection-config.yaml",
        &[],
        Refused(&[(21, UNKNOWN_BUILDER)]),
    ),
    (
        "existing-topology-reflection.yaml",
        &[],
        Refused(&[(21, UNKNOWN_BUILDER)]),
    ),
    (
        "existing-topology-trident.yaml",
        &[],
        Refused(&[(
            24,
            "unknown topology builder 'org.apache.storm.flux.test.TridentTopologySource'",
        )]),
    ),
    (
        "existing-topology.yaml",
        &[],
        Refused(&[(20, UNKNOWN_BUILDER)]),
    ),
    (
        "hdfs_test.yaml",
        &[],
        Refused(&[
            (
                31,
                "component class 'org.apache.storm.hdfs.bolt.sync.CountSyncPolicy' has no Squall equivalent",
            ),
            (35, NO_JVM_COMPONENT),
            (41, NO_JVM_COMPONENT),
            (49, NO_JVM_COMPONENT),
            (55, NO_JVM_COMPONENT),
            (
                79,
                "unknown bolt class 'org.apache.storm.hdfs.bolt.HdfsBolt'",
            ),
        ]),
    ),
    (
        // The classpath resource /configs/shell_test.yaml is looked up under the
        // resources directory (here the file's): tests/flux/configs/shell_test.yaml.
        "include_test.yaml",
        &[],
        Runs {
            topology: "include-topology",
            components: SHELL,
            emits: &[],
        },
    ),
    // Storm's KafkaSpoutConfig$Builder shape (feature `kafka`): valid; running needs a
    // broker at localhost:9092 (`tests/kafka_wordcount.rs` runs this file against one).
    ("kafka_spout.yaml", &[], Validates("kafka-topology")),
    ("kafka_test.yaml", &[], Validates("kafka-topology")),
    (
        "shell_test.yaml",
        &[],
        Runs {
            topology: "shell-topology",
            components: SHELL,
            emits: &[],
        },
    ),
    (
        "simple_hbase.yaml",
        &[],
        Refused(&[
            (38, NO_JVM_COMPONENT),
            (
                54,
                "`${hbase.rootdir}`: property 'hbase.rootdir' cannot be substituted: no properties file was given (pass one defining 'hbase.rootdir' with --filter FILE)",
            ),
            (55, "`${hbase.zookeeper.quorum}`"),
            (
                67,
                "unknown bolt class 'org.apache.storm.flux.examples.WordCounter'",
            ),
            (
                71,
                "unknown bolt class 'org.apache.storm.hbase.bolt.HBaseBolt'",
            ),
        ]),
    ),
    (
        "simple_hdfs.yaml",
        &[],
        Refused(&[
            (31, NO_JVM_COMPONENT),
            (35, NO_JVM_COMPONENT),
            (41, NO_JVM_COMPONENT),
            (44, "`${hdfs.write.dir}`"),
            (49, NO_JVM_COMPONENT),
            (55, NO_JVM_COMPONENT),
            (58, "`${hdfs.dest.dir}`"),
            (
                71,
                "unknown bolt class 'org.apache.storm.hdfs.bolt.HdfsBolt'",
            ),
            (76, "`${hdfs.url}`"),
        ]),
    ),
    (
        // Storm's stateful Flux example (flux-examples): StatefulWordCounter keeps its
        // counts in the default (memory) state provider. The runtime adds the checkpoint
        // spout, which runs and reports like any spout (as in Storm, where it is a
        // spout of the topology and its UI lists it: only `__` ids are system ones).
        "simple_stateful_wordcount.yaml",
        &[],
        Runs {
            topology: "stateful-wordcount-topology",
            components: &["$checkpointspout", "bolt-1", "bolt-2", "spout-1"],
            emits: &["bolt-1"],
        },
    ),
    (
        "simple_windowing.yaml",
        &[],
        Runs {
            topology: "sliding-window-topology",
            components: &["bolt-1", "bolt-2", "spout-1"],
            emits: &["bolt-1"],
        },
    ),
    (
        "simple_wordcount.yaml",
        &[],
        Runs {
            topology: "yaml-topology",
            components: &["bolt-1", "bolt-2", "spout-1"],
            emits: &["bolt-1"],
        },
    ),
    (
        "substitution-test.yaml",
        &["--filter", "substitution-test.properties"],
        Runs {
            topology: "substitution-topology",
            components: SHELL,
            emits: &[],
        },
    ),
    (
        "tck.yaml",
        &[],
        Refused(&[(
            92,
            "custom groupings need a JVM class; use one of: SHUFFLE, LOCAL_OR_SHUFFLE, FIELDS",
        )]),
    ),
    (
        "worker_hook.yaml",
        &[],
        Runs {
            topology: "worker-hook-topology",
            components: &["bolt-1", "spout-1"],
            emits: &[],
        },
    ),
];

fn flux_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flux")
}

fn yaml_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect()
}

/// A `squall` process started in `dir`, with extra environment variables.
fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = Command::new(SQUALL);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("SQUALL_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawning squall")
}

/// Wait for `child` at most until `deadline`; (exit code, stdout, stderr).
fn finish(child: std::process::Child, deadline: Instant, what: &str) -> (i32, String, String) {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(out) => {
            let out = out.expect("waiting for squall");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
        Err(_) => {
            // Only the process this test started, by its id.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("`squall` ({what}) did not exit within {TIMEOUT:?}");
        }
    }
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let child = spawn(dir, args, env);
    finish(child, Instant::now() + TIMEOUT, &args.join(" "))
}

#[test]
fn the_table_covers_every_flux_file() {
    let listed: BTreeSet<String> = TABLE.iter().map(|(f, _, _)| f.to_string()).collect();
    assert_eq!(listed.len(), TABLE.len(), "a file is listed twice");
    assert_eq!(
        listed,
        yaml_files(&flux_dir()),
        "tests/flux/*.yaml and the table differ"
    );
    // Where Storm's files are checked out beside this repository (../shared/flux-yaml),
    // the copies must be theirs, unchanged, and none may be missing.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/flux-yaml");
    if shared.is_dir() {
        for f in yaml_files(&shared) {
            assert!(
                listed.contains(&f),
                "{f} of {} is not in the table",
                shared.display()
            );
            assert_eq!(
                std::fs::read(shared.join(&f)).unwrap(),
                std::fs::read(flux_dir().join(&f)).unwrap(),
                "tests/flux/{f} differs from {}",
                shared.display()
            );
        }
    }
}

#[test]
fn every_flux_file_runs_or_is_refused_precisely() {
    let dir = flux_dir();
    // Start everything at once (each run is bounded), then check each.
    let started: Vec<_> = TABLE
        .iter()
        .map(|(file, extra, outcome)| {
            let mut args: Vec<&str> = match outcome {
                Runs { .. } => vec!["local", file, "--duration", RUN_FOR, "--json"],
                Refused(_) | Validates(_) => vec!["validate", file],
            };
            args.extend_from_slice(extra);
            (file, outcome, spawn(&dir, &args, &[]))
        })
        .collect();
    let deadline = Instant::now() + TIMEOUT;
    let mut failures = Vec::new();
    for (file, outcome, child) in started {
        let (code, out, err) = finish(child, deadline, file);
        if let Err(why) = check(file, outcome, code, &out, &err) {
            failures.push(format!("{file}: {why}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

fn check(file: &str, outcome: &Outcome, code: i32, out: &str, err: &str) -> Result<(), String> {
    match outcome {
        Runs {
            topology,
            components,
            emits,
        } => {
            if code != 0 {
                return Err(format!("expected a run, exit {code}:\n{err}"));
            }
            let report: serde_json::Value =
                serde_json::from_str(out).map_err(|e| format!("{e}: {out}"))?;
            if report["topology"] != *topology {
                return Err(format!("topology name: {report}"));
            }
            let comps = report["components"].as_object().ok_or("no components")?;
            let ids: Vec<&str> = comps.keys().map(String::as_str).collect();
            if ids != *components {
                return Err(format!("components {ids:?}, expected {components:?}"));
            }
            for (id, c) in comps {
                let (what, n) = if c["kind"] == "spout" {
                    ("emitted", &c["emitted"])
                } else {
                    ("executed", &c["executed"])
                };
                if n.as_u64().unwrap_or(0) == 0 {
                    return Err(format!("'{id}' {what} nothing: {report}"));
                }
                if c["errors"].as_u64() != Some(0) {
                    return Err(format!("'{id}' reported errors: {report}"));
                }
            }
            for id in *emits {
                if comps[*id]["emitted"].as_u64().unwrap_or(0) == 0 {
                    return Err(format!("'{id}' emitted nothing: {report}"));
                }
            }
            Ok(())
        }
        Validates(topology) => {
            let valid = format!("{file}: topology '{topology}' is valid");
            if code != 0 || !out.starts_with(&valid) {
                return Err(format!("expected `{valid}`, exit {code}:\n{out}{err}"));
            }
            Ok(())
        }
        Refused(expected) => {
            if code != 1 {
                return Err(format!("expected exit 1, got {code}:\n{out}{err}"));
            }
            let lines: Vec<&str> = err.lines().collect();
            if lines.len() != expected.len() {
                return Err(format!(
                    "expected {} errors, got {}:\n{err}",
                    expected.len(),
                    lines.len()
                ));
            }
            for (got, (line, words)) in lines.iter().zip(expected.iter()) {
                let at = format!("{file}:{line}:");
                if !got.starts_with(&at) || !got.contains(words) {
                    return Err(format!("expected `{at} ...{words}...`, got:\n{got}"));
                }
            }
            Ok(())
        }
    }
}

/// Load and validate a file of `tests/flux/` with the `squall` binary's components.
fn load(file: &str, filter: Option<&str>) -> ValidTopology {
    let mut registry = Registry::new();
    squall_topologies::register(&mut registry);
    let opts = flux::LoadOptions {
        filter: filter.map(|f| flux_dir().join(f)),
        resources: None,
    };
    let loaded = flux::load_file(&flux_dir().join(file), &opts).unwrap();
    topology_source::validate(&loaded.parsed, &registry)
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

/// A component's config value, as JSON.
fn config(t: &ValidTopology, id: &str, key: &str) -> Option<serde_json::Value> {
    let v = t.component(id).unwrap().config.get(key)?;
    Some(serde_json::to_value(v).unwrap())
}

/// A topology config value, as JSON.
fn topo_config(t: &ValidTopology, key: &str) -> serde_json::Value {
    t.config
        .get(key)
        .map(|v| serde_json::to_value(v).unwrap())
        .unwrap_or_default()
}

#[test]
fn per_component_config_overrides_the_topology_config() {
    const KEY: &str = "topology.tuple.compression.enable";
    let t = load("component-config-override-test.yaml", None);
    assert_eq!(topo_config(&t, KEY).as_bool(), Some(true));
    assert_eq!(config(&t, "spout-1", KEY).unwrap().as_bool(), Some(true));
    assert_eq!(config(&t, "bolt-1", KEY).unwrap().as_bool(), Some(false));
    let t = load("component-config-test.yaml", None);
    assert!(!t.config.contains_key(KEY));
    assert_eq!(config(&t, "spout-1", KEY).unwrap().as_bool(), Some(true));
    assert_eq!(config(&t, "bolt-1", KEY).unwrap().as_bool(), Some(false));
    // Keys Squall does not know pass through to the component (as in Storm).
    let t = load("component-config-invalid-key-test.yaml", None);
    assert_eq!(
        config(&t, "bolt-1", "MY.INAVLID.KEY").unwrap().as_str(),
        Some("none")
    );
    assert!(config(&t, "spout-1", "MY.INAVLID.KEY").is_none());
    // The shell components' config methods (addComponentConfig, as in FluxShellBolt).
    let t = load("shell_test.yaml", None);
    let split = t.component("splitsentence").unwrap();
    assert_eq!(
        config(&t, "splitsentence", "rabbitmq.configfile").unwrap(),
        "etc/rabbit.yml"
    );
    assert_eq!(
        config(&t, "splitsentence", "publisher.data_paths").unwrap(),
        serde_json::json!(["actions"])
    );
    assert_eq!(split.streams[0].fields, ["word"]);
}

#[test]
fn storms_stateful_example_gets_the_checkpoint_wiring_and_the_memory_provider() {
    const FILE: &str = "simple_stateful_wordcount.yaml";
    let t = load(FILE, None);
    let cp = t.component(CHECKPOINT_COMPONENT).unwrap();
    assert_eq!((cp.kind, cp.num_tasks), (ComponentKind::Spout, 1));
    let checkpoint_edges: Vec<(&str, &str)> = t
        .subscriptions
        .iter()
        .filter(|s| s.stream == CHECKPOINT_STREAM)
        .map(|s| (s.from.as_str(), s.to.as_str()))
        .collect();
    assert_eq!(
        checkpoint_edges,
        [(CHECKPOINT_COMPONENT, "bolt-1"), ("bolt-1", "bolt-2")]
    );
    // No topology.state.provider: Storm's default, the in-memory provider.
    let config = squall_runtime::Config::from_map(t.config.clone());
    assert_eq!(
        ProviderConfig::from_config(&config).unwrap(),
        ProviderConfig::Memory
    );
    // `squall validate` counts what the file declares and names what checkpointing adds.
    let (code, out, err) = run(&flux_dir(), &["validate", FILE], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        format!(
            "{FILE}: topology 'stateful-wordcount-topology' is valid (3 components, 2 streams; \
             checkpointing adds the spout $checkpointspout and 2 $checkpoint streams)"
        )
    );
}

#[test]
fn substitution_of_properties_lists_and_environment() {
    let t = load(
        "substitution-test.yaml",
        Some("substitution-test.properties"),
    );
    assert_eq!(t.name, "substitution-topology");
    assert_eq!(
        topo_config(&t, "test.env.value").as_str(),
        std::env::var("PATH").ok().as_deref()
    );
    assert_eq!(
        topo_config(&t, "list.property.target"),
        serde_json::json!(["A", "B", "C"])
    );
    assert_eq!(topo_config(&t, "list.element.property.target"), "A");
}

#[test]
fn environment_and_filter_substitution_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: ${ENV-SQUALL_FLUX_TEST_NAME}\nconfig:\n  who: ${who}\nspouts:\n  \
                - id: s\n    className: org.apache.storm.testing.TestWordSpout\n";
    let file = dir.path().join("env.yaml");
    std::fs::write(&file, yaml).unwrap();
    let props = dir.path().join("p.properties");
    std::fs::write(&props, "who = me\n").unwrap();
    let f = file.to_str().unwrap();
    let p = props.to_str().unwrap();
    let env = [("SQUALL_FLUX_TEST_NAME", "from-env")];
    let (code, out, err) = run(dir.path(), &["validate", f, "--filter", p], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("topology 'from-env' is valid"), "{out}");
    // Without the variable and without the properties file: both named, with the line.
    let (code, _, err) = run(dir.path(), &["validate", f], &[]);
    assert_eq!(code, 1, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with(&format!(
            "{f}:1:7: `${{ENV-SQUALL_FLUX_TEST_NAME}}`: environment variable 'SQUALL_FLUX_TEST_NAME' is not set"
        )),
        "{err}"
    );
    assert!(
        lines[1].starts_with(&format!("{f}:3:8: `${{who}}`: property 'who' {NO_FILTER}")),
        "{err}"
    );
    // A properties file without the key: the key and the file are named.
    std::fs::write(&props, "someone.else = you\n").unwrap();
    let (code, _, err) = run(dir.path(), &["validate", f, "--filter", p], &env);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        format!("{f}:3:8: `${{who}}`: property 'who' is not defined in {p}")
    );
}

#[test]
fn include_resource_missing_is_refused_with_where_it_was_looked_for() {
    // include_test.yaml alone, as in Storm's flux-yaml directory: no configs/ beside it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        flux_dir().join("include_test.yaml"),
        dir.path().join("include_test.yaml"),
    )
    .unwrap();
    let (code, _, err) = run(dir.path(), &["validate", "include_test.yaml"], &[]);
    assert_eq!(code, 1, "{err}");
    let expected = format!(
        "include_test.yaml:24:11: includes[0].file: included resource '/configs/shell_test.yaml' \
         not found: looked for {}",
        dir.path().join("configs/shell_test.yaml").display()
    );
    assert!(err.contains(&expected), "{err}");
    // With --resources naming a directory that has it, the include is found.
    let (code, out, err) = run(
        dir.path(),
        &[
            "validate",
            "include_test.yaml",
            "--resources",
            flux_dir().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("topology 'include-topology' is valid (4 components, 3 streams)"),
        "{out}"
    );
}

/// A finite topology reading `lines.txt` of the resources directory.
const RESOURCE_TOPOLOGY: &str = "\
name: resources
spouts:
  - id: lines
    className: ResourceLineSpout
    constructorArgs: [data/lines.txt]
bolts:
  - id: log
    className: org.apache.storm.flux.wrappers.bolts.LogInfoBolt
streams:
  - from: lines
    to: log
    grouping: {type: SHUFFLE}
";

fn lines_read(out: &str) -> u64 {
    let report: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(report["completed"], true, "{report}");
    assert_eq!(
        report["components"]["lines"]["emitted"], report["components"]["log"]["executed"],
        "{report}"
    );
    report["components"]["lines"]["emitted"].as_u64().unwrap()
}

#[test]
fn local_resources_directory_is_the_flag_or_the_files_directory() {
    let dir = tempfile::tempdir().unwrap();
    let topo_dir = dir.path().join("topo");
    let res = dir.path().join("res");
    std::fs::create_dir_all(topo_dir.join("data")).unwrap();
    std::fs::create_dir_all(res.join("data")).unwrap();
    std::fs::write(topo_dir.join("data/lines.txt"), "a\nb\n").unwrap();
    std::fs::write(res.join("data/lines.txt"), "x\ny\nz\n").unwrap();
    let file = topo_dir.join("t.yaml");
    std::fs::write(&file, RESOURCE_TOPOLOGY).unwrap();
    let f = file.to_str().unwrap();
    // Default: the topology file's directory, whatever the working directory.
    let (code, out, err) = run(dir.path(), &["local", f, "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines_read(&out), 2);
    // --resources DIR, relative to the working directory, made absolute.
    let (code, out, err) = run(
        dir.path(),
        &["local", f, "--json", "--resources", "res"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines_read(&out), 3);
    // A directory that does not exist.
    let (code, _, err) = run(dir.path(), &["local", f, "--resources", "nope"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--resources nope"), "{err}");
}
