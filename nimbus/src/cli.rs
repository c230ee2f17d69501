//! `squall nimbus`: options from flags and an optional YAML config file (Storm key
//! names), flags winning.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::{NimbusOpts, start};

/// Run nimbus.
#[derive(Debug, Parser)]
#[command(
    name = "squall nimbus",
    about = "Run Squall's nimbus: stores and schedules topologies"
)]
pub struct Args {
    /// Data directory (config `storm.local.dir`; default `squall-nimbus`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Address to listen on (config `nimbus.listen`; default 127.0.0.1:6627).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// YAML config file.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

fn secs(map: &serde_yaml::Mapping, key: &str) -> Option<Duration> {
    map.get(key)
        .and_then(|v| v.as_f64())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
}

/// Parse `args` (after `nimbus`) and run until SIGTERM or Ctrl-C; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let args = match Args::try_parse_from(std::iter::once("squall nimbus".to_string()).chain(args))
    {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let map = match &args.config {
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                serde_yaml::from_str::<serde_yaml::Mapping>(&t).map_err(|e| e.to_string())
            }) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: config {}: {e}", path.display());
                return 2;
            }
        },
        None => serde_yaml::Mapping::new(),
    };
    let str_key = |k: &str| map.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let data = args
        .data
        .or_else(|| str_key("storm.local.dir").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("squall-nimbus"));
    let mut opts = NimbusOpts::new(data);
    match args
        .listen
        .map(Ok)
        .or_else(|| str_key("nimbus.listen").map(|s| s.parse()))
    {
        Some(Ok(addr)) => opts.listen = addr,
        Some(Err(e)) => {
            eprintln!("error: config nimbus.listen: {e}");
            return 2;
        }
        None => {}
    }
    if let Some(d) = secs(&map, "nimbus.supervisor.timeout.secs") {
        opts.supervisor_timeout = d;
    }
    if let Some(d) = secs(&map, "nimbus.monitor.freq.secs") {
        opts.monitor_interval = d;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SQUALL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: async runtime: {e}");
            return 1;
        }
    };
    rt.block_on(async move {
        let handle = match start(opts).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        println!("nimbus listening on {}", handle.url());
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: cannot watch SIGTERM: {e}");
                    return 1;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        match handle.shutdown().await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: stopping nimbus: {e}");
                1
            }
        }
    })
}
