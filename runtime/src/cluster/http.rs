//! The HTTP side every cluster process shares when it calls nimbus: a client that sends
//! the protocol version with each request, and the check of nimbus's version on each
//! answer.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

use crate::cluster::protocol::{
    IncompatibleVersion, PROTOCOL_VERSION, VERSION_HEADER, check_version,
};

/// An HTTP client for talking to nimbus: every request carries [`VERSION_HEADER`] and
/// gives up after `timeout`.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .default_headers(version_headers())
        .build()
}

/// An HTTP client for long downloads from nimbus (artifacts): every request carries
/// [`VERSION_HEADER`]; connecting gives up after `connect_timeout`, but a transfer has no
/// overall limit: the caller bounds the wait for each piece of the body (an idle
/// timeout) and its size.
pub fn download_client(connect_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .default_headers(version_headers())
        .build()
}

/// The headers every request to nimbus carries.
fn version_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(VERSION_HEADER, HeaderValue::from(PROTOCOL_VERSION));
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
