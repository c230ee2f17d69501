//! A worker process this supervisor did not start: one a previous run of it left behind
//! (killed with `kill -9`, crashed) that the new run takes over. It is not a child, so
//! there is no exit status to wait for: it is watched through `/proc/PID/stat`, and its
//! identity is the pair (pid, start time), so a recycled pid is never taken for it nor
//! signalled.

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::process::WorkerProcess;

/// What `/proc/PID/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Its state letter (`R`, `S`, `T`, `Z`, ...).
    pub state: char,
    /// Its process group.
    pub pgrp: i32,
    /// When it started, in clock ticks after boot.
    pub start_time: u64,
}

/// Parse the text of `/proc/PID/stat` (the command name, in parentheses, may hold
/// spaces and parentheses itself: the fields are counted after the last `)`).
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of the man page, pgrp 5, starttime 22.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// `/proc/PID/stat` of a process, if it exists.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// An adopted worker.
#[derive(Debug)]
pub struct AdoptedProcess {
    pid: u32,
    start_time: u64,
    /// Whether it leads its own process group (workers are started so): signals then go
    /// to the group, as for a worker this supervisor started.
    group: bool,
    exited: Option<String>,
}

impl AdoptedProcess {
    /// Take over the live process `pid`; `None` if it does not run (or is a zombie).
    pub fn adopt(pid: u32) -> Option<AdoptedProcess> {
        let stat = proc_stat(pid).filter(|s| s.state != 'Z')?;
        Some(AdoptedProcess {
            pid,
            start_time: stat.start_time,
            group: i64::from(stat.pgrp) == i64::from(pid),
            exited: None,
        })
    }

    /// Whether the process it adopted still runs (same pid, same start time, not a
    /// zombie waiting for a parent that is not this supervisor).
    fn running(&self) -> bool {
        proc_stat(self.pid).is_some_and(|s| s.start_time == self.start_time && s.state != 'Z')
    }

    fn signal(&mut self, sig: Signal) {
        if self.exited.is_some() || !self.running() {
            return;
        }
        let Ok(pid) = i32::try_from(self.pid) else {
            return;
        };
        let sent = if self.group {
            killpg(Pid::from_raw(pid), sig)
        } else {
            kill(Pid::from_raw(pid), sig)
        };
        if let Err(e) = sent {
            tracing::debug!(pid, "signal {sig} to an adopted worker: {e}");
        }
    }
}

impl WorkerProcess for AdoptedProcess {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn try_wait(&mut self) -> Option<String> {
        if self.exited.is_none() && !self.running() {
            self.exited = Some("ended (an adopted worker: its exit status is unknown)".into());
        }
        self.exited.clone()
    }

    fn terminate(&mut self) {
        self.signal(Signal::SIGTERM)
    }

    fn kill(&mut self) {
        self.signal(Signal::SIGKILL)
    }

    fn separate_process(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let text = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 1 0 0 0 3 1 0 0 20 0 9 0 \
                    123456 1000 10 18446744073709551615";
        let s = parse_stat(text).unwrap();
        assert_eq!(
            s,
            ProcStat {
                state: 'S',
                pgrp: 4242,
                start_time: 123456
            }
        );
        assert_eq!(parse_stat("4242 (cut) S 1"), None);
    }

    #[test]
    fn an_adopted_process_is_watched_and_signalled_until_it_ends() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let mut adopted = AdoptedProcess::adopt(child.id()).expect("a live process");
        assert!(adopted.group);
        assert_eq!(adopted.try_wait(), None);
        adopted.terminate();
        // The test reaps its child; the adopted handle sees it gone.
        child.wait().unwrap();
        let exit = adopted.try_wait().expect("ended");
        assert!(exit.contains("adopted"), "{exit}");
        assert!(AdoptedProcess::adopt(child.id()).is_none());
    }
}
