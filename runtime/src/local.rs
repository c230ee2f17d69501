//! Local mode: the whole topology in this process, one thread per executor, until a
//! duration ends or every spout is exhausted and every tuple processed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};
use serde::Serialize;

use crate::assemble::{Assembly, Executor, component_config, queue_capacity, topology_info};
use crate::error::RunError;
use crate::executor::{Gate, TickTarget, TickTimer};
use crate::ids::TaskId;
use crate::plan::TaskPlan;
use crate::registry::Registry;
use crate::run_state::RunState;
use crate::spec::{ComponentKind, ValidTopology};
use crate::stats::{ComponentReport, ComponentReports, LatencyReport, TaskStats};
use crate::transfer::{self, Envelope};
use crate::tuple::Values;

/// How long executors get to stop before they are abandoned.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Called about once a second with the totals so far and the time since start.
pub type ProgressFn<'a> = Box<dyn FnMut(&ComponentReports, Duration) + 'a>;

/// Options of a local run.
#[derive(Default)]
pub struct LocalOptions<'a> {
    /// Stop after this long; `None`: only when the topology completes.
    pub duration: Option<Duration>,
    /// Record every emitted tuple (for tests; costs a clone per emit).
    pub capture: bool,
    /// Progress callback (the CLI's live line).
    pub progress: Option<ProgressFn<'a>>,
    /// Stop (and report) on Ctrl-C / SIGINT instead of dying.
    pub stop_on_interrupt: bool,
}

/// What a local run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Topology name.
    pub topology: String,
    /// Totals per component id.
    pub components: ComponentReports,
    /// Wall time from start (after every component was opened) to stop.
    pub elapsed_secs: f64,
    /// Whether every spout was exhausted and every tuple processed.
    pub completed: bool,
    /// Emitted values per component and stream, when capturing.
    #[serde(skip)]
    pub captured: BTreeMap<String, BTreeMap<String, Vec<Values>>>,
}

impl RunReport {
    /// Values emitted by `component` on `stream` (empty if none or not capturing).
    pub fn emitted(&self, component: &str, stream: &str) -> &[Values] {
        self.captured
            .get(component)
            .and_then(|s| s.get(stream))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

fn reports(topo: &ValidTopology, stats: &[Arc<TaskStats>]) -> ComponentReports {
    let mut out: ComponentReports = topo
        .components
        .iter()
        .map(|c| (c.def.id.clone(), ComponentReport::new(c.kind, c.num_tasks)))
        .collect();
    let mut latencies: BTreeMap<&str, hdrhistogram::Histogram<u64>> = BTreeMap::new();
    for s in stats {
        if let Some(r) = out.get_mut(&s.component) {
            r.add(&s.snapshot());
            if let Some(e) = s.last_error() {
                r.last_error = Some(e);
            }
        }
        if let Some(h) = s.latency() {
            match latencies.get_mut(s.component.as_str()) {
                Some(all) => {
                    let _ = all.add(&h);
                }
                None => {
                    latencies.insert(&s.component, h);
                }
            }
        }
    }
    for (c, h) in latencies {
        if let Some(r) = out.get_mut(c) {
            r.complete_latency_ms = LatencyReport::from_micros(&h);
        }
    }
    out
}

struct Running {
    threads: Vec<(String, JoinHandle<()>)>,
    done: crossbeam_channel::Receiver<usize>,
    queues: Vec<Sender<Envelope>>,
    tick_stop: Option<Sender<()>>,
    tick_thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Stop every executor and wait (bounded) for their threads.
    fn stop(mut self, run: &RunState) {
        run.request_stop();
        for q in &self.queues {
            let _ = q.try_send(Envelope::Stop);
        }
        self.queues.clear();
        self.tick_stop.take();
        if let Some(t) = self.tick_thread.take() {
            let _ = t.join();
        }
        let deadline = Instant::now() + STOP_GRACE;
        let mut finished = vec![false; self.threads.len()];
        let mut left = self.threads.len();
        while left > 0 {
            match self.done.recv_deadline(deadline) {
                Ok(i) => {
                    finished[i] = true;
                    left -= 1;
                }
                Err(_) => break,
            }
        }
        for (i, (name, handle)) in self.threads.into_iter().enumerate() {
            if finished[i] {
                let _ = handle.join();
            } else {
                tracing::warn!(executor = %name, "executor did not stop within {STOP_GRACE:?}; abandoning it");
            }
        }
    }
}

/// Run `topo` in this process. Returns the totals per component; with
/// `options.capture`, also every emitted tuple.
pub fn run_local(
    registry: &Registry,
    topo: &ValidTopology,
    mut options: LocalOptions<'_>,
) -> Result<RunReport, RunError> {
    let plan = TaskPlan::new(topo);
    let spout_tasks: usize = topo
        .components
        .iter()
        .filter(|c| c.kind == ComponentKind::Spout)
        .map(|c| c.num_tasks as usize)
        .sum();
    let run = Arc::new(RunState::new(spout_tasks));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("squall-async")
        .enable_all()
        .build()?;

    // One bounded queue per executor.
    let mut receivers = Vec::new();
    let mut queues = Vec::new();
    let mut task_queues = BTreeMap::new();
    for e in &plan.executors {
        // System components (the acker) use the topology config.
        let config = topo
            .component(&e.component)
            .map(component_config)
            .unwrap_or_else(|| crate::Config::merged([&topo.config]));
        let (dest, inbox) = transfer::channel(queue_capacity(&config));
        for t in &e.tasks {
            task_queues.insert(*t, dest.clone());
        }
        queues.push(dest.queue.clone());
        receivers.push(inbox);
    }
    let worker_tasks: Arc<[TaskId]> = task_queues.keys().copied().collect();
    let assembly = Assembly {
        topo,
        plan: &plan,
        registry,
        run: run.clone(),
        task_queues,
        info: topology_info(topo, &plan),
        worker_tasks,
        capture: options.capture,
    };
    let mut executors = Vec::new();
    let mut stats = Vec::new();
    for (e, rx) in plan.executors.iter().zip(receivers) {
        let (exec, s) = assembly.executor(e, rx)?;
        executors.push((e, exec));
        stats.extend(s);
    }
    drop(assembly);

    // Tick targets: bolt executors whose component config asks for ticks.
    let start = Instant::now();
    let mut tick_targets = Vec::new();
    for (e, q) in plan.executors.iter().zip(&queues) {
        if let Some(c) = topo.component(&e.component) {
            let freq = component_config(c).settings().tick_tuple_freq_secs;
            if let (ComponentKind::Bolt, Some(f)) = (c.kind, freq) {
                tick_targets.push(TickTarget::new(q.clone(), f, start));
            }
        }
    }

    let gate = Arc::new(Gate::default());
    let (ready_tx, ready_rx) = bounded(executors.len().max(1));
    let (done_tx, done_rx) = bounded(executors.len().max(1));
    let mut threads = Vec::new();
    for (i, (e, exec)) in executors.into_iter().enumerate() {
        let name = format!(
            "{}-{}",
            e.component,
            e.tasks.first().map(|t| t.0).unwrap_or(0)
        );
        let (handle, ready, gate, done) = (
            rt.handle().clone(),
            ready_tx.clone(),
            gate.clone(),
            done_tx.clone(),
        );
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let report = ready.clone();
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match exec {
                    Executor::Spout(s) => s.run(handle, ready, gate),
                    Executor::Bolt(b) => b.run(handle, ready, gate),
                    Executor::Acker(a) => a.run(ready, gate),
                }));
                if let Err(p) = ran {
                    // A bug outside user code: make sure start-up does not wait forever.
                    let e = crate::ComponentError::from_panic(p.as_ref());
                    tracing::error!("executor thread panicked: {e}");
                    let _ = report.try_send(Err(RunError::Config(format!(
                        "executor thread panicked: {e}"
                    ))));
                }
                let _ = done.send(i);
            })?;
        threads.push((name, thread));
    }
    drop(ready_tx);
    let (tick_stop, tick_stop_rx) = bounded::<()>(1);
    let timer = TickTimer {
        targets: tick_targets,
        run: run.clone(),
        stop: tick_stop_rx,
    };
    let tick_thread = std::thread::Builder::new()
        .name("squall-ticks".into())
        .spawn(move || timer.run())?;
    let running = Running {
        threads,
        done: done_rx,
        queues,
        tick_stop: Some(tick_stop),
        tick_thread: Some(tick_thread),
    };

    // Wait until every executor has opened / prepared its tasks.
    let mut failure = None;
    for _ in 0..running.threads.len() {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failure = Some(e);
                break;
            }
            Err(_) => break,
        }
    }
    if let Some(e) = failure {
        gate.open(false);
        running.stop(&run);
        return Err(e);
    }
    gate.open(true);

    let start = Instant::now();
    let deadline = options.duration.map(|d| start + d);
    let mut next_progress = start + Duration::from_secs(1);
    if options.stop_on_interrupt {
        let run = run.clone();
        rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("interrupted: stopping");
                run.request_stop();
            }
        });
    }
    let completed = loop {
        if run.complete() {
            break true;
        }
        let now = Instant::now();
        if run.stopping() || deadline.is_some_and(|d| now >= d) {
            break false;
        }
        if now >= next_progress {
            if let Some(p) = options.progress.as_mut() {
                p(&reports(topo, &stats), now - start);
            }
            next_progress += Duration::from_secs(1);
        }
        let until = deadline.map_or(next_progress, |d| d.min(next_progress));
        run.wait(until);
    };
    let elapsed = start.elapsed();
    running.stop(&run);
    drop(rt);

    let mut captured: BTreeMap<String, BTreeMap<String, Vec<Values>>> = BTreeMap::new();
    if options.capture {
        for s in &stats {
            let mut cap = s.captured.lock().unwrap_or_else(|p| p.into_inner());
            for (stream, values) in cap.drain(..) {
                captured
                    .entry(s.component.clone())
                    .or_default()
                    .entry(stream)
                    .or_default()
                    .push(values);
            }
        }
    }
    Ok(RunReport {
        topology: topo.name.clone(),
        components: reports(topo, &stats),
        elapsed_secs: elapsed.as_secs_f64(),
        completed,
        captured,
    })
}
