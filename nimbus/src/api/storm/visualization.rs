//! `GET /api/v1/topology/{id}/visualization?window=W&sys=1`: the topology's DAG as
//! Storm's UI draws it (`UIHelpers.getVisualizationData`): one entry per component,
//! keyed by its id, with `":type"`, `":capacity"`, `":latency"`, `":transferred"`,
//! `":stats"` (per worker), `":link"` and `":inputs"` (one per subscription: the
//! source `":component"`, `":stream"`, `":sani-stream"`, `":grouping"`).
//!
//! Squall adds, per component, `":backpressure"` (its input queue was full or senders
//! were blocked on it in the window), `":queue-depth"`, `":queue-capacity"`,
//! `":upstream-blocked-ms"`; and per input `":grouping-fields"`, `":executed"` (in the
//! window) and `":rate"` (executed per second over the window).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Map, Value, json};
use squall_runtime::cluster::protocol::{ComponentRole, ComponentWindowStats, Window};

use super::format::encode;
use super::topology::PageData;
use super::{StatsQuery, StormError, blocking, is_system};
use crate::api::AppState;

/// Storm's visualization data.
pub async fn visualization(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Value>, StormError> {
    let window = q.window()?;
    let sys = q.sys()?;
    let data = blocking(&state, move |c| PageData::read(c, &id)).await?;
    Ok(Json(render(&data, window, sys)?))
}

/// Whether `c` pushed back on its inputs in the window: senders were blocked on its
/// full queue, or the queue is full at the latest report.
pub fn backpressure(c: &ComponentWindowStats) -> bool {
    let b = &c.figures.backpressure;
    b.upstream_blocked_ms > 0.0 || (b.queue_capacity > 0 && b.queue_depth >= b.queue_capacity)
}

/// Storm's sanitized stream id: the stream id's word characters and a hash, so that it
/// can name a CSS class or a DOM id.
fn sanitized(stream: &str) -> String {
    let word: String = stream
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    // FNV-1a, stable across runs (Storm uses Java's String.hashCode).
    let hash = stream.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{word}{hash}")
}

/// The visualization's JSON.
pub(super) fn render(d: &PageData, window: Window, sys: bool) -> Result<Value, StormError> {
    let m = d.window(window)?;
    let topology_id = d.info.summary.id.as_str();
    let secs = m.window_secs.max(1) as f64;
    let mut out = Map::new();
    for (cid, c) in &m.components {
        if !sys && is_system(cid) {
            continue;
        }
        let spout = c.kind == ComponentRole::Spout;
        let f = &c.figures;
        let latency = if spout {
            f.complete_latency.mean_ms
        } else {
            f.process_latency.mean_ms
        };
        // Per worker: the transferred count of the component's tasks there.
        let mut per_worker: BTreeMap<(String, u16), (u64, u64)> = BTreeMap::new();
        for t in m.tasks.iter().filter(|t| t.component == *cid) {
            let e = per_worker
                .entry((t.host.clone(), t.port))
                .or_insert((t.uptime_secs, 0));
            e.1 += t.figures.transferred;
        }
        let stats: Vec<Value> = per_worker
            .into_iter()
            .map(|((host, port), (uptime, transferred))| {
                json!({
                    ":host": host,
                    ":port": port,
                    ":uptime_secs": uptime,
                    ":transferred": transferred,
                })
            })
            .collect();
        let inputs: Vec<Value> = d
            .shape
            .streams
            .iter()
            .filter(|s| s.to == *cid && (sys || !is_system(&s.from)))
            .map(|s| {
                let executed = f
                    .inputs
                    .iter()
                    .filter(|i| i.component == s.from && i.stream == s.stream)
                    .map(|i| i.executed)
                    .sum::<u64>();
                json!({
                    ":component": s.from,
                    ":stream": s.stream,
                    ":sani-stream": sanitized(&s.stream),
                    ":grouping": s.grouping,
                    ":grouping-fields": s.fields,
                    ":executed": executed,
                    ":rate": executed as f64 / secs,
                })
            })
            .collect();
        out.insert(
            cid.clone(),
            json!({
                ":type": if spout { "spout" } else { "bolt" },
                ":capacity": f.capacity,
                ":latency": latency,
                ":transferred": f.transferred,
                ":stats": stats,
                // The component's page in nimbus's web UI (Storm: `/component.html?...`).
                ":link": format!(
                    "/#/topology/{}/component/{}",
                    encode(topology_id),
                    encode(cid)
                ),
                ":inputs": inputs,
                ":backpressure": backpressure(c),
                ":queue-depth": f.backpressure.queue_depth,
                ":queue-capacity": f.backpressure.queue_capacity,
                ":upstream-blocked-ms": f.backpressure.upstream_blocked_ms,
            }),
        );
    }
    Ok(Value::Object(out))
}
