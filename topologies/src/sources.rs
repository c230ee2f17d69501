//! Topologies built in Rust code, for YAML's `topologySource` (Flux's `getTopology`).

use squall_runtime::spec::{ComponentDef, GroupingDef, GroupingKind, StreamDef, TopologyDef};
use squall_runtime::{BuiltTopology, ComponentArgs, DEFAULT_STREAM, FactoryError, Registry};

use crate::{ExclamationBolt, FileSinkBolt, LineFileSpout, WordSpout};

/// Storm's exclamation topology (`topologies/exclamation.yaml`) built in Rust: `words`
/// -> `exclaim1` (2 executors) -> `exclaim2` (2 executors), shuffled.
///
/// constructorArgs, all optional: `[input, output]`. Without `input` the words come from
/// a [`WordSpout`] (forever); with it, from the lines of that file ([`LineFileSpout`],
/// finite). With `output`, a `sink` bolt ([`FileSinkBolt`], one task) appends every
/// `word!!!!!!` to that file.
///
/// Registered as `ExclamationTopology` by [`crate::register`]; it brings its own
/// component factories, so it works in any topology binary that registers it.
pub fn exclamation_topology(args: &ComponentArgs<'_>) -> Result<BuiltTopology, FactoryError> {
    let input = optional_str(args, 0, "input file path")?;
    let output = optional_str(args, 1, "output file path")?;
    let mut components = Registry::new();
    components.basic_bolt("ExclamationBolt", |_| Ok(ExclamationBolt));
    let spout = match input {
        Some(path) => {
            let path = path.to_string();
            components.spout("LineFileSpout", move |_| Ok(LineFileSpout::new(&path)));
            component("words", "LineFileSpout", 1)
        }
        None => {
            components.spout("WordSpout", |_| Ok(WordSpout::new()));
            component("words", "WordSpout", 1)
        }
    };
    let mut bolts = vec![
        component("exclaim1", "ExclamationBolt", 2),
        component("exclaim2", "ExclamationBolt", 2),
    ];
    let mut streams = vec![
        stream("words", "exclaim1", GroupingKind::Shuffle),
        stream("exclaim1", "exclaim2", GroupingKind::Shuffle),
    ];
    if let Some(path) = output {
        let path = path.to_string();
        components.bolt("FileSinkBolt", move |_| Ok(FileSinkBolt::new(&path)));
        let mut sink = component("sink", "FileSinkBolt", 1);
        // Flush an idle sink every second.
        sink.config
            .insert("topology.tick.tuple.freq.secs".into(), 1.into());
        bolts.push(sink);
        streams.push(stream("exclaim2", "sink", GroupingKind::Global));
    }
    let def = TopologyDef {
        name: "exclamation".to_string(),
        spouts: vec![spout],
        bolts,
        streams,
        ..TopologyDef::default()
    };
    Ok(BuiltTopology { def, components })
}

/// Argument `index` as a string, `None` when absent or null.
fn optional_str<'a>(
    args: &ComponentArgs<'a>,
    index: usize,
    what: &str,
) -> Result<Option<&'a str>, FactoryError> {
    match args.args().get(index) {
        Some(v) if !v.is_null() => args.str(index, what).map(Some),
        _ => Ok(None),
    }
}

fn component(id: &str, class_name: &str, parallelism: u32) -> ComponentDef {
    ComponentDef {
        id: id.to_string(),
        class_name: class_name.to_string(),
        parallelism,
        num_tasks: None,
        constructor_args: Vec::new(),
        config: Default::default(),
    }
}

fn stream(from: &str, to: &str, kind: GroupingKind) -> StreamDef {
    StreamDef {
        name: None,
        from: from.to_string(),
        to: to.to_string(),
        grouping: GroupingDef {
            kind,
            args: Vec::new(),
            stream_id: DEFAULT_STREAM.to_string(),
            custom_class: None,
        },
    }
}
