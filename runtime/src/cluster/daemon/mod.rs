//! What the long-running processes (nimbus, supervisors, workers) share: logging, their
//! async runtime, waiting for SIGTERM or Ctrl-C, and the typed daemon configs
//! ([`config`]) read from one YAML file ([`file`]).

pub mod config;
mod error;
pub mod file;
mod keys;
mod lock;
#[cfg(test)]
mod tests;

pub use config::{
    Authentication, MAX_SECS, NimbusConfig, Secs, SupervisorConfig, TlsMode, UidRange,
};
pub use error::{ConfigError, ConfigErrors, Place};
pub use file::{ConfigFile, DaemonConfig, load};
pub use lock::{DataDirLock, LockError};

/// Log to stderr at `default` level unless `SQUALL_LOG` says otherwise.
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SQUALL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Parse a daemon's arguments (`args` without the program and subcommand names); on
/// `--help` or an error, prints it and gives the exit code to return.
pub fn parse_args<A: clap::Parser>(name: &str, args: Vec<String>) -> Result<A, i32> {
    A::try_parse_from(std::iter::once(name.to_string()).chain(args)).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() { 2 } else { 0 }
    })
}

/// Run a daemon's main future on its own runtime (logging at `info` by default);
/// returns the future's exit code, or 1 if no runtime could be started.
pub fn run(main: impl std::future::Future<Output = i32>) -> i32 {
    init_logging("info");
    match runtime() {
        Ok(rt) => rt.block_on(main),
        Err(e) => {
            eprintln!("error: async runtime: {e}");
            1
        }
    }
}

/// A small multi-threaded async runtime for a daemon.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Wait until the process gets SIGTERM or Ctrl-C (SIGINT).
pub async fn stop_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r?,
    }
    Ok(())
}
