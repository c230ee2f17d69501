//! The HTTP side every cluster process shares when it calls nimbus: a client that sends
//! the protocol version with each request, and the check of nimbus's version on each
//! answer. What a client trusts when nimbus serves HTTPS, and the refusal to send
//! credentials in clear, are in [`crate::cluster::auth::tls`].

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

use crate::cluster::auth::tls::{ClientTrust, TlsError};
use crate::cluster::auth::token::Token;
use crate::cluster::protocol::{
    IncompatibleVersion, PROTOCOL_VERSION, VERSION_HEADER, check_version,
};

/// Longest wait for a TCP connection to nimbus (less when the whole request has less).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an idle pooled connection is kept for reuse: shorter than nimbus's default
/// `nimbus.http.header.timeout.secs` (10 s), after which nimbus closes an idle
/// connection, so a request is not sent on a connection nimbus is closing.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// An HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// Its TLS trust could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// reqwest refused the settings.
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// The builder both clients start from: HTTPS through rustls (the `ring` provider)
/// trusting `trust`.
fn builder(trust: &ClientTrust) -> Result<reqwest::ClientBuilder, ClientBuildError> {
    Ok(reqwest::Client::builder().tls_backend_preconfigured(trust.rustls_config()?))
}

/// An HTTP client for talking to nimbus: every request carries [`VERSION_HEADER`],
/// gives up connecting after [`CONNECT_TIMEOUT`] and gives up on the whole request
/// (connecting, sending, the answer's head and body) after `timeout`. With a `token`,
/// every request carries it as `Authorization: Bearer` (a sensitive header); the
/// caller checks the URL first ([`crate::cluster::auth::tls::check_cleartext`]). An
/// `https://` nimbus must present a certificate `trust` accepts.
pub fn client(
    timeout: Duration,
    token: Option<&Token>,
    trust: &ClientTrust,
) -> Result<reqwest::Client, ClientBuildError> {
    Ok(builder(trust)?
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .timeout(timeout)
        .default_headers(version_headers(token))
        .build()?)
}

/// An HTTP client for long downloads from nimbus (artifacts): every request carries
/// [`VERSION_HEADER`]; connecting gives up after `connect_timeout`, but a transfer has no
/// overall limit: the caller bounds the wait for each piece of the body (an idle
/// timeout) and its size. With a `token`, every request carries it. An `https://`
/// nimbus must present a certificate `trust` accepts.
pub fn download_client(
    connect_timeout: Duration,
    token: Option<&Token>,
    trust: &ClientTrust,
) -> Result<reqwest::Client, ClientBuildError> {
    Ok(builder(trust)?
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .default_headers(version_headers(token))
        .build()?)
}

/// The headers every request to nimbus carries: the version and, with a token, the
/// bearer credential.
fn version_headers(token: Option<&Token>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(VERSION_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    if let Some(t) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            crate::cluster::auth::credentials::bearer(t),
        );
    }
    headers
}

/// Refuse an answer from a nimbus that speaks an incompatible protocol version. An
/// answer without a version (a proxy's error page, say) is left to the caller's usual
/// status and body checks.
pub fn check_answer(resp: &reqwest::Response) -> Result<(), IncompatibleVersion> {
    match resp.headers().get(VERSION_HEADER) {
        None => Ok(()),
        Some(v) => check_version(v.to_str().ok()).map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A server that accepts and never answers cannot hold a client past its timeout.
    #[tokio::test]
    async fn a_silent_server_is_given_up_on_after_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v1/health", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                open.push(s);
            }
        });
        let http = client(Duration::from_millis(300), None, &ClientTrust::System).unwrap();
        let start = std::time::Instant::now();
        let err = http.get(&url).send().await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        held.abort();
    }
}
