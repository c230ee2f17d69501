//! Multi-lang components: spouts and bolts written in any language, run as subprocesses
//! that speak Storm's JSON multi-lang protocol (so pystorm, streamparse components and
//! Storm's own `storm.py` / `storm.js` work unchanged).
//!
//! - [`ShellBolt`] and [`ShellSpout`] host one subprocess per task, started in the
//!   topology's resources directory ([`resources_dir`]: `topology.resources.dir`).
//! - [`register`] adds them to a [`Registry`] as `ShellBolt` / `ShellSpout` and under
//!   Storm's class names, so Flux files with `FluxShellBolt` / `FluxShellSpout` run:
//!
//! ```yaml
//! bolts:
//!   - id: split
//!     className: org.apache.storm.flux.wrappers.bolts.FluxShellBolt
//!     constructorArgs: [["python3", "splitsentence.py"], ["word"]]
//! ```
//!
//! The protocol, as Storm speaks it: JSON messages each followed by a line `end`; the
//! handshake (`conf`, `context`, `pidDir` → `{"pid": N}`, pid file); bolt tuples,
//! heartbeats and tick tuples; `emit` (anchors, streams, direct `task`, `need_task_ids`
//! answered with the target tasks), `ack`, `fail`, `sync`, `log` with levels, `error`,
//! `metrics`; spout `next` / `ack` / `fail` / `activate` / `deactivate`, each answered
//! by `sync`. Extension: a spout may send `{"command": "exhausted"}`.
//!
//! Unlike Storm, a subprocess that dies, hangs (silent for
//! `topology.subprocess.timeout.secs`) or breaks the protocol does not take the worker
//! down: it is killed and restarted, the tuples it held are failed (spouts replay them),
//! and the error is reported with the component, the exit status and its last stderr
//! lines.

mod bolt;
mod error;
mod frame;
mod handshake;
mod host;
mod json;
mod pid_dir;
mod pipes;
mod process;
mod protocol;
mod restart;
mod spec;
mod spout;

use std::path::Path;

pub use bolt::ShellBolt;
pub use error::ShellError;
pub use host::resources_dir;
pub use spec::ShellSpec;
pub use spout::ShellSpout;

use crate::api::registry::Registry;
use crate::topology::config::TOPOLOGY_RESOURCES_DIR;
use crate::topology::yaml::ValidTopology;

/// A subprocess's output read as the host's reader does (frames, the `{"pid": N}`
/// handshake first, then messages), stopping at the first problem: the number of
/// messages parsed, or the problem with an excerpt of the text. For the fuzz targets.
pub(crate) fn read_messages(input: impl std::io::BufRead) -> Result<usize, String> {
    let mut frames = frame::FrameReader::new(input);
    let mut parsed = 0;
    let mut first = true;
    loop {
        let text = match frames.next_frame() {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(parsed),
            Err(frame::FrameError::Io(e)) => return Err(e.to_string()),
            Err(frame::FrameError::Truncated(t) | frame::FrameError::TooLong(t)) => {
                return Err(error::excerpt(&t));
            }
        };
        if first {
            first = false;
            protocol::parse_pid(text).map_err(|e| format!("{e}: {}", error::excerpt(text)))?;
        } else {
            protocol::parse_msg(text)
                .map_err(|e| format!("{}: {}: {}", e.command, e.detail, error::excerpt(text)))?;
            parsed += 1;
        }
    }
}

/// Names a shell bolt is registered under by [`register`].
pub const SHELL_BOLT_NAMES: &[&str] = &[
    "ShellBolt",
    "org.apache.storm.flux.wrappers.bolts.FluxShellBolt",
    "org.apache.storm.task.ShellBolt",
];

/// Names a shell spout is registered under by [`register`].
pub const SHELL_SPOUT_NAMES: &[&str] = &[
    "ShellSpout",
    "org.apache.storm.flux.wrappers.spouts.FluxShellSpout",
    "org.apache.storm.spout.ShellSpout",
];

/// Register [`ShellBolt`] and [`ShellSpout`] under [`SHELL_BOLT_NAMES`] and
/// [`SHELL_SPOUT_NAMES`].
///
/// ```
/// use squall_runtime::{Registry, multilang, spec::Catalog};
/// let mut registry = Registry::new();
/// multilang::register(&mut registry);
/// assert!(registry.kind_of("org.apache.storm.flux.wrappers.bolts.FluxShellBolt").is_some());
/// ```
pub fn register(registry: &mut Registry) {
    registry
        .bolt(SHELL_BOLT_NAMES[0], ShellBolt::from_args)
        .spout(SHELL_SPOUT_NAMES[0], ShellSpout::from_args);
    for name in &SHELL_BOLT_NAMES[1..] {
        registry.alias(name, SHELL_BOLT_NAMES[0]);
    }
    for name in &SHELL_SPOUT_NAMES[1..] {
        registry.alias(name, SHELL_SPOUT_NAMES[0]);
    }
}

/// Set `topology.resources.dir` to `dir` wherever the topology leaves it unset (the
/// topology config and every component's merged config). `squall local FILE` calls it
/// with FILE's directory.
pub fn default_resources_dir(topo: &mut ValidTopology, dir: &Path) {
    let value = serde_yaml::Value::String(dir.to_string_lossy().into_owned());
    topo.set_config_everywhere(TOPOLOGY_RESOURCES_DIR, value, false);
}
