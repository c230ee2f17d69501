//! Whole-topology tests: a valid round trip, and many errors reported at once.

use super::*;

const VALID: &str = "\
name: word-count
config:
  topology.workers: 2
  topology.debug: false
spouts:
  - id: multi
    className: MultiSpout
    parallelism: 2
bolts:
  - id: split
    className: SplitBolt
    parallelism: 3
    numTasks: 6
    constructorArgs: [' ']
    config:
      topology.debug: true
  - id: count
    className: CountBolt
    parallelism: 4
    numTasks: 2
  - id: audit
    className: SinkBolt
streams:
  - name: sentences
    from: multi
    to: split
    grouping:
      type: FIELDS
      args: [sentence, id]
  - from: split
    to: count
    grouping: {type: PARTIAL_KEY, args: [word]}
  - from: multi
    to: audit
    grouping: {type: DIRECT, streamId: ctrl}
  - from: multi
    to: audit
    grouping: {type: ALL, streamId: errors}
  - from: count
    to: audit
    grouping: {type: GLOBAL}
";

fn yaml(v: &str) -> serde_yaml::Value {
    serde_yaml::from_str(v).unwrap()
}

#[test]
fn valid_topology_round_trip() {
    let parsed = parse_str(VALID, None).unwrap();
    let topo = validate(&parsed, &FakeCatalog).unwrap();
    assert_eq!(topo.name, "word-count");
    let ids: Vec<&str> = topo.components.iter().map(|c| c.def.id.as_str()).collect();
    assert_eq!(ids, ["audit", "count", "multi", "split"]);

    let multi = topo.component("multi").unwrap();
    assert_eq!(multi.kind, ComponentKind::Spout);
    assert_eq!((multi.num_tasks, multi.num_executors), (2, 2));
    assert_eq!(multi.streams.len(), 3);
    let split = topo.component("split").unwrap();
    assert_eq!(split.kind, ComponentKind::Bolt);
    assert_eq!((split.num_tasks, split.num_executors), (6, 3));
    let count = topo.component("count").unwrap();
    assert_eq!((count.num_tasks, count.num_executors), (2, 2));
    let audit = topo.component("audit").unwrap();
    assert_eq!((audit.num_tasks, audit.num_executors), (1, 1));

    // merged config: component over topology
    assert_eq!(split.config.get("topology.debug"), Some(&yaml("true")));
    assert_eq!(split.config.get("topology.workers"), Some(&yaml("2")));
    assert_eq!(count.config.get("topology.debug"), Some(&yaml("false")));
    assert_eq!(topo.config.get("topology.debug"), Some(&yaml("false")));

    let subs: Vec<(&str, &str, &str, &Grouping)> = topo
        .subscriptions
        .iter()
        .map(|s| {
            (
                s.from.as_str(),
                s.stream.as_str(),
                s.to.as_str(),
                &s.grouping,
            )
        })
        .collect();
    assert_eq!(
        subs,
        [
            ("multi", "default", "split", &Grouping::Fields(vec![1, 0])),
            ("split", "default", "count", &Grouping::PartialKey(vec![0])),
            ("multi", "ctrl", "audit", &Grouping::Direct),
            ("multi", "errors", "audit", &Grouping::All),
            ("count", "default", "audit", &Grouping::Global),
        ]
    );
}

#[test]
fn other_groupings_map_one_to_one() {
    let text = "name: g\nspouts:\n  - id: s\n    className: WordSpout\nbolts:\n  - id: a\n    className: SinkBolt\n  - id: b\n    className: SinkBolt\n  - id: c\n    className: SinkBolt\nstreams:\n  - {from: s, to: a, grouping: {type: SHUFFLE}}\n  - {from: s, to: b, grouping: {type: LOCAL_OR_SHUFFLE}}\n  - {from: s, to: c, grouping: {type: NONE}}\n";
    let topo = validate(&parse_str(text, None).unwrap(), &FakeCatalog).unwrap();
    let groupings: Vec<&Grouping> = topo.subscriptions.iter().map(|s| &s.grouping).collect();
    assert_eq!(
        groupings,
        [
            &Grouping::Shuffle,
            &Grouping::LocalOrShuffle,
            &Grouping::None
        ]
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let text = "\
config:
  topology.workers: -1
spouts:
  - id: s
    className: NoSuchSpout
  - id: s
    className: WordSpout
    parallelism: 0
bolts:
  - id: b
    className: CountBolt
    numTasks: 0
streams:
  - from: s
    to: nowhere
    grouping: {type: SHUFFLE}
  - from: b
    to: b
    grouping: {type: FIELDS, args: [nope]}
  - from: ghost
    to: b
    grouping: {type: CUSTOM}
";
    let errs = errors(text);
    let got: Vec<(String, usize)> = errs
        .iter()
        .map(|e| (e.path.clone(), e.location.map_or(0, |l| l.line)))
        .collect();
    let want = [
        ("name", 1),
        ("config.topology.workers", 2),
        ("spouts[0].className", 5),
        ("spouts[1].id", 6),
        ("spouts[1].parallelism", 8),
        ("bolts[0].numTasks", 12),
        ("streams[0].to", 15),
        ("streams[1]", 17),
        ("streams[1].grouping.args[0]", 19),
        ("streams[2].from", 20),
        ("streams[2].grouping.type", 22),
    ];
    let want: Vec<(String, usize)> = want.iter().map(|(p, l)| (p.to_string(), *l)).collect();
    assert_eq!(got, want, "{}", SpecErrors(errs.clone()));
    assert!(
        errs[3]
            .message
            .contains("duplicate component id 's' (first declared at line 4")
    );
    assert!(
        errs[7]
            .message
            .contains("cycle in the component graph: b -> b")
    );
}
