//! The shell bolt: a bolt whose logic runs in a subprocess (Storm's `ShellBolt`).
//!
//! `execute` gives each input an id, keeps it (its tuple-tree ids) until the subprocess
//! acks or fails that id, and queues the values for the writer thread; the subprocess
//! answers asynchronously (emits anchored to any pending inputs, acks, fails, logs),
//! and its messages are applied on the executor thread, in `execute` and whenever the
//! reader wakes the executor ([`crate::Bolt::wake`]). `execute` blocks only while
//! `topology.shellbolt.max.pending` tuples wait to be written, and keeps applying the
//! subprocess's messages meanwhile.
//!
//! When the subprocess dies, hangs or breaks the protocol, the bolt does not die with
//! it: the subprocess is killed, every input it still held is failed (so spouts replay
//! them), the error is reported with the exit status and the end of its stderr, and a
//! new subprocess is started (after a short backoff) for the next input.

use std::time::Duration;

use crossbeam_channel::Select;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::error::ShellError;
use super::host::Host;
use super::process::{Event, Outgoing, Subprocess};
use super::protocol::{EmitMsg, ShellMsg};
use super::restart::Restarts;
use super::spec::ShellSpec;
use crate::api::collector::BoltCollector;
use crate::api::component::Bolt;
use crate::api::context::{TopologyContext, Waker};
use crate::api::declare::OutputDeclarer;
use crate::api::error::{ComponentError, FactoryError};
use crate::api::ids::TaskId;
use crate::api::registry::ComponentArgs;
use crate::api::tuple::{Tuple, Values};

/// An input the subprocess has not acked or failed yet: its tuple-tree ids (the values
/// went to the subprocess).
#[derive(Debug)]
struct Pending {
    tuple: Tuple,
    /// Counted as in flight until acked or failed (not ticks).
    held: bool,
}

/// A bolt implemented by a subprocess speaking Storm's multi-lang protocol.
///
/// Registered as `ShellBolt` and under Storm's names
/// (`org.apache.storm.flux.wrappers.bolts.FluxShellBolt`,
/// `org.apache.storm.task.ShellBolt`) by [`super::register`]; its constructor arguments
/// are described at [`ShellSpec`].
#[derive(Debug)]
pub struct ShellBolt {
    spec: ShellSpec,
    host: Option<Host>,
    waker: Option<Waker>,
    proc: Option<Subprocess>,
    pending: FxHashMap<u64, Pending>,
    next_id: u64,
    restarts: Restarts,
    warned_unknown: bool,
}

impl ShellBolt {
    /// A bolt running `spec`'s command.
    pub fn new(spec: ShellSpec) -> ShellBolt {
        ShellBolt {
            spec,
            host: None,
            waker: None,
            proc: None,
            pending: FxHashMap::default(),
            next_id: 1,
            restarts: Restarts::default(),
            warned_unknown: false,
        }
    }

    /// From YAML `constructorArgs` (see [`ShellSpec::from_args`]).
    pub fn from_args(args: &ComponentArgs<'_>) -> Result<ShellBolt, FactoryError> {
        Ok(ShellBolt::new(ShellSpec::from_args(args)?))
    }

    /// Longest the executor waits on the subprocess by itself; the ticker declares a
    /// hang after the timeout, this is only a backstop.
    fn backstop(host: &Host) -> Duration {
        host.timeout * 2 + Duration::from_secs(1)
    }

    /// Start a subprocess (after the backoff, if the last one died).
    fn start(&mut self) -> Result<(), ShellError> {
        let Some(host) = &self.host else {
            return Ok(());
        };
        self.restarts.wait();
        match host.launch(self.waker.clone(), true, host.max_pending) {
            Ok(p) => {
                self.proc = Some(p);
                Ok(())
            }
            Err(e) => {
                self.restarts.crashed(Duration::ZERO);
                Err(e)
            }
        }
    }

    /// The subprocess is gone or unusable: kill it, fail what it held, report, and
    /// schedule a restart.
    fn crash(&mut self, cause: String, out: &mut BoltCollector) {
        let (Some(proc), Some(host)) = (self.proc.take(), &self.host) else {
            return;
        };
        let (pid, lived) = (proc.pid, proc.started.elapsed());
        let ended = proc.stop_now();
        let mut failed = 0;
        for (_, p) in self.pending.drain() {
            if p.held {
                out.fail(&p.tuple);
                out.hold_in_flight(-1);
                failed += 1;
            }
        }
        let delay = self.restarts.crashed(lived);
        let next = format!(
            "{failed} in-flight tuple(s) failed for replay; restarting in {}ms",
            delay.as_millis()
        );
        out.report_error(&host.died(pid, cause, &next, ended));
    }

    fn protocol_error(&mut self, command: &str, detail: String, out: &mut BoltCollector) {
        let Some(host) = &self.host else { return };
        let e = host.protocol(command, detail);
        self.crash(format!("was killed after a protocol violation ({e})"), out);
    }

    /// Apply everything the subprocess sent so far.
    fn pump(&mut self, out: &mut BoltCollector) {
        while let Some(ev) = self.proc.as_ref().and_then(|p| p.events.try_recv().ok()) {
            self.handle(ev, out);
        }
    }

    fn handle(&mut self, ev: Event, out: &mut BoltCollector) {
        match ev {
            Event::Msg(m) => self.apply(m, out),
            Event::Closed(c) => {
                let cause = match &self.host {
                    Some(h) => h.closed_cause(c),
                    None => return,
                };
                self.crash(cause, out);
            }
            Event::Pid(_) => {}
        }
    }

    fn apply(&mut self, m: ShellMsg, out: &mut BoltCollector) {
        let (Some(host), Some(proc)) = (&self.host, &self.proc) else {
            return;
        };
        let pid = proc.pid;
        match m {
            ShellMsg::Emit(e) => self.emit(e, out),
            ShellMsg::Ack(id) | ShellMsg::Fail(id) => {
                let ack = matches!(m, ShellMsg::Ack(_));
                match self.pending.remove(&id) {
                    Some(p) => {
                        if ack {
                            out.ack(&p.tuple);
                        } else {
                            out.fail(&p.tuple);
                        }
                        if p.held {
                            out.hold_in_flight(-1);
                        }
                    }
                    None => {
                        let command = if ack { "ack" } else { "fail" };
                        let detail = format!(
                            "{command} of tuple id \"{id}\", which is not pending (never sent, \
                             or already acked or failed)"
                        );
                        self.protocol_error(command, detail, out);
                    }
                }
            }
            ShellMsg::Sync => {}
            ShellMsg::Log { level, msg } => host.log(pid, level, &msg),
            ShellMsg::Error(msg) => out.report_error(&host.reported(pid, &msg)),
            ShellMsg::Metrics { name, params } => host.metrics(pid, &name, &params),
            ShellMsg::Exhausted | ShellMsg::Unknown(_) => {
                // Storm's ShellBolt ignores commands it does not know.
                if !self.warned_unknown {
                    self.warned_unknown = true;
                    tracing::warn!(component = %host.label, pid, "ignoring an unknown command from the subprocess: {m:?}");
                }
            }
        }
    }

    fn emit(&mut self, e: EmitMsg, out: &mut BoltCollector) {
        if let Some(a) = e.anchors.iter().find(|a| !self.pending.contains_key(a)) {
            let detail = format!(
                "anchored onto tuple id \"{a}\", which is not pending (already acked or \
                 failed, or never sent)"
            );
            return self.protocol_error("emit", detail, out);
        }
        let stream = e.stream.as_deref().unwrap_or(crate::DEFAULT_STREAM);
        let wants_ids = e.need_task_ids && e.task.is_none();
        let result: Result<Option<SmallVec<[TaskId; 4]>>, _> = {
            let anchors: SmallVec<[&Tuple; 2]> = e
                .anchors
                .iter()
                .filter_map(|a| self.pending.get(a).map(|p| &p.tuple))
                .collect();
            match e.task {
                Some(task) => out
                    .emit_direct(task, stream, &anchors, e.tuple)
                    .map(|()| None),
                None if wants_ids => out
                    .emit_tracked(stream, &anchors, e.tuple)
                    .map(|t| Some(SmallVec::from_slice(t))),
                None => out.emit_stream(stream, &anchors, e.tuple).map(|()| None),
            }
        };
        let tasks = match result {
            Ok(t) => t,
            Err(err) => {
                if let Some(host) = &self.host {
                    out.report_error(&format!(
                        "{}: emit from the subprocess refused: {err}",
                        host.label
                    ));
                }
                // Never leave the subprocess waiting for an answer.
                wants_ids.then(SmallVec::new)
            }
        };
        if let Some(tasks) = tasks
            && let Some(proc) = &self.proc
            && !proc.send_task_ids(&tasks)
        {
            let detail = "asks for task ids (need_task_ids) faster than it reads them".into();
            self.protocol_error("emit", detail, out);
        }
    }

    /// Wait for the next message (or the end) from the subprocess and apply it.
    fn await_event(&mut self, out: &mut BoltCollector) {
        let (Some(proc), Some(host)) = (&self.proc, &self.host) else {
            return;
        };
        match proc.events.recv_timeout(Self::backstop(host)) {
            Ok(ev) => self.handle(ev, out),
            Err(_) => {
                let cause = host.hung_cause();
                self.crash(cause, out);
            }
        }
    }

    /// Queue `item` for the writer; while its queue is full, apply what the subprocess
    /// sends (so neither side can block the other).
    fn send(&mut self, mut item: Outgoing, out: &mut BoltCollector) {
        loop {
            let Some(proc) = &self.proc else {
                // It died meanwhile: the input was failed with the other pending ones.
                return;
            };
            match proc.try_send(item) {
                Ok(()) => return,
                Err((back, gone)) => {
                    item = back;
                    if gone {
                        // The writer stopped: the reader reports the end.
                        self.await_event(out);
                        continue;
                    }
                }
            }
            let (Some(data), notify) = (proc.data_queue().cloned(), proc.notify.clone()) else {
                return;
            };
            let wait = match &self.host {
                Some(h) => Self::backstop(h),
                None => return,
            };
            // Wait for room, or for messages to apply (the reader rings when one needs
            // an answer, and when its channel fills: it can never wait on us for long).
            // What was emitted and acked so far goes out first, as when idle.
            out.flush();
            let mut sel = Select::new();
            let send_op = sel.send(&data);
            let notify_op = sel.recv(&notify);
            match sel.select_timeout(wait) {
                Ok(op) if op.index() == send_op => match op.send(&data, item) {
                    Ok(()) => return,
                    Err(back) => item = back.into_inner(),
                },
                Ok(op) => {
                    debug_assert_eq!(op.index(), notify_op);
                    let _ = op.recv(&notify);
                    self.pump(out);
                }
                Err(_) => {
                    if !proc.host_behind()
                        && let Some(h) = &self.host
                    {
                        let cause = h.hung_cause();
                        self.crash(cause, out);
                    }
                }
            }
        }
    }
}

#[crate::async_trait]
impl Bolt for ShellBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        self.spec.declare(out);
    }

    async fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.host = Some(Host::new(ctx, &self.spec));
        self.waker = ctx.waker();
        // A subprocess that cannot start at all fails the run, with the reason.
        self.start()?;
        Ok(())
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        self.pump(out);
        if self.proc.is_none()
            && let Err(e) = self.start()
        {
            out.fail(&input);
            return Err(e.into());
        }
        let id = self.next_id;
        self.next_id += 1;
        let tick = input.is_tick();
        let schema = input.schema();
        let source = input.source_task();
        // Keep the tree ids here; move the values to the writer.
        let stub = Tuple::with_anchors(Values::new(), schema, source, input.anchors.clone());
        let values = input.into_values();
        self.pending.insert(
            id,
            Pending {
                tuple: stub,
                held: !tick,
            },
        );
        if !tick {
            out.hold_in_flight(1);
        }
        let item = Outgoing::Tuple {
            id,
            comp: &schema.component,
            stream: &schema.stream,
            task: source.as_i64(),
            values,
        };
        self.send(item, out);
        Ok(())
    }

    fn wake(&mut self, out: &mut BoltCollector) -> Result<(), ComponentError> {
        self.pump(out);
        Ok(())
    }

    async fn cleanup(&mut self) {
        if let Some(p) = self.proc.take() {
            p.stop_gracefully();
        }
    }
}
