//! Backpressure through the real binary: an unbounded spout in front of a slow bolt with
//! small queues follows the bolt's rate (the tuples between them stay within what the
//! queues hold) and the process's memory stops growing — with acking off and on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::SQUALL;
use serde_json::Value as Json;

/// Tuples the queues between spout and bolt can hold: the bolt's receive queue (1024
/// tuples), the batch it is executing, the spout's partial batch and one batch whose
/// send is blocked (64 each); plus as much again as a margin.
const IN_TRANSIT: u64 = 2 * (1024 + 3 * 64);
/// How long each run lasts.
const RUN: &str = "4s";

/// A finished run: its JSON report and the peak RSS (kB) sampled over time.
struct Sampled {
    report: Json,
    /// (time since spawn, VmHWM in kB).
    hwm: Vec<(Duration, u64)>,
    stderr: String,
}

/// The `VmHWM` (peak resident set) of a process, in kB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// `squall local FILE --duration RUN --json`, sampling the child's peak RSS every 50 ms
/// until it exits (killed, and the test failed, if it runs 30 s past its duration).
fn run_sampled(yaml: &str) -> Sampled {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("topology.yaml");
    std::fs::write(&file, yaml).unwrap();
    let start = Instant::now();
    let mut child = Command::new(SQUALL)
        .args(["local", "--duration", RUN, "--json"])
        .arg(&file)
        .env_remove("SQUALL_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning squall");
    let pid = child.id();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = start + Duration::from_secs(34);
    let mut hwm = Vec::new();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            // Only the process we started, by its id.
            let _ = child.kill();
            let _ = child.wait();
            panic!("squall local --duration {RUN} still running after 34 s");
        }
        if let Some(kb) = vm_hwm(pid) {
            hwm.push((start.elapsed(), kb));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().unwrap();
    let stderr = stderr.join().unwrap();
    assert!(
        status.success(),
        "squall exited with {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let report: Json = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{stdout}"));
    Sampled {
        report,
        hwm,
        stderr,
    }
}

fn num(report: &Json, id: &str, field: &str) -> u64 {
    report["components"][id][field]
        .as_u64()
        .unwrap_or_else(|| panic!("components.{id}.{field} missing in {report}"))
}

/// The peak RSS must stop growing once the queues are full: the peak at the end is at
/// most 1.5 × the peak after 1.5 s, plus 10 MB.
fn assert_memory_bounded(s: &Sampled) {
    let early = s
        .hwm
        .iter()
        .find(|(t, _)| *t >= Duration::from_millis(1500))
        .unwrap_or_else(|| panic!("no RSS sample after 1.5 s: {:?}", s.hwm))
        .1;
    let last = s.hwm.last().unwrap().1;
    assert!(
        last <= early * 3 / 2 + 10 * 1024,
        "peak RSS grew from {early} kB (1.5 s) to {last} kB (end): samples {:?}",
        s.hwm
    );
}

/// Config of both topologies: small queues and batches.
const QUEUES: &str =
    "topology.executor.receive.buffer.size: 1024, topology.producer.batch.size: 64";

#[test]
fn acking_off_spout_follows_a_slow_bolt_in_bounded_memory() {
    let yaml = format!(
        "
name: backpressure-unacked
config: {{topology.acker.executors: 0, {QUEUES}}}
spouts: [{{id: src, className: ConstSpout}}]
bolts: [{{id: slow, className: SlowBolt, constructorArgs: [200, [payload]]}}]
streams: [{{from: src, to: slow, grouping: {{type: SHUFFLE}}}}]
"
    );
    let s = run_sampled(&yaml);
    let r = &s.report;
    assert_eq!(r["completed"], Json::Bool(false), "{r}");
    let emitted = num(r, "src", "emitted");
    let executed = num(r, "slow", "executed");
    assert!(
        executed >= 1000,
        "a 200 µs/tuple bolt runs > 1000 tuples in {RUN}: {r}\n{}",
        s.stderr
    );
    assert!(
        emitted >= executed && emitted - executed <= IN_TRANSIT,
        "the spout ran {} tuples ahead of the bolt (at most {IN_TRANSIT} fit in between): {r}",
        emitted as i64 - executed as i64
    );
    assert_eq!(num(r, "src", "acked"), emitted, "acking off acks at emit");
    assert_memory_bounded(&s);
}

#[test]
fn acking_on_spout_follows_a_slow_bolt_in_bounded_memory() {
    let yaml = format!(
        "
name: backpressure-acked
config: {{{QUEUES}}}
spouts: [{{id: src, className: ConstSpout}}]
bolts:
  - {{id: slow, className: SlowBolt, constructorArgs: [200, [payload]]}}
  - {{id: sink, className: NullBolt}}
streams:
  - {{from: src, to: slow, grouping: {{type: SHUFFLE}}}}
  - {{from: slow, to: sink, grouping: {{type: SHUFFLE}}}}
"
    );
    let s = run_sampled(&yaml);
    let r = &s.report;
    let emitted = num(r, "src", "emitted");
    let executed = num(r, "slow", "executed");
    let acked = num(r, "src", "acked");
    assert!(executed >= 1000, "{r}\n{}", s.stderr);
    assert!(
        emitted >= executed && emitted - executed <= IN_TRANSIT,
        "the spout ran {} tuples ahead of the bolt (at most {IN_TRANSIT} fit in between): {r}",
        emitted as i64 - executed as i64
    );
    // Messages in flight (emitted, not yet acked) are bounded the same way.
    assert!(
        acked <= emitted && emitted - acked <= IN_TRANSIT,
        "{} messages pending at the end: {r}",
        emitted - acked
    );
    assert_eq!(num(r, "src", "failed"), 0, "{r}");
    let lat = &r["components"]["src"]["complete_latency_ms"];
    assert!(lat["p99"].as_f64().is_some(), "no complete latency: {r}");
    assert_memory_bounded(&s);
}
