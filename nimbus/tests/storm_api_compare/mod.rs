//! Compare an answer of nimbus's Storm API with its golden fixture
//! (`nimbus/tests/fixtures/storm-api/*.json`): every key of the fixture must be in the
//! answer with the same JSON type (a `null` in the fixture accepts any type: Storm
//! writes null or a value there), recursively, into the first element of arrays when
//! both have one; every key of the answer must be in the fixture or in [`extras`].
//! Shared by nimbus's and the workspace's tests (included with `#[path]`).
#![allow(dead_code)]

use serde_json::Value;

/// Paths whose value is a free-form map (keys are component ids, config keys, spout
/// ids): only the type is checked.
const FREE_FORM: [&str; 2] = ["configuration", "workers[].componentNumTasks"];

/// Fixtures whose whole answer is a free-form map (the lag map, by spout id).
const FREE_FORM_ANSWERS: [&str; 1] = ["topology-lag.json"];

/// The keys our answers add to Storm's, by fixture: paths as `a[].b`.
pub fn extras(fixture: &str) -> &'static [&'static str] {
    match fixture {
        "topology-summary.json" => &["topologies[].workersRequested"],
        "topology.json" => &[
            "topologyStats[].completeLatencyP99",
            "spouts[].completeLatencyP99",
            "bolts[].executeLatencyP99",
            "bolts[].processLatencyP99",
            "bolts[].queueDepth",
            "bolts[].queueCapacity",
            "bolts[].upstreamBlockedMs",
        ],
        "component-spout.json" => &[
            "spoutSummary[].completeLatencyP99",
            "outputStats[].completeLatencyP99",
            "executorStats[].completeLatencyP99",
        ],
        "component-bolt.json" => &[
            "boltStats[].executeLatencyP99",
            "boltStats[].processLatencyP99",
            "inputStats[].executeLatencyP99",
            "inputStats[].processLatencyP99",
            "executorStats[].executeLatencyP99",
            "executorStats[].processLatencyP99",
            "executorStats[].queueDepth",
            "executorStats[].queueCapacity",
        ],
        _ => &[],
    }
}

/// The fixture `name`.
pub fn fixture(name: &str) -> Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let path = if root.ends_with("/nimbus") {
        format!("{root}/tests/fixtures/storm-api/{name}")
    } else {
        format!("{root}/nimbus/tests/fixtures/storm-api/{name}")
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every difference between `answer` and the fixture `name` (empty: it matches).
pub fn differences(name: &str, answer: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let f = fixture(name);
    if FREE_FORM_ANSWERS.contains(&name) {
        if type_name(&f) != type_name(answer) {
            out.push(format!(
                "(top): Storm has a {}, we have {answer}",
                type_name(&f)
            ));
        }
        return out;
    }
    walk(&f, answer, "", extras(name), &mut out);
    out
}

/// Panic listing every difference between `answer` and the fixture `name`.
pub fn assert_matches(name: &str, answer: &Value) {
    let diffs = differences(name, answer);
    assert!(
        diffs.is_empty(),
        "{name}: the answer differs from Storm's shape:\n  {}\nanswer: {answer:#}",
        diffs.join("\n  ")
    );
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(fixture: &Value, answer: &Value, path: &str, extras: &[&str], out: &mut Vec<String>) {
    if fixture.is_null() {
        return;
    }
    if type_name(fixture) != type_name(answer) {
        out.push(format!(
            "{}: Storm has a {}, we have a {} ({answer})",
            if path.is_empty() { "(top)" } else { path },
            type_name(fixture),
            type_name(answer)
        ));
        return;
    }
    let free = FREE_FORM.contains(&path);
    match (fixture, answer) {
        (Value::Object(f), Value::Object(a)) if !free => {
            for (k, fv) in f {
                match a.get(k) {
                    Some(av) => walk(fv, av, &child(path, k), extras, out),
                    None => out.push(format!("{}: missing", child(path, k))),
                }
            }
            for k in a.keys().filter(|k| !f.contains_key(*k)) {
                let p = child(path, k);
                if !extras.contains(&p.as_str()) {
                    out.push(format!(
                        "{p}: not in Storm's answer nor in our listed extras"
                    ));
                }
            }
        }
        (Value::Array(f), Value::Array(a)) => {
            if let (Some(fv), Some(av)) = (f.first(), a.first()) {
                walk(fv, av, &format!("{path}[]"), extras, out);
            }
        }
        _ => {}
    }
}
