//! The cost of HTTPS to nimbus (issue 12 item 4): a request on a new connection (TCP
//! connect, TLS handshake with the pinned CA, `GET /api/v1/health`), against plain HTTP,
//! and on a kept-alive connection. Nimbus in process, on loopback.
//!
//! `cargo bench --bench tls_connect` (release build; a few seconds).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use squall_nimbus::{NimbusOpts, start};
use squall_runtime::cluster::auth::tls::ClientTrust;
use squall_runtime::daemon::TlsMode;

const N: usize = 400;

/// Medians and 90th percentiles, in microseconds, of `N` requests.
async fn measure(url: &str, trust: &ClientTrust, fresh: bool) -> (f64, f64) {
    let mut builder =
        reqwest::Client::builder().tls_backend_preconfigured(trust.rustls_config().unwrap());
    if fresh {
        builder = builder.pool_max_idle_per_host(0);
    }
    let http = builder.build().unwrap();
    let health = format!("{url}/api/v1/health");
    // Warm up (and open the kept-alive connection).
    for _ in 0..20 {
        http.get(&health)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    let mut took: Vec<Duration> = Vec::with_capacity(N);
    for _ in 0..N {
        let t = Instant::now();
        let r = http.get(&health).send().await.unwrap();
        assert!(r.status().is_success());
        r.bytes().await.unwrap();
        took.push(t.elapsed());
    }
    took.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(took[N / 2]), us(took[N * 9 / 10]))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (plain_dir, tls_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut o = NimbusOpts::new(plain_dir.path().into());
        o.listen = "127.0.0.1:0".parse().unwrap();
        let plain = start(o).await.unwrap();
        let mut o = NimbusOpts::new(tls_dir.path().into());
        o.listen = "127.0.0.1:0".parse().unwrap();
        o.tls.mode = TlsMode::On;
        let tls = start(o).await.unwrap();
        let pinned = ClientTrust::Pin(tls.ca_pin().unwrap());
        for round in 0..3 {
            let p_new = measure(&plain.url(), &ClientTrust::System, true).await;
            let t_new = measure(&tls.url(), &pinned, true).await;
            let p_keep = measure(&plain.url(), &ClientTrust::System, false).await;
            let t_keep = measure(&tls.url(), &pinned, false).await;
            println!(
                "round {round}: new connection + GET /health: plain {:.0} µs (p90 {:.0}), \
                 TLS {:.0} µs (p90 {:.0}); kept-alive: plain {:.0} µs (p90 {:.0}), TLS {:.0} µs (p90 {:.0})",
                p_new.0, p_new.1, t_new.0, t_new.1, p_keep.0, p_keep.1, t_keep.0, t_keep.1
            );
        }
    });
}
