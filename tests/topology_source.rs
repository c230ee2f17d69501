//! Topologies built in Rust and referenced from YAML with Flux's `topologySource`: run
//! in-process through the test API, validated and run through the real binary, and run on
//! a real cluster (nimbus plans from the artifact's resolved declaration; workers build
//! the topology again from the YAML).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Run, squall_file};
use squall_runtime::spec::{ComponentDef, GroupingDef, GroupingKind, StreamDef, TopologyDef};
use squall_runtime::testing::{FixedSpout, complete_topology, validate_yaml};
use squall_runtime::{
    BasicBolt, BasicCollector, BuiltTopology, ComponentError, FactoryError, OutputDeclarer,
    Registry, Tuple, Values, values,
};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The topology builders of the stock binary, as its error messages list them.
const BUILDERS: &str = if cfg!(feature = "kafka") {
    "ExclamationTopology, KafkaTridentWordCount, TridentWordCount"
} else {
    "ExclamationTopology, TridentWordCount"
};

/// Multiplies input field `n` by its constructor argument; emits `n`, `product`.
struct Times(i64);

impl BasicBolt for Times {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["n", "product"]);
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        let n = input.i64_by_field("n")?;
        out.emit(values![n, n * self.0])?;
        Ok(())
    }
}

fn component(id: &str, class_name: &str, parallelism: u32, args: Vec<i64>) -> ComponentDef {
    ComponentDef {
        id: id.into(),
        class_name: class_name.into(),
        parallelism,
        num_tasks: None,
        constructor_args: args.into_iter().map(Into::into).collect(),
        config: Default::default(),
    }
}

/// A registry with only the `Multiples` builder: constructorArgs `[count, factor]`;
/// `numbers` (0..count) -> `times` (× factor, 3 executors, FIELDS on `n`). The components
/// it uses exist only in the registry it returns. The YAML's `multiples.offset` config
/// (read by the builder) is added to every number.
fn registry() -> Registry {
    let mut r = Registry::new();
    r.topology("Multiples", |a| {
        let count = a.u64(0, "count")? as i64;
        let factor = a.u64(1, "factor")? as i64;
        let offset = a.config().get_i64("multiples.offset").unwrap_or(0);
        if count == 0 {
            return Err(FactoryError("count must be at least 1".into()));
        }
        let mut components = Registry::new();
        components
            .spout("Gen", move |_| {
                let tuples: Vec<Values> = (0..count).map(|i| values![i + offset]).collect();
                Ok(FixedSpout::new(&["n"], tuples))
            })
            .basic_bolt("Times", |b| Ok(Times(b.u64(0, "factor")? as i64)));
        let def = TopologyDef {
            name: "multiples".into(),
            spouts: vec![component("numbers", "Gen", 1, vec![])],
            bolts: vec![component("times", "Times", 3, vec![factor])],
            streams: vec![StreamDef {
                name: None,
                from: "numbers".into(),
                to: "times".into(),
                grouping: GroupingDef {
                    kind: GroupingKind::Fields,
                    args: vec!["n".into()],
                    stream_id: "default".into(),
                    custom_class: None,
                },
            }],
            ..Default::default()
        };
        Ok(BuiltTopology { def, components })
    });
    r
}

#[test]
fn a_rust_built_topology_runs_in_local_mode_through_its_yaml() {
    let yaml = "\
name: from-yaml
topologySource:
  className: Multiples
  constructorArgs: [5, 3]
config:
  multiples.offset: 10
  topology.workers: 1
";
    let report = complete_topology(&registry(), yaml, TIMEOUT).unwrap();
    assert_eq!(report.topology, "from-yaml");
    let mut got = report.emitted("times", "default").to_vec();
    got.sort_by_key(|v| format!("{v:?}"));
    let expected: Vec<Values> = (10..15).map(|n| values![n, n * 3]).collect();
    assert_eq!(got, expected);
    assert_eq!(report.components["times"].tasks, 3);

    // The YAML may leave the name to the builder.
    let topo = validate_yaml(
        &registry(),
        "topologySource: {className: Multiples, constructorArgs: [1, 1]}",
    )
    .unwrap();
    assert_eq!(topo.name, "multiples");
}

#[test]
fn a_builder_error_fails_the_test_run_with_its_location() {
    let yaml = "name: x\ntopologySource:\n  className: Multiples\n  constructorArgs: [0, 3]\n";
    let err = complete_topology(&registry(), yaml, TIMEOUT).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid topology:\n<topology>:4:3: topologySource.constructorArgs: cannot build \
         topology 'Multiples': count must be at least 1"
    );
}

fn topologies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies")
}

/// Write `yaml` into a temp dir and run `squall ARGS FILE`.
fn squall_yaml(args: &[&str], yaml: &str) -> (Run, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("topology.yaml");
    std::fs::write(&file, yaml).unwrap();
    let run = squall_file(args, &file, TIMEOUT);
    (run, file, dir)
}

#[test]
fn squall_validate_accepts_the_example_and_locates_errors() {
    let file = topologies_dir().join("exclamation-source.yaml");
    let run = squall_file(&["validate"], &file, TIMEOUT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout.trim(),
        format!(
            "{}: topology 'exclamation-source' is valid (3 components, 2 streams)",
            file.display()
        )
    );

    let (run, file, _dir) = squall_yaml(
        &["validate"],
        "name: x\ntopologySource:\n  className: ExclamationTopolgy\n",
    );
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr.trim(),
        format!(
            "{}:3:14: topologySource.className: unknown topology builder \
             'ExclamationTopolgy'; registered topology builders are: {BUILDERS}",
            file.display()
        )
    );

    let (run, file, _dir) = squall_yaml(
        &["validate"],
        "name: x\ntopologySource:\n  className: ExclamationTopology\n  \
         methodName: getTopologyWithDifferentMethodName\nbolts: []\n",
    );
    assert_eq!(run.code, Some(1));
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    let at = |l: usize, c: usize| format!("{}:{l}:{c}: ", file.display());
    assert!(lines[0].starts_with(&at(2, 1)), "{}", run.stderr);
    assert!(
        lines[0].contains("not both (found `bolts`)"),
        "{}",
        run.stderr
    );
    assert!(lines[1].starts_with(&at(4, 15)), "{}", run.stderr);
    assert!(lines[1].contains("methodName"), "{}", run.stderr);

    let (run, file, _dir) = squall_yaml(
        &["validate"],
        "name: x\ntopologySource:\n  className: ExclamationTopology\n  constructorArgs: [7]\n",
    );
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr.trim(),
        format!(
            "{}:4:3: topologySource.constructorArgs: cannot build topology \
             'ExclamationTopology': constructorArgs[0] must be input file path, got 7",
            file.display()
        )
    );
}

#[test]
fn squall_validate_writes_the_resolved_declaration() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("resolved.yaml");
    let file = topologies_dir().join("exclamation-source.yaml");
    let run = squall_file(
        &["validate", "--write-resolved", out.to_str().unwrap()],
        &file,
        TIMEOUT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let resolved = squall_runtime::spec::load_file(&out).unwrap().def;
    assert_eq!(resolved.name, "exclamation-source");
    assert!(resolved.topology_source.is_none());
    let ids: Vec<&str> = resolved
        .spouts
        .iter()
        .chain(&resolved.bolts)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["words", "exclaim1", "exclaim2"]);
    assert_eq!(resolved.config["topology.workers"].as_u64(), Some(1));
}

/// `n` input words and the exact sink lines the exclamation topology makes of them.
fn words(dir: &Path, n: usize) -> (PathBuf, Vec<String>) {
    let input = dir.join("words.txt");
    let words: Vec<String> = (0..n).map(|i| format!("w{i}")).collect();
    std::fs::write(&input, words.join("\n") + "\n").unwrap();
    let mut expected: Vec<String> = words.iter().map(|w| format!("[\"{w}!!!!!!\"]")).collect();
    expected.sort();
    (input, expected)
}

fn sorted_lines(file: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn exclamation_yaml(name: &str, input: &Path, output: &Path, workers: u32) -> String {
    format!(
        "name: {name}\ntopologySource:\n  className: ExclamationTopology\n  \
         constructorArgs: [\"{}\", \"{}\"]\nconfig:\n  topology.workers: {workers}\n",
        input.display(),
        output.display()
    )
}

#[test]
fn squall_local_runs_the_built_exclamation_topology() {
    let dir = tempfile::tempdir().unwrap();
    let (input, expected) = words(dir.path(), 50);
    let output = dir.path().join("out.txt");
    let (run, _file, _yaml_dir) = squall_yaml(
        &["local", "--json"],
        &exclamation_yaml("exclaim-local", &input, &output, 1),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(report["topology"], "exclaim-local");
    assert_eq!(report["completed"], true);
    assert_eq!(report["components"]["sink"]["executed"], 50);
    assert_eq!(sorted_lines(&output), expected);
}

#[test]
fn a_built_topology_runs_on_the_cluster_like_a_declared_one() {
    use cluster_common::*;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ports = free_ports(3);
    let (_nimbus, url) = start_nimbus(&root.join("nimbus"), ports[0], &[]);
    let _sup = start_supervisor(&url, &root.join("sup"), &ports[1..3]);
    wait_supervisors(&url, 1);

    let (input, expected) = words(root, 300);
    let output = root.join("out.txt");
    let file = root.join("topology.yaml");
    std::fs::write(&file, exclamation_yaml("exclaim", &input, &output, 2)).unwrap();
    let (code, out, err) = cli(&url, &["submit", file.to_str().unwrap()]);
    assert_eq!(code, 0, "submit failed: {out}{err}");

    let long = Duration::from_secs(90);
    let st = wait_for(long, "2 running workers", || {
        let st = status(&url, "exclaim")?;
        (worker_pids(&st).len() == 2).then_some(st)
    });
    // Nimbus planned the built components (and one acker per worker).
    let mut components: Vec<String> = st["components"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    components.sort();
    assert_eq!(
        components,
        ["__acker", "exclaim1", "exclaim2", "sink", "words"]
    );
    let got = wait_for(long, "every word in the sink", || {
        let got = sorted_lines(&output);
        (got.len() >= expected.len()).then_some(got)
    });
    assert_eq!(got, expected);
    let (code, out, err) = cli(&url, &["kill", "exclaim", "-w", "0"]);
    assert_eq!(code, 0, "{out}{err}");
}
