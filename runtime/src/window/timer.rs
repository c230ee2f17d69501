//! The timer of a time-driven window: a thread that wakes the bolt's executor
//! ([`crate::Waker`]) periodically, so the window fires and watermarks are computed on
//! the executor's own thread (the window state needs no lock).
//!
//! Why not tick tuples: they come in whole seconds (`topology.tick.tuple.freq.secs`) and
//! are shared with the bolt's own ticks; windows slide and watermarks advance in
//! milliseconds. The wake is coalesced and never blocks (see [`crate::Waker`]), and
//! the thread's only channel is a bounded stop signal.

use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender, bounded};

use crate::api::context::Waker;

/// The longest time between two wakes: a window fires at most this late.
const MAX_PERIOD: Duration = Duration::from_millis(100);

/// A running timer thread; stopped and joined when dropped.
#[derive(Debug)]
pub(crate) struct Timer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Timer {
    /// Wake `waker` every quarter of `interval_ms` (between 1 ms and 100 ms): a window
    /// fires, or a watermark is computed, within that much of its time.
    pub(crate) fn start(interval_ms: u64, waker: Waker, task: &str) -> std::io::Result<Timer> {
        let period = Duration::from_millis((interval_ms / 4).max(1)).min(MAX_PERIOD);
        let (stop, stopped) = bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name(format!("window-timer-{task}"))
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    waker.wake();
                }
            })?;
        Ok(Timer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // Dropping the sender disconnects the channel: the thread's wait ends at once.
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
