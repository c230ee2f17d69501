//! Flux loading: includes with and without override, substitution from a properties
//! file and the environment, refs to components, config methods, worker hooks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use super::*;
use crate::topology::yaml::{
    Catalog, ComponentDef, ComponentKind, ConfigMap, StreamDecl, ValidTopology,
};

/// Spouts `WordSpout` (field `word`) and the shell spouts; bolts `EchoBolt` (declares
/// the fields of its constructorArgs[0], which must be a list of names), `CountBolt`
/// and the shell bolts (streams from their arguments, as multi-lang does).
struct TestCatalog;

const SHELL_SPOUT: &str = "org.apache.storm.flux.wrappers.spouts.FluxShellSpout";
const SHELL_BOLT: &str = "org.apache.storm.flux.wrappers.bolts.FluxShellBolt";

fn decl(id: &str, fields: Vec<String>) -> StreamDecl {
    StreamDecl {
        id: id.to_string(),
        fields,
        direct: false,
    }
}

fn names(v: &serde_yaml::Value) -> Option<Vec<String>> {
    v.as_sequence()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

impl Catalog for TestCatalog {
    fn kind_of(&self, class_name: &str) -> Option<ComponentKind> {
        match class_name {
            "WordSpout" | SHELL_SPOUT => Some(ComponentKind::Spout),
            "EchoBolt" | "CountBolt" | SHELL_BOLT => Some(ComponentKind::Bolt),
            _ => None,
        }
    }

    fn names(&self, kind: ComponentKind) -> Vec<String> {
        let n: &[&str] = match kind {
            ComponentKind::Spout => &["WordSpout", SHELL_SPOUT],
            ComponentKind::Bolt => &["CountBolt", "EchoBolt", SHELL_BOLT],
        };
        n.iter().map(|s| s.to_string()).collect()
    }

    fn declare(
        &self,
        def: &ComponentDef,
        _kind: ComponentKind,
        _config: &ConfigMap,
    ) -> Result<Vec<StreamDecl>, String> {
        let args = &def.constructor_args;
        match def.class_name.as_str() {
            "WordSpout" => Ok(vec![decl("default", vec!["word".into()])]),
            "CountBolt" => Ok(vec![decl("default", vec!["word".into(), "count".into()])]),
            "EchoBolt" => {
                let f = args
                    .first()
                    .and_then(names)
                    .ok_or("constructorArgs[0] must be a list of field names")?;
                Ok(vec![decl("default", f)])
            }
            _ => {
                let mut out = Vec::new();
                if let Some(f) = args.get(1) {
                    out.push(decl("default", names(f).ok_or("bad fields")?));
                }
                if let Some(m) = args.get(2).and_then(|m| m.as_mapping()) {
                    for (k, v) in m {
                        out.push(decl(k.as_str().ok_or("bad name")?, names(v).ok_or("bad")?));
                    }
                }
                Ok(out)
            }
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn valid(yaml: &str) -> ValidTopology {
    let parsed = crate::topology::yaml::parse_str(yaml, Some(Path::new("t.yaml"))).unwrap();
    crate::topology::yaml::validate(&parsed, &TestCatalog).unwrap_or_else(|e| panic!("{e}"))
}

fn invalid(yaml: &str) -> Vec<String> {
    let parsed = crate::topology::yaml::parse_str(yaml, Some(Path::new("t.yaml"))).unwrap();
    match crate::topology::yaml::validate(&parsed, &TestCatalog) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn fields(t: &ValidTopology, id: &str, stream: &str) -> Vec<String> {
    let c = t.component(id).unwrap();
    c.streams
        .iter()
        .find(|s| s.id == stream)
        .unwrap()
        .fields
        .clone()
}

const SPOUT: &str = "spouts:\n  - id: s\n    className: WordSpout\n";

#[test]
fn refs_and_reflists_become_the_components_values() {
    let t = valid(&format!(
        "name: t\ncomponents:\n  - id: out\n    className: org.apache.storm.tuple.Fields\n    \
         constructorArgs: [[a, b]]\n  - id: n\n    className: java.lang.Integer\n    \
         constructorArgs: [7]\n{SPOUT}bolts:\n  - id: e\n    className: EchoBolt\n    \
         constructorArgs:\n      - ref: out\n      - reflist: [n, n]\n"
    ));
    assert_eq!(fields(&t, "e", "default"), ["a", "b"]);
    let args = &t.component("e").unwrap().def.constructor_args;
    assert_eq!(
        args[1],
        serde_yaml::from_str::<serde_yaml::Value>("[7, 7]").unwrap()
    );
}

#[test]
fn bad_refs_and_components_are_located_without_cascades() {
    let yaml = format!(
        "name: t\ncomponents:\n  - id: good\n    className: org.apache.storm.tuple.Fields\n    \
         constructorArgs: [[a]]\n  - id: bad\n    className: org.apache.storm.tuple.Fields\n    \
         constructorArgs:\n      - count\n  - id: mapper\n    \
         className: org.apache.storm.hbase.bolt.mapper.SimpleHBaseMapper\n{SPOUT}bolts:\n  \
         - id: e1\n    className: EchoBolt\n    constructorArgs: [ref: nope]\n  \
         - id: e2\n    className: EchoBolt\n    constructorArgs: [ref: bad]\n"
    );
    let errors = invalid(&yaml);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors[0].starts_with("t.yaml:8:5: components[1].constructorArgs: org.apache.storm.tuple.Fields takes one list of field names: got count"),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with("t.yaml:11:16: components[2].className: component class 'org.apache.storm.hbase.bolt.mapper.SimpleHBaseMapper' has no Squall equivalent"),
        "{errors:#?}"
    );
    assert!(
        errors[1].contains("org.apache.storm.tuple.Fields, java.lang.String"),
        "{errors:#?}"
    );
    assert!(
        errors[2].starts_with("t.yaml:18:28: bolts[0].constructorArgs[0].ref: `ref` names 'nope', which is not declared; components are: good, bad, mapper"),
        "{errors:#?}"
    );
    assert!(
        errors[3].starts_with("t.yaml:21:5: bolts[1].constructorArgs: 'e2' cannot be created: a component it refers to is invalid"),
        "{errors:#?}"
    );
}

#[test]
fn config_methods_set_component_config_and_shell_streams() {
    let t = valid(&format!(
        "name: t\ncomponents:\n  - id: f\n    className: org.apache.storm.tuple.Fields\n    \
         constructorArgs: [[x, y]]\n{SPOUT}bolts:\n  - id: sh\n    className: {SHELL_BOLT}\n    \
         constructorArgs: [[python3, split.py]]\n    config:\n      kept: mine\n    \
         configMethods:\n      - name: addComponentConfig\n        args: [rabbit, etc/r.yml]\n      \
         - name: addComponentConfig\n        args: [paths, [actions]]\n      \
         - name: addComponentConfig\n        args: [kept, theirs]\n      \
         - name: setDefaultStream\n        args: [[word]]\n      \
         - name: setNamedStream\n        args: [pairs, {{ref: f}}]\n"
    ));
    let c = t.component("sh").unwrap();
    assert_eq!(c.config["rabbit"].as_str(), Some("etc/r.yml"));
    assert_eq!(c.config["paths"][0].as_str(), Some("actions"));
    assert_eq!(
        c.config["kept"].as_str(),
        Some("mine"),
        "the component's config wins"
    );
    assert_eq!(fields(&t, "sh", "default"), ["word"]);
    assert_eq!(fields(&t, "sh", "pairs"), ["x", "y"]);
    assert!(!t.component("s").unwrap().config.contains_key("rabbit"));
}

#[test]
fn java_only_keys_are_refused_where_they_are() {
    let errors = invalid(&format!(
        "name: t\n{SPOUT}    properties:\n      - name: x\n        value: 1\nbolts:\n  \
         - id: c\n    className: CountBolt\n    factory: newInstance\n    configMethods:\n      \
         - name: withFoo\n  - id: j\n    className: org.apache.storm.hdfs.bolt.HdfsBolt\n    \
         configMethods:\n      - name: withFsUrl\n        args: [x]\n    cpuLoad: 100\n"
    ));
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "t.yaml:5:5: spouts[0].properties: `properties` set fields of a Java object"
        ),
        "{errors:#?}"
    );
    assert!(
        errors[1]
            .starts_with("t.yaml:11:14: bolts[0].factory: `factory` calls a static Java method"),
        "{errors:#?}"
    );
    assert!(errors[2].starts_with("t.yaml:13:15: bolts[0].configMethods[0].name: config method 'withFoo' cannot be called on 'CountBolt'"), "{errors:#?}");
    assert!(
        errors[2].contains("addComponentConfig(key, value)"),
        "{errors:#?}"
    );
    // An unknown class: only the class is reported, with what is available.
    assert!(errors[3].starts_with("t.yaml:15:16: bolts[1].className: unknown bolt class 'org.apache.storm.hdfs.bolt.HdfsBolt' (a Java class with no Squall equivalent"), "{errors:#?}");
    assert!(
        errors[3].contains("registered bolts are: CountBolt, EchoBolt"),
        "{errors:#?}"
    );
}

#[test]
fn worker_hooks_only_the_base_class() {
    valid(&format!(
        "name: t\n{SPOUT}workerHooks:\n  - id: h\n    className: org.apache.storm.hooks.BaseWorkerHook\n"
    ));
    let errors = invalid(&format!(
        "name: t\n{SPOUT}workerHooks:\n  - id: h\n    className: com.example.MetricsHook\n"
    ));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].starts_with("t.yaml:7:16: workerHooks[0].className: worker hook class 'com.example.MetricsHook' has no Squall equivalent"), "{errors:#?}");
}

#[test]
fn includes_from_text_are_refused() {
    let errors = invalid(&format!(
        "name: t\n{SPOUT}includes:\n  - file: other.yaml\n"
    ));
    assert!(
        errors[0]
            .contains("`includes` are only processed when the topology is loaded from its file"),
        "{errors:#?}"
    );
}

const INCLUDED: &str = "\
name: included
config:
  topology.workers: 3
  only.there: 1
components:
  - id: f
    className: org.apache.storm.tuple.Fields
    constructorArgs: [[a]]
spouts:
  - id: s
    className: WordSpout
    parallelism: 4
bolts:
  - id: b
    className: CountBolt
  - id: extra
    className: EchoBolt
    constructorArgs: [ref: f]
streams:
  - from: s
    to: b
    grouping: {type: SHUFFLE}
  - from: s
    to: extra
    grouping: {type: SHUFFLE}
";

fn main_file(over: bool) -> String {
    format!(
        "name: main\nconfig:\n  topology.workers: 1\nincludes:\n  - file: inc/other.yaml\n    \
         override: {over}\nspouts:\n  - id: s\n    className: WordSpout\nbolts:\n  - id: b\n    \
         className: EchoBolt\n    constructorArgs: [[w]]\nstreams:\n  - from: s\n    to: b\n    \
         grouping: {{type: FIELDS, args: [word]}}\n"
    )
}

fn load_valid(path: &Path, opts: &LoadOptions) -> ValidTopology {
    let loaded = load_file(path, opts).unwrap_or_else(|e| panic!("{e}"));
    crate::topology::yaml::validate(&loaded.parsed, &TestCatalog).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn include_without_override_keeps_what_the_file_defines() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inc/other.yaml", INCLUDED);
    let main = write(dir.path(), "main.yaml", &main_file(false));
    let t = load_valid(&main, &LoadOptions::default());
    assert_eq!(t.name, "main");
    assert_eq!(t.config["topology.workers"].as_i64(), Some(1));
    assert_eq!(t.config["only.there"].as_i64(), Some(1));
    assert_eq!(t.component("s").unwrap().num_tasks, 1);
    assert_eq!(t.component("b").unwrap().def.class_name, "EchoBolt");
    assert_eq!(
        fields(&t, "extra", "default"),
        ["a"],
        "included components are merged"
    );
    assert_eq!(
        t.subscriptions.len(),
        2,
        "s->b kept (FIELDS), s->extra added"
    );
    let sb = t.subscriptions.iter().find(|s| s.to == "b").unwrap();
    assert_eq!(
        sb.grouping,
        crate::topology::yaml::Grouping::Fields(vec![0])
    );
}

#[test]
fn include_with_override_replaces_same_ids() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inc/other.yaml", INCLUDED);
    let main = write(dir.path(), "main.yaml", &main_file(true));
    let t = load_valid(&main, &LoadOptions::default());
    assert_eq!(t.name, "included");
    assert_eq!(t.config["topology.workers"].as_i64(), Some(3));
    assert_eq!(t.component("s").unwrap().num_tasks, 4);
    assert_eq!(t.component("b").unwrap().def.class_name, "CountBolt");
    let sb = t.subscriptions.iter().find(|s| s.to == "b").unwrap();
    assert_eq!(sb.grouping, crate::topology::yaml::Grouping::Shuffle);
    assert_eq!(t.components.len(), 3);
}

#[test]
fn errors_in_included_files_point_into_them() {
    let dir = tempfile::tempdir().unwrap();
    let bad = INCLUDED.replace("className: CountBolt", "className: NoSuchBolt");
    let inc = write(dir.path(), "inc/other.yaml", &bad);
    let main = write(dir.path(), "main.yaml", &main_file(true));
    let loaded = load_file(&main, &LoadOptions::default()).unwrap();
    let errors = crate::topology::yaml::validate(&loaded.parsed, &TestCatalog).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors}");
    assert_eq!(
        errors.to_string(),
        format!(
            "{}:15:16: bolts[0].className: unknown bolt class 'NoSuchBolt'; registered bolts \
             are: CountBolt, EchoBolt, {SHELL_BOLT}",
            inc.display()
        )
    );
}

#[test]
fn resource_includes_are_looked_up_under_the_resources_directory() {
    let dir = tempfile::tempdir().unwrap();
    let res = dir.path().join("res");
    write(&res, "configs/other.yaml", INCLUDED);
    let main = write(
        dir.path(),
        "main.yaml",
        "name: m\nincludes:\n  - resource: true\n    file: /configs/other.yaml\n",
    );
    let opts = LoadOptions {
        filter: None,
        resources: Some(res.clone()),
    };
    let t = load_valid(&main, &opts);
    assert_eq!(t.name, "m");
    assert_eq!(t.components.len(), 3);
    // Without --resources: looked up next to the file, and not found there.
    let loaded = load_file(&main, &LoadOptions::default()).unwrap();
    let errors = crate::topology::yaml::validate(&loaded.parsed, &TestCatalog).unwrap_err();
    let shown = errors.to_string();
    assert!(
        shown.contains(&format!(
            "{}:4:11: includes[0].file: included resource '/configs/other.yaml' not found: looked for {}",
            main.display(),
            dir.path().join("configs/other.yaml").display()
        )),
        "{shown}"
    );
    assert!(shown.contains("--resources DIR"), "{shown}");
}

#[test]
fn substitution_from_a_filter_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let props = write(
        dir.path(),
        "dev.properties",
        "# test values\ntopology.name = substituted\nfields: [\"x\",\"y\"]\n",
    );
    let main = write(
        dir.path(),
        "main.yaml",
        "name: \"${topology.name}\"\nconfig:\n  path: \"${ENV-PATH}\"\n  first: ${fields[1]}\n\
         spouts:\n  - id: s\n    className: WordSpout\nbolts:\n  - id: e\n    className: EchoBolt\n    \
         constructorArgs: [${fields}]\n",
    );
    let opts = LoadOptions {
        filter: Some(props.clone()),
        resources: None,
    };
    let t = load_valid(&main, &opts);
    assert_eq!(t.name, "substituted");
    assert_eq!(
        t.config["path"].as_str(),
        std::env::var("PATH").ok().as_deref()
    );
    assert_eq!(t.config["first"].as_str(), Some("y"));
    assert_eq!(fields(&t, "e", "default"), ["x", "y"]);
    let loaded = load_file(&main, &opts).unwrap();
    assert!(!loaded.wire_yaml().unwrap().contains("${"));

    // A key the file does not define: an error naming the key, the file and the line
    // (here with the YAML error the text left as written causes).
    std::fs::write(&props, "topology.name = x\n").unwrap();
    let errors = load_file(&main, &opts).unwrap_err();
    let shown: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown[0],
        format!(
            "{}:4:10: `${{fields[1]}}`: property 'fields' is not defined in {}",
            main.display(),
            props.display()
        )
    );
    assert!(shown[1].contains("`${fields}`"), "{shown:#?}");
    // No filter file at all.
    let errors = load_file(&main, &LoadOptions::default()).unwrap_err();
    assert!(errors.0[0].message.contains("--filter FILE"), "{errors}");
    // A missing properties file is named.
    let opts = LoadOptions {
        filter: Some(dir.path().join("none.properties")),
        resources: None,
    };
    let e = load_file(&main, &opts).unwrap_err();
    assert!(
        e.to_string()
            .contains("none.properties: cannot read the properties file"),
        "{e}"
    );
}

#[test]
fn wire_yaml_of_an_included_topology_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inc/other.yaml", INCLUDED);
    let main = write(dir.path(), "main.yaml", &main_file(false));
    let loaded = load_file(&main, &LoadOptions::default()).unwrap();
    let wire = loaded.wire_yaml().unwrap();
    assert!(!wire.contains("includes"), "{wire}");
    let again = crate::topology::yaml::parse_str(&wire, None).unwrap();
    let t = crate::topology::yaml::validate(&again, &TestCatalog).unwrap();
    assert_eq!(t.components.len(), 3);
    assert_eq!(fields(&t, "extra", "default"), ["a"]);
}

#[test]
fn huge_files_are_refused_without_reading_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    let big = write(
        dir.path(),
        "big.yaml",
        &format!(
            "name: x\n#{}\n",
            "x".repeat(crate::topology::yaml::limits::MAX_TOPOLOGY_BYTES)
        ),
    );
    let e = load_file(&big, &LoadOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains(
            "cannot read topology file: the file is longer than the limit of 4194304 bytes"
        ),
        "{e}"
    );
    // An include of a huge file: refused after 4 MiB, located at the include.
    let main = write(
        dir.path(),
        "main.yaml",
        "name: x\nincludes:\n  - resource: false\n    file: big.yaml\n",
    );
    let loaded = load_file(&main, &LoadOptions::default()).unwrap();
    let problems: Vec<String> = loaded
        .parsed
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains(":4:11: includes[0].file: cannot read included file")
            && problems[0].contains("the file is longer than the limit of 4194304 bytes"),
        "{problems:#?}"
    );
    // A properties file that never ends.
    let opts = LoadOptions {
        filter: Some("/dev/zero".into()),
        resources: None,
    };
    let e = load_file(&main, &opts).unwrap_err();
    assert!(e.to_string().contains("longer than the limit"), "{e}");
}
