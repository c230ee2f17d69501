//! The start gate: executors wait here after `open`/`prepare` until every executor is
//! ready (go) or one failed (abort).

use std::sync::{Condvar, Mutex};

/// A one-shot go/abort signal.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: Mutex<Option<bool>>,
    cv: Condvar,
}

impl Gate {
    /// Open the gate: `true` = run, `false` = abort.
    pub(crate) fn open(&self, go: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s = Some(go);
        self.cv.notify_all();
    }

    /// Block until the gate opens; returns whether to run.
    pub(crate) fn wait(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(go) = *s {
                return go;
            }
            s = self.cv.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}
