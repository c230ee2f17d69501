//! `GET /api/v1/topology/{id}?window=W&sys=1`: a topology's page: its summary,
//! `topologyStats` for every window, its workers, and its spouts and bolts over the
//! window asked for (`__acker` only with `sys=1`).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};
use squall_runtime::cluster::protocol::{
    ComponentRole, ComponentWindowStats, TopologyInfo, TopologyMetrics, Window,
};

use super::cluster::user;
use super::format::{
    VERSION, encode, float_str, last_error_fields, mean, p99, pretty_secs, worker_summary,
};
use super::{StatsQuery, StormError, blocking, is_system};
use crate::api::AppState;
use crate::auth::Principal;
use crate::cluster::{Cluster, TopologyShape};
use crate::error::ClusterError;

/// Everything a topology or component page is built from, read at one moment.
#[derive(Debug)]
pub struct PageData {
    /// Status view: summary, assignment, worker reports.
    pub info: TopologyInfo,
    /// Owner, timeout, configuration, task components.
    pub shape: TopologyShape,
    /// The metrics of every window, shortest first.
    pub windows: Vec<TopologyMetrics>,
    /// Now, unix seconds.
    pub now_secs: u64,
}

impl PageData {
    /// Read topology `name_or_id`'s page data.
    pub fn read(c: &Cluster, name_or_id: &str) -> Result<PageData, ClusterError> {
        let name = c.resolve(name_or_id)?;
        let now_ms = c.wall_millis();
        let info = c.status(&name, now_ms)?;
        let shape = c.shape(&name)?;
        let windows = Window::ALL
            .iter()
            .map(|w| c.metrics(&name, *w, now_ms))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PageData {
            info,
            shape,
            windows,
            now_secs: now_ms / 1000,
        })
    }

    /// The metrics of `window`.
    pub fn window(&self, window: Window) -> Result<&TopologyMetrics, ClusterError> {
        self.windows
            .iter()
            .find(|m| m.window == window)
            .ok_or_else(|| ClusterError::Internal(format!("no metrics for window {window}")))
    }

    /// Seconds the worker at `supervisor:port` has run (0 before its first report).
    pub fn worker_uptime(&self, supervisor: &str, port: u16) -> u64 {
        self.info
            .workers
            .iter()
            .find(|w| w.supervisor == supervisor && w.report.port == port)
            .map_or(0, |w| w.report.uptime_secs)
    }
}

/// Storm's topology page.
pub async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Value>, StormError> {
    let window = q.window()?;
    let sys = q.sys()?;
    let data = blocking(&state, move |c| PageData::read(c, &id)).await?;
    Ok(Json(render(&data, window, sys, user(&who))?))
}

/// The page's JSON.
pub(super) fn render(
    d: &PageData,
    window: Window,
    sys: bool,
    user: Value,
) -> Result<Value, ClusterError> {
    let s = &d.info.summary;
    let id = s.id.as_str();
    let m = d.window(window)?;
    let topology_stats: Vec<Value> = d
        .windows
        .iter()
        .map(|w| {
            json!({
                "windowPretty": w.window.pretty(),
                "window": w.window.storm_name(),
                "emitted": w.topology.emitted,
                "transferred": w.topology.transferred,
                "completeLatency": mean(&w.topology.complete_latency),
                "completeLatencyP99": p99(&w.topology.complete_latency),
                "acked": w.topology.acked,
                "failed": w.topology.failed,
            })
        })
        .collect();
    let workers: Vec<Value> = d
        .info
        .assignment
        .iter()
        .map(|w| {
            worker_summary(
                w,
                (&s.name, id),
                d.shape.owner.as_deref(),
                d.worker_uptime(&w.supervisor, w.port),
                &d.shape.task_components,
            )
        })
        .collect();
    let mut spouts = Vec::new();
    let mut bolts = Vec::new();
    for (cid, c) in &m.components {
        match c.kind {
            ComponentRole::Spout => spouts.push(spout_row(cid, c, id, d.now_secs)),
            ComponentRole::Bolt => bolts.push(bolt_row(cid, c, id, d.now_secs)),
            ComponentRole::Acker if sys || !is_system(cid) => {
                bolts.push(bolt_row(cid, c, id, d.now_secs));
            }
            ComponentRole::Acker => {}
        }
    }
    let mut configuration: BTreeMap<String, Value> = d
        .shape
        .config
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    configuration.insert(
        "topology.message.timeout.secs".into(),
        json!(d.shape.message_timeout_secs),
    );
    configuration.insert("storm.id".into(), json!(id));
    configuration.insert("topology.name".into(), json!(s.name));
    Ok(json!({
        "user": user,
        "id": id,
        "encodedId": encode(id),
        "owner": d.shape.owner,
        "name": s.name,
        "status": s.status.to_string(),
        "uptime": pretty_secs(s.uptime_secs),
        "uptimeSeconds": s.uptime_secs,
        "tasksTotal": s.num_tasks,
        "workersTotal": s.assigned_workers,
        "executorsTotal": s.num_executors,
        "schedulerInfo": null,
        "requestedMemOnHeap": 0.0,
        "requestedMemOffHeap": 0.0,
        "requestedCpu": 0.0,
        "requestedTotalMem": 0.0,
        "assignedMemOnHeap": 0.0,
        "assignedMemOffHeap": 0.0,
        "assignedTotalMem": 0.0,
        "assignedCpu": 0.0,
        "topologyStats": topology_stats,
        "workers": workers,
        "spouts": spouts,
        "bolts": bolts,
        "configuration": configuration,
        "debug": false,
        "samplingPct": 10.0,
        "replicationCount": 1,
        "topologyVersion": null,
        "stormVersion": VERSION,
        "window": window.storm_name(),
        "windowHint": window.pretty(),
        "msgTimeout": d.shape.message_timeout_secs,
        "visualizationTable": [],
        "schedulerDisplayResource": false,
        "bugtracker-url": null,
        "central-log-url": null,
    }))
}

/// Fields every component row shares.
fn common(c: &ComponentWindowStats) -> Map<String, Value> {
    let f = &c.figures;
    let mut m = Map::new();
    m.insert("executors".into(), json!(c.executors));
    m.insert("tasks".into(), json!(c.tasks));
    m.insert("emitted".into(), json!(f.emitted));
    m.insert("transferred".into(), json!(f.transferred));
    m.insert("acked".into(), json!(f.acked));
    m.insert("failed".into(), json!(f.failed));
    m
}

fn spout_row(cid: &str, c: &ComponentWindowStats, topology_id: &str, now_secs: u64) -> Value {
    let mut m = common(c);
    m.insert("spoutId".into(), json!(cid));
    m.insert("encodedSpoutId".into(), json!(encode(cid)));
    m.insert(
        "completeLatency".into(),
        json!(mean(&c.figures.complete_latency)),
    );
    m.insert(
        "completeLatencyP99".into(),
        json!(p99(&c.figures.complete_latency)),
    );
    last_error_fields(&mut m, topology_id, &c.errors, now_secs);
    Value::Object(m)
}

fn bolt_row(cid: &str, c: &ComponentWindowStats, topology_id: &str, now_secs: u64) -> Value {
    let f = &c.figures;
    let mut m = common(c);
    m.insert("boltId".into(), json!(cid));
    m.insert("encodedBoltId".into(), json!(encode(cid)));
    m.insert("capacity".into(), json!(float_str(f.capacity)));
    m.insert("executeLatency".into(), json!(mean(&f.execute_latency)));
    m.insert("executeLatencyP99".into(), json!(p99(&f.execute_latency)));
    m.insert("executed".into(), json!(f.executed));
    m.insert("processLatency".into(), json!(mean(&f.process_latency)));
    m.insert("processLatencyP99".into(), json!(p99(&f.process_latency)));
    m.insert("queueDepth".into(), json!(f.backpressure.queue_depth));
    m.insert("queueCapacity".into(), json!(f.backpressure.queue_capacity));
    m.insert(
        "upstreamBlockedMs".into(),
        json!(float_str(f.backpressure.upstream_blocked_ms)),
    );
    last_error_fields(&mut m, topology_id, &c.errors, now_secs);
    Value::Object(m)
}
