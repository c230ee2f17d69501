//! What a shell component runs and declares, from its YAML `constructorArgs`.

use crate::api::declare::OutputDeclarer;
use crate::api::error::FactoryError;
use crate::api::registry::ComponentArgs;

/// One output stream a shell component declares.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stream {
    id: String,
    fields: Vec<String>,
    direct: bool,
}

/// The command line of a shell component and the output streams it declares (the
/// subprocess cannot declare them itself: the topology is validated before it runs).
///
/// From YAML (Flux's `FluxShellBolt` / `FluxShellSpout` arguments):
/// `constructorArgs: [[command, arg...], [output field...], {stream: [field...]}]` — the
/// command line (required), the `default` stream's fields (optional; without them the
/// component declares no default stream), and a Squall extension: more streams, each as
/// `name: [fields]` or `name: {fields: [...], direct: true}`.
///
/// ```
/// use squall_runtime::multilang::ShellSpec;
/// let spec = ShellSpec::new(["python3", "splitsentence.py"], &["word"])
///     .with_stream("lengths", &["word", "length"]);
/// assert_eq!(spec.command(), ["python3", "splitsentence.py"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellSpec {
    command: Vec<String>,
    streams: Vec<Stream>,
}

fn strings(v: &serde_yaml::Value) -> Option<Vec<String>> {
    v.as_sequence()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

impl ShellSpec {
    /// Run `command` (program and arguments) and declare the `default` stream with
    /// `fields`.
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>, fields: &[&str]) -> Self {
        ShellSpec {
            command: command.into_iter().map(Into::into).collect(),
            streams: vec![Stream {
                id: crate::DEFAULT_STREAM.to_string(),
                fields: fields.iter().map(|f| f.to_string()).collect(),
                direct: false,
            }],
        }
    }

    /// Also declare stream `id` with `fields`.
    pub fn with_stream(mut self, id: &str, fields: &[&str]) -> Self {
        self.add(id, fields.iter().map(|f| f.to_string()).collect(), false);
        self
    }

    /// Also declare the direct stream `id` with `fields` (written with `"task": N`).
    pub fn with_direct_stream(mut self, id: &str, fields: &[&str]) -> Self {
        self.add(id, fields.iter().map(|f| f.to_string()).collect(), true);
        self
    }

    fn add(&mut self, id: &str, fields: Vec<String>, direct: bool) {
        self.streams.retain(|s| s.id != id);
        self.streams.push(Stream {
            id: id.to_string(),
            fields,
            direct,
        });
    }

    /// From YAML `constructorArgs` (see the type's documentation).
    pub fn from_args(args: &ComponentArgs<'_>) -> Result<ShellSpec, FactoryError> {
        const EXAMPLE: &str = "e.g. [\"python3\", \"splitsentence.py\"]";
        let command = args
            .args()
            .first()
            .ok_or_else(|| {
                FactoryError(format!(
                    "constructorArgs[0] (the command line) is missing: {EXAMPLE}"
                ))
            })
            .and_then(|v| {
                strings(v).filter(|c| !c.is_empty()).ok_or_else(|| {
                    FactoryError(format!(
                        "constructorArgs[0] (the command line) must be a non-empty list of \
                         strings, {EXAMPLE}"
                    ))
                })
            })?;
        let mut spec = ShellSpec {
            command,
            streams: Vec::new(),
        };
        if let Some(v) = args.args().get(1) {
            let fields = strings(v).ok_or_else(|| {
                FactoryError(
                    "constructorArgs[1] (the default stream's output fields) must be a list \
                     of field names, e.g. [\"word\"]"
                        .to_string(),
                )
            })?;
            spec.add(crate::DEFAULT_STREAM, fields, false);
        }
        if let Some(v) = args.args().get(2) {
            let wrong = || {
                FactoryError(
                    "constructorArgs[2] (more output streams) must map stream names to field \
                     lists or to {fields: [...], direct: true}"
                        .to_string(),
                )
            };
            let map = v.as_mapping().ok_or_else(wrong)?;
            for (name, decl) in map {
                let name = name.as_str().ok_or_else(wrong)?;
                let (fields, direct) = if let Some(f) = strings(decl) {
                    (f, false)
                } else {
                    let fields = decl.get("fields").and_then(strings).ok_or_else(wrong)?;
                    let direct = match decl.get("direct") {
                        None => false,
                        Some(d) => d.as_bool().ok_or_else(wrong)?,
                    };
                    (fields, direct)
                };
                spec.add(name, fields, direct);
            }
        }
        if args.args().len() > 3 {
            return Err(FactoryError(format!(
                "a shell component takes at most 3 constructorArgs (command, fields, \
                 streams), got {}",
                args.args().len()
            )));
        }
        Ok(spec)
    }

    /// The command line: program and arguments.
    pub fn command(&self) -> &[String] {
        &self.command
    }

    /// Declare the streams.
    pub(crate) fn declare(&self, out: &mut OutputDeclarer) {
        for s in &self.streams {
            let fields: Vec<&str> = s.fields.iter().map(String::as_str).collect();
            if s.direct {
                out.declare_stream_direct(&s.id, &fields);
            } else {
                out.declare_stream(&s.id, &fields);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::config::Config;

    fn spec(yaml: &str) -> Result<ShellSpec, FactoryError> {
        let args: Vec<serde_yaml::Value> = serde_yaml::from_str(yaml).unwrap();
        let config = Config::default();
        ShellSpec::from_args(&ComponentArgs::new("c", &args, &config))
    }

    fn declared(s: &ShellSpec) -> Vec<(String, Vec<String>, bool)> {
        let mut out = OutputDeclarer::new();
        s.declare(&mut out);
        out.into_streams()
            .into_iter()
            .map(|d| (d.id, d.fields, d.direct))
            .collect()
    }

    #[test]
    fn flux_shape_command_and_fields() {
        let s = spec(r#"[["python3", "splitsentence.py"], ["word"]]"#).unwrap();
        assert_eq!(s.command(), ["python3", "splitsentence.py"]);
        assert_eq!(
            declared(&s),
            vec![("default".into(), vec!["word".into()], false)]
        );
        assert_eq!(declared(&spec(r#"[["sink.sh"]]"#).unwrap()), vec![]);
    }

    #[test]
    fn extra_streams() {
        let s =
            spec(r#"[["x"], ["a"], {errs: ["e"], to: {fields: ["t"], direct: true}}]"#).unwrap();
        assert_eq!(
            declared(&s),
            vec![
                ("default".into(), vec!["a".into()], false),
                ("errs".into(), vec!["e".into()], false),
                ("to".into(), vec!["t".into()], true),
            ]
        );
    }

    #[test]
    fn bad_arguments_say_what_is_expected() {
        let e = spec("[]").unwrap_err();
        assert!(
            e.0.contains("constructorArgs[0]") && e.0.contains("missing"),
            "{e}"
        );
        let e = spec(r#"["python3 x.py"]"#).unwrap_err();
        assert!(e.0.contains("non-empty list of strings"), "{e}");
        let e = spec(r#"[["x"], "word"]"#).unwrap_err();
        assert!(e.0.contains("constructorArgs[1]"), "{e}");
        let e = spec(r#"[["x"], ["a"], {s: 3}]"#).unwrap_err();
        assert!(e.0.contains("constructorArgs[2]"), "{e}");
    }
}
