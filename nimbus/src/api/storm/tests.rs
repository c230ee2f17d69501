//! The Storm API's pure parts: query parsing, and every page and row rendered from
//! full views compared with Storm's golden fixtures (the cluster tests check the same
//! on a real cluster, where some rows exist only once the workers report them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use squall_runtime::cluster::protocol::{
    ArtifactHash, ComponentError, ComponentRole, ComponentWindowStats, ErrorRecord,
    InputWindowStats, LatencyStats, OutputWindowStats, SlotState, TaskWindowStats, TopologyInfo,
    TopologyMetrics, TopologyStatus, TopologySummary, WindowFigures, WorkerAssignment,
    WorkerReport, WorkerView,
};

use super::topology::PageData;
use super::*;
use crate::cluster::TopologyShape;

#[path = "../../../tests/storm_api_compare/mod.rs"]
mod compare;

fn q(window: Option<&str>, sys: Option<&str>) -> StatsQuery {
    StatsQuery {
        window: window.map(str::to_string),
        sys: sys.map(str::to_string),
    }
}

#[test]
fn windows_default_to_all_time_and_bad_ones_are_refused() {
    assert_eq!(q(None, None).window().ok(), Some(Window::AllTime));
    assert_eq!(q(Some("600"), None).window().ok(), Some(Window::TenMinutes));
    assert_eq!(
        q(Some(":all-time"), None).window().ok(),
        Some(Window::AllTime)
    );
    let e = q(Some("601"), None).window().err().map(|e| e.status());
    assert_eq!(e, Some(400));
    assert_eq!(q(None, Some("1")).sys().ok(), Some(true));
    assert_eq!(q(None, Some("0")).sys().ok(), Some(false));
    assert_eq!(q(None, None).sys().ok(), Some(false));
    assert_eq!(
        q(None, Some("yes")).sys().err().map(|e| e.status()),
        Some(400)
    );
}

fn lat(ms: f64) -> LatencyStats {
    LatencyStats {
        samples: 10,
        mean_ms: ms,
        p50_ms: ms,
        p99_ms: ms * 2.0,
        max_ms: ms * 3.0,
    }
}

fn figures(spout: bool) -> WindowFigures {
    WindowFigures {
        emitted: 100,
        transferred: 100,
        executed: if spout { 0 } else { 100 },
        acked: 90,
        failed: 1,
        complete_latency: lat(if spout { 5.0 } else { 0.0 }),
        execute_latency: lat(0.5),
        process_latency: lat(0.7),
        capacity: 0.25,
        outputs: vec![
            OutputWindowStats {
                stream: "default".into(),
                emitted: 100,
                transferred: 100,
                complete_latency: lat(5.0),
                ..Default::default()
            },
            OutputWindowStats {
                stream: "__ack_init".into(),
                emitted: 100,
                transferred: 100,
                ..Default::default()
            },
        ],
        inputs: if spout {
            Vec::new()
        } else {
            vec![InputWindowStats {
                component: "words".into(),
                stream: "default".into(),
                executed: 100,
                acked: 90,
                failed: 1,
                execute_latency: lat(0.5),
                process_latency: lat(0.7),
            }]
        },
        ..Default::default()
    }
}

/// A topology `wc` (spout `words` task 1, bolt `split` tasks 2-3 in one executor, the
/// acker task 4) on one worker, its bolt with an error.
fn page() -> PageData {
    let summary = TopologySummary {
        name: "wc".into(),
        id: "wc-1-1700000000".into(),
        status: TopologyStatus::Active,
        num_workers: 1,
        assigned_workers: 1,
        num_tasks: 4,
        num_executors: 3,
        uptime_secs: 65,
    };
    let info = TopologyInfo {
        summary,
        artifact: ArtifactHash::of_bytes(b"artifact"),
        submitted_at: 1_700_000_000,
        parallelism: BTreeMap::new(),
        kill_deadline_ms: None,
        rebalance_deadline_ms: None,
        components: BTreeMap::new(),
        assignment: vec![WorkerAssignment {
            supervisor: "s1".into(),
            host: "h1".into(),
            port: 6700,
            executors: vec![[1, 1], [2, 3], [4, 4]],
        }],
        workers: vec![WorkerView {
            supervisor: "s1".into(),
            report: WorkerReport {
                port: 6700,
                topology: "wc".into(),
                pid: Some(1),
                state: SlotState::Running,
                uptime_secs: 61,
                restarts: 0,
                last_exit: None,
                rss_bytes: None,
                cpu_ms: None,
                restart_history: Vec::new(),
            },
        }],
        tasks: Vec::new(),
    };
    let task_components: BTreeMap<u32, String> =
        [(1, "words"), (2, "split"), (3, "split"), (4, "__acker")]
            .into_iter()
            .map(|(t, c)| (t, c.to_string()))
            .collect();
    let shape = TopologyShape {
        name: "wc".into(),
        id: "wc-1-1700000000".into(),
        owner: Some("alice".into()),
        message_timeout_secs: 30,
        config: [("topology.workers".to_string(), json!(1))]
            .into_iter()
            .collect(),
        task_components: task_components.clone(),
        streams: vec![crate::cluster::StreamEdge {
            from: "words".into(),
            to: "split".into(),
            stream: "default".into(),
            grouping: "fields".into(),
            fields: vec!["word".into()],
        }],
    };
    let component = |kind, spout: bool, tasks, executors, errors| ComponentWindowStats {
        kind,
        tasks,
        executors,
        figures: figures(spout),
        errors,
    };
    let error = ComponentError {
        task: 2,
        host: "h1".into(),
        port: 6700,
        error: ErrorRecord {
            time_ms: 1_700_000_050_000,
            error: "no field word".into(),
        },
    };
    let windows = Window::ALL
        .iter()
        .map(|w| TopologyMetrics {
            name: "wc".into(),
            id: "wc-1-1700000000".into(),
            status: TopologyStatus::Active,
            window: *w,
            window_secs: 65,
            topology: figures(true),
            components: [
                (
                    "words".to_string(),
                    component(ComponentRole::Spout, true, 1, 1, vec![]),
                ),
                (
                    "split".to_string(),
                    component(ComponentRole::Bolt, false, 2, 1, vec![error.clone()]),
                ),
                (
                    "__acker".to_string(),
                    component(ComponentRole::Acker, false, 1, 1, vec![]),
                ),
            ]
            .into_iter()
            .collect(),
            tasks: task_components
                .iter()
                .map(|(t, c)| TaskWindowStats {
                    task: *t,
                    component: c.clone(),
                    supervisor: "s1".into(),
                    host: "h1".into(),
                    port: 6700,
                    uptime_secs: 61,
                    figures: figures(c == "words"),
                })
                .collect(),
            user_metrics: Vec::new(),
        })
        .collect();
    PageData {
        info,
        shape,
        windows,
        now_secs: 1_700_000_065,
    }
}

#[test]
fn the_topology_page_has_storm_s_shape_and_hides_the_acker_without_sys() {
    let d = page();
    let v = super::topology::render(&d, Window::TenMinutes, false, Value::Null).unwrap();
    compare::assert_matches("topology.json", &v);
    let bolts: Vec<&str> = v["bolts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["boltId"].as_str().unwrap())
        .collect();
    assert_eq!(bolts, ["split"]);
    assert_eq!(v["bolts"][0]["lastError"], "no field word");
    assert_eq!(v["bolts"][0]["errorTime"], 1_700_000_050);
    assert_eq!(v["bolts"][0]["errorLapsedSecs"], 15);
    assert_eq!(v["bolts"][0]["capacity"], "0.250");
    assert_eq!(v["bolts"][0]["executeLatencyP99"], "1.000");
    assert_eq!(v["spouts"][0]["completeLatency"], "5.000");
    assert_eq!(v["window"], "600");
    assert_eq!(v["windowHint"], "10m 0s");
    let windows: Vec<&str> = v["topologyStats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["window"].as_str().unwrap())
        .collect();
    assert_eq!(windows, ["600", "10800", "86400", ":all-time"]);
    assert_eq!(
        v["workers"][0]["componentNumTasks"],
        json!({"words": 1, "split": 2, "__acker": 1})
    );
    assert_eq!(v["workers"][0]["uptimeSeconds"], 61);
    assert_eq!(v["uptime"], "1m 5s");
    let with_sys = super::topology::render(&d, Window::AllTime, true, Value::Null).unwrap();
    assert_eq!(with_sys["bolts"].as_array().unwrap().len(), 2, "{with_sys}");
}

#[test]
fn component_pages_have_storm_s_shape() {
    let d = page();
    let spout = super::component::render(&d, "words", Window::AllTime, false, Value::Null).unwrap();
    compare::assert_matches("component-spout.json", &spout);
    assert_eq!(spout["componentType"], "spout");
    // System streams only with sys=1.
    assert_eq!(spout["outputStats"].as_array().unwrap().len(), 1);
    let spout_sys =
        super::component::render(&d, "words", Window::AllTime, true, Value::Null).unwrap();
    assert_eq!(spout_sys["outputStats"].as_array().unwrap().len(), 2);
    let bolt =
        super::component::render(&d, "split", Window::TenMinutes, false, Value::Null).unwrap();
    compare::assert_matches("component-bolt.json", &bolt);
    assert_eq!(bolt["componentType"], "bolt");
    assert_eq!(bolt["window"], "600");
    assert_eq!(bolt["boltStats"].as_array().unwrap().len(), 4);
    // One executor running tasks 2 and 3: counts summed, capacity summed.
    let e = &bolt["executorStats"][0];
    assert_eq!(e["id"], "[2-3]");
    assert_eq!(e["executed"], 200);
    assert_eq!(e["capacity"], "0.500");
    assert_eq!(e["executeLatency"], "0.500");
    assert_eq!(bolt["componentErrors"][0]["error"], "no field word");
    assert_eq!(bolt["componentErrors"][0]["errorPort"], 6700);
    let missing = super::component::render(&d, "nope", Window::AllTime, false, Value::Null);
    assert!(matches!(missing, Err(StormError::NoComponent { .. })));
}

#[test]
fn the_comparison_finds_missing_keys_wrong_types_and_unlisted_extras() {
    let ok = compare::fixture("topology-kill.json");
    assert!(compare::differences("topology-kill.json", &ok).is_empty());
    let mut wrong = ok.clone();
    wrong["status"] = json!(1);
    wrong["extra"] = json!(true);
    wrong.as_object_mut().unwrap().remove("topologyId");
    let d = compare::differences("topology-kill.json", &wrong);
    assert_eq!(d.len(), 3, "{d:?}");
    // Into arrays' first elements, and null in the fixture accepts any type.
    let mut t = compare::fixture("topology.json");
    t["spouts"][0]["errorPort"] = json!(6700);
    assert!(compare::differences("topology.json", &t).is_empty());
    t["spouts"][0]["completeLatency"] = json!(0.5);
    assert_eq!(compare::differences("topology.json", &t).len(), 1);
}

#[test]
fn the_visualization_has_storm_s_shape_with_edges_groupings_and_rates() {
    let d = page();
    let v = super::visualization::render(&d, Window::TenMinutes, false).unwrap();
    let ids: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(ids, ["split", "words"], "no acker without sys: {v}");
    let split = &v["split"];
    assert_eq!(split[":type"], "bolt");
    assert_eq!(split[":capacity"], 0.25);
    assert_eq!(split[":latency"], 0.7);
    assert_eq!(split[":backpressure"], false);
    assert_eq!(
        split[":link"],
        "/#/topology/wc-1-1700000000/component/split"
    );
    let input = &split[":inputs"][0];
    assert_eq!(input[":component"], "words");
    assert_eq!(input[":stream"], "default");
    assert_eq!(input[":grouping"], "fields");
    assert_eq!(input[":grouping-fields"], json!(["word"]));
    assert_eq!(input[":executed"], 100);
    // 100 executed over the 65 s the window covers.
    let rate = input[":rate"].as_f64().unwrap();
    assert!((rate - 100.0 / 65.0).abs() < 1e-9, "{rate}");
    assert!(
        input[":sani-stream"]
            .as_str()
            .unwrap()
            .starts_with("default")
    );
    assert_eq!(v["words"][":type"], "spout");
    assert_eq!(v["words"][":latency"], 5.0);
    assert_eq!(v["words"][":inputs"], json!([]));
    // Two tasks of `split` on one worker: one stats row with their transfers summed.
    assert_eq!(split[":stats"][0][":port"], 6700);
    assert_eq!(split[":stats"][0][":transferred"], 200);
    let with_sys = super::visualization::render(&d, Window::AllTime, true).unwrap();
    assert!(with_sys.get("__acker").is_some(), "{with_sys}");
}

#[test]
fn a_full_queue_or_blocked_senders_is_backpressure() {
    let mut c = ComponentWindowStats {
        kind: ComponentRole::Bolt,
        tasks: 1,
        executors: 1,
        figures: figures(false),
        errors: Vec::new(),
    };
    assert!(!super::visualization::backpressure(&c));
    c.figures.backpressure.queue_capacity = 1024;
    c.figures.backpressure.queue_depth = 1024;
    assert!(super::visualization::backpressure(&c));
    c.figures.backpressure.queue_depth = 3;
    c.figures.backpressure.upstream_blocked_ms = 12.5;
    assert!(super::visualization::backpressure(&c));
}
