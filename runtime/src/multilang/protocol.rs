//! The messages of Storm's JSON multi-lang protocol: what a subprocess sends (parsed
//! into [`ShellMsg`]) and what the host writes (tuples, heartbeats, task-id lists, spout
//! commands, the handshake).

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Deserialize;
use smallvec::SmallVec;

use super::frame::end_frame;
use super::json::JsonValues;
use crate::api::ids::TaskId;
use crate::api::tuple::Values;
use crate::api::value::Value;

/// Level of a `log` command (Storm's `ShellLogLevel`: 0 trace ... 4 error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogLevel {
    /// 0.
    Trace,
    /// 1.
    Debug,
    /// 2, and anything unknown.
    Info,
    /// 3.
    Warn,
    /// 4.
    Error,
}

impl LogLevel {
    fn from_json(v: Option<&serde_json::Value>) -> LogLevel {
        match v.and_then(serde_json::Value::as_i64) {
            Some(0) => LogLevel::Trace,
            Some(1) => LogLevel::Debug,
            Some(3) => LogLevel::Warn,
            Some(4) => LogLevel::Error,
            _ => LogLevel::Info,
        }
    }
}

/// An `emit` command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EmitMsg {
    /// Ids of the inputs to anchor to (bolts).
    pub(crate) anchors: SmallVec<[u64; 2]>,
    /// The message id (spouts); `None` = unreliable emit.
    pub(crate) id: Option<serde_json::Value>,
    /// The stream; `None` = `default`.
    pub(crate) stream: Option<String>,
    /// The task of a direct emit.
    pub(crate) task: Option<TaskId>,
    /// The values.
    pub(crate) tuple: Values,
    /// Whether the subprocess waits for the list of target tasks (Storm's default: yes).
    pub(crate) need_task_ids: bool,
}

/// A message from a subprocess (after the handshake).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ShellMsg {
    /// `emit`.
    Emit(EmitMsg),
    /// `ack` of the input with this id (bolts).
    Ack(u64),
    /// `fail` of the input with this id (bolts).
    Fail(u64),
    /// `sync`: the end of a spout's answer, or a bolt's heartbeat reply.
    Sync,
    /// `log`.
    Log {
        /// Level.
        level: LogLevel,
        /// Text.
        msg: String,
    },
    /// `error`: reported like `report_error`.
    Error(String),
    /// `metrics`.
    Metrics {
        /// Metric name.
        name: String,
        /// Its value, as sent.
        params: serde_json::Value,
    },
    /// `exhausted` (a Squall extension for spouts): nothing more will be emitted except
    /// replays of failed messages, so a local run can complete.
    Exhausted,
    /// Any other command (ignored by bolts as in Storm; fatal for spouts).
    Unknown(String),
}

/// A message as it is written: every field any command uses.
#[derive(Deserialize)]
struct RawMsg<'a> {
    #[serde(borrow, default)]
    command: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    anchors: Option<serde_json::Value>,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    task: Option<serde_json::Value>,
    #[serde(default)]
    tuple: Option<JsonValues>,
    #[serde(default)]
    need_task_ids: Option<bool>,
    #[serde(default)]
    msg: Option<serde_json::Value>,
    #[serde(default)]
    level: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    params: Option<serde_json::Value>,
}

/// Why a message could not be understood: its command (`?` if unknown) and what is
/// wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// The message's `command`, or `?`.
    pub(crate) command: String,
    /// What is wrong.
    pub(crate) detail: String,
}

fn err(command: &str, detail: impl Into<String>) -> ParseError {
    ParseError {
        command: command.to_string(),
        detail: detail.into(),
    }
}

/// The `command` of a message that failed to parse as a whole, for the error.
fn command_of(text: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("command")
                .and_then(|c| c.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "?".to_string())
}

fn is_object(text: &[u8]) -> bool {
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// An input id the host sent (a decimal string; a number is accepted too).
fn input_id(command: &str, what: &str, v: &serde_json::Value) -> Result<u64, ParseError> {
    let parsed = match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        err(
            command,
            format!("{what} {v} is not the id of a tuple this host sent"),
        )
    })
}

fn text_field(v: Option<serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

/// Parse a message from a subprocess.
pub(crate) fn parse_msg(text: &[u8]) -> Result<ShellMsg, ParseError> {
    if !is_object(text) {
        return Err(err("?", "expected a JSON object with a \"command\""));
    }
    let raw: RawMsg<'_> =
        serde_json::from_slice(text).map_err(|e| err(&command_of(text), e.to_string()))?;
    let Some(command) = raw.command.as_deref() else {
        return Err(err("?", "the message has no \"command\""));
    };
    Ok(match command {
        "emit" => {
            let Some(JsonValues(tuple)) = raw.tuple else {
                return Err(err(command, "an emit needs a \"tuple\" array"));
            };
            let mut anchors = SmallVec::new();
            match &raw.anchors {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::Array(list)) => {
                    for a in list {
                        anchors.push(input_id(command, "anchor", a)?);
                    }
                }
                Some(one) => anchors.push(input_id(command, "anchor", one)?),
            }
            let task = match &raw.task {
                None | Some(serde_json::Value::Null) => None,
                Some(t) => match t.as_u64() {
                    Some(0) => None,
                    Some(n) => {
                        Some(TaskId(u32::try_from(n).map_err(|_| {
                            err(command, format!("\"task\" {n} is not a task id"))
                        })?))
                    }
                    None => {
                        return Err(err(command, format!("\"task\" must be a task id, got {t}")));
                    }
                },
            };
            ShellMsg::Emit(EmitMsg {
                anchors,
                id: raw.id.filter(|v| !v.is_null()),
                stream: raw.stream,
                task,
                tuple,
                need_task_ids: raw.need_task_ids.unwrap_or(true),
            })
        }
        "ack" | "fail" => {
            let Some(id) = &raw.id else {
                return Err(err(command, "needs the \"id\" of the input"));
            };
            let id = input_id(command, "id", id)?;
            if command == "ack" {
                ShellMsg::Ack(id)
            } else {
                ShellMsg::Fail(id)
            }
        }
        "sync" => ShellMsg::Sync,
        "log" => ShellMsg::Log {
            level: LogLevel::from_json(raw.level.as_ref()),
            msg: text_field(raw.msg),
        },
        "error" => ShellMsg::Error(text_field(raw.msg)),
        "metrics" => {
            let Some(name) = raw.name.filter(|n| !n.is_empty()) else {
                return Err(err(command, "needs a metric \"name\""));
            };
            ShellMsg::Metrics {
                name,
                params: raw.params.unwrap_or(serde_json::Value::Null),
            }
        }
        "exhausted" => ShellMsg::Exhausted,
        other => ShellMsg::Unknown(other.to_string()),
    })
}

/// Parse the handshake reply `{"pid": N}`.
pub(crate) fn parse_pid(text: &[u8]) -> Result<u32, String> {
    #[derive(Deserialize)]
    struct Pid {
        pid: u32,
    }
    if !is_object(text) {
        return Err("expected {\"pid\": N}".to_string());
    }
    serde_json::from_slice::<Pid>(text)
        .map(|p| p.pid)
        .map_err(|e| format!("expected {{\"pid\": N}}: {e}"))
}

fn json_err(e: serde_json::Error) -> io::Error {
    io::Error::other(e)
}

/// Write a tuple for a bolt: `{"id", "comp", "stream", "task", "tuple"}`. `comp` is
/// `None` (JSON null) for heartbeats, as Storm sends them.
pub(crate) fn write_tuple(
    w: &mut impl Write,
    id: u64,
    comp: Option<&str>,
    stream: &str,
    task: i64,
    values: &[Value],
) -> io::Result<()> {
    write!(w, "{{\"id\":\"{id}\",\"comp\":")?;
    match comp {
        Some(c) => serde_json::to_writer(&mut *w, c).map_err(json_err)?,
        None => w.write_all(b"null")?,
    }
    w.write_all(b",\"stream\":")?;
    serde_json::to_writer(&mut *w, stream).map_err(json_err)?;
    write!(w, ",\"task\":{task},\"tuple\":")?;
    serde_json::to_writer(&mut *w, values).map_err(json_err)?;
    w.write_all(b"}")?;
    end_frame(w)
}

/// Write the tasks an emit went to: a bare JSON array.
pub(crate) fn write_task_ids(w: &mut impl Write, tasks: &[TaskId]) -> io::Result<()> {
    w.write_all(b"[")?;
    for (i, t) in tasks.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "{}", t.0)?;
    }
    w.write_all(b"]")?;
    end_frame(w)
}

/// Write a spout command: `{"command": "next"|"ack"|"fail"|"activate"|"deactivate",
/// "id": ...}` (`id` is `""` for commands without one, as Storm sends).
pub(crate) fn write_command(
    w: &mut impl Write,
    command: &str,
    id: Option<&serde_json::Value>,
) -> io::Result<()> {
    write!(w, "{{\"command\":\"{command}\",\"id\":")?;
    match id {
        Some(id) => serde_json::to_writer(&mut *w, id).map_err(json_err)?,
        None => w.write_all(b"\"\"")?,
    }
    w.write_all(b"}")?;
    end_frame(w)
}

/// Write any JSON message (the handshake).
pub(crate) fn write_json(w: &mut impl Write, msg: &serde_json::Value) -> io::Result<()> {
    serde_json::to_writer(&mut *w, msg).map_err(json_err)?;
    end_frame(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values;

    fn parse(s: &str) -> Result<ShellMsg, ParseError> {
        parse_msg(s.as_bytes())
    }

    #[test]
    fn bolt_emit_with_defaults() {
        let m = parse(r#"{"command":"emit","anchors":["7","9"],"tuple":["a",1]}"#).unwrap();
        assert_eq!(
            m,
            ShellMsg::Emit(EmitMsg {
                anchors: SmallVec::from_slice(&[7, 9]),
                id: None,
                stream: None,
                task: None,
                tuple: values!["a", 1],
                need_task_ids: true,
            })
        );
    }

    #[test]
    fn spout_emit_direct_with_id_and_single_anchor_string() {
        let m = parse(
            r#"{"command":"emit","id":"m-1","stream":"s","task":4,"tuple":[],"need_task_ids":false,"anchors":"3"}"#,
        )
        .unwrap();
        let ShellMsg::Emit(e) = m else { panic!() };
        assert_eq!(e.id, Some(serde_json::json!("m-1")));
        assert_eq!(e.task, Some(TaskId(4)));
        assert_eq!(e.anchors.as_slice(), &[3]);
        assert!(!e.need_task_ids);
        // task 0 means "not direct", as in Storm.
        let ShellMsg::Emit(e) = parse(r#"{"command":"emit","task":0,"tuple":[]}"#).unwrap() else {
            panic!()
        };
        assert_eq!(e.task, None);
    }

    #[test]
    fn other_commands() {
        assert_eq!(
            parse(r#"{"command":"ack","id":"12"}"#),
            Ok(ShellMsg::Ack(12))
        );
        assert_eq!(
            parse(r#"{"command":"fail","id":13}"#),
            Ok(ShellMsg::Fail(13))
        );
        assert_eq!(parse(r#"{"command":"sync"}"#), Ok(ShellMsg::Sync));
        assert_eq!(
            parse(r#"{"command":"log","msg":"hi","level":3}"#),
            Ok(ShellMsg::Log {
                level: LogLevel::Warn,
                msg: "hi".into()
            })
        );
        assert_eq!(
            parse(r#"{"command":"log","msg":"hi"}"#),
            Ok(ShellMsg::Log {
                level: LogLevel::Info,
                msg: "hi".into()
            })
        );
        assert_eq!(
            parse(r#"{"command":"error","msg":"bad"}"#),
            Ok(ShellMsg::Error("bad".into()))
        );
        assert_eq!(
            parse(r#"{"command":"metrics","name":"m","params":5}"#),
            Ok(ShellMsg::Metrics {
                name: "m".into(),
                params: serde_json::json!(5)
            })
        );
        assert_eq!(parse(r#"{"command":"exhausted"}"#), Ok(ShellMsg::Exhausted));
        assert_eq!(
            parse(r#"{"command":"dance"}"#),
            Ok(ShellMsg::Unknown("dance".into()))
        );
    }

    #[test]
    fn malformed_messages_say_what_and_which_command() {
        let e = parse(r#"{"command":"emit","tuple":"nope"}"#).unwrap_err();
        assert_eq!(e.command, "emit");
        assert!(e.detail.contains("array"), "{e:?}");
        let e = parse(r#"{"command":"emit"}"#).unwrap_err();
        assert!(e.detail.contains("tuple"), "{e:?}");
        let e = parse(r#"{"command":"ack","id":"x1"}"#).unwrap_err();
        assert!(e.detail.contains("\"x1\""), "{e:?}");
        let e = parse(r#"{"tuple":[]}"#).unwrap_err();
        assert_eq!(e.command, "?");
        assert!(e.detail.contains("no \"command\""));
        let e = parse("[1,2]").unwrap_err();
        assert!(e.detail.contains("JSON object"));
        let e = parse("not json").unwrap_err();
        assert_eq!(e.command, "?");
        let e = parse(r#"{"command":"emit","task":-2,"tuple":[]}"#).unwrap_err();
        assert!(e.detail.contains("task"), "{e:?}");
        let e = parse(r#"{"command":"metrics"}"#).unwrap_err();
        assert!(e.detail.contains("name"), "{e:?}");
    }

    #[test]
    fn pid_reply() {
        assert_eq!(parse_pid(br#"{"pid": 1234}"#), Ok(1234));
        assert!(parse_pid(br#"{"pid": "x"}"#).is_err());
        assert!(parse_pid(b"[1]").is_err());
    }

    #[test]
    fn writes_storm_shaped_messages() {
        let mut out = Vec::new();
        write_tuple(
            &mut out,
            5,
            Some("spout"),
            "default",
            3,
            &values!["a \"q\"", 1],
        )
        .unwrap();
        write_tuple(&mut out, 6, None, "__heartbeat", -1, &[]).unwrap();
        write_task_ids(&mut out, &[TaskId(2), TaskId(4)]).unwrap();
        write_command(&mut out, "next", None).unwrap();
        write_command(&mut out, "ack", Some(&serde_json::json!(17))).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"id\":\"5\",\"comp\":\"spout\",\"stream\":\"default\",\"task\":3,\"tuple\":[\"a \\\"q\\\"\",1]}\nend\n\
             {\"id\":\"6\",\"comp\":null,\"stream\":\"__heartbeat\",\"task\":-1,\"tuple\":[]}\nend\n\
             [2,4]\nend\n\
             {\"command\":\"next\",\"id\":\"\"}\nend\n\
             {\"command\":\"ack\",\"id\":17}\nend\n"
        );
    }
}
