//! `squall nimbus`: options from flags and an optional YAML config file (Storm key
//! names), flags winning.

use std::net::SocketAddr;
use std::path::PathBuf;

use squall_runtime::daemon::{self, DaemonConfig};

use crate::{NimbusOpts, start};

/// Run nimbus.
#[derive(Debug, clap::Parser)]
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

/// Parse `args` (after `nimbus`) and run until SIGTERM or Ctrl-C; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let args: Args = match daemon::parse_args("squall nimbus", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let config = match DaemonConfig::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let data = args
        .data
        .or_else(|| config.str("storm.local.dir").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("squall-nimbus"));
    let mut opts = NimbusOpts::new(data);
    match args
        .listen
        .map(Ok)
        .or_else(|| config.str("nimbus.listen").map(|s| s.parse()))
    {
        Some(Ok(addr)) => opts.listen = addr,
        Some(Err(e)) => {
            eprintln!("error: config nimbus.listen: {e}");
            return 2;
        }
        None => {}
    }
    if let Some(d) = config.secs("nimbus.supervisor.timeout.secs") {
        opts.supervisor_timeout = d;
    }
    if let Some(d) = config.secs("nimbus.monitor.freq.secs") {
        opts.monitor_interval = d;
    }
    daemon::run(async move {
        let handle = match start(opts).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        println!("nimbus listening on {}", handle.url());
        if let Err(e) = daemon::stop_signal().await {
            eprintln!("error: cannot watch for SIGTERM: {e}");
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
