//! A TCP proxy on loopback that a test can cut and restore: a broker outage without
//! killing the broker (tansu's memory storage would lose its topics on a restart).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::TestError;

/// Connections the proxy carries at once; more are refused.
const MAX_CONNECTIONS: usize = 64;

#[derive(Debug, Default)]
struct Shared {
    /// Refuse and drop connections while set.
    cut: AtomicBool,
    /// Stop accepting (the proxy was dropped).
    stop: AtomicBool,
    /// Both ends of every live connection, to shut them down on a cut.
    live: Mutex<Vec<(TcpStream, TcpStream)>>,
    /// Connections accepted and forwarded so far.
    accepted: AtomicU64,
    /// Connections refused (cut, no target yet, or over the cap) so far.
    refused: AtomicU64,
    /// Where connections go (`None`: refused).
    target: Mutex<Option<SocketAddr>>,
}

impl Shared {
    fn live(&self) -> std::sync::MutexGuard<'_, Vec<(TcpStream, TcpStream)>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A TCP proxy from a loopback port to a target; [`Proxy::cut`] drops every connection
/// and refuses new ones until [`Proxy::restore`].
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// A proxy's listening socket, bound before its target is known (so a broker can
/// advertise the proxy's port).
#[derive(Debug)]
pub struct ProxyListener {
    listener: TcpListener,
    port: u16,
}

impl ProxyListener {
    /// Bind a free loopback port.
    pub fn bind() -> Result<ProxyListener, TestError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| TestError::new(format!("proxy bind: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| TestError::new(format!("proxy address: {e}")))?
            .port();
        Ok(ProxyListener { listener, port })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Start forwarding every connection to `target`.
    pub fn forward_to(self, target: SocketAddr) -> Result<Proxy, TestError> {
        let proxy = self.start()?;
        proxy.set_target(target);
        Ok(proxy)
    }

    /// Start accepting; connections are refused until [`Proxy::set_target`].
    pub fn start(self) -> Result<Proxy, TestError> {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let listener = self.listener;
        let acceptor = std::thread::Builder::new()
            .name("test-proxy".into())
            .spawn(move || accept_loop(&listener, &s))
            .map_err(|e| TestError::new(format!("proxy thread: {e}")))?;
        Ok(Proxy {
            port: self.port,
            shared,
            acceptor: Some(acceptor),
        })
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let Ok(client) = conn else { continue };
        let target = *shared.target.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(target) = target else {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        if shared.cut.load(Ordering::Acquire) || shared.live().len() >= MAX_CONNECTIONS {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
            client.try_clone(),
            server.try_clone(),
            client.try_clone(),
            server.try_clone(),
        ) else {
            continue;
        };
        {
            let mut live = shared.live();
            // Forget connections that ended by themselves.
            live.retain(|(c, _)| c.peer_addr().is_ok());
            live.push((c3, s3));
        }
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = std::thread::Builder::new()
            .name("test-proxy-up".into())
            .spawn(move || pipe(client, s2));
        let _ = std::thread::Builder::new()
            .name("test-proxy-down".into())
            .spawn(move || pipe(server, c2));
    }
}

/// Copy `from` to `to` until either ends, then close both directions.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl Proxy {
    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port` of the proxy.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Forward new connections to `target`.
    pub fn set_target(&self, target: SocketAddr) {
        *self
            .shared
            .target
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(target);
    }

    /// Drop every connection and refuse new ones: the broker looks down.
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::Release);
        for (c, s) in self.shared.live().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Accept connections again: the broker is back.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::Release);
    }

    /// Whether the proxy is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::Acquire)
    }

    /// Connections forwarded so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Connections refused so far (while cut, or over the cap).
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.cut();
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}
