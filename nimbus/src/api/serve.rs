//! The HTTP server loop, with the limits a server facing the network needs (axum's own
//! `serve` has none of them):
//! - at most [`HttpLimits::max_connections`] connections at once; past it a new
//!   connection is answered `503` and closed at once;
//! - a request's head (request line and headers) must arrive within
//!   [`HttpLimits::header_timeout`], and an idle keep-alive connection is closed after
//!   it: a client that connects and sends nothing, or trickles its headers
//!   (slowloris), is cut;
//! - a request body that stops arriving for [`HttpLimits::body_timeout`] fails (the
//!   handlers' size caps, and the whole-body deadline of JSON bodies, are in
//!   [`super::body`]).
//!
//! - with TLS ([`crate::tls`]), the handshake must finish within
//!   [`HttpLimits::header_timeout`] too: a client that opens a connection and never
//!   completes the handshake is cut, holding its connection slot no longer. A client
//!   speaking plain HTTP to it is answered `400` saying to use `https://`.
//!
//! Garbage instead of HTTP is answered `400` by hyper and the connection closed; each
//! connection that ends in an error is logged with its peer.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// How long a graceful stop waits for open connections to finish.
const STOP_WAIT: Duration = Duration::from_secs(10);
/// After a failed `accept` (out of file descriptors, say), wait this long.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// What a connection past the limit is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\
content-type: application/json\r\ncontent-length: 48\r\n\r\n\
{\"error\":\"too many connections; try again later\"}";

/// What a client speaking plain HTTP to an HTTPS nimbus is told.
const HTTPS_ONLY: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\
content-type: application/json\r\ncontent-length: 73\r\n\r\n\
{\"error\":\"this nimbus serves HTTPS only: use https:// in the nimbus URL\"}";
/// The first byte of a TLS connection (a handshake record).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The server's limits (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest wait for a request's head, and longest idle time between requests.
    pub header_timeout: Duration,
    /// Longest wait for the next piece of a request body.
    pub body_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

/// Serve `app` on `listener` (over TLS with `tls`) until `stop` turns true; then stop
/// accepting, let open connections finish their request (for up to 10 s) and return.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<TlsAcceptor>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut stopped = stop.clone();
    let stopping = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    tokio::pin!(stopping);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stopping => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accepting an HTTP connection failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                %peer,
                max = limits.max_connections,
                "refusing an HTTP connection: the connection limit is reached"
            );
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (app, stop, tls) = (app.clone(), stop.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(stream, peer, app, limits, stop).await,
                Some(tls) => {
                    if let Some(stream) = handshake(stream, peer, &tls, limits).await {
                        connection(stream, peer, app, limits, stop).await;
                    }
                }
            }
            drop(slot);
        });
    }
    // Every connection holds a slot until it ends.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(STOP_WAIT, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("stopping with HTTP connections still open after {STOP_WAIT:?}");
    }
    Ok(())
}

/// Tell a connection past the limit so, without waiting on it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY)).await;
}

/// The TLS handshake of a new connection, within [`HttpLimits::header_timeout`]; `None`
/// when it failed, timed out, or the client spoke plain HTTP (it is told to use
/// `https://`).
async fn handshake(
    stream: TcpStream,
    peer: SocketAddr,
    tls: &TlsAcceptor,
    limits: HttpLimits,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let deadline = limits.header_timeout;
    let attempt = async {
        let mut first = [0u8; 1];
        match stream.peek(&mut first).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if first[0] != TLS_HANDSHAKE_RECORD {
            tracing::warn!(%peer, "refused a plain HTTP request: this nimbus serves HTTPS");
            let mut stream = stream;
            let _ = stream.write_all(HTTPS_ONLY).await;
            let _ = stream.shutdown().await;
            return None;
        }
        match tls.accept(stream).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(%peer, "TLS handshake failed: {e}");
                None
            }
        }
    };
    match tokio::time::timeout(deadline, attempt).await {
        Ok(s) => s,
        Err(_) => {
            tracing::warn!(%peer, "closed a connection: no TLS handshake within {deadline:?}");
            None
        }
    }
}

/// Serve one connection until it closes, fails or times out, or the server stops.
async fn connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(|body| Body::new(IdleBody::new(body, body_timeout)));
        // The peer, for authentication failures and the audit log.
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        // A router is always ready: `call` without `poll_ready` is allowed.
        Service::call(&mut app.clone(), req)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let stopping = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let served = tokio::select! {
        r = conn.as_mut() => Some(r),
        () = stopping => None,
    };
    let result = match served {
        Some(r) => r,
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            tracing::warn!(%peer, "closed an HTTP connection: no complete request head within {:?}", limits.header_timeout);
        } else if e.is_parse() || e.is_parse_status() {
            tracing::warn!(%peer, "closed an HTTP connection after a malformed request: {e}");
        } else {
            tracing::debug!(%peer, "HTTP connection ended: {e}");
        }
    }
}

/// A request body that fails when its next piece does not come within `timeout`.
struct IdleBody {
    inner: Incoming,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl IdleBody {
    fn new(inner: Incoming, timeout: Duration) -> IdleBody {
        IdleBody {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

/// The error of a body that stopped arriving.
#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving for {0:?}")]
pub struct BodyTimeout(Duration);

impl hyper::body::Body for IdleBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = Instant::now() + this.timeout;
                this.deadline.as_mut().reset(next);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimeout(this.timeout).into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
