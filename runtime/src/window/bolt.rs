//! The user API: [`WindowedBolt`] and the collector it emits through,
//! [`WindowedCollector`] (emits anchored to every tuple of the window).

use async_trait::async_trait;

use crate::api::collector::BoltCollector;
use crate::api::context::TopologyContext;
use crate::api::declare::OutputDeclarer;
use crate::api::error::{ComponentError, EmitError};
use crate::api::ids::TaskId;
use crate::api::tuple::{Tuple, Values};
use crate::window::tuple_window::TupleWindow;

/// A bolt that processes windows of tuples (Storm's `IWindowedBolt`).
///
/// Register it with [`crate::Registry::windowed_bolt`]; the window (length, sliding
/// interval, event time) comes from the component's config (see
/// [`crate::window::WindowConfig`]). The runtime keeps the tuples, calls `execute` each
/// time the window fires, anchors every emit to all the tuples of the window, and acks
/// each tuple when it leaves the window. An `Err` (or a panic) from `execute` fails every
/// tuple of the window: their spouts replay them.
///
/// A persistent window (`topology.bolts.window.persistent`, see
/// [`crate::window::WindowConfig::with_persistence`]) is kept in the task's state and
/// read with [`TupleWindow::get_iter`]; its tuples are acked when a checkpoint commits,
/// its emits are unanchored, and a failed `execute` is reported without failing tuples.
#[async_trait]
pub trait WindowedBolt: Send + 'static {
    /// Declare the output streams (none by default: a sink). The late tuple stream, if
    /// configured, is declared by the runtime.
    fn declare_outputs(&self, _out: &mut OutputDeclarer) {}

    /// Called once on the executor before the first tuple.
    async fn prepare(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Process one activation of the window.
    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        out: &mut WindowedCollector<'_>,
    ) -> Result<(), ComponentError>;

    /// Called once when the topology stops.
    async fn cleanup(&mut self) {}
}

/// The collector of a [`WindowedBolt`]: every emit is anchored to all the tuples of the
/// window being processed (Storm's `WindowedOutputCollector`), so the output is replayed
/// if any of them fails.
#[derive(Debug)]
pub struct WindowedCollector<'a> {
    pub(crate) inner: &'a mut BoltCollector,
    pub(crate) anchors: &'a [&'a Tuple],
    pub(crate) late_stream: Option<&'a str>,
    pub(crate) component: &'a str,
}

impl WindowedCollector<'_> {
    /// Emit on the default stream.
    pub fn emit(&mut self, values: impl Into<Values>) -> Result<(), EmitError> {
        self.inner
            .emit_stream(crate::DEFAULT_STREAM, self.anchors, values)
    }

    /// Emit on a named stream.
    pub fn emit_stream(
        &mut self,
        stream: &str,
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        if self.late_stream == Some(stream) {
            // The runtime's own stream: not the bolt's to write.
            return Err(EmitError::UnknownStream {
                component: self.component.to_string(),
                stream: stream.to_string(),
            });
        }
        self.inner.emit_stream(stream, self.anchors, values)
    }

    /// Emit on a direct stream to one task.
    pub fn emit_direct(
        &mut self,
        task: TaskId,
        stream: &str,
        values: impl Into<Values>,
    ) -> Result<(), EmitError> {
        self.inner.emit_direct(task, stream, self.anchors, values)
    }

    /// Report an error: counted in the component's statistics and logged (the window is
    /// not failed).
    pub fn report_error(&mut self, error: &dyn std::fmt::Display) {
        self.inner.report_error(error)
    }
}
