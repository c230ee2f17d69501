//! Flux's `${...}` substitution, on the raw text before YAML parsing (as Flux does it):
//!
//! - `${ENV-NAME}`: environment variable `NAME`;
//! - `${key}`: property `key` of the `--filter` file, inserted as written (so a value like
//!   `["a", "b"]` in an unquoted position becomes a YAML list);
//! - `${key[i]}`: element `i` of a list-valued property (`["a", "b"]`), quotes dropped.
//!
//! Unlike Flux, every `${...}` of a line is replaced (Flux only replaces one), `${...}`
//! inside YAML comments is left alone, and a `${...}` that cannot be resolved is an error
//! naming the key and where it is (Flux keeps the text and logs a warning).

use std::path::Path;

use super::properties::Properties;
use crate::topology::yaml::{Location, SpecError};

/// Where substitution values come from.
pub struct Sources<'a> {
    /// The `--filter` properties, when one was given.
    pub properties: Option<&'a Properties>,
    /// Looks up an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// `text` with every `${...}` outside comments replaced, and an error for each one that
/// could not be resolved (left as written).
pub fn substitute(
    text: &str,
    file: Option<&Path>,
    sources: &Sources<'_>,
) -> (String, Vec<SpecError>) {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let code_end = comment_start(line).unwrap_or(line.len());
        let (code, comment) = line.split_at(code_end);
        let mut rest = code;
        let mut consumed = 0usize;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            let expr = &rest[start + 2..start + 2 + len];
            out.push_str(&rest[..start]);
            let column = code[..consumed + start].chars().count() + 1;
            match resolve(expr, sources) {
                Ok(value) => out.push_str(&value),
                Err(message) => {
                    out.push_str(&rest[start..start + 3 + len]);
                    errors.push(SpecError {
                        file: file.map(Path::to_path_buf),
                        location: Some(Location {
                            line: n + 1,
                            column,
                        }),
                        path: String::new(),
                        message,
                    });
                }
            }
            consumed += start + 3 + len;
            rest = &rest[start + 3 + len..];
        }
        out.push_str(rest);
        out.push_str(comment);
    }
    (out, errors)
}

/// Byte offset of a `#` comment on this line (outside quotes, at the start or after a
/// blank), if any.
fn comment_start(line: &str) -> Option<usize> {
    let mut single = false;
    let mut double = false;
    let mut prev_blank = true;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if double && !escaped => {
                escaped = true;
                prev_blank = false;
                continue;
            }
            '"' if !single && !escaped => double = !double,
            '\'' if !double => single = !single,
            '#' if !single && !double && prev_blank => return Some(i),
            _ => {}
        }
        escaped = false;
        prev_blank = c == ' ' || c == '\t';
    }
    None
}

/// The replacement text of `${expr}`, or why there is none.
fn resolve(expr: &str, sources: &Sources<'_>) -> Result<String, String> {
    if let Some(name) = expr.strip_prefix("ENV-") {
        return (sources.env)(name)
            .ok_or_else(|| format!("`${{{expr}}}`: environment variable '{name}' is not set"));
    }
    let (key, index) = match split_index(expr) {
        Some((key, i)) => (key, Some(i)),
        None => (expr, None),
    };
    let Some(props) = sources.properties else {
        return Err(format!(
            "`${{{expr}}}`: property '{key}' cannot be substituted: no properties file was \
             given (pass one defining '{key}' with --filter FILE)"
        ));
    };
    let from = props
        .file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "the properties".to_string());
    let prop = props
        .get(key)
        .ok_or_else(|| format!("`${{{expr}}}`: property '{key}' is not defined in {from}"))?;
    let Some(i) = index else {
        return Ok(prop.value.clone());
    };
    let list = serde_yaml::from_str::<serde_yaml::Value>(&prop.value)
        .ok()
        .and_then(|v| v.as_sequence().cloned())
        .ok_or_else(|| {
            format!(
                "`${{{expr}}}`: property '{key}' ({from}:{}) is not a list: its value is `{}`; \
                 write it like [\"a\", \"b\"]",
                prop.line, prop.value
            )
        })?;
    let item = list.get(i).ok_or_else(|| {
        format!(
            "`${{{expr}}}`: property '{key}' ({from}:{}) has {} element(s), no element {i}",
            prop.line,
            list.len()
        )
    })?;
    Ok(match item {
        serde_yaml::Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    })
}

/// `key[3]` -> (`key`, 3).
fn split_index(expr: &str) -> Option<(&str, usize)> {
    let inner = expr.strip_suffix(']')?;
    let open = inner.rfind('[')?;
    let i = inner[open + 1..].trim().parse().ok()?;
    Some((&inner[..open], i))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn props() -> Properties {
        let mut p = Properties::parse(
            "topology.name: substitution-topology\na.list.property: [\"A\",\"B\",\"C\"]\nn=3\n",
        )
        .unwrap();
        p.file = Some("test.properties".into());
        p
    }

    fn env(name: &str) -> Option<String> {
        (name == "HOME_X").then(|| "/home/x".to_string())
    }

    fn run(text: &str, with_props: bool) -> (String, Vec<SpecError>) {
        let p = props();
        let sources = Sources {
            properties: with_props.then_some(&p),
            env: &env,
        };
        substitute(text, Some(Path::new("t.yaml")), &sources)
    }

    #[test]
    fn properties_env_lists_and_elements() {
        let text = "name: \"${topology.name}\"\nconfig:\n  env: \"${ENV-HOME_X}\"\n  list: ${a.list.property}\n  first: ${a.list.property[0]}\n  n: ${n}\n  two: ${n}-${n}\n";
        let (out, errors) = run(text, true);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            out,
            "name: \"substitution-topology\"\nconfig:\n  env: \"/home/x\"\n  list: [\"A\",\"B\",\"C\"]\n  first: A\n  n: 3\n  two: 3-3\n"
        );
        let v: serde_yaml::Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(v["config"]["list"][2].as_str(), Some("C"));
        assert_eq!(v["config"]["n"].as_i64(), Some(3));
    }

    #[test]
    fn comments_are_left_alone() {
        let (out, errors) = run(
            "a: 1 # uses ${nothing}\n# ${nothing}\nb: \"# ${n}\"\n",
            true,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(out, "a: 1 # uses ${nothing}\n# ${nothing}\nb: \"# 3\"\n");
    }

    #[test]
    fn missing_keys_are_located_errors_naming_the_key_and_file() {
        let (out, errors) = run(
            "name: x\nconfig:\n  a: ${nope}\n  b: x${ENV-NOPE_VAR}\n",
            true,
        );
        assert_eq!(
            out,
            "name: x\nconfig:\n  a: ${nope}\n  b: x${ENV-NOPE_VAR}\n"
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            errors[0].to_string(),
            "t.yaml:3:6: `${nope}`: property 'nope' is not defined in test.properties"
        );
        assert_eq!(
            errors[1].to_string(),
            "t.yaml:4:7: `${ENV-NOPE_VAR}`: environment variable 'NOPE_VAR' is not set"
        );
    }

    #[test]
    fn without_a_filter_file_the_error_says_to_pass_one() {
        let (_, errors) = run("name: ${topology.name}\n", false);
        assert_eq!(errors.len(), 1);
        let e = errors[0].to_string();
        assert!(e.starts_with("t.yaml:1:7: `${topology.name}`"), "{e}");
        assert!(e.contains("--filter FILE"), "{e}");
    }

    #[test]
    fn bad_list_elements() {
        let (_, errors) = run("a: ${n[0]}\nb: ${a.list.property[7]}\n", true);
        assert_eq!(errors.len(), 2);
        assert!(errors[0].message.contains("is not a list"), "{errors:?}");
        assert!(
            errors[0].message.contains("test.properties:3"),
            "{errors:?}"
        );
        assert!(
            errors[1].message.contains("has 3 element(s), no element 7"),
            "{errors:?}"
        );
    }
}
