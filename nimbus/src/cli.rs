//! `squall nimbus`: its settings are a [`NimbusConfig`], each flag setting one key, over
//! an optional YAML config file (Storm key names), over the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use squall_runtime::cli::ExtraCommand;
use squall_runtime::daemon::{self, NimbusConfig};

use crate::{NimbusOpts, start};

/// What `squall nimbus` does, in `squall --help`.
pub const ABOUT: &str = "Run Squall's nimbus: stores and schedules topologies";

/// `squall nimbus`, for the `squall` binary's command line.
pub const COMMAND: ExtraCommand = ExtraCommand {
    name: "nimbus",
    about: ABOUT,
    run: main,
};

/// Run nimbus. Each flag sets the config key it names (`serde` renames).
#[derive(Debug, clap::Parser, serde::Serialize)]
#[command(name = "squall nimbus", about = ABOUT)]
pub struct Args {
    /// Data directory (config `storm.local.dir`; default `squall-nimbus`).
    #[arg(long)]
    #[serde(rename = "storm.local.dir")]
    pub data: Option<PathBuf>,
    /// Address to listen on (config `nimbus.listen`; default 127.0.0.1:6627).
    #[arg(long)]
    #[serde(rename = "nimbus.listen")]
    pub listen: Option<SocketAddr>,
    /// When to serve HTTPS: auto (off loopback), on, off (config `nimbus.tls`; default
    /// auto).
    #[arg(long, value_enum)]
    #[serde(rename = "nimbus.tls")]
    pub tls: Option<squall_runtime::daemon::TlsMode>,
    /// YAML config file (Storm key names; one file may serve every daemon).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

/// Parse `args` (after `nimbus`) and run until SIGTERM or Ctrl-C; returns the exit code
/// (2, before anything else, for bad arguments or a bad config file).
pub fn main(args: Vec<String>) -> i32 {
    let args: Args = match daemon::parse_args("squall nimbus", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let config: NimbusConfig = match daemon::load(args.config.as_deref(), &args) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return 2;
        }
    };
    let opts = NimbusOpts::from_config(&config);
    daemon::run(async move {
        let handle = match start(opts).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        println!("nimbus listening on {}", handle.url());
        if let Some(pin) = handle.ca_pin() {
            println!("nimbus CA pin {pin}");
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[test]
    fn every_flag_sets_a_nimbus_key() {
        let args = Args::parse_from([
            "squall nimbus",
            "--data",
            "/d",
            "--listen",
            "127.0.0.1:0",
            "--tls",
            "on",
        ]);
        let c: NimbusConfig = daemon::load(None, &args).unwrap();
        assert_eq!(c.data_dir, std::path::Path::new("/d"));
        assert_eq!(c.listen.port(), 0);
        let opts = NimbusOpts::from_config(&c);
        assert_eq!(opts.listen, c.listen);
        assert_eq!(opts.supervisor_timeout, c.supervisor_timeout.duration());
        assert_eq!(c.tls, squall_runtime::daemon::TlsMode::On);
        assert_eq!(opts.tls.mode, c.tls);
    }
}
