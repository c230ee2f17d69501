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
