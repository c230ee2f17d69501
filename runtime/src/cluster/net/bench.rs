//! Support for `benches/`: the time to open a data link on loopback, as a worker does.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Identity, Listener, NetConfig, NetError, handshake};
use crate::api::tuple::{Fields, StreamSchema};
use crate::cluster::auth::topology_secret::TopologySecret;
use crate::cluster::wire::SchemaTable;
use crate::engine::transfer::Envelope;

/// Mean times over `n` connections to a listener on loopback: (TCP connect alone, TCP
/// connect and the whole handshake as a worker's link does it, with `frame_mac`).
pub(crate) fn connect_times(n: u32, frame_mac: bool) -> Result<(Duration, Duration), NetError> {
    let schema = StreamSchema::intern("bench", "default", &Fields::new(["word"]));
    let schemas = SchemaTable::from_schemas([schema]).map_err(NetError::Wire)?;
    let identity = |worker: &str| Identity {
        topology_id: "bench-1-0".into(),
        worker_id: worker.into(),
        schemas: Arc::new(schemas.clone()),
        secret: TopologySecret::from_bytes([7; 32]),
        frame_mac,
    };
    let cfg = NetConfig::default();
    let route = |_: Envelope| {};
    let listener = Listener::bind(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        identity("server"),
        cfg.clone(),
        Arc::new(route),
    )?;
    let addr = listener.local_addr();
    let client = identity("client");
    let n = n.max(1);
    let mut tcp = Duration::ZERO;
    let mut full = Duration::ZERO;
    for _ in 0..n {
        let t = Instant::now();
        let s = TcpStream::connect(addr)?;
        tcp += t.elapsed();
        drop(s);
        let t = Instant::now();
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        handshake::client(&s, addr, &client, &cfg)?;
        full += t.elapsed();
    }
    listener.shutdown();
    Ok((tcp / n, full / n))
}

/// What one run of [`link_throughput`] measured.
#[derive(Debug, Clone, Default)]
pub struct LinkRun {
    /// Tuples delivered to the receiving queue's consumer per second (wall clock).
    pub tuples_per_sec: f64,
    /// CPU time per tuple (ns) of each thread of the link, by role: `producer` (builds
    /// tuples and batches them in an `Outbox`, as a spout), `writer` (encode, MAC,
    /// `write`), `reader` (`read`, MAC check, decode, queue send), `consumer` (takes the
    /// batches, drops the tuples, recycles the buffers, as a null bolt).
    pub cpu_ns_per_tuple: Vec<(&'static str, f64)>,
}

/// CPU time (ns) a thread of this process has used so far (`/proc/self/task/TID/schedstat`).
fn thread_cpu_ns(tid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// This process's threads whose name starts with `prefix`.
fn threads_named(prefix: &str) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        let tid: i32 = e.file_name().to_str()?.parse().ok()?;
        comm.starts_with(prefix).then_some(tid)
    })
    .collect()
}

/// The current thread's id.
fn gettid() -> i32 {
    nix::unistd::gettid().as_raw()
}

/// Push `total` tuples of one string field `value` through a real link on loopback (a
/// [`RemoteDestination`](super::RemoteDestination) to a [`Listener`] whose route delivers
/// into an executor queue), batched by `batch` in an `Outbox` as an executor does, with or
/// without frame MACs; the tuples' values are clones of one static string, as a spout
/// emitting a constant.
pub(crate) fn link_throughput(
    total: u64,
    batch: usize,
    value: &'static str,
    frame_mac: bool,
) -> Result<LinkRun, NetError> {
    use crate::api::ids::TaskId;
    use crate::api::tuple::{Tuple, Values};
    use crate::api::value::Value;
    use crate::engine::run_state::RunState;
    use crate::engine::transfer::{self, Outbox};

    let schema = StreamSchema::intern("bench", "default", &Fields::new(["word"]));
    let schemas = SchemaTable::from_schemas([schema]).map_err(NetError::Wire)?;
    let identity = |worker: &str| Identity {
        topology_id: "bench-1-0".into(),
        worker_id: worker.into(),
        schemas: Arc::new(schemas.clone()),
        secret: TopologySecret::from_bytes([7; 32]),
        frame_mac,
    };
    let cfg = NetConfig::default();
    // The receiving executor: its queue, and a consumer thread as a null bolt.
    let (dest, inbox) = transfer::channel(64);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<(u64, i32)>(1);
    let consumer = std::thread::Builder::new()
        .name("bench-consumer".into())
        .spawn(move || {
            let tid = gettid();
            let mut seen = 0u64;
            while let Ok(env) = inbox.recv() {
                if let Envelope::Batch { tuples, .. } = env {
                    seen += tuples.len() as u64;
                    inbox.recycle(tuples);
                }
                if seen >= total {
                    break;
                }
            }
            let cpu = thread_cpu_ns(tid);
            let _ = done_tx.send((cpu, tid));
        })?;
    let mut local = std::collections::BTreeMap::new();
    local.insert(TaskId(2), dest);
    let listener = Listener::bind(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        identity("server"),
        cfg.clone(),
        Arc::new(super::TaskRouter::new(local)),
    )?;
    let link = super::RemoteDestination::connect(listener.local_addr(), identity("client"), cfg)?;
    if !link.wait_connected(Duration::from_secs(5)) {
        return Err(NetError::Io(std::io::Error::other("link did not connect")));
    }
    let run = Arc::new(RunState::new(1));
    let mut outbox = Outbox::new([(TaskId(2), link.destination())], Vec::new(), batch, run);
    let me = gettid();
    let cpu0 = thread_cpu_ns(me);
    let t = Instant::now();
    for _ in 0..total {
        let values = Values::from(Value::from_static(value));
        outbox.push(TaskId(2), Tuple::new(values, schema, TaskId(1)));
    }
    outbox.flush();
    let producer_cpu = thread_cpu_ns(me) - cpu0;
    let (consumer_cpu, _) = done_rx
        .recv_timeout(Duration::from_secs(600))
        .map_err(|_| NetError::Io(std::io::Error::other("the tuples did not all arrive")))?;
    let secs = t.elapsed().as_secs_f64();
    let cpu = |prefix: &str| -> u64 { threads_named(prefix).into_iter().map(thread_cpu_ns).sum() };
    let (writer_cpu, reader_cpu) = (cpu("squall-net-out"), cpu("squall-net-in"));
    let _ = consumer.join();
    link.shutdown();
    listener.shutdown();
    let per = |ns: u64| ns as f64 / total as f64;
    Ok(LinkRun {
        tuples_per_sec: total as f64 / secs,
        cpu_ns_per_tuple: vec![
            ("producer", per(producer_cpu)),
            ("writer", per(writer_cpu)),
            ("reader", per(reader_cpu)),
            ("consumer", per(consumer_cpu)),
        ],
    })
}
