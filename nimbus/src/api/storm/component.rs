//! `GET /api/v1/topology/{id}/component/{component}?window=W&sys=1`: one component's
//! page: its figures for every window (`spoutSummary` / `boltStats`), per output
//! stream, per input (bolts), per executor, and its recent errors.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};
use squall_runtime::cluster::protocol::{
    ComponentRole, ComponentWindowStats, LatencyStats, TaskWindowStats, Window,
};

use super::cluster::user;
use super::format::{component_error, encode, float_str, mean, p99, pretty_secs, worker_log_link};
use super::topology::PageData;
use super::{StatsQuery, StormError, blocking, is_system};
use crate::api::AppState;
use crate::auth::Principal;

/// Storm's component page.
pub async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((id, component)): Path<(String, String)>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Value>, StormError> {
    let window = q.window()?;
    let sys = q.sys()?;
    let data = blocking(&state, move |c| PageData::read(c, &id)).await?;
    Ok(Json(render(&data, &component, window, sys, user(&who))?))
}

/// The page's JSON.
pub(super) fn render(
    d: &PageData,
    component: &str,
    window: Window,
    sys: bool,
    user: Value,
) -> Result<Value, StormError> {
    let m = d.window(window)?;
    let topology_id = d.info.summary.id.as_str();
    let c = m
        .components
        .get(component)
        .ok_or_else(|| StormError::NoComponent {
            topology: d.info.summary.name.clone(),
            component: component.to_string(),
        })?;
    let spout = c.kind == ComponentRole::Spout;
    let mut out = Map::new();
    let per_window: Vec<Value> = d
        .windows
        .iter()
        .filter_map(|w| Some((w.window, w.components.get(component)?)))
        .map(|(w, wc)| {
            if spout {
                spout_window(w, wc)
            } else {
                bolt_window(w, wc)
            }
        })
        .collect();
    let shown = |id: &str| sys || !is_system(id);
    let outputs: Vec<Value> = c
        .figures
        .outputs
        .iter()
        .filter(|o| shown(&o.stream))
        .map(|o| {
            let mut row = json!({
                "stream": o.stream,
                "emitted": o.emitted,
                "transferred": o.transferred,
            });
            if spout && let Some(r) = row.as_object_mut() {
                r.insert("completeLatency".into(), json!(mean(&o.complete_latency)));
                r.insert("completeLatencyP99".into(), json!(p99(&o.complete_latency)));
                r.insert("acked".into(), json!(o.acked));
                r.insert("failed".into(), json!(o.failed));
            }
            row
        })
        .collect();
    let executors = executor_rows(d, component, topology_id, m.tasks.as_slice(), spout);
    let mut errors = c.errors.clone();
    errors.sort_by_key(|e| e.error.time_ms);
    let errors: Vec<Value> = errors
        .iter()
        .map(|e| component_error(topology_id, e, d.now_secs))
        .collect();
    if spout {
        out.insert("spoutSummary".into(), json!(per_window));
    } else {
        out.insert("boltStats".into(), json!(per_window));
        let inputs: Vec<Value> = c
            .figures
            .inputs
            .iter()
            .filter(|i| shown(&i.component) && shown(&i.stream))
            .map(|i| {
                json!({
                    "component": i.component,
                    "encodedComponentId": encode(&i.component),
                    "stream": i.stream,
                    "executeLatency": mean(&i.execute_latency),
                    "executeLatencyP99": p99(&i.execute_latency),
                    "processLatency": mean(&i.process_latency),
                    "processLatencyP99": p99(&i.process_latency),
                    "executed": i.executed,
                    "acked": i.acked,
                    "failed": i.failed,
                })
            })
            .collect();
        out.insert("inputStats".into(), json!(inputs));
    }
    out.insert("outputStats".into(), json!(outputs));
    out.insert("executorStats".into(), json!(executors));
    out.insert("componentErrors".into(), json!(errors));
    let fixed = json!({
        "user": user,
        "id": component,
        "encodedId": encode(component),
        "name": d.info.summary.name,
        "executors": c.executors,
        "tasks": c.tasks,
        "requestedMemOnHeap": 0.0,
        "requestedMemOffHeap": 0.0,
        "requestedCpu": 0.0,
        "requestedGenericResources": "",
        "schedulerDisplayResource": false,
        "topologyId": topology_id,
        "topologyStatus": d.info.summary.status.to_string(),
        "encodedTopologyId": encode(topology_id),
        "window": window.storm_name(),
        "componentType": if spout { "spout" } else { "bolt" },
        "windowHint": window.pretty(),
        "debug": false,
        "samplingPct": 10.0,
        "profilingAndDebuggingCapable": false,
        "profileActionEnabled": false,
        "profilerActive": [],
    });
    if let Value::Object(f) = fixed {
        out.extend(f);
    }
    Ok(Value::Object(out))
}

fn spout_window(w: Window, c: &ComponentWindowStats) -> Value {
    let f = &c.figures;
    let last = c
        .errors
        .iter()
        .max_by_key(|e| e.error.time_ms)
        .map(|e| e.error.error.chars().take(200).collect::<String>())
        .unwrap_or_default();
    // Storm writes this one latency as a number (UIHelpers.getSpoutAggStatsMap).
    json!({
        "window": w.storm_name(),
        "windowPretty": w.pretty(),
        "emitted": f.emitted,
        "transferred": f.transferred,
        "acked": f.acked,
        "failed": f.failed,
        "completeLatency": f.complete_latency.mean_ms,
        "completeLatencyP99": f.complete_latency.p99_ms,
        "lastError": last,
    })
}

fn bolt_window(w: Window, c: &ComponentWindowStats) -> Value {
    let f = &c.figures;
    json!({
        "window": w.storm_name(),
        "windowPretty": w.pretty(),
        "emitted": f.emitted,
        "transferred": f.transferred,
        "acked": f.acked,
        "failed": f.failed,
        "executeLatency": mean(&f.execute_latency),
        "executeLatencyP99": p99(&f.execute_latency),
        "executed": f.executed,
        "processLatency": mean(&f.process_latency),
        "processLatencyP99": p99(&f.process_latency),
        "capacity": float_str(f.capacity),
    })
}

/// An executor's figures: its tasks' (one, unless numTasks > parallelism) put together.
#[derive(Debug, Default)]
struct ExecutorFigures {
    emitted: u64,
    transferred: u64,
    acked: u64,
    failed: u64,
    executed: u64,
    complete: LatencyStats,
    execute: LatencyStats,
    process: LatencyStats,
    /// Busy fraction of the executor: the sum of its tasks' (they share its thread).
    capacity: f64,
    queue_depth: u64,
    queue_capacity: u64,
}

/// Two tasks' latencies together: the mean weighted by samples; p50/p99/max the larger
/// (an upper bound; the histograms are not at hand here).
fn join(a: LatencyStats, b: &LatencyStats) -> LatencyStats {
    let samples = a.samples + b.samples;
    if samples == 0 {
        return LatencyStats::default();
    }
    let weighted = |x: f64, n: u64| x * n as f64;
    LatencyStats {
        samples,
        mean_ms: (weighted(a.mean_ms, a.samples) + weighted(b.mean_ms, b.samples)) / samples as f64,
        p50_ms: a.p50_ms.max(b.p50_ms),
        p99_ms: a.p99_ms.max(b.p99_ms),
        max_ms: a.max_ms.max(b.max_ms),
    }
}

impl ExecutorFigures {
    fn add(&mut self, t: &TaskWindowStats) {
        let f = &t.figures;
        self.emitted += f.emitted;
        self.transferred += f.transferred;
        self.acked += f.acked;
        self.failed += f.failed;
        self.executed += f.executed;
        self.complete = join(self.complete, &f.complete_latency);
        self.execute = join(self.execute, &f.execute_latency);
        self.process = join(self.process, &f.process_latency);
        self.capacity += f.capacity;
        // The queue is the executor's, shared by its tasks.
        self.queue_depth = self.queue_depth.max(f.backpressure.queue_depth);
        self.queue_capacity = self.queue_capacity.max(f.backpressure.queue_capacity);
    }
}

/// Storm's `executorStats`: every executor of the component in the assignment, with
/// its tasks' figures (zero until they report).
fn executor_rows(
    d: &PageData,
    component: &str,
    topology_id: &str,
    tasks: &[TaskWindowStats],
    spout: bool,
) -> Vec<Value> {
    let by_task: BTreeMap<u32, &TaskWindowStats> = tasks.iter().map(|t| (t.task, t)).collect();
    let mut rows = Vec::new();
    for w in &d.info.assignment {
        let uptime = d.worker_uptime(&w.supervisor, w.port);
        for [first, last] in &w.executors {
            if d.shape.task_components.get(first).map(String::as_str) != Some(component) {
                continue;
            }
            let mut f = ExecutorFigures::default();
            for task in *first..=*last {
                if let Some(t) = by_task.get(&task) {
                    f.add(t);
                }
            }
            let exec_id = format!("[{first}-{last}]");
            let mut row = json!({
                "id": exec_id,
                "encodedId": encode(&exec_id),
                "uptime": pretty_secs(uptime),
                "uptimeSeconds": uptime,
                "host": w.host,
                "port": w.port,
                "emitted": f.emitted,
                "transferred": f.transferred,
                "acked": f.acked,
                "failed": f.failed,
                "workerLogLink": worker_log_link(topology_id, &w.host, w.port),
            });
            if let Some(r) = row.as_object_mut() {
                if spout {
                    r.insert("completeLatency".into(), json!(mean(&f.complete)));
                    r.insert("completeLatencyP99".into(), json!(p99(&f.complete)));
                } else {
                    r.insert("capacity".into(), json!(float_str(f.capacity)));
                    r.insert("executeLatency".into(), json!(mean(&f.execute)));
                    r.insert("executeLatencyP99".into(), json!(p99(&f.execute)));
                    r.insert("executed".into(), json!(f.executed));
                    r.insert("processLatency".into(), json!(mean(&f.process)));
                    r.insert("processLatencyP99".into(), json!(p99(&f.process)));
                    r.insert("queueDepth".into(), json!(f.queue_depth));
                    r.insert("queueCapacity".into(), json!(f.queue_capacity));
                }
            }
            rows.push(row);
        }
    }
    rows
}
