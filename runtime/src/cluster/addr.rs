//! `host:port` text for addresses given as a host name or an IP literal: an IPv6
//! literal is bracketed (`[::1]:6700`), as URLs and `ToSocketAddrs` expect — a plain
//! `format!("{host}:{port}")` makes `::1:6700`, which nothing parses.
//!
//! ```
//! use squall_runtime::cluster::addr::host_port;
//! assert_eq!(host_port("10.0.0.7", 6700), "10.0.0.7:6700");
//! assert_eq!(host_port("::1", 6700), "[::1]:6700");
//! assert_eq!(host_port("[::1]", 6700), "[::1]:6700");
//! assert_eq!(host_port("worker-3.example", 6700), "worker-3.example:6700");
//! ```

/// `host:port`, with an IPv6 literal host in brackets (see the module docs).
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::{SocketAddr, ToSocketAddrs};

    use super::*;

    #[test]
    fn every_ip_literal_parses_back() {
        for (host, ip) in [
            ("127.0.0.1", "127.0.0.1"),
            ("::1", "::1"),
            ("fe80::1", "fe80::1"),
            ("[::1]", "::1"),
            ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ] {
            let text = host_port(host, 6700);
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(addr.ip().to_string(), ip, "{text}");
            assert_eq!(addr.port(), 6700);
            assert!(text.to_socket_addrs().is_ok(), "{text}");
        }
    }
}
