//! `squall supervisor`: options from flags and an optional YAML config file (Storm key
//! names), flags winning.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::{SupervisorOpts, start};

/// Run a supervisor.
#[derive(Debug, Parser)]
#[command(
    name = "squall supervisor",
    about = "Run a Squall supervisor: launches and watches worker processes"
)]
pub struct Args {
    /// Nimbus URL (config `nimbus.url`; env SQUALL_NIMBUS).
    #[arg(long, env = "SQUALL_NIMBUS")]
    pub nimbus: Option<String>,
    /// Data directory (config `storm.local.dir`; default `squall-supervisor`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Slot ports, comma separated (config `supervisor.slots.ports`; default 6700,6701,6702,6703).
    #[arg(long, value_delimiter = ',')]
    pub slots: Option<Vec<u16>>,
    /// Address workers on other machines reach this one at (config `supervisor.host`;
    /// default 127.0.0.1).
    #[arg(long)]
    pub host: Option<String>,
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

/// Parse `args` (without the program name and `supervisor`) and run until SIGTERM or
/// Ctrl-C; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let args =
        match Args::try_parse_from(std::iter::once("squall supervisor".to_string()).chain(args)) {
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
    let Some(nimbus) = args.nimbus.or_else(|| str_key("nimbus.url")) else {
        eprintln!(
            "error: no nimbus: pass --nimbus URL, set SQUALL_NIMBUS, or nimbus.url in the config"
        );
        return 2;
    };
    let data = args
        .data
        .or_else(|| str_key("storm.local.dir").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("squall-supervisor"));
    let slots = args.slots.unwrap_or_else(|| {
        map.get("supervisor.slots.ports")
            .and_then(|v| v.as_sequence())
            .map(|s| {
                s.iter()
                    .filter_map(|p| p.as_u64())
                    .map(|p| p as u16)
                    .collect()
            })
            .unwrap_or_else(|| vec![6700, 6701, 6702, 6703])
    });
    let mut opts = SupervisorOpts::new(nimbus, data, slots);
    if let Some(h) = args.host.or_else(|| str_key("supervisor.host")) {
        opts.host = h;
    }
    if let Some(d) = secs(&map, "supervisor.heartbeat.frequency.secs") {
        opts.heartbeat_interval = d;
    }
    if let Some(d) = secs(&map, "supervisor.worker.timeout.secs") {
        opts.worker_timeout = d;
    }
    if let Some(d) = secs(&map, "supervisor.worker.start.timeout.secs") {
        opts.worker_start_timeout = d;
    }
    if let Some(d) = secs(&map, "supervisor.worker.shutdown.sleep.secs") {
        opts.shutdown_grace = d;
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
        let handle = match start(opts) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        tracing::info!(id = %handle.id, "supervisor running");
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
        handle.shutdown().await;
        0
    })
}
