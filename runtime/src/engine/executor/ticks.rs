//! The tick timer: sends `Tick` envelopes to the executors of components with
//! `topology.tick.tuple.freq.secs` set (first tick one period after start).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TrySendError};

use crate::engine::run_state::RunState;
use crate::engine::transfer::{Destination, Envelope};

/// Retry delay for a tick whose queue was full.
const RETRY: Duration = Duration::from_millis(10);

/// One executor that wants ticks.
pub(crate) struct TickTarget {
    pub(crate) queue: Destination,
    pub(crate) freq_secs: u64,
    next: Instant,
}

impl TickTarget {
    pub(crate) fn new(queue: Destination, freq_secs: u64, start: Instant) -> TickTarget {
        TickTarget {
            queue,
            freq_secs,
            next: start + Duration::from_secs(freq_secs),
        }
    }
}

/// Sends ticks until the run stops (signalled by closing `stop`).
pub(crate) struct TickTimer {
    pub(crate) targets: Vec<TickTarget>,
    pub(crate) run: Arc<RunState>,
    pub(crate) stop: Receiver<()>,
}

impl TickTimer {
    pub(crate) fn run(mut self) {
        if self.targets.is_empty() {
            return;
        }
        loop {
            let now = Instant::now();
            for t in &mut self.targets {
                if t.next <= now {
                    match t.queue.try_send(Envelope::Tick {
                        freq_secs: t.freq_secs,
                    }) {
                        Ok(()) => t.next += Duration::from_secs(t.freq_secs),
                        Err(TrySendError::Full(_)) => t.next = now + RETRY,
                        Err(TrySendError::Disconnected(_)) => {
                            t.next = now + Duration::from_secs(3600)
                        }
                    }
                }
            }
            let next = self.targets.iter().map(|t| t.next).min().unwrap_or(now);
            if self.run.stopping() {
                return;
            }
            match self
                .stop
                .recv_timeout(next.saturating_duration_since(Instant::now()))
            {
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }
}
