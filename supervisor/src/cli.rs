//! `squall supervisor`: options from flags and an optional YAML config file (Storm key
//! names), flags winning.

use std::path::PathBuf;

use squall_runtime::daemon::{self, DaemonConfig};

use crate::{SupervisorOpts, start};

/// Run a supervisor.
#[derive(Debug, clap::Parser)]
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

/// Parse `args` (without the program name and `supervisor`) and run until SIGTERM or
/// Ctrl-C; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let args: Args = match daemon::parse_args("squall supervisor", args) {
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
    let Some(nimbus) = args.nimbus.or_else(|| config.str("nimbus.url")) else {
        eprintln!(
            "error: no nimbus: pass --nimbus URL, set SQUALL_NIMBUS, or nimbus.url in the config"
        );
        return 2;
    };
    let data = args
        .data
        .or_else(|| config.str("storm.local.dir").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("squall-supervisor"));
    let slots = args
        .slots
        .or_else(|| config.ports("supervisor.slots.ports"))
        .unwrap_or_else(|| vec![6700, 6701, 6702, 6703]);
    let mut opts = SupervisorOpts::new(nimbus, data, slots);
    if let Some(h) = args.host.or_else(|| config.str("supervisor.host")) {
        opts.host = h;
    }
    if let Some(d) = config.secs("supervisor.heartbeat.frequency.secs") {
        opts.heartbeat_interval = d;
    }
    if let Some(d) = config.secs("supervisor.worker.timeout.secs") {
        opts.worker_timeout = d;
    }
    if let Some(d) = config.secs("supervisor.worker.start.timeout.secs") {
        opts.worker_start_timeout = d;
    }
    if let Some(d) = config.secs("supervisor.worker.shutdown.sleep.secs") {
        opts.shutdown_grace = d;
    }
    daemon::run(async move {
        let handle = match start(opts) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        tracing::info!(id = %handle.id, "supervisor running");
        if let Err(e) = daemon::stop_signal().await {
            eprintln!("error: cannot watch for SIGTERM: {e}");
        }
        handle.shutdown().await;
        0
    })
}
