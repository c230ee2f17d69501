//! The handshake message: `{"conf": {...}, "context": {...}, "pidDir": DIR}`, with the
//! context keys Storm sends (`task->component`, `taskid`, `componentid`, `streams`,
//! `stream->outputfields`, `stream->target->grouping`, `source->stream->grouping`,
//! `source->stream->fields`).

use std::path::Path;

use serde_json::{Map, Value as Json, json};

use crate::api::context::TopologyContext;
use crate::topology::yaml::Grouping;

/// A grouping as Storm's `groupingToJSONableMap` writes it (thrift union field names;
/// global grouping is a fields grouping on no fields).
fn grouping_json(grouping: &Grouping, source_fields: &[String]) -> Json {
    let names = |indices: &[usize]| -> Vec<&str> {
        indices
            .iter()
            .filter_map(|&i| source_fields.get(i).map(String::as_str))
            .collect()
    };
    match grouping {
        Grouping::Fields(i) => json!({"type": "FIELDS", "fields": names(i)}),
        Grouping::Global => json!({"type": "FIELDS", "fields": []}),
        Grouping::Shuffle => json!({"type": "SHUFFLE"}),
        Grouping::LocalOrShuffle => json!({"type": "LOCAL_OR_SHUFFLE"}),
        Grouping::All => json!({"type": "ALL"}),
        Grouping::None => json!({"type": "NONE"}),
        Grouping::Direct => json!({"type": "DIRECT"}),
        Grouping::PartialKey(_) => json!({"type": "CUSTOM_SERIALIZED"}),
    }
}

/// Insert `value` at `map[a][b]`, creating the inner map.
fn insert2(map: &mut Map<String, Json>, a: &str, b: &str, value: Json) {
    if let Json::Object(inner) = map
        .entry(a.to_string())
        .or_insert_with(|| Json::Object(Map::new()))
    {
        inner.insert(b.to_string(), value);
    }
}

/// The topology config as JSON (keys whose values JSON cannot hold are left out, with a
/// warning), with `topology.name` added as Storm does.
fn conf_json(ctx: &TopologyContext) -> Json {
    let mut conf = Map::new();
    for (k, v) in ctx.config().entries() {
        match serde_json::to_value(v) {
            Ok(j) => {
                conf.insert(k.clone(), j);
            }
            Err(e) => tracing::warn!(component = %ctx.this_component(), key = %k,
                "config value left out of the multi-lang handshake: {e}"),
        }
    }
    conf.entry("topology.name")
        .or_insert_with(|| Json::String(ctx.topology_name().to_string()));
    Json::Object(conf)
}

/// The context part of the handshake for this task.
fn context_json(ctx: &TopologyContext) -> Json {
    let me = ctx.this_component();
    let mut task_component = Map::new();
    for c in ctx.components() {
        for t in ctx.component_tasks(c) {
            task_component.insert(t.as_i64().to_string(), Json::String(c.to_string()));
        }
    }
    let mut streams = Vec::new();
    let mut output_fields = Map::new();
    for (stream, fields) in ctx.output_streams(me) {
        streams.push(Json::String(stream.to_string()));
        output_fields.insert(stream.to_string(), json!(fields.names()));
    }
    let mut targets = Map::new();
    let mut sources = Map::new();
    let mut source_fields = Map::new();
    for sub in ctx.subscriptions() {
        let fields = ctx
            .output_fields(&sub.from, &sub.stream)
            .map(|f| f.names().to_vec())
            .unwrap_or_default();
        let grouping = grouping_json(&sub.grouping, &fields);
        if sub.from == me {
            insert2(&mut targets, &sub.stream, &sub.to, grouping.clone());
        }
        if sub.to == me {
            insert2(&mut sources, &sub.from, &sub.stream, grouping);
            insert2(&mut source_fields, &sub.from, &sub.stream, json!(fields));
        }
    }
    json!({
        "task->component": task_component,
        "taskid": ctx.this_task().as_i64(),
        "componentid": me,
        "streams": streams,
        "stream->outputfields": output_fields,
        "stream->target->grouping": targets,
        "source->stream->grouping": sources,
        "source->stream->fields": source_fields,
    })
}

/// The whole handshake message.
pub(crate) fn handshake(ctx: &TopologyContext, pid_dir: &Path) -> Json {
    json!({
        "conf": conf_json(ctx),
        "context": context_json(ctx),
        "pidDir": pid_dir.to_string_lossy(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groupings_use_storm_names_and_field_names() {
        let fields = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            grouping_json(&Grouping::Fields(vec![1]), &fields),
            json!({"type": "FIELDS", "fields": ["b"]})
        );
        assert_eq!(
            grouping_json(&Grouping::Global, &fields),
            json!({"type": "FIELDS", "fields": []})
        );
        assert_eq!(
            grouping_json(&Grouping::LocalOrShuffle, &fields),
            json!({"type": "LOCAL_OR_SHUFFLE"})
        );
    }
}
