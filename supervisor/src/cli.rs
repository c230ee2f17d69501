//! `squall supervisor`: its settings are a [`SupervisorConfig`], each flag setting one
//! key, over an optional YAML config file (Storm key names), over the defaults.

use std::path::PathBuf;

use squall_runtime::cli::ExtraCommand;
use squall_runtime::cluster::auth::credentials::{self, CredentialsError};
use squall_runtime::daemon::{self, SupervisorConfig};

use crate::{SupervisorOpts, start};

/// What `squall supervisor` does, in `squall --help`.
pub const ABOUT: &str = "Run a Squall supervisor: launches and watches worker processes";

/// `squall supervisor`, for the `squall` binary's command line.
pub const COMMAND: ExtraCommand = ExtraCommand {
    name: "supervisor",
    about: ABOUT,
    run: main,
};

/// Run a supervisor. Each flag sets the config key it names (`serde` renames).
#[derive(Debug, clap::Parser, serde::Serialize)]
#[command(name = "squall supervisor", about = ABOUT)]
pub struct Args {
    /// Nimbus URL (config `nimbus.url`; env SQUALL_NIMBUS).
    #[arg(long, env = "SQUALL_NIMBUS")]
    #[serde(rename = "nimbus.url")]
    pub nimbus: Option<String>,
    /// PEM CA certificates to trust for an https:// nimbus (config `nimbus.ca.file`;
    /// env SQUALL_CA_FILE); without it, a join token's CA pin or the system's roots.
    #[arg(long, env = "SQUALL_CA_FILE")]
    #[serde(rename = "nimbus.ca.file")]
    pub ca_file: Option<PathBuf>,
    /// Data directory (config `storm.local.dir`; default `squall-supervisor`).
    #[arg(long)]
    #[serde(rename = "storm.local.dir")]
    pub data: Option<PathBuf>,
    /// Slot ports, comma separated (config `supervisor.slots.ports`; default 6700,6701,6702,6703).
    #[arg(long, value_delimiter = ',')]
    #[serde(rename = "supervisor.slots.ports")]
    pub slots: Option<Vec<u16>>,
    /// Address workers on other machines reach this one at (config `supervisor.host`;
    /// default 127.0.0.1).
    #[arg(long)]
    #[serde(rename = "supervisor.host")]
    pub host: Option<String>,
    /// YAML config file (Storm key names; one file may serve every daemon).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// File holding this supervisor's token (`squall token create --role supervisor
    /// --name N`); else env SQUALL_TOKEN_FILE, else SQUALL_TOKEN.
    #[arg(long = "token-file", value_name = "FILE")]
    #[serde(skip)]
    pub token_file: Option<PathBuf>,
}

/// Parse `args` (without the program name and `supervisor`) and run until SIGTERM or
/// Ctrl-C; returns the exit code (2, before anything else, for bad arguments, a bad
/// config file, or no nimbus URL).
pub fn main(args: Vec<String>) -> i32 {
    let args: Args = match daemon::parse_args("squall supervisor", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let config: SupervisorConfig = match daemon::load(args.config.as_deref(), &args) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return 2;
        }
    };
    let Some(mut opts) = SupervisorOpts::from_config(&config) else {
        eprintln!(
            "error: no nimbus: pass --nimbus URL, set SQUALL_NIMBUS, or nimbus.url in the config"
        );
        return 2;
    };
    daemon::run(async move {
        opts.token = match credentials::load(args.token_file.as_deref(), "supervisor") {
            Ok(t) => Some(t),
            Err(e @ CredentialsError::Missing { .. }) => {
                if nimbus_wants_a_token(&opts.nimbus, opts.ca_file.as_deref()).await {
                    eprintln!("error: {e}");
                    return 2;
                }
                tracing::warn!(
                    "no supervisor token: nimbus at {} must run with \
                    nimbus.authentication: none",
                    opts.nimbus
                );
                None
            }
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
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

/// Whether nimbus answers an unauthenticated read with 401 (an unreachable nimbus is
/// given the benefit of the doubt: its heartbeat answers will say). An `https://`
/// nimbus is trusted as `ca_file` says (without a token there is no pin).
async fn nimbus_wants_a_token(nimbus: &str, ca_file: Option<&std::path::Path>) -> bool {
    use squall_runtime::cluster::auth::tls::ClientTrust;
    let Ok(trust) = ClientTrust::resolve(ca_file, None) else {
        return false;
    };
    let Ok(http) =
        squall_runtime::cluster::http::client(std::time::Duration::from_secs(5), None, &trust)
    else {
        return false;
    };
    match http
        .get(format!("{nimbus}/api/v1/supervisors"))
        .send()
        .await
    {
        Ok(r) => r.status() == reqwest::StatusCode::UNAUTHORIZED,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[test]
    fn every_flag_sets_a_supervisor_key() {
        let args = Args::parse_from([
            "squall supervisor",
            "--nimbus",
            "http://n:6627/",
            "--data",
            "/d",
            "--slots",
            "7000,7001",
            "--host",
            "h1",
            "--ca-file",
            "/ca.pem",
        ]);
        let c: SupervisorConfig = daemon::load(None, &args).unwrap();
        assert_eq!(c.nimbus_url.as_deref(), Some("http://n:6627/"));
        assert_eq!(c.slots, [7000, 7001]);
        let opts = SupervisorOpts::from_config(&c).unwrap();
        assert_eq!(opts.nimbus, "http://n:6627");
        assert_eq!(opts.data_dir, std::path::Path::new("/d"));
        assert_eq!(opts.host, "h1");
        assert_eq!(
            opts.ca_file.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        assert_eq!(opts.worker_timeout, c.worker_timeout.duration());
    }

    #[test]
    fn without_a_nimbus_url_there_are_no_options() {
        assert!(SupervisorOpts::from_config(&SupervisorConfig::default()).is_none());
    }
}
