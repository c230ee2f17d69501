//! The shell spout: a spout whose logic runs in a subprocess (Storm's `ShellSpout`).
//!
//! The protocol is synchronous: each `next_tuple` sends `{"command":"next"}` and applies
//! the subprocess's emits (and logs, errors, metrics) until its `sync`. The `ack` and
//! `fail` calls the runtime makes between two `next_tuple`s are queued and sent in the
//! next one, ahead of `next` and in batches of at most [`ROUND`] commands before their
//! syncs are read (one round trip for many acks, with the pipes never holding more than
//! they can). Message ids are echoed exactly as the subprocess emitted them (any JSON);
//! the runtime sees a stable 64-bit hash of each, so a replay is counted as one.
//!
//! A subprocess that dies, sends something else than protocol, or does not answer
//! within `topology.subprocess.timeout.secs` is killed and restarted (after a short
//! backoff); the error is reported. Acks and fails for messages its predecessor emitted
//! are not sent to the new one (it would not know them), as when Storm restarts a worker.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::error::ShellError;
use super::host::Host;
use super::process::{Event, Outgoing, Subprocess};
use super::protocol::{EmitMsg, ShellMsg};
use super::restart::Restarts;
use super::spec::ShellSpec;
use crate::api::collector::SpoutCollector;
use crate::api::component::Spout;
use crate::api::context::TopologyContext;
use crate::api::declare::OutputDeclarer;
use crate::api::error::{ComponentError, FactoryError};
use crate::api::ids::{MessageId, TaskId};
use crate::api::registry::ComponentArgs;

/// Most commands written before their syncs are read.
const ROUND: usize = 64;
/// Capacity of the writer's queue.
const QUEUE: usize = 2 * ROUND;
/// Most emits kept from `activate`/`deactivate` answers (no collector there) until the
/// next `next_tuple`.
const MAX_BUFFERED: usize = 10_000;

/// One message id the subprocess used, while the runtime tracks it.
#[derive(Debug)]
struct IdEntry {
    json: serde_json::Value,
    /// Emits in flight with this id.
    refs: u32,
    /// Which subprocess (0, 1, ... after restarts) emitted it.
    generation: u64,
}

/// JSON message ids <-> the runtime's 64-bit ids.
#[derive(Debug, Default)]
struct IdMap {
    map: FxHashMap<MessageId, IdEntry>,
}

fn hash_json(v: &serde_json::Value, h: &mut impl Hasher) {
    match v {
        serde_json::Value::String(s) => {
            h.write_u8(1);
            s.hash(h);
        }
        serde_json::Value::Number(n) => {
            h.write_u8(2);
            n.to_string().hash(h);
        }
        other => {
            h.write_u8(3);
            other.to_string().hash(h);
        }
    }
}

impl IdMap {
    /// The runtime id for `json` (the same one while the id is in flight or emitted
    /// again, so replays are recognised; collisions are probed past).
    fn intern(&mut self, json: serde_json::Value, generation: u64) -> MessageId {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        hash_json(&json, &mut h);
        let mut id = h.finish();
        loop {
            match self.map.get_mut(&id) {
                None => {
                    self.map.insert(
                        id,
                        IdEntry {
                            json,
                            refs: 1,
                            generation,
                        },
                    );
                    return id;
                }
                Some(e) if e.json == json && e.generation == generation => {
                    e.refs += 1;
                    return id;
                }
                Some(_) => id = id.wrapping_add(1),
            }
        }
    }

    /// One emit with `id` completed: its JSON id and generation.
    fn release(&mut self, id: MessageId) -> Option<(serde_json::Value, u64)> {
        let e = self.map.get_mut(&id)?;
        e.refs = e.refs.saturating_sub(1);
        if e.refs == 0 {
            self.map.remove(&id).map(|e| (e.json, e.generation))
        } else {
            Some((e.json.clone(), e.generation))
        }
    }
}

/// A spout implemented by a subprocess speaking Storm's multi-lang protocol.
///
/// Registered as `ShellSpout` and under Storm's names
/// (`org.apache.storm.flux.wrappers.spouts.FluxShellSpout`,
/// `org.apache.storm.spout.ShellSpout`) by [`super::register`]; its constructor
/// arguments are described at [`ShellSpec`]. A finite spout can send
/// `{"command": "exhausted"}` (a Squall extension) once it will emit nothing but
/// replays, so that a local run ends when everything is processed.
#[derive(Debug)]
pub struct ShellSpout {
    spec: ShellSpec,
    host: Option<Host>,
    proc: Option<Subprocess>,
    generation: u64,
    ids: IdMap,
    /// Acks and fails for the next `next_tuple`.
    queued: VecDeque<(&'static str, serde_json::Value)>,
    /// Emits received while no collector was at hand.
    buffered: Vec<EmitMsg>,
    exhausted: bool,
    restarts: Restarts,
}

impl ShellSpout {
    /// A spout running `spec`'s command.
    pub fn new(spec: ShellSpec) -> ShellSpout {
        ShellSpout {
            spec,
            host: None,
            proc: None,
            generation: 0,
            ids: IdMap::default(),
            queued: VecDeque::new(),
            buffered: Vec::new(),
            exhausted: false,
            restarts: Restarts::default(),
        }
    }

    /// From YAML `constructorArgs` (see [`ShellSpec::from_args`]).
    pub fn from_args(args: &ComponentArgs<'_>) -> Result<ShellSpout, FactoryError> {
        Ok(ShellSpout::new(ShellSpec::from_args(args)?))
    }

    fn start(&mut self) -> Result<(), ShellError> {
        let Some(host) = &self.host else {
            return Ok(());
        };
        self.restarts.wait();
        match host.launch(None, false, QUEUE) {
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

    /// Kill the subprocess and schedule a restart; the error to report.
    fn crash(&mut self, cause: String) -> Option<ShellError> {
        let (proc, host) = (self.proc.take()?, self.host.as_ref()?);
        let (pid, lived) = (proc.pid, proc.started.elapsed());
        let ended = proc.stop_now();
        self.generation += 1;
        self.queued.clear();
        self.buffered.clear();
        self.exhausted = false;
        let delay = self.restarts.crashed(lived);
        let next = format!("restarting in {}ms", delay.as_millis());
        Some(host.died(pid, cause, &next, ended))
    }

    fn crash_protocol(&mut self, command: &str, detail: String) -> Option<ShellError> {
        let e = self.host.as_ref()?.protocol(command, detail);
        self.crash(format!("was killed after a protocol violation ({e})"))
    }

    /// Queue a command for the writer (its queue never fills: at most a round is
    /// written before its answers are read).
    fn send(
        &mut self,
        name: &'static str,
        id: Option<serde_json::Value>,
    ) -> Result<(), ShellError> {
        let Some(proc) = &self.proc else {
            return Ok(());
        };
        match proc.try_send(Outgoing::Command { name, id }) {
            Ok(()) => Ok(()),
            Err((_, gone)) => {
                let cause = if gone {
                    "closed its input".to_string()
                } else {
                    "does not read its input".to_string()
                };
                Err(self.crash(cause).unwrap_or_else(|| self.lost()))
            }
        }
    }

    fn lost(&self) -> ShellError {
        ShellError::Protocol {
            component: self
                .host
                .as_ref()
                .map(|h| h.label.clone())
                .unwrap_or_default(),
            command: "?".into(),
            detail: "the subprocess is gone".into(),
        }
    }

    /// Read and apply messages until `n` syncs arrived. Emits go to `out`, or are kept
    /// for later without one.
    fn await_syncs(
        &mut self,
        mut n: usize,
        mut out: Option<&mut SpoutCollector>,
    ) -> Result<(), ShellError> {
        while n > 0 {
            let (Some(proc), Some(host)) = (&self.proc, &self.host) else {
                return Ok(());
            };
            let pid = proc.pid;
            let ev = match proc.events.recv_timeout(host.timeout) {
                Ok(ev) => ev,
                Err(_) => {
                    let cause = host.hung_cause();
                    return Err(self.crash(cause).unwrap_or_else(|| self.lost()));
                }
            };
            let m = match ev {
                Event::Msg(m) => m,
                Event::Pid(_) => continue,
                Event::Closed(c) => {
                    let cause = host.closed_cause(c);
                    return Err(self.crash(cause).unwrap_or_else(|| self.lost()));
                }
            };
            match m {
                ShellMsg::Sync => n -= 1,
                ShellMsg::Emit(e) => match out.as_deref_mut() {
                    Some(o) => self.emit(e, o)?,
                    None if self.buffered.len() < MAX_BUFFERED => self.buffered.push(e),
                    None => {
                        tracing::error!(component = %host.label, "dropping an emit sent while (de)activating: more than {MAX_BUFFERED} waiting");
                    }
                },
                ShellMsg::Log { level, msg } => host.log(pid, level, &msg),
                ShellMsg::Error(msg) => {
                    let text = host.reported(pid, &msg);
                    match out.as_deref_mut() {
                        Some(o) => o.report_error(&text),
                        None => tracing::error!(component = %host.label, "{text}"),
                    }
                }
                ShellMsg::Metrics { name, params } => host.metrics(pid, &name, &params),
                ShellMsg::Exhausted => self.exhausted = true,
                ShellMsg::Ack(_) | ShellMsg::Fail(_) | ShellMsg::Unknown(_) => {
                    // As in Storm, a spout has no use for other commands.
                    let detail = format!("a spout cannot send {m:?}");
                    return Err(self
                        .crash_protocol("?", detail)
                        .unwrap_or_else(|| self.lost()));
                }
            }
        }
        Ok(())
    }

    fn emit(&mut self, e: EmitMsg, out: &mut SpoutCollector) -> Result<(), ShellError> {
        let stream = e.stream.as_deref().unwrap_or(crate::DEFAULT_STREAM);
        let wants_ids = e.need_task_ids && e.task.is_none();
        let id = e.id.map(|j| self.ids.intern(j, self.generation));
        let result: Result<Option<SmallVec<[TaskId; 4]>>, _> = match e.task {
            Some(task) => out.emit_direct(task, stream, e.tuple, id).map(|()| None),
            None if wants_ids => out
                .emit_tracked(stream, e.tuple, id)
                .map(|t| Some(SmallVec::from_slice(t))),
            None => out.emit_stream(stream, e.tuple, id).map(|()| None),
        };
        let tasks = match result {
            Ok(t) => t,
            Err(err) => {
                if let Some(id) = id {
                    self.ids.release(id);
                }
                if let Some(h) = &self.host {
                    out.report_error(&format!(
                        "{}: emit from the subprocess refused: {err}",
                        h.label
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
            return Err(self
                .crash_protocol("emit", detail)
                .unwrap_or_else(|| self.lost()));
        }
        Ok(())
    }

    /// Send a command now and wait for its sync (activate, deactivate).
    fn command_now(&mut self, name: &'static str) {
        if self.proc.is_none() {
            return;
        }
        let result = self
            .send(name, None)
            .and_then(|()| self.await_syncs(1, None));
        if let Err(e) = result {
            tracing::error!("{e}");
        }
    }

    fn next(&mut self, out: &mut SpoutCollector) -> Result<(), ShellError> {
        if self.proc.is_none() {
            self.start()?;
        }
        for e in std::mem::take(&mut self.buffered) {
            self.emit(e, out)?;
        }
        while !self.queued.is_empty() {
            let mut n = 0;
            while n < ROUND
                && let Some((name, id)) = self.queued.pop_front()
            {
                self.send(name, Some(id))?;
                n += 1;
            }
            self.await_syncs(n, Some(out))?;
        }
        self.send("next", None)?;
        self.await_syncs(1, Some(out))
    }

    /// Queue `ack`/`fail` for a message of the current subprocess.
    fn queue(&mut self, name: &'static str, id: MessageId) {
        if let Some((json, generation)) = self.ids.release(id)
            && generation == self.generation
            && self.proc.is_some()
        {
            self.queued.push_back((name, json));
        }
    }
}

#[crate::async_trait]
impl Spout for ShellSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        self.spec.declare(out);
    }

    async fn open(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.host = Some(Host::new(ctx, &self.spec));
        // A subprocess that cannot start at all fails the run, with the reason.
        self.start()?;
        Ok(())
    }

    async fn activate(&mut self) {
        self.command_now("activate");
    }

    async fn deactivate(&mut self) {
        self.command_now("deactivate");
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        self.next(out).map_err(ComponentError::from)
    }

    fn is_exhausted(&self) -> bool {
        self.exhausted && self.queued.is_empty() && self.buffered.is_empty()
    }

    fn ack(&mut self, id: MessageId) {
        self.queue("ack", id);
    }

    fn fail(&mut self, id: MessageId) {
        self.queue("fail", id);
    }

    async fn close(&mut self) {
        if let Some(p) = self.proc.take() {
            p.stop_gracefully();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_while_in_flight_and_after_release() {
        let mut m = IdMap::default();
        let a = m.intern(serde_json::json!("s-1"), 0);
        let b = m.intern(serde_json::json!("s-1"), 0);
        assert_eq!(a, b);
        let n = m.intern(serde_json::json!(1), 0);
        assert_ne!(a, n);
        assert_eq!(m.release(a), Some((serde_json::json!("s-1"), 0)));
        assert_eq!(m.release(a), Some((serde_json::json!("s-1"), 0)));
        assert_eq!(m.release(a), None);
        // Emitted again (a replay): the same runtime id.
        assert_eq!(m.intern(serde_json::json!("s-1"), 0), a);
        // The same JSON id from a restarted subprocess is another message.
        assert_ne!(m.intern(serde_json::json!("s-1"), 1), a);
    }
}
