//! The command line every topology binary shares: `validate`, `local`, `components`,
//! `state dump`, the cluster client commands and `worker`.
//!
//! `main` of a topology binary is two lines: build a [`Registry`], call [`run`]. A
//! binary with commands of its own adds them with [`run_with`].

mod errors;
mod extra;
mod log_level;
mod logs;
pub mod status;

pub use log_level::describe as describe_log_config;

pub use extra::ExtraCommand;
pub use logs::LogsArgs;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::api::registry::Registry;
use crate::cluster::client::{self, ClientCommand};
use crate::engine::local::{LocalOptions, ProgressFn, RunReport, run_local};
use crate::engine::stats::ComponentReports;
use crate::topology::source;
use crate::topology::yaml::{Catalog, ComponentKind, SpecErrors, ValidTopology};

/// Squall: Storm-style stream processing.
#[derive(Debug, Parser)]
#[command(name = "squall", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a topology file; print every error with its line, exit 1 if any.
    Validate {
        /// Topology YAML file.
        file: PathBuf,
        /// Also write the resolved declaration (`topologySource` expanded into spouts,
        /// bolts and streams) as YAML to this file; nimbus plans from it.
        #[arg(long, value_name = "FILE")]
        write_resolved: Option<PathBuf>,
        /// Flux options.
        #[command(flatten)]
        flux: FluxArgs,
    },
    /// Run a topology in this process.
    Local {
        /// Topology YAML file.
        file: PathBuf,
        /// Stop after this long (e.g. 10s, 500ms, 2m); default: run until every spout is
        /// exhausted and every tuple processed.
        #[arg(long, value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
        /// Print exactly one JSON object with the totals on stdout.
        #[arg(long)]
        json: bool,
        /// Flux options; `--resources` defaults to the topology file's directory.
        #[command(flatten)]
        flux: FluxArgs,
    },
    /// List the registered spouts, bolts and topology builders.
    Components,
    /// Upload the artifact and submit a topology to nimbus.
    Submit {
        /// Topology YAML file.
        file: PathBuf,
        /// The topology binary to run (default: this binary).
        #[arg(long)]
        artifact: Option<PathBuf>,
        /// Topology name (default: the YAML's `name`).
        #[arg(long)]
        name: Option<String>,
        /// Flux options; `--resources DIR` is shipped to the workers with the artifact.
        #[command(flatten)]
        flux: FluxArgs,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Kill a topology: deactivate its spouts, wait, then stop its workers.
    Kill {
        /// Topology name.
        name: String,
        /// Seconds to wait deactivated before stopping (default: the message timeout).
        #[arg(short = 'w', long = "wait")]
        wait: Option<u64>,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Activate a topology's spouts.
    Activate {
        /// Topology name.
        name: String,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Deactivate a topology's spouts.
    Deactivate {
        /// Topology name.
        name: String,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Give a topology a new secret (its worker links and credentials); its workers
    /// restart with it.
    RotateSecret {
        /// Topology name.
        name: String,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Change a topology's number of workers or executors.
    Rebalance {
        /// Topology name.
        name: String,
        /// New number of workers.
        #[arg(short = 'n', long = "workers")]
        workers: Option<u32>,
        /// New executors of a component, as COMPONENT=N (repeatable).
        #[arg(short = 'e', long = "executors", value_parser = parse_executors)]
        executors: Vec<(String, u32)>,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// List the topologies.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Show a topology: its workers and components.
    Status {
        /// Topology name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Print each component's recent errors: time, task, worker (host:port) and text.
    Errors {
        /// Topology name.
        name: String,
        /// Print JSON (component -> errors).
        #[arg(long)]
        json: bool,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Change a running topology's log filter (Storm's `set_log_level`).
    SetLogLevel(log_level::SetLogLevelArgs),
    /// A live view of a topology's workers and components, refreshed every second.
    Watch {
        /// Topology name.
        name: String,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Print a topology's worker logs (read through nimbus), optionally following them.
    Logs(LogsArgs),
    /// Manage nimbus's bearer tokens (admin token needed).
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Inspect Trident state stores.
    State {
        /// What to do with the store.
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Run as a worker process (started by a supervisor).
    Worker {
        /// The worker spec file the supervisor wrote.
        #[arg(long)]
        spec: PathBuf,
    },
}

/// Subcommands of `squall state`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print every key and value of a state store; exit 1 if it is missing or unreadable.
    Dump {
        /// The state store file (redb).
        #[arg(long)]
        store: PathBuf,
        /// Print exactly one JSON object (key → value).
        #[arg(long)]
        json: bool,
        /// Show the txid bookkeeping (txid, and prev for opaque state) with each value.
        #[arg(long)]
        raw: bool,
    },
}

/// Subcommands of `squall token`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; prints it, and only it, on stdout (shown this once).
    Create {
        /// Its role: admin, deployer (submit; act on its own topologies), viewer (read),
        /// supervisor (one supervisor's heartbeats and downloads).
        #[arg(long)]
        role: crate::cluster::auth::token::Role,
        /// Its name (unique; what topology owners, `topology.users` and the audit log
        /// name).
        #[arg(long)]
        name: String,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// List the tokens: names, roles, ids, creation times (never secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
    /// Revoke a token by name; a supervisor's token evicts that supervisor now.
    Revoke {
        /// The token's name.
        name: String,
        /// Where nimbus is.
        #[command(flatten)]
        nimbus: NimbusArg,
    },
}

/// Storm Flux options of `validate`, `local` and `submit`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FluxArgs {
    /// Java .properties file whose keys `${key}` in the topology file stand for (Flux's
    /// `--filter`); `${ENV-NAME}` always reads environment variable NAME.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub filter: Option<PathBuf>,
    /// The topology's resources directory: the working directory of its shell
    /// components (`topology.resources.dir`) and where `resource: true` includes are
    /// looked up. Default: the topology file's directory.
    #[arg(long, value_name = "DIR")]
    pub resources: Option<PathBuf>,
}

impl FluxArgs {
    /// The loader's options.
    pub fn load_options(&self) -> crate::topology::flux::LoadOptions {
        crate::topology::flux::LoadOptions {
            filter: self.filter.clone(),
            resources: self.resources.clone(),
        }
    }
}

/// Where nimbus is.
#[derive(Debug, Clone, clap::Args)]
pub struct NimbusArg {
    /// Nimbus URL.
    #[arg(
        long = "nimbus",
        env = "SQUALL_NIMBUS",
        default_value = "http://127.0.0.1:6627"
    )]
    pub url: String,
    /// File holding the bearer token (else env SQUALL_TOKEN_FILE, else SQUALL_TOKEN);
    /// nimbus writes an admin token to admin.token in its data directory.
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM CA certificates to trust for an https:// nimbus (instead of a join token's
    /// CA pin or the system's roots).
    #[arg(long = "ca-file", env = "SQUALL_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

impl NimbusArg {
    /// Run a client command against this nimbus with this token, trusting the CA file,
    /// else the join token's CA pin, else the system's roots.
    fn run(&self, cmd: ClientCommand) -> i32 {
        client::run(
            &self.url,
            self.token_file.as_deref(),
            self.ca_file.as_deref(),
            cmd,
        )
    }
}

fn parse_executors(s: &str) -> Result<(String, u32), String> {
    let (c, n) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected COMPONENT=N"))?;
    let n: u32 = n
        .parse()
        .map_err(|_| format!("'{s}': N must be a positive integer"))?;
    Ok((c.to_string(), n))
}

/// Parse the process arguments and run the command; returns the exit code.
pub fn run(registry: Registry) -> i32 {
    run_with(registry, &[])
}

/// [`run`] with the binary's own commands besides the runtime's: they are listed by
/// `--help`, and a command line naming one is handed to it whole (it sets up its own
/// logging).
pub fn run_with(registry: Registry, extra: &[ExtraCommand]) -> i32 {
    let cli = extra
        .iter()
        .fold(Cli::command(), |cli, e| cli.subcommand(e.clap()));
    let matches = cli.get_matches();
    if let Some((name, sub)) = matches.subcommand()
        && let Some(e) = extra.iter().find(|e| e.name == name)
    {
        return (e.run)(ExtraCommand::args(sub));
    }
    init_logging();
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => execute(cli.command, &registry),
        Err(e) => e.exit(),
    }
}

/// `SQUALL_LOG`, else `warn`, through a filter a worker swaps at run time
/// (`squall set-log-level`).
fn init_logging() {
    crate::cluster::worker::log_level::init("warn");
}

/// Run one command against `registry`; returns the exit code.
pub fn execute(command: Command, registry: &Registry) -> i32 {
    match command {
        Command::Validate {
            file,
            write_resolved,
            flux,
        } => validate(&file, write_resolved.as_deref(), &flux, registry),
        Command::Local {
            file,
            duration,
            json,
            flux,
        } => local(&file, duration, json, &flux, registry),
        Command::Worker { spec } => crate::cluster::worker::run(registry, &spec),
        Command::State {
            command: StateCommand::Dump { store, json, raw },
        } => crate::trident::state::dump::run(&store, json, raw),
        Command::Submit {
            file,
            artifact,
            name,
            flux,
            nimbus,
        } => submit(file, artifact, name, &flux, &nimbus, registry),
        Command::Kill { name, wait, nimbus } => nimbus.run(ClientCommand::Kill { name, wait }),
        Command::Activate { name, nimbus } => nimbus.run(ClientCommand::Activate(name)),
        Command::Deactivate { name, nimbus } => nimbus.run(ClientCommand::Deactivate(name)),
        Command::RotateSecret { name, nimbus } => nimbus.run(ClientCommand::RotateSecret(name)),
        Command::Rebalance {
            name,
            workers,
            executors,
            nimbus,
        } => nimbus.run(ClientCommand::Rebalance {
            name,
            workers,
            executors,
        }),
        Command::List { json, nimbus } => nimbus.run(ClientCommand::List { json }),
        Command::Status { name, json, nimbus } => nimbus.run(ClientCommand::Status { name, json }),
        Command::Watch { name, nimbus } => nimbus.run(ClientCommand::Watch(name)),
        Command::Errors { name, json, nimbus } => errors::run(&nimbus, &name, json),
        Command::SetLogLevel(args) => log_level::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Token { command } => match command {
            TokenCommand::Create { role, name, nimbus } => {
                nimbus.run(ClientCommand::TokenCreate { name, role })
            }
            TokenCommand::List { json, nimbus } => nimbus.run(ClientCommand::TokenList { json }),
            TokenCommand::Revoke { name, nimbus } => nimbus.run(ClientCommand::TokenRevoke(name)),
        },
        Command::Components => {
            for kind in [ComponentKind::Spout, ComponentKind::Bolt] {
                println!("{kind}s:");
                for name in registry.names(kind) {
                    println!("  {name}");
                }
            }
            println!("topologies (topologySource builders):");
            for name in registry.topology_names() {
                println!("  {name}");
            }
            0
        }
    }
}

/// Load and validate a topology file against the registry, resolving its
/// `topologySource` if it has one: the topology, and the registry to run it with (see
/// [`crate::topology::source::validate`]). `${ENV-NAME}` is substituted; see
/// [`load_with`] for a properties file and includes under a resources directory.
pub fn load(file: &Path, registry: &Registry) -> Result<(ValidTopology, Registry), SpecErrors> {
    load_with(
        file,
        &crate::topology::flux::LoadOptions::default(),
        registry,
    )
}

/// [`load`] with Flux options: `${key}` from `opts.filter`, resource includes under
/// `opts.resources`.
pub fn load_with(
    file: &Path,
    opts: &crate::topology::flux::LoadOptions,
    registry: &Registry,
) -> Result<(ValidTopology, Registry), SpecErrors> {
    let loaded = crate::topology::flux::load_file(file, opts)?;
    source::validate(&loaded.parsed, registry)
}

/// `squall submit FILE [--artifact BIN] [--name NAME] [--filter PROPS] [--resources DIR]`.
fn submit(
    file: PathBuf,
    artifact: Option<PathBuf>,
    name: Option<String>,
    flux: &FluxArgs,
    nimbus: &NimbusArg,
    registry: &Registry,
) -> i32 {
    let loaded = match crate::topology::flux::load_file(&file, &flux.load_options()) {
        Ok(l) => l,
        Err(errors) => {
            eprintln!("{errors}");
            return 1;
        }
    };
    // Check the topology against this binary's components before uploading (and the
    // substitutions and includes, whatever the artifact).
    let checked = if artifact.is_none() {
        source::validate(&loaded.parsed, registry).map(|_| ())
    } else if loaded.parsed.problems.is_empty() {
        Ok(())
    } else {
        Err(SpecErrors(loaded.parsed.problems.clone()))
    };
    if let Err(errors) = checked {
        eprintln!("{errors}");
        return 1;
    }
    // Nimbus and the workers have neither the properties file nor the included files:
    // they get the topology substituted and merged.
    let yaml = match loaded.wire_yaml() {
        Ok(y) => y,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    nimbus.run(ClientCommand::Submit {
        file,
        artifact,
        name,
        yaml: Some(yaml),
        resources: flux.resources.clone(),
    })
}

/// `squall validate FILE [--write-resolved OUT] [--filter PROPS] [--resources DIR]`.
fn validate(
    file: &Path,
    write_resolved: Option<&Path>,
    flux: &FluxArgs,
    registry: &Registry,
) -> i32 {
    let checked = crate::topology::flux::load_file(file, &flux.load_options())
        .and_then(|loaded| crate::topology::check::check(&loaded.parsed, registry));
    let checked = match checked {
        Ok(done) => done,
        Err(errors) => {
            eprintln!("{errors}");
            return 1;
        }
    };
    let topo = &checked.topology;
    if let Some(out) = write_resolved {
        let written = checked.resolved_yaml().and_then(|text| {
            std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))
        });
        if let Err(e) = written {
            eprintln!("error: {e}");
            return 1;
        }
    }
    println!(
        "{}: topology '{}' is valid ({})",
        file.display(),
        topo.name,
        shape_summary(topo)
    );
    0
}

/// "3 components, 2 streams", counting what the file declares; for a topology with
/// stateful bolts, also what the checkpoint wiring adds to it.
fn shape_summary(topo: &ValidTopology) -> String {
    use crate::state::checkpoint::{CHECKPOINT_COMPONENT, CHECKPOINT_STREAM};
    if topo.component(CHECKPOINT_COMPONENT).is_none() {
        return format!(
            "{} components, {} streams",
            topo.components.len(),
            topo.subscriptions.len()
        );
    }
    let checkpoint = topo
        .subscriptions
        .iter()
        .filter(|s| s.stream == CHECKPOINT_STREAM)
        .count();
    format!(
        "{} components, {} streams; checkpointing adds the spout {CHECKPOINT_COMPONENT} and \
         {checkpoint} {CHECKPOINT_STREAM} streams",
        topo.components.len() - 1,
        topo.subscriptions.len() - checkpoint
    )
}

fn local(
    file: &Path,
    duration: Option<Duration>,
    json: bool,
    flux: &FluxArgs,
    registry: &Registry,
) -> i32 {
    let (mut topo, registry) = match load_with(file, &flux.load_options(), registry) {
        Ok(t) => t,
        Err(errors) => {
            eprintln!("{errors}");
            return 1;
        }
    };
    // `--resources DIR` (absolute; it must exist) wins over the topology's own setting.
    if let Some(d) = &flux.resources {
        match std::fs::canonicalize(d) {
            Ok(abs) if abs.is_dir() => {
                crate::cluster::resources::set_resources_dir(&mut topo, &abs, true)
            }
            Ok(abs) => {
                eprintln!("error: --resources {}: not a directory", abs.display());
                return 1;
            }
            Err(e) => {
                eprintln!("error: --resources {}: {e}", d.display());
                return 1;
            }
        }
    }
    // Multi-lang subprocesses run next to the topology file unless it says otherwise.
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = std::path::absolute(dir.unwrap_or(Path::new("."))).unwrap_or_default();
    crate::multilang::default_resources_dir(&mut topo, &dir);
    let live = std::io::stderr().is_terminal();
    let progress: Option<ProgressFn<'_>> = live.then(|| live_line());
    let result = run_local(
        &registry,
        &topo,
        LocalOptions {
            duration,
            capture: false,
            progress,
            stop_on_interrupt: true,
        },
    );
    if live {
        eprint!("\r\x1b[2K");
    }
    match result {
        Ok(report) => {
            if json {
                match serde_json::to_string(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("error: encoding the report: {e}");
                        return 1;
                    }
                }
            } else {
                print_totals(&report);
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// A progress callback printing one live line of per-component rates on stderr.
fn live_line() -> ProgressFn<'static> {
    let mut last: Option<(ComponentReports, Duration)> = None;
    Box::new(move |now: &ComponentReports, t: Duration| {
        let mut line = format!("{:>5.0}s ", t.as_secs_f64());
        for (id, r) in now {
            let (prev, dt) = match &last {
                Some((p, pt)) => (p.get(id).map(|x| x.activity()).unwrap_or(0), t - *pt),
                None => (0, t),
            };
            let rate = (r.activity() - prev) as f64 / dt.as_secs_f64().max(1e-3);
            line.push_str(&format!(" {id} {}/s", human(rate)));
        }
        let mut err = std::io::stderr();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        last = Some((now.clone(), t));
    })
}

fn human(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn print_totals(report: &RunReport) {
    println!(
        "topology '{}' {} after {:.2}s",
        report.topology,
        if report.completed {
            "completed"
        } else {
            "stopped"
        },
        report.elapsed_secs
    );
    println!(
        "{:<20} {:<5} {:>5} {:>12} {:>12} {:>12} {:>12} {:>8} {:>8} {:>7}",
        "component",
        "kind",
        "tasks",
        "emitted",
        "transferred",
        "executed",
        "acked",
        "failed",
        "replayed",
        "errors"
    );
    for (id, r) in &report.components {
        println!(
            "{:<20} {:<5} {:>5} {:>12} {:>12} {:>12} {:>12} {:>8} {:>8} {:>7}",
            id,
            r.kind.to_string(),
            r.tasks,
            r.emitted,
            r.transferred,
            r.executed,
            r.acked,
            r.failed,
            r.replayed,
            r.errors
        );
        if let Some(line) = r.summary_line() {
            println!("  {line}");
        }
        if let Some(e) = &r.last_error {
            println!("  last error: {e}");
        }
    }
}
